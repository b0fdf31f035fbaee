"""Builds the release manylinux wheel with ``maturin --zig``, unless the one already built came from
the same inputs.

Run by ``make wheel-manylinux`` (which installs ziglang and auditwheel first, then runs
``auditwheel show`` on the result). The inputs are hashed: the sources of this binding and of core,
the workspace manifests and lock file, the tool versions and the build command. A wheel whose
recorded hash matches is reused, since a cold release build takes minutes on a small machine.

The build gets its own ``CARGO_TARGET_DIR`` so that zig's objects (another linker, another glibc
target) never replace the shared target dir's artifacts of the dev build.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterable, List

BINDING = Path(__file__).resolve().parent.parent
ROOT = BINDING.parent
COMPATIBILITY = "manylinux2014"
STAMP = ".inputs-sha256"


def _files() -> Iterable[Path]:
    for f in ("Cargo.toml", "Cargo.lock", "core/Cargo.toml", "core/build.rs"):
        yield ROOT / f
    for f in ("Cargo.toml", "pyproject.toml", "requirements-wheel.txt", "tools/manylinux_wheel.py"):
        yield BINDING / f
    for d in (ROOT / "core" / "src", BINDING / "src", BINDING / "python"):
        yield from (p for p in d.rglob("*") if p.is_file() and "__pycache__" not in p.parts)


def _version(cmd: List[str]) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError) as e:
        raise SystemExit(f"cannot run {' '.join(cmd)}: {e}") from e


def inputs_hash(command: List[str]) -> str:
    h = hashlib.sha256()
    for f in sorted(set(_files())):
        if f.exists():
            h.update(str(f.relative_to(ROOT)).encode() + b"\0" + f.read_bytes() + b"\0")
    for cmd in (
        [str(Path(sys.executable).parent / "maturin"), "--version"],
        ["rustc", "-vV"],
        [sys.executable, "-m", "ziglang", "version"],
    ):
        h.update(_version(cmd).encode() + b"\0")
    h.update(" ".join(command).encode())
    return h.hexdigest()


def wheels(out: Path) -> List[Path]:
    return sorted(out.glob("headwater-*.whl"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, required=True, help="directory the wheel ends up in")
    ap.add_argument("--target-dir", type=Path, required=True, help="CARGO_TARGET_DIR of this build")
    ap.add_argument("--force", action="store_true", help="build even if the inputs did not change")
    args = ap.parse_args()
    out: Path = args.out.resolve()
    venv_bin = Path(sys.executable).parent
    tmp = out.with_name(out.name + ".tmp")
    command = [
        str(venv_bin / "maturin"), "build", "--release", "--strip", "--zig",
        "--compatibility", COMPATIBILITY, "--interpreter", sys.executable, "--out", str(tmp),
    ]  # fmt: skip
    digest = inputs_hash(command)
    stamp = out / STAMP
    if not args.force and stamp.exists() and stamp.read_text().strip() == digest and len(wheels(out)) == 1:
        print(f"manylinux wheel up to date (inputs unchanged): {wheels(out)[0]}")
        return 0
    shutil.rmtree(tmp, ignore_errors=True)
    env = dict(os.environ)
    # cargo-zigbuild (inside maturin) runs `python3 -m ziglang`: the venv's python, which has it.
    env["PATH"] = f"{venv_bin}{os.pathsep}{env.get('PATH', '')}"
    env["CARGO_TARGET_DIR"] = str(args.target_dir.resolve())
    started = time.monotonic()
    print("+", " ".join(command), flush=True)
    subprocess.run(command, cwd=BINDING, env=env, check=True)
    built = wheels(tmp)
    if len(built) != 1:
        raise SystemExit(f"expected one wheel in {tmp}, found {[w.name for w in built]}")
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    stamp.write_text(digest + "\n")
    print(f"built {wheels(out)[0]} in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
