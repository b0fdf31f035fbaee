"""The README's quickstart and the examples run as written."""

from __future__ import annotations

import re

from conftest import BINDING, ROOT, run_script


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
