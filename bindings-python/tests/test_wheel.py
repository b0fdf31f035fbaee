"""The release wheel is a manylinux wheel that auditwheel accepts, and it works once installed.

`make wheel-manylinux` builds it with maturin --zig (its own CARGO_TARGET_DIR) or finds it up to date;
`make test` runs that target before pytest, so here it is normally a no-op of a second.
"""

from __future__ import annotations

import re
import subprocess
import zipfile
from pathlib import Path

import pytest

from conftest import BINDING, ROOT, check_installed_package, clean_env, fresh_venv, make_one

WHEELS = ROOT / "target" / "wheels" / "headwater-python-manylinux"
AUDITWHEEL = BINDING / ".venv" / "bin" / "auditwheel"
# A cold release build takes minutes on the small shared machine.
BUILD_TIMEOUT = 3600.0


@pytest.fixture(scope="module")
def wheel() -> Path:
    return make_one("wheel-manylinux", WHEELS, "headwater-*.whl", BUILD_TIMEOUT)


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
    """py.typed (PEP 561: type checkers read the package's annotations), the native module's stub, and
    the `python -m headwater` command."""
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
    expected = {"py.typed", "_native.pyi", "__init__.py", "__main__.py", "_cli.py"}
    assert {f"headwater/{name}" for name in expected} <= names, names


def test_wheel_installs_and_produces_in_a_fresh_venv(wheel: Path, tmp_path: Path) -> None:
    py = fresh_venv(tmp_path / "venv")
    r = subprocess.run(
        [str(py), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-index", str(wheel)],
        capture_output=True,
        text=True,
        timeout=300,
        env=clean_env(),
    )
    assert r.returncode == 0, r.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    check_installed_package(py, empty)
