"""The repository stands on its own: no tracked file points outside it, and every relative link in
its Markdown leads to a file it holds.

Tracked means listed by `git ls-files`; files not yet added count too (ignored ones do not), so the
test judges a change before it is committed.

- No tracked text file names a design document or a folder beside the checkout. The one allowed
  exception is the pinned Fluvio source tarball beside the checkout, which the real-engine suite's
  build script and README name as one place to find the engine's source.
- Every relative link (`[text](path)`, `![alt](path)`, `[name]: path`) in a tracked `*.md` file
  resolves, from that file's folder, to a tracked file or to a folder holding tracked files.
"""

import re
import subprocess
from pathlib import Path, PurePosixPath
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Spelled in pieces so that this file does not match itself.
FORBIDDEN = ("DESIGN" + ".md", "shared/" + "reference", "../" + "shared/")
ALLOWED_TARBALL = "../" + "shared/fluvio/fluvio-src.tar.gz"
MAY_NAME_TARBALL = {"tests/real-fluvio/build.sh", "tests/real-fluvio/README.md"}


def tracked():
    """`git ls-files`, plus new files not yet added (but not ignored ones), that exist on disk."""
    out = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout.decode()
    return sorted({PurePosixPath(p) for p in out.split("\0") if p and (ROOT / p).is_file()})


FILES = tracked()
TRACKED = {str(p) for p in FILES}
TRACKED_DIRS = {str(d) for p in FILES for d in p.parents if str(d) != "."}


def text_of(path):
    """The file's text, or None for binary files (a NUL byte or not UTF-8) and files not on disk."""
    try:
        data = (ROOT / path).read_bytes()
    except (FileNotFoundError, IsADirectoryError):
        return None
    if b"\0" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def test_git_lists_files():
    assert len(FILES) > 100, "git ls-files found too little: is this a checkout?"
    assert "README.md" in TRACKED


def test_no_file_points_outside_the_repository():
    found = []
    for path in FILES:
        text = text_of(path)
        if text is None:
            continue
        for lineno, line in enumerate(text.splitlines(), 1):
            if str(path) in MAY_NAME_TARBALL:
                line = line.replace(ALLOWED_TARBALL, "")
            for needle in FORBIDDEN:
                if needle in line:
                    found.append(f"{path}:{lineno}: {needle!r}: {line.strip()[:160]}")
    assert not found, "files that point outside the repository:\n" + "\n".join(found)


FENCE = re.compile(r"^( {0,3})(`{3,}|~{3,}).*?^\1\2[`~]*[ \t]*$", re.S | re.M)
INLINE_CODE = re.compile(r"(`+)(?:(?!\1).)+?\1", re.S)
INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*(<[^>]*>|[^)\s]+)(?:\s+\"[^\"]*\")?\s*\)")
REF_DEF = re.compile(r"^ {0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)", re.M)
EXTERNAL = re.compile(r"^(?:[a-zA-Z][a-zA-Z0-9+.-]*:|//|#)")


def relative_links(text):
    """Link targets outside code blocks and code spans, minus URLs and in-page anchors."""
    prose = INLINE_CODE.sub("", FENCE.sub("", text))
    for m in list(INLINE_LINK.finditer(prose)) + list(REF_DEF.finditer(prose)):
        target = m.group(1).strip("<>")
        if target and not EXTERNAL.match(target):
            yield target


def test_link_extraction():
    sample = (
        'See [a](docs/A.md), [b](<docs/b c.md> "t"), ![img](x.png#frag) and [web](https://x.y).\n'
        "[ref]: ../up.md\n[anchor](#top) `[not](code.md)`\n```\n[nor](fenced.md)\n```\n"
    )
    assert list(relative_links(sample)) == ["docs/A.md", "docs/b c.md", "x.png#frag", "../up.md"]


MARKDOWN = [p for p in FILES if p.suffix == ".md"]


@pytest.mark.parametrize("md", MARKDOWN, ids=[str(p) for p in MARKDOWN])
def test_relative_markdown_links_resolve(md):
    text = text_of(md)
    assert text is not None, f"{md} is not readable UTF-8 text"
    broken = []
    for target in relative_links(text):
        path = unquote(target.split("#", 1)[0].split("?", 1)[0])
        if not path:
            continue
        base = PurePosixPath() if path.startswith("/") else md.parent
        parts = []
        for part in (base / path.lstrip("/")).parts:
            if part == "..":
                if not parts:
                    parts = None
                    break
                parts.pop()
            elif part != ".":
                parts.append(part)
        resolved = "/".join(parts) if parts is not None else None
        if resolved is None or (resolved not in TRACKED and resolved not in TRACKED_DIRS):
            broken.append(f"{target} (resolves to {resolved or 'outside the repository'})")
    assert not broken, f"{md}: links to files the repository does not hold:\n" + "\n".join(broken)
