# Headwater — the two commands a newcomer needs:
#   make run    builds the CLI and runs the demo on the embedded broker
#   make test   builds everything from a clean checkout and runs every suite
# Also: make test-real (the real Fluvio engine suite, part of make test) · make lint · make fmt ·
#       make generate · make bench

SHELL := /bin/bash
CARGO ?= cargo
BINDINGS := $(wildcard bindings-*/Makefile)
BINDING_DIRS := $(patsubst %/Makefile,%,$(BINDINGS))
export CARGO_TERM_COLOR ?= never

.PHONY: run test test-rust test-interop test-readme test-bindings test-soak test-real real-setup lint fmt generate bench bench-smoke build interop-setup fuzz fuzz-smoke fuzz-tools

build:
	$(CARGO) build --workspace --exclude headwater-python --exclude headwater-node --exclude headwater-java --exclude headwater-c --all-targets

run:
	$(CARGO) build -p headwater-cli --release
	./target/release/headwater demo

test: test-rust test-interop test-readme test-bindings test-real test-soak fuzz-smoke bench-smoke
	@echo "make test: all suites passed"

test-rust: build
	$(CARGO) test -p headwater -p headwater-cli

interop-setup: build
	bash tests/interop/setup.sh

test-interop: interop-setup
	.venv-interop/bin/python -m pytest tests/interop -q

test-readme: interop-setup
	.venv-interop/bin/python -m pytest tests/readme -q

# Needs the Python binding's venv (made by its test target) and the Rust soak example (built by `build`).
test-soak: interop-setup
	.venv-interop/bin/python -m pytest tests/soak -q -s

# The real Fluvio engine: `fluvio-run` built once from the pinned source and cached outside the clone
# (tests/real-fluvio/README.md), then every language against real SC + SPUs. Bindings already built
# by `test-bindings` are reused; missing ones are built. It never skips: no engine, no pass.
real-setup: interop-setup
	bash tests/real-fluvio/build.sh > /dev/null
	$(MAKE) -C bindings-c build
	$(MAKE) -C bindings-go build
	bindings-python/.venv/bin/python -c 'import headwater' 2>/dev/null || $(MAKE) -C bindings-python install
	ls bindings-node/headwater.*.node > /dev/null 2>&1 || $(MAKE) -C bindings-node build
	ls bindings-java/target/headwater-*.jar > /dev/null 2>&1 || $(MAKE) -C bindings-java build

test-real: real-setup
	.venv-interop/bin/python -m pytest tests/real-fluvio -q

test-bindings:
	@set -e; for d in $(BINDING_DIRS); do echo "== $$d"; $(MAKE) -C $$d test; done

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	@set -e; for d in $(BINDING_DIRS); do $(MAKE) -C $$d lint; done

fmt:
	$(CARGO) fmt --all

# Regenerates committed generated files in every binding with a `generate` target (today bindings-c:
# include/headwater.h and tests/vectors.h); bindings without one are skipped, any other failure fails.
generate:
	@set -e; for d in $(BINDING_DIRS); do \
	  if grep -q '^generate:' $$d/Makefile; then echo "== $$d"; $(MAKE) -C $$d generate; \
	  else echo "== $$d: no generate target, skipped"; fi; \
	done

bench:
	bash bench/run.sh

bench-smoke:
	BENCH_SMOKE=1 bash bench/run.sh

# Coverage-guided fuzzing on stable (cargo-fuzz --sanitizer none); see fuzz/README.md.
FUZZ_TARGETS := frame_reader broker_requests client_responses record_batch decompress
FUZZ_SECONDS ?= 60
CARGO_FUZZ := target/tools/bin/cargo-fuzz

fuzz-tools:
	@test -x $(CARGO_FUZZ) || $(CARGO) install cargo-fuzz --version 0.13.2 --locked --root target/tools

fuzz: fuzz-tools
	@set -eo pipefail; for t in $(FUZZ_TARGETS); do \
	  work=$$(mktemp -d); cp -r fuzz/corpus/$$t/. $$work/; \
	  echo "== fuzz $$t ($(FUZZ_SECONDS)s)"; \
	  (cd fuzz && CARGO_TARGET_DIR=../target/fuzz PATH=$(CURDIR)/target/tools/bin:$$PATH cargo fuzz run --sanitizer none $$t $$work regressions/$$t -- -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 2>&1 | grep -E "stat::number_of_executed_units|Done|ERROR|panicked|SUMMARY" ); \
	  rm -rf $$work; \
	done

fuzz-smoke:
	$(MAKE) fuzz FUZZ_SECONDS=10
