"""Records produced by this binding, read back by the OFFICIAL Fluvio Python client (fluvio==0.21.0)."""

from __future__ import annotations

import json
import os
import subprocess
from typing import Callable

import pytest

from conftest import ROOT
from headwater import Producer, TestBroker

VENV_PY = ROOT / ".venv-interop" / "bin" / "python"
DRIVER = ROOT / "tests" / "interop" / "official_py.py"

pytestmark = pytest.mark.skipif(
    not VENV_PY.exists(),
    reason=f"{VENV_PY} is missing: run tests/interop/setup.sh (make -C bindings-python test does)",
)


def official_consume(endpoint: str, topic: str, partition: int, count: int) -> list:  # type: ignore[type-arg]
    r = subprocess.run(
        [
            str(VENV_PY),
            str(DRIVER),
            "consume",
            "--endpoint",
            endpoint,
            "--topic",
            topic,
            "--partition",
            str(partition),
            "--count",
            str(count),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "FLV_METADATA_TIMEOUT": "5000", "FLV_SOCKET_WAIT": "10"},
    )
    assert r.returncode == 0, r.stderr[-3000:]
    return [json.loads(line) for line in r.stdout.splitlines() if line.strip()]


@pytest.mark.parametrize("codec", ["none", "gzip", "lz4"])
def test_official_client_reads_our_records(broker: TestBroker, topic: Callable[..., str], codec: str) -> None:
    t = topic(2)
    with Producer.connect(broker.endpoint, t, compression=codec, linger_ms=5) as p:
        outs = [p.send(f"key-{i}", f"value-{i}") for i in range(20)]
        outs.append(p.send(b"", b"empty-key", partition=0))
        outs.append(p.send(b"k", "ünïcode", partition=1))
    metas = [o.wait() for o in outs]
    for part in (0, 1):
        expected = sorted(
            ((m.offset, o) for m, o in zip(metas, range(len(metas))) if m.partition == part),
        )
        got = official_consume(broker.endpoint, t, part, len(expected))
        assert [g["offset"] for g in got] == [off for off, _ in expected]
        for g, (_, i) in zip(got, expected):
            if i < 20:
                assert (g["key"], g["value"]) == (f"key-{i}", f"value-{i}")
            elif i == 20:
                assert (g["key"], g["value"]) == ("", "empty-key")
            else:
                assert (g["key"], g["value"]) == ("k", "ünïcode")
            assert g["timestamp"] == metas[i].timestamp
