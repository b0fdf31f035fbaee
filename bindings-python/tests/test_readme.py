"""The README's quickstart and the examples run as written."""

from __future__ import annotations

import re

from conftest import BINDING, run_script


def test_readme_quickstart_runs() -> None:
    text = (BINDING / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert blocks, "no python block in README.md"
    r = run_script(blocks[0])
    assert r.returncode == 0, r.stderr
    assert 'RecordMetadata(topic="events"' in r.stdout
    assert "StoredRecord(offset=0, key=b'user-1', value=b'clicked'" in r.stdout


def test_examples_run() -> None:
    for name in ("quickstart.py", "async_produce.py"):
        r = run_script((BINDING / "examples" / name).read_text(encoding="utf-8"))
        assert r.returncode == 0, (name, r.stderr)
