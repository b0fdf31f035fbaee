#!/usr/bin/env bash
# Builds the Go driver (produce.go, its own module: go.mod here) into OUT: first the binding and the
# library it links (make -C bindings-go build: quick when both are current), then go build with the
# library's size and time in CGO_CFLAGS — Go's build cache does not see libheadwater.a, so without
# the stamp a rebuilt library would not be relinked (the trick bindings-go/Makefile uses).
# Usage: build.sh OUT. Make's output goes to stderr.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../../.." && pwd)"
out="$(realpath -m "${1:?usage: build.sh OUT}")"
make -s -C "$root/bindings-go" build >&2
lib="$root/target/debug/libheadwater.a"
cd "$here"
CGO_CFLAGS="${CGO_CFLAGS:--O2 -g} -DHEADWATER_LIB_STAMP=$(stat -c %s.%Y "$lib")" go build -o "$out" .
