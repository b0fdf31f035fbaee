#!/usr/bin/env bash
# Builds the real Fluvio engine (`fluvio-run`: SC + SPU in one binary) once and caches it outside the
# clone, keyed by the source's identity, so a fresh clone reuses it. Prints the binary's path on stdout.
#
# Source, first found wins:
#   FLUVIO_SRC            a source tarball (.tar.gz) or an unpacked source tree
#   ../shared/fluvio/fluvio-src.tar.gz   beside the checkout (the team's pinned tarball)
#   a git clone of upstream Fluvio at FLUVIO_COMMIT (needs network; FLUVIO_GIT_URL overrides the remote)
#
# The `fluvio` CLI is not built: the suite registers SPUs with its own admin request (see cluster.py).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
FLUVIO_COMMIT="${FLUVIO_COMMIT:-bcce9f22b5ee03ab0c0c413a5785eb9ed52530fc}"
cache_root="${HEADWATER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/headwater}/fluvio"

src="${FLUVIO_SRC:-}"
if [[ -z "$src" && -f "$root/../shared/fluvio/fluvio-src.tar.gz" ]]; then
  src="$root/../shared/fluvio/fluvio-src.tar.gz"
fi

if [[ -n "$src" && -f "$src" ]]; then
  key="$(sha256sum "$src" | cut -d' ' -f1)"
elif [[ -n "$src" && -d "$src" ]]; then
  key="dir-$(cd "$src" && (git rev-parse HEAD 2>/dev/null || find . -name '*.rs' -newer Cargo.toml | wc -l) | sha256sum | cut -c1-16)"
else
  key="git-$FLUVIO_COMMIT"
fi
out="$cache_root/$key"
bin="$out/bin/fluvio-run"
if [[ -x "$bin" ]]; then
  echo "real-fluvio: cached $bin" >&2
  echo "$bin"
  exit 0
fi

mkdir -p "$cache_root"
# One build at a time per cache entry (two suites started together must not race).
exec 9>"$cache_root/$key.lock"
flock 9
if [[ -x "$bin" ]]; then echo "$bin"; exit 0; fi

work="$cache_root/$key.build"
mkdir -p "$work"
if [[ ! -d "$work/src" ]]; then
  if [[ -n "$src" && -f "$src" ]]; then
    echo "real-fluvio: unpacking $src" >&2
    rm -rf "$work/unpack" && mkdir -p "$work/unpack"
    tar -xzf "$src" -C "$work/unpack"
    mv "$work/unpack/"* "$work/src" && rm -rf "$work/unpack"
  elif [[ -n "$src" && -d "$src" ]]; then
    cp -a "$src" "$work/src"
  else
    url="${FLUVIO_GIT_URL:-https://github.com/infinyon/fluvio.git}"
    echo "real-fluvio: cloning $url at $FLUVIO_COMMIT" >&2
    git clone --quiet "$url" "$work/src"
    git -C "$work/src" checkout --quiet "$FLUVIO_COMMIT"
  fi
fi

start=$(date +%s)
echo "real-fluvio: building fluvio-run (cold build: ~10 min on 2 cores)" >&2
# The engine's own target dir lives in the cache, so an interrupted build resumes where it stopped.
(cd "$work/src" && CARGO_TARGET_DIR="$work/target" cargo build --release --locked -p fluvio-run --no-default-features >&2)
mkdir -p "$out/bin"
cp "$work/target/release/fluvio-run" "$bin.tmp" && mv "$bin.tmp" "$bin"
echo "$((  $(date +%s) - start ))" > "$out/build-seconds"
echo "real-fluvio: built in $(cat "$out/build-seconds")s" >&2
# The intermediate artefacts are ~3 GB; the binary is all the suite needs.
rm -rf "$work"
echo "$bin"
