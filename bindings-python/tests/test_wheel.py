"""The release wheel is a manylinux wheel that auditwheel accepts, and it works once installed.

`make wheel-manylinux` builds it with maturin --zig (its own CARGO_TARGET_DIR) or finds it up to date;
`make test` runs that target before pytest, so here it is normally a no-op of a second.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import venv
import zipfile
from pathlib import Path
from typing import Dict, List

import pytest

from conftest import BINDING, ROOT

WHEELS = ROOT / "target" / "wheels" / "headwater-python-manylinux"
AUDITWHEEL = BINDING / ".venv" / "bin" / "auditwheel"
# A cold release build takes minutes on the small shared machine.
BUILD_TIMEOUT = 3600.0

SMOKE = """
import sys, headwater
from headwater import Producer, TestBroker
assert headwater.__file__.startswith(sys.prefix), (headwater.__file__, sys.prefix)
native = headwater._native.__file__
assert native.startswith(sys.prefix) and native.endswith(".abi3.so"), native
with TestBroker.start(spus=1) as broker:
    broker.create_topic("wheel", partitions=2)
    with Producer.connect(broker.endpoint, "wheel", linger_ms=0) as p:
        metas = [p.send(b"key-%d" % i, b"value-%d" % i).wait() for i in range(3)]
    for i, m in enumerate(metas):
        assert m.partition == headwater.key_partition(b"key-%d" % i, 2), m
        got = [(r.key, r.value) for r in broker.records("wheel", m.partition, m.offset)][0]
        assert got == (b"key-%d" % i, b"value-%d" % i), got
print("ok", native)
"""


def _clean_env() -> Dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}


@pytest.fixture(scope="module")
def wheel() -> Path:
    r = subprocess.run(
        ["make", "-C", str(BINDING), "--no-print-directory", "wheel-manylinux"],
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT,
    )
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-4000:]
    found: List[Path] = sorted(WHEELS.glob("headwater-*.whl"))
    assert len(found) == 1, found
    return found[0]


def test_auditwheel_reports_manylinux_tag(wheel: Path) -> None:
    r = subprocess.run([str(AUDITWHEEL), "show", str(wheel)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    text = " ".join(r.stdout.split())
    m = re.search(r'is consistent with the following platform tag: "(manylinux_(\d+)_(\d+)_x86_64)"', text)
    assert m, r.stdout
    tag, major, minor = m.group(1), int(m.group(2)), int(m.group(3))
    # manylinux2014 = glibc 2.17: the wheel must not need a newer glibc than that.
    assert (major, minor) <= (2, 17), tag
    assert "-cp39-abi3-" in wheel.name, wheel.name
    assert tag in wheel.name and "manylinux2014_x86_64" in wheel.name, wheel.name


def test_wheel_ships_the_type_information(wheel: Path) -> None:
    """py.typed (PEP 561: type checkers read the package's annotations) and the native module's stub."""
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
    assert {"headwater/py.typed", "headwater/_native.pyi", "headwater/__init__.py"} <= names, names


def test_wheel_installs_and_produces_in_a_fresh_venv(wheel: Path, tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
    py = env_dir / "bin" / "python"
    r = subprocess.run(
        [str(py), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-index", str(wheel)],
        capture_output=True,
        text=True,
        timeout=300,
        env=_clean_env(),
    )
    assert r.returncode == 0, r.stderr
    # -I: isolated (no PYTHONPATH, no user site, no current directory on sys.path), from an empty
    # directory, so only the installed wheel can be imported.
    r = subprocess.run(
        [str(py), "-I", "-c", SMOKE],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env=_clean_env(),
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.startswith("ok "), r.stdout
    assert sys.prefix not in r.stdout
