"""The source distribution: `make sdist` (maturin sdist, the venv's pinned maturin) packs this binding and
core, a path dependency outside this folder, with the workspace's Cargo.toml and Cargo.lock; pip builds
it in a fresh venv (maturin from PyPI), and the installed package produces and reads back.

The build compiles core once more, in the dev profile (MATURIN_PEP517_ARGS; pip's default is release)
and in its own CARGO_TARGET_DIR, ../target/sdist/cargo, kept between runs: only a cold one compiles
the dependencies. The venv is at a fixed path too (../target/sdist/venv), so that pyo3's build script
sees the same interpreter each run and its artifacts stay valid.
"""

from __future__ import annotations

import subprocess
import tarfile
from pathlib import Path
from typing import Set

import pytest

from conftest import ROOT, check_installed_package, clean_env, fresh_venv, make_one

SDIST_DIR = ROOT / "target" / "wheels" / "headwater-python-sdist"
BUILD_DIR = ROOT / "target" / "sdist"
# A cold build compiles every dependency on the small shared machine.
BUILD_TIMEOUT = 3600.0


@pytest.fixture(scope="module")
def sdist() -> Path:
    return make_one("sdist", SDIST_DIR, "headwater-*.tar.gz", 600)


def tracked(folder: str) -> Set[str]:
    """The files git tracks under `folder` (relative to the repository root)."""
    out = subprocess.run(
        ["git", "ls-files", "--", folder], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    return set(out.split())


def test_sdist_holds_core_the_binding_and_the_lock_file(sdist: Path) -> None:
    with tarfile.open(sdist) as tar:
        top = tar.getnames()[0].split("/")[0]
        files = {m.name.removeprefix(top + "/"): m for m in tar.getmembers() if m.isfile()}
        lock = tar.extractfile(files["Cargo.lock"])
        assert lock is not None
        lock_text = lock.read().decode()
    assert top.startswith("headwater-"), top
    assert {"PKG-INFO", "pyproject.toml", "Cargo.toml", "Cargo.lock"} <= files.keys(), sorted(files)
    # The workspace's lock file as it is: the build uses the versions every other build here uses.
    assert lock_text == (ROOT / "Cargo.lock").read_text()
    for folder in ("core/src", "bindings-python/src"):
        missing = tracked(folder) - files.keys()
        assert not missing, f"the sdist lacks {sorted(missing)}"
    # The pure-Python part sits at the top, where pyproject.toml's python-source points.
    package = {f.removeprefix("bindings-python/") for f in tracked("bindings-python/python/headwater")}
    assert package, "git tracks the package's files"
    missing = package - files.keys()
    assert not missing, f"the sdist lacks {sorted(missing)}"
    assert "core/Cargo.toml" in files and "bindings-python/Cargo.toml" in files
    # Nothing of the other members, nor build products.
    unrelated = [
        f for f in files if f.startswith(("cli/", "bindings-node/", "bindings-java/", "bindings-c/"))
    ]
    assert not unrelated, unrelated
    assert not [f for f in files if "/target/" in f or f.startswith("target/") or "/.venv/" in f]


def test_sdist_builds_with_pip_and_the_package_works(sdist: Path, tmp_path: Path) -> None:
    py = fresh_venv(BUILD_DIR / "venv")
    env = {
        **clean_env(),
        "CARGO_TARGET_DIR": str(BUILD_DIR / "cargo"),
        "MATURIN_PEP517_ARGS": "--profile dev",
    }
    r = subprocess.run(
        [str(py), "-m", "pip", "install", "--disable-pip-version-check", str(sdist)],
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT,
        env=env,
        cwd=tmp_path,
    )
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-4000:]
    empty = tmp_path / "empty"
    empty.mkdir()
    check_installed_package(py, empty)
