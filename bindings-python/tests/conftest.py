"""Shared fixtures: one embedded broker per test module (few brokers at once on a 2-core machine),
fresh topic names per test, and the language-neutral vectors."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import time
import venv
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


# What an installed package must do, run with `python -I` (isolated: no PYTHONPATH, no user site, no
# current directory on sys.path) from an empty directory, so only the installed package can be imported:
# produce and read back through the API and through `python -m headwater`, with its type information.
INSTALLED_PACKAGE_CHECK = """
import subprocess, sys
from importlib.resources import files
import headwater
from headwater import Producer, TestBroker
assert headwater.__file__.startswith(sys.prefix), (headwater.__file__, sys.prefix)
native = headwater._native.__file__
assert native.startswith(sys.prefix) and native.endswith(".abi3.so"), native
assert files("headwater").joinpath("py.typed").is_file()
with TestBroker.start(spus=1) as broker:
    broker.create_topic("installed", partitions=2)
    with Producer.connect(broker.endpoint, "installed", linger_ms=0) as p:
        metas = [p.send(b"key-%d" % i, b"value-%d" % i).wait() for i in range(3)]
    for i, m in enumerate(metas):
        assert m.partition == headwater.key_partition(b"key-%d" % i, 2), m
        got = [(r.key, r.value) for r in broker.records("installed", m.partition, m.offset)][0]
        assert got == (b"key-%d" % i, b"value-%d" % i), got
    cli = subprocess.run(
        [sys.executable, "-I", "-m", "headwater", "produce", broker.endpoint, "installed", "--key", "cli"],
        input=b"from the command line\\n", capture_output=True, timeout=120,
    )
    assert cli.returncode == 0 and cli.stdout.startswith(b"produced 1 records"), cli
    partition = headwater.key_partition(b"cli", 2)
    assert broker.records("installed", partition)[-1].value == b"from the command line"
print("ok", native)
"""


def clean_env() -> Dict[str, str]:
    """The environment without this venv's traces (PYTHON*, VIRTUAL_ENV)."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}


def fresh_venv(env_dir: Path) -> Path:
    """A new venv (emptied first if it exists) with pip; returns its python."""
    venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
    return env_dir / "bin" / "python"


def check_installed_package(python: Path, empty_dir: Path) -> None:
    """Runs INSTALLED_PACKAGE_CHECK with that venv's python, isolated, from `empty_dir`."""
    r = subprocess.run(
        [str(python), "-I", "-c", INSTALLED_PACKAGE_CHECK],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=empty_dir,
        env=clean_env(),
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.startswith("ok "), r.stdout
    assert sys.prefix not in r.stdout


def make_one(target: str, folder: Path, pattern: str, timeout: float) -> Path:
    """`make -C bindings-python TARGET`, then the one file matching `pattern` it left in `folder`."""
    r = subprocess.run(
        ["make", "-C", str(BINDING), "--no-print-directory", target],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-4000:]
    found: List[Path] = sorted(folder.glob(pattern))
    assert len(found) == 1, found
    return found[0]
