"""Runs the README's snippets: each fenced block preceded by a `<!-- readme-test: ... -->` marker.

- `readme-test: file PATH` — the block must equal that file, which this test runs (Rust examples are
  built by `cargo build --all-targets`; other languages' files are run by their own suites).
- `readme-test: block PATH LANG` — the block must equal the first LANG block of PATH (a binding's
  README, whose quickstart that binding's own test suite runs).
- `readme-test: cli` — the block runs in bash against a fresh `headwater broker`.
"""
import json
import os
import re
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = ROOT / "target" / "debug"
README = (ROOT / "README.md").read_text()
BLOCKS = re.findall(r"<!-- readme-test: (.*?) -->\n```[a-z]*\n(.*?)```", README, re.S)


def blocks(kind):
    return [(arg, body) for arg, body in BLOCKS if arg.split()[0] == kind]


def test_every_marked_block_is_known():
    assert BLOCKS, "the README has tested snippets"
    for arg, _ in BLOCKS:
        assert arg.split()[0] in {"file", "block", "cli"}, arg


@pytest.mark.parametrize("arg,body", blocks("file"), ids=[a for a, _ in blocks("file")])
def test_file_snippets_match_their_files(arg, body):
    path = ROOT / arg.split()[1]
    assert body == path.read_text(), f"README block differs from {path}"


@pytest.mark.parametrize("arg,body", blocks("block"), ids=[a for a, _ in blocks("block")])
def test_binding_quickstarts_match_their_readmes(arg, body):
    _, path, lang = arg.split()
    m = re.search(r"```" + lang + r"\n(.*?)```", (ROOT / path).read_text(), re.S)
    assert m, f"{path} has no {lang} block"
    assert body == m.group(1), f"README block differs from the quickstart in {path}"


def test_rust_quickstart_runs():
    exe = BIN / "examples" / "quickstart"
    assert exe.exists(), "built by `cargo build --all-targets`"
    out = subprocess.run([str(exe)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert re.search(r"user-1 landed in partition \d+ at offset 0", out.stdout), out.stdout


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("arg,body", blocks("cli"), ids=[a for a, _ in blocks("cli")])
def test_cli_snippet(arg, body):
    endpoint = f"127.0.0.1:{free_port()}"
    env = dict(os.environ, HEADWATER_ENDPOINT=endpoint, PATH=f"{BIN}:{os.environ['PATH']}")
    with tempfile.TemporaryFile("w+") as log:
        broker = subprocess.Popen([str(BIN / "headwater"), "broker"], env=env, stdout=subprocess.PIPE, stderr=log, text=True)
        try:
            line = broker.stdout.readline()
            assert line.strip() == f"HEADWATER_ENDPOINT={endpoint}", line
            out = subprocess.run(["bash", "-euo", "pipefail", "-c", body], env=env, capture_output=True, text=True, timeout=120)
            assert out.returncode == 0, out.stdout + out.stderr
        finally:
            broker.terminate()
            broker.wait(timeout=30)
    # What the snippet shows: the topic was listed, records produced, and partition 0 read back.
    assert "greetings" in out.stdout
    assert "produced 2 records" in out.stdout
    host = Path("/etc/hostname").read_text().strip()
    assert f"carol={host}" in out.stdout, out.stdout
    assert 'topic "greetings" deleted' in out.stdout


def test_vocabulary_table_matches_the_api_manifest():
    """The README's one-vocabulary table names the error fields as tests/vectors/api.json does (the
    manifest each binding's suite checks its surface against), so the table cannot drift from it."""
    fields = {f["fact"]: f["names"] for f in json.loads(
        (ROOT / "tests" / "vectors" / "api.json").read_text())["vocabulary"]["errors"]["fields"]}
    rows = {
        "error's stable string": "code",
        "error's number (1–14)": "number",
        "worth retrying": "retriable",
        "Fluvio code of a `BROKER` error": "broker_code",
    }
    header = re.search(r"^\| concept \| (.*) \|$", README, re.M)
    assert header, "the README has the vocabulary table"
    langs = [c.strip().lower() for c in header.group(1).split("|")]
    assert langs == ["python", "node", "java", "c", "go"]
    for concept, fact in rows.items():
        row = re.search(r"^\| " + re.escape(concept) + r" \| (.*) \|$", README, re.M)
        assert row, concept
        for lang, cell in zip(langs, row.group(1).split("|")):
            # `err.code` / `e.getCode()` / `hw_error_code(err)` -> the member's own name.
            name = re.sub(r"^(err|e)\.|\(.*\)$", "", cell.strip().strip("`"))
            assert name in fields[fact][lang], f"{concept} in {lang}: {name!r} vs {fields[fact][lang]!r}"
