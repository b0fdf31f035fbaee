#!/usr/bin/env python3
"""Checks that include/headwater.h is exactly the C column of tests/vectors/api.json.

Usage: check_manifest.py HEADER API_JSON ERRORS_JSON   (the Makefile's `test-manifest` target).
The header is C's whole public surface (api.json `ignore.c`), so this reads its declarations:
functions, typedefs, macros, struct fields and enum constants. Every non-null C name of api.json must
be declared with its kind (a function for constructors, methods and functions; a function or a
struct field for properties; a type or macro for constants), and every declared name must be one of
api.json's classes, exports or extras_allowed.c.
"""
import json
import re
import sys

IDENT = re.compile(r"[A-Za-z_]\w*")


def parse_header(text: str):
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    text = re.sub(r"//[^\n]*", "", text)
    macros = set(re.findall(r"^#define\s+(\w+)", text, flags=re.M))
    body = re.sub(r"^#[^\n]*", "", text, flags=re.M).replace('extern "C" {', "").replace("}  ", "} ")
    types, structs, enums, functions = set(), {}, {}, set()
    for m in re.finditer(r"typedef\s+(struct|enum)\s*\{(.*?)\}\s*(\w+)\s*;", body, flags=re.S):
        kind, inner, name = m.groups()
        types.add(name)
        if kind == "struct":
            structs[name] = [re.findall(r"(\w+)\s*$", f.strip())[0] for f in inner.split(";") if f.strip()]
        else:
            enums[name] = {
                k: int(v) for k, v in re.findall(r"(\w+)\s*=\s*(-?\d+)", inner)
            }
    body = re.sub(r"typedef\s+(struct|enum)\s*\{.*?\}\s*\w+\s*;", "", body, flags=re.S)
    types |= set(re.findall(r"typedef\s+struct\s+\w+\s+(\w+)\s*;", body))
    types |= set(re.findall(r"typedef\s+[^;]*?\(\s*\*\s*(\w+)\s*\)", body))
    body = re.sub(r"typedef[^;]*;", "", body)
    for stmt in body.split(";"):
        m = re.search(r"(\w+)\s*\(", stmt)
        if m:
            functions.add(m.group(1))
    return functions, types, macros, structs, enums


def names(text: str):
    """The identifiers of a manifest name: "key, key_len", "partition (-1 = ...)", "hw_version()"."""
    return IDENT.findall(re.sub(r"\(.*?\)", "", text))


def main() -> int:
    header_path, api_path, errors_path = sys.argv[1:4]
    functions, types, macros, structs, enums = parse_header(open(header_path, encoding="utf-8").read())
    macros.discard("HEADWATER_H")  # the include guard
    api = json.load(open(api_path, encoding="utf-8"))
    errors = json.load(open(errors_path, encoding="utf-8"))
    problems = []

    want_functions, want_fields = set(), {}
    for cname, cls in api["classes"].items():
        ctype = (cls.get("type") or {}).get("c") or ""
        ctype = ctype if re.fullmatch(r"hw_\w+(\(\))?", ctype) else ""
        ctype = ctype.rstrip("()")
        is_struct = ctype in structs
        if ctype in functions:
            want_functions.add(ctype)
        elif ctype and ctype not in types:
            problems.append(f"{cname}: the type {ctype} is not declared")
        for m in cls["members"]:
            n = m["names"].get("c")
            where = f"{cname}.{m['concept']}"
            if n is None:
                if not (m.get("why_absent") or {}).get("c") and not (cls.get("why_absent") or {}).get("c"):
                    problems.append(f"{where}: null in C without why_absent")
                continue
            if m["kind"] == "option":  # a key of a string-options array: not a declaration
                continue
            for ident in names(n):
                if is_struct:
                    want_fields.setdefault(ctype, set()).add(ident)
                    continue
                kind = m["kind"]
                if ident in functions:
                    want_functions.add(ident)
                    ok = kind in ("constructor", "method", "function", "property")
                elif ident in types:
                    ok = kind == "constant" or (kind == "method" and ident.endswith("_cb"))
                elif ident in macros:
                    ok = kind == "constant"
                else:
                    problems.append(f"{where}: {ident} is not declared in the header")
                    continue
                if not ok:
                    problems.append(f"{where}: {ident} is declared, but not as a {kind}")

    for e in api["extras_allowed"]["c"]:
        if "." in e:
            struct, field = e.split(".", 1)
            want_fields.setdefault(struct, set()).add(field)
        elif e in functions:
            want_functions.add(e)
        else:
            problems.append(f"extras_allowed.c: {e} is not declared")

    # The error vocabulary names C functions too (hw_error_code(err) -> const char *, ...).
    voc = api["vocabulary"]["errors"]
    for f in voc["fields"]:
        ident = names(f["names"]["c"])[0]
        if ident not in functions:
            problems.append(f"vocabulary.errors.{f['fact']}: {ident} is not declared")
    ident = names(voc["code_name"]["names"]["c"])[0]
    if ident not in functions:
        problems.append(f"vocabulary.errors.code_name: {ident} is not declared")

    for extra in sorted(functions - want_functions):
        problems.append(f"{extra}: declared, but neither in api.json's classes nor in extras_allowed.c")
    for missing in sorted(want_functions - functions):
        problems.append(f"{missing}: in api.json, not declared")

    for struct, fields in structs.items():
        want = want_fields.get(struct)
        if want is None:
            problems.append(f"struct {struct}: no api.json class has it as its C type")
        elif set(fields) != want:
            problems.append(f"struct {struct}: fields {sorted(fields)}, api.json {sorted(want)}")

    exports = {}
    for line in api["exports"]["c"]:
        kind, _, rest = line.partition(":")
        exports[kind.strip()] = {x.strip() for x in rest.split(",")}
    if types != exports["types"]:
        problems.append(f"types: declared {sorted(types)}, api.json exports {sorted(exports['types'])}")
    if macros != exports["macros"]:
        problems.append(f"macros: declared {sorted(macros)}, api.json exports {sorted(exports['macros'])}")

    kinds = {"HW_ERROR_KIND_OK": 0}
    kinds.update({f"HW_ERROR_KIND_{c['code']}": c["number"] for c in errors["cases"] if c["languages"]["c"]})
    if enums.get("hw_error_kind") != kinds:
        problems.append(f"hw_error_kind: {enums.get('hw_error_kind')}, errors.json {kinds}")
    levels = {f"HW_LOG_LEVEL_{x['name'].upper()}": x["number"] for x in api["vocabulary"]["log_levels"]["order"]}
    if enums.get("hw_log_level") != levels:
        problems.append(f"hw_log_level: {enums.get('hw_log_level')}, api.json {levels}")
    if set(enums) != {"hw_error_kind", "hw_log_level"}:
        problems.append(f"enums: {sorted(enums)}")

    for p in problems:
        print(f"api.json (c) vs {header_path}: {p}", file=sys.stderr)
    if problems:
        return 1
    print(f"include/headwater.h matches api.json's C column: {len(functions)} functions, {len(types)} types, "
          f"{len(macros)} macros, {len(structs)} structs, {len(enums)} enums")
    return 0


if __name__ == "__main__":
    sys.exit(main())
