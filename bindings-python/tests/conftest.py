"""Shared fixtures: one embedded broker per test module (few brokers at once on a 2-core machine),
fresh topic names per test, and the language-neutral vectors."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List

import pytest

from headwater import TestBroker

HERE = Path(__file__).resolve().parent
BINDING = HERE.parent
ROOT = BINDING.parent
VECTORS = ROOT / "tests" / "vectors"

# Generous: the machine is small and shared. Tests assert outcomes, never durations.
DEADLINE = 60.0

_names = itertools.count()


def vectors(name: str) -> Dict[str, Any]:
    with open(VECTORS / name, encoding="utf-8") as f:
        data: Dict[str, Any] = json.load(f)
    return data


@pytest.fixture(scope="module")
def broker() -> Iterator[TestBroker]:
    with TestBroker.start(spus=1) as b:
        yield b


@pytest.fixture
def topic(broker: TestBroker, request: pytest.FixtureRequest) -> Callable[..., str]:
    """topic(partitions=1, **kw) creates a fresh topic on the module's broker and returns its name."""

    def make(partitions: int = 1, **kw: Any) -> str:
        name = (
            f"t-{request.node.name[:40]}-{next(_names)}".replace("[", "-").replace("]", "").replace("_", "-")
        )
        name = "".join(c if c.isalnum() or c == "-" else "-" for c in name).lower()
        broker.create_topic(name, partitions, **kw)
        return name

    return make


def wait_until(cond: Callable[[], bool], what: str, deadline: float = DEADLINE) -> None:
    end = time.monotonic() + deadline
    while not cond():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def run_script(code: str, *args: str, timeout: float = 120.0, **kw: Any) -> subprocess.CompletedProcess[str]:
    """Runs `code` in a fresh interpreter (this venv's) with a hard timeout."""
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        **kw,
    )


def all_records(broker: TestBroker, topic: str, partitions: int) -> List[Any]:
    out: List[Any] = []
    for p in range(partitions):
        out.extend(broker.records(topic, p))
    return out
