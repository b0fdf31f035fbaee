#!/usr/bin/env bash
# Builds everything the benchmark runs (release unless BENCH_PROFILE=debug), then runs bench/run.py.
set -euo pipefail
cd "$(dirname "$0")/.."
profile="${BENCH_PROFILE:-release}"
[[ "${BENCH_SMOKE:-0}" == 1 ]] && profile="${BENCH_PROFILE:-debug}"
flag=(); [[ "$profile" == release ]] && flag=(--release)
cargo build -p headwater-cli "${flag[@]}"
bash tests/interop/setup.sh
(cd tests/interop && cargo build "${flag[@]}" --locked)
for d in bindings-*/; do
  lang="${d#bindings-}"; lang="${lang%/}"
  if [[ -n "${BENCH_CLIENTS:-}" && ",${BENCH_CLIENTS}," != *",headwater-$lang,"* ]]; then continue; fi
  if [[ -f "$d/Makefile" ]] && grep -q '^bench-build:' "$d/Makefile"; then
    make -C "$d" bench-build PROFILE="$profile"
  fi
done
if [[ "${BENCH_SMOKE:-0}" == 1 ]]; then
  py=.venv-interop/bin/python   # the smoke run needs no chart
else
  if [[ ! -x bench/.venv/bin/python ]]; then
    python3 -m venv bench/.venv
    bench/.venv/bin/pip install --quiet --disable-pip-version-check matplotlib || echo "matplotlib unavailable: the chart is skipped" >&2
  fi
  py=bench/.venv/bin/python
fi
BENCH_PROFILE="$profile" "$py" bench/run.py
