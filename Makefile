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
#
# Packaging:
#   make install [PREFIX=/usr/local] [DESTDIR=]   libhakmem.so.<version> with its SONAME
#       link libhakmem.so.<major> and dev link libhakmem.so, include/hakmem.h, the
#       pkg-config file hakmem.pc and the hakmem command
#   make uninstall [PREFIX=…] [DESTDIR=]
# install uses what is already built in $(BUILD_DIR) and builds (as the calling user,
# e.g. root under sudo) only what is missing: run `make build` first to install fresh code.

CARGO ?= cargo
PREFIX ?= /usr/local
DESTDIR ?=
BUILD_DIR ?= target/release
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
BINDIR ?= $(PREFIX)/bin
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig

# The workspace version (Cargo.toml, [workspace.package]) and its major number, which the
# SONAME carries (crates/hakmem-preload/build.rs).
VERSION := $(shell sed -n '/^\[workspace.package\]/,/^\[/s/^version *= *"\([^"]*\)".*/\1/p' Cargo.toml)
MAJOR := $(firstword $(subst ., ,$(VERSION)))

# In hakmem.pc, directories under the prefix are written relative to ${prefix}.
PC_LIBDIR = $(patsubst $(PREFIX)/%,$${prefix}/%,$(LIBDIR))
PC_INCLUDEDIR = $(patsubst $(PREFIX)/%,$${prefix}/%,$(INCLUDEDIR))

LIB := $(BUILD_DIR)/libhakmem.so
BIN := $(BUILD_DIR)/hakmem

.PHONY: bench test build setup check lint loom install uninstall peers bench-rust header

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

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

check: lint
	$(CARGO) test --release -p hakmem-alloc --lib --test model --test stress --test global_alloc --test stats_api

# Regenerate the structures of include/hakmem.h from the Rust types (cbindgen).
header:
	UPDATE_HEADER=1 $(CARGO) test --release -p hakmem-preload --test header

loom:
	CARGO_TARGET_DIR=target/loom RUSTFLAGS="--cfg loom" $(CARGO) test --release -p hakmem-alloc --test loom_inbox

# cargo test builds the test binaries; the preload and CLI tests also need the release
# cdylib and binaries, hence the build first.
test: setup build lint loom
	$(CARGO) test --release --workspace
	$(CARGO) test --release -p hakmem-alloc --features serde --test stats_api
	$(CARGO) package -p hakmem-alloc --allow-dirty

# The release build, made only when missing (no prerequisites: `sudo make install` after
# `make build` must not rebuild as root).
$(LIB) $(BIN) &:
	$(CARGO) build --release --workspace

install: $(LIB) $(BIN)
	@test -n "$(VERSION)" || { echo "make: no version in Cargo.toml" >&2; exit 1; }
	install -d "$(DESTDIR)$(LIBDIR)" "$(DESTDIR)$(PKGCONFIGDIR)" "$(DESTDIR)$(INCLUDEDIR)" "$(DESTDIR)$(BINDIR)"
	install -m 755 "$(LIB)" "$(DESTDIR)$(LIBDIR)/libhakmem.so.$(VERSION)"
	ln -sfn "libhakmem.so.$(VERSION)" "$(DESTDIR)$(LIBDIR)/libhakmem.so.$(MAJOR)"
	ln -sfn "libhakmem.so.$(MAJOR)" "$(DESTDIR)$(LIBDIR)/libhakmem.so"
	install -m 644 include/hakmem.h "$(DESTDIR)$(INCLUDEDIR)/hakmem.h"
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(PC_LIBDIR)|g' -e 's|@INCLUDEDIR@|$(PC_INCLUDEDIR)|g' \
	    -e 's|@VERSION@|$(VERSION)|g' hakmem.pc.in > "$(DESTDIR)$(PKGCONFIGDIR)/hakmem.pc"
	chmod 644 "$(DESTDIR)$(PKGCONFIGDIR)/hakmem.pc"
	install -m 755 "$(BIN)" "$(DESTDIR)$(BINDIR)/hakmem"

uninstall:
	rm -f "$(DESTDIR)$(LIBDIR)/libhakmem.so" "$(DESTDIR)$(LIBDIR)/libhakmem.so.$(MAJOR)" \
	      "$(DESTDIR)$(LIBDIR)/libhakmem.so.$(VERSION)" "$(DESTDIR)$(INCLUDEDIR)/hakmem.h" \
	      "$(DESTDIR)$(PKGCONFIGDIR)/hakmem.pc" "$(DESTDIR)$(BINDIR)/hakmem"
