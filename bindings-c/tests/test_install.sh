#!/usr/bin/env bash
# `make install` as a user runs it, into fresh temporary prefixes, then programs built from the
# installed files only:
#   1. the README's install + CMake commands (the first ```sh block of bindings-c/README.md, run as
#      written with /opt/headwater and /tmp/headwater-example pointed into a temporary directory):
#      the C++ example linked shared and static through find_package, run, a record read back;
#   2. the exact list of installed files and links, and the library's soname;
#   3. no path of the build or of the repository inside the installed files or the example's build;
#   4. DESTDIR staging, then the staged tree moved elsewhere: the README's pkg-config command (its
#      "### pkg-config" block, app.c being the C quickstart) run against the moved tree, the program
#      run, its records counted;
#   5. find_package's version check;
#   6. the README's "### From the source tree" commands, run as written from the repository root
#      (the program written into the temporary directory instead of the root).
# Run by `make test-install` (PROFILE=debug: the build the suite already has).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
root=$(cd "$here/.." && pwd)
version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$root/Cargo.toml" | head -n 1)
major=${version%%.*}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
checks=0
fail() {
    echo "test_install: FAIL: $*" >&2
    exit 1
}
ok() {
    checks=$((checks + 1))
    echo "ok   - $*"
}

# The first ```sh block of bindings-c/README.md after the line HEADING ("" = from the top).
readme_sh() {
    python3 - "$here/README.md" "$1" <<'PY'
import re, sys
text = open(sys.argv[1], encoding="utf-8").read()
heading = sys.argv[2]
if heading:
    at = text.find("\n" + heading + "\n")
    sys.exit(f"README.md has no heading {heading!r}") if at < 0 else None
    text = text[at:]
m = re.search(r"```sh\n(.*?)```", text, re.S)
sys.exit(f"README.md has no ```sh block after {heading!r}") if not m else print(m.group(1), end="")
PY
}

# 1. The README's commands.
block=$(readme_sh "") || fail "no install block in README.md"
grep -q "make -C bindings-c install PREFIX=/opt/headwater" <<<"$block" || fail "the README's first sh block does not install to /opt/headwater"
script=${block//\/opt\/headwater/$tmp/prefix}
script=${script//\/tmp\/headwater-example/$tmp/example}
out=$(cd "$root" && bash -euo pipefail -c "$script" 2>&1) || fail "the README's commands failed:
$out"
grep -q "^read back: user-1 = hello$" <<<"$out" || fail "the example did not read its record back: $out"
run=$("$tmp/example/example_static") || fail "example_static exited with $?"
grep -q "^read back: user-1 = hello$" <<<"$run" || fail "example_static did not read its record back: $run"
ok "README install + find_package: the C++ example, shared and static, reads its record back"

# 2. What is installed, exactly.
want="include/headwater.h f
include/headwater.hpp f
lib/cmake/Headwater/HeadwaterConfig.cmake f
lib/cmake/Headwater/HeadwaterConfigVersion.cmake f
lib/libheadwater.a f
lib/libheadwater.so l libheadwater.so.$major
lib/libheadwater.so.$major l libheadwater.so.$version
lib/libheadwater.so.$version f
lib/pkgconfig/headwater.pc f"
got=$(cd "$tmp/prefix" && find . -mindepth 1 \( -type f -o -type l \) -printf '%P %y %l\n' | sed 's/ $//' | LC_ALL=C sort)
[ "$got" = "$want" ] || fail "installed files differ:
--- want
$want
--- got
$got"
cmp -s "$tmp/prefix/include/headwater.hpp" "$root/include/headwater.hpp" || fail "headwater.hpp differs"
readelf -d "$tmp/prefix/lib/libheadwater.so.$version" | grep -q "Library soname: \[libheadwater.so.$major\]" ||
    fail "libheadwater.so.$version has no soname libheadwater.so.$major"
readelf -d "$tmp/example/example" | grep -q "Shared library: \[libheadwater.so.$major\]" ||
    fail "the example does not load libheadwater.so.$major"
ok "installed: $(wc -l <<<"$want") files and links, soname libheadwater.so.$major"

# 3. Nothing points back at the temporary prefix or the repository.
if grep -rlF -e "$tmp" -e "$root" "$tmp/prefix/lib/pkgconfig" "$tmp/prefix/lib/cmake"; then
    fail "an installed text file names an absolute path"
fi
if grep -rlF -e "$root/include" -e "$root/target" "$tmp/example/CMakeFiles" "$tmp/example/CMakeCache.txt"; then
    fail "the example's build reaches into the repository"
fi
ok "relocatable: no absolute path in the pkg-config and CMake files; the example used the prefix only"

# 4. DESTDIR staging, then the tree moved: pkg-config still finds everything.
make -s -C "$here" install DESTDIR="$tmp/stage" PREFIX=/usr/local >/dev/null
[ "$(cd "$tmp/stage" && find . -mindepth 1 -maxdepth 2 | LC_ALL=C sort | tr '\n' ' ')" = "./usr ./usr/local " ] ||
    fail "DESTDIR install wrote outside DESTDIR/PREFIX"
[ -f "$tmp/stage/usr/local/lib/libheadwater.so.$version" ] || fail "DESTDIR install has no library"
mv "$tmp/stage/usr/local" "$tmp/moved"
export PKG_CONFIG_PATH="$tmp/moved/lib/pkgconfig"
[ "$(pkg-config --modversion headwater)" = "$version" ] || fail "pkg-config --modversion"
flags=$(pkg-config --cflags --libs headwater)
# The README's pkg-config command as written, in a directory whose app.c is the quickstart.
pc_block=$(readme_sh "### pkg-config") || fail "no pkg-config block in README.md"
grep -q 'pkg-config --cflags --libs headwater' <<<"$pc_block" || fail "the pkg-config block does not use pkg-config: $pc_block"
mkdir "$tmp/pc-app"
cp "$here/examples/quickstart.c" "$tmp/pc-app/app.c"
out=$(cd "$tmp/pc-app" && bash -euo pipefail -c "$pc_block" 2>&1) || fail "the README's pkg-config command failed: $out"
unset PKG_CONFIG_PATH
run=$("$tmp/pc-app/app") || fail "the quickstart built with pkg-config exited with $?"
grep -q "^stored 100 records$" <<<"$run" || fail "pc-app: $run"
ok "DESTDIR staged, moved, the README's pkg-config command ($flags): the quickstart stores its 100 records"

# 5. find_package(Headwater <version>): this version and older patch releases of it; not others.
mkdir "$tmp/version-check"
cat >"$tmp/version-check/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.14)
project(version_check C)
find_package(Headwater ${WANT} CONFIG QUIET)
if(Headwater_FOUND)
  message(STATUS "found=1")
else()
  message(STATUS "found=0")
endif()
CMAKE
for case in "=1" "0.1=1" "$version=1" "0.0=0" "1.0=0" "$major.99=0"; do
    want_version=${case%=*} found=${case#*=}
    log=$(cmake -S "$tmp/version-check" -B "$tmp/version-check/build-$want_version" \
        -DCMAKE_PREFIX_PATH="$tmp/prefix" -DWANT="$want_version" 2>&1) || fail "cmake (WANT=$want_version): $log"
    grep -q -- "-- found=$found\$" <<<"$log" || fail "find_package(Headwater $want_version): want found=$found: $log"
done
ok "find_package(Headwater VERSION): any, 0.1 and $version found; 0.0, 1.0 and $major.99 refused"

# 6. The README's source-tree commands, from the repository root; the program goes to $tmp, not the root.
src_block=$(readme_sh "### From the source tree") || fail "no source-tree block in README.md"
grep -q -- '-o quickstart && ./quickstart' <<<"$src_block" || fail "the source-tree block changed: $src_block"
# (quoted replacement: bash 5.2 would otherwise read each & in it as the matched text)
src_script="${src_block/"-o quickstart && ./quickstart"/"-o $tmp/src-quickstart && $tmp/src-quickstart"}"
out=$(cd "$root" && bash -euo pipefail -c "$src_script" 2>&1) || fail "the README's source-tree commands failed:
$out"
grep -q "^stored 100 records$" <<<"$out" || fail "the source-tree quickstart: $out"
[ ! -e "$root/quickstart" ] || fail "the source-tree commands wrote into the repository"
ok "the README's source-tree commands build and run the quickstart against target/debug"

echo "test_install: $checks passed, 0 failed"
