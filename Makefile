# Two commands do everything on a fresh machine (Debian, as root or with sudo):
#   make bench   the headline benchmark: hakmem vs glibc and every installed peer
#   make test    every test (what CI runs through .ci/run)
# Both install what they need first (scripts/setup.sh: peers, real programs, tools).

CARGO ?= cargo

.PHONY: bench test build setup peers bench-rust

setup:
	bash scripts/setup.sh

build:
	$(CARGO) build --release --workspace

# Peer allocators built from source as LD_PRELOAD libraries (benches/peers, a workspace
# of its own): benches/peers/target/release/libpeer_mimalloc3.so and libpeer_snmalloc.so.
peers:
	cd benches/peers && $(CARGO) build --release --locked
	benches/peers/check.sh

# Rust-level benchmark of #[global_allocator]s (benches/rust, a workspace of its own):
# hakmem, mimalloc 3, snmalloc, jemalloc and the system allocator, 7 interleaved rounds.
# RUSTBENCH_ARGS adds runner options, e.g. RUSTBENCH_ARGS="--rounds 3 --workloads json".
RUSTBENCH_ARGS ?=
bench-rust:
	cd benches/rust && $(CARGO) build --release --locked
	benches/rust/target/release/rustbench --markdown bench-rust.md $(RUSTBENCH_ARGS)

bench: setup build peers
	./target/release/hakmem bench

# cargo test builds the test binaries; the preload and CLI tests also need the release
# cdylib and binaries, hence the build first.
test: setup build
	$(CARGO) test --release --workspace
