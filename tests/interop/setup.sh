#!/usr/bin/env bash
# Prepares the interop tests (idempotent; safe to run on every `make test`):
#   * .venv-interop/ at the repo root with the official Fluvio Python client and pytest
#   * the official-Rust-client driver: target/interop/debug/fluvio-interop
#     (its own crate and lockfile, built outside the main workspace; --locked once the
#     committed Cargo.lock exists)
# Environment: PYTHON (default python3), INTEROP_VENV (default <repo>/.venv-interop),
# INTEROP_SKIP_RUST=1 / INTEROP_SKIP_VENV=1 to skip a part.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
VENV="${INTEROP_VENV:-$ROOT/.venv-interop}"
PYTHON="${PYTHON:-python3}"
FLUVIO_PY_VERSION="0.21.0"

log() { echo "interop/setup.sh: $*" >&2; }

if [[ "${INTEROP_SKIP_VENV:-0}" != 1 ]]; then
    if [[ ! -x "$VENV/bin/python" ]]; then
        log "creating $VENV"
        "$PYTHON" -m venv "$VENV"
    fi
    # Install only when something is missing or at the wrong version (no network otherwise).
    if ! "$VENV/bin/python" - "$FLUVIO_PY_VERSION" <<'EOF' 2>/dev/null
import sys
from importlib.metadata import version
assert version("fluvio") == sys.argv[1], version("fluvio")
import fluvio, pytest  # noqa: F401
EOF
    then
        log "installing fluvio==$FLUVIO_PY_VERSION and pytest into $VENV"
        "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
            "fluvio==$FLUVIO_PY_VERSION" pytest
    fi
    log "venv ok: $("$VENV/bin/python" -c 'from importlib.metadata import version as v; print("fluvio", v("fluvio"), "pytest", v("pytest"))')"
fi

if [[ "${INTEROP_SKIP_RUST:-0}" != 1 ]]; then
    locked=()
    [[ -f "$HERE/Cargo.lock" ]] && locked=(--locked)
    log "building fluvio-interop (official Rust client driver)"
    # Run from the crate dir so tests/interop/.cargo/config.toml (target-dir) applies.
    (cd "$HERE" && cargo build "${locked[@]}" --manifest-path "$HERE/Cargo.toml")
    log "binary ok: $ROOT/target/interop/debug/fluvio-interop"
fi
