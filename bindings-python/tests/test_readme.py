"""The README's quickstart and the examples run as written."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from conftest import BINDING, ROOT, run_script
from headwater import TestBroker


def test_readme_quickstart_runs() -> None:
    text = (BINDING / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert blocks, "no python block in README.md"
    r = run_script(blocks[0])
    assert r.returncode == 0, r.stderr
    assert 'RecordMetadata(topic="events"' in r.stdout
    assert "StoredRecord(offset=0, key=b'user-1', value=b'clicked'" in r.stdout


def test_readme_tls_example_runs() -> None:
    text = (BINDING / "README.md").read_text(encoding="utf-8")
    blocks = [b for b in re.findall(r"```python\n(.*?)```", text, re.S) if "tls_client_ca" in b]
    assert len(blocks) == 1, "no TLS python block in README.md"
    # The block names the fixtures relative to the repository root.
    r = run_script(blocks[0] + "\nprint(broker.records('secure', 0))\n", cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert "key=b'k', value=b'v'" in r.stdout, r.stdout


def test_examples_run() -> None:
    for name in ("quickstart.py", "async_produce.py"):
        r = run_script((BINDING / "examples" / name).read_text(encoding="utf-8"))
        assert r.returncode == 0, (name, r.stderr)


def test_readme_command_line_runs_as_shown() -> None:
    """The `python -m headwater` block runs (in bash, this venv's python first on PATH) against an
    embedded broker in place of 127.0.0.1:9003, and prints what the block after it shows. It is the
    README's first sh block: the one the top-level README copies (`readme-test: block ... sh`)."""
    text = (BINDING / "README.md").read_text(encoding="utf-8")
    commands = re.findall(r"```sh\n(.*?)```", text, re.S)[:1]
    assert commands and "python -m headwater" in commands[0], "the first sh block is not the command line"
    shown = re.search(
        r"```sh\n" + re.escape(commands[0]) + r"```\n\n(?:(?!```).)*```text\n(.*?)```", text, re.S
    )
    assert shown, "the block is not followed by the output it prints"
    with TestBroker.start() as broker:
        broker.create_topic("events", 1)
        env = {**os.environ, "PATH": f"{os.path.dirname(sys.executable)}{os.pathsep}{os.environ['PATH']}"}
        r = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", commands[0].replace("127.0.0.1:9003", broker.endpoint)],
            capture_output=True,
            text=True,
            timeout=300,
            env=env,
        )
        assert r.returncode == 0, r.stdout + r.stderr
        stored = broker.records("events", 0)
    produced, bench = r.stdout.splitlines()[:2], r.stdout.splitlines()[2:]
    expected = shown.group(1).splitlines()
    assert produced == expected[:2]
    # The same line, but this run's time and rates.
    number = re.compile(r"[0-9]+(\.[0-9]+)?")
    assert [number.sub("N", line) for line in bench] == [number.sub("N", line) for line in expected[2:]]
    assert bench[0].startswith("20000 records of 100 bytes"), bench
    assert [(s.key, s.value) for s in stored[:2]] == [(b"greeting", b"hello"), (b"greeting", b"world")]
    assert len(stored) == 20002 and stored[-1].compression == "lz4"
