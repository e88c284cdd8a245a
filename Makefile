# Two commands do everything on a fresh machine (Debian, as root or with sudo):
#   make bench   the headline benchmark: hakmem vs glibc and every installed peer
#   make test    every test (what CI runs through .ci/run)
# Both install what they need first (scripts/setup.sh: peers, real programs, tools).
#
# Tiers:
#   make check   the fast tier (< 3 minutes once built): formatting, clippy, the core's
#                unit tests, the model-based and stress tests
#   make loom    model checking of the lock-free inbox (loom, its own target dir)
#   make test    the full tier: lint + loom + every test of the workspace (C ABI, faults,
#                robustness, real programs under the preload library)

CARGO ?= cargo

.PHONY: bench test build setup check lint loom

setup:
	bash scripts/setup.sh

build:
	$(CARGO) build --release --workspace

bench: setup build
	./target/release/hakmem bench

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

check: lint
	$(CARGO) test --release -p hakmem --lib --test model --test stress --test global_alloc

loom:
	CARGO_TARGET_DIR=target/loom RUSTFLAGS="--cfg loom" $(CARGO) test --release -p hakmem --test loom_inbox

# cargo test builds the test binaries; the preload and CLI tests also need the release
# cdylib and binaries, hence the build first.
test: setup build lint loom
	$(CARGO) test --release --workspace
