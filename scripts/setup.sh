#!/usr/bin/env bash
# Install everything a fresh Debian (bookworm) machine needs for hakmem's tests and benchmarks.
# Idempotent: apt-get install of an installed package is a no-op. Run as root (or with sudo).
#
#   bash scripts/setup.sh
#
# Peer allocators (LD_PRELOAD comparisons): mimalloc, jemalloc, tcmalloc from Debian; the
#   peers built from source in benches/peers (mimalloc3, snmalloc) need cmake and g++.
# Real programs for `hakmem compat` and the compat tests: python3 (+ its regression-test
#   package), redis (server and redis-benchmark), sqlite3, git, gcc, coreutils (sort).
# Measurement tools: strace (--syscalls, --strace), valgrind (callgrind, memcheck tests).
set -euo pipefail

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

PKGS=(
  # peer allocators, and what the source-built peers need
  libmimalloc2.0 libjemalloc2 libtcmalloc-minimal4 cmake g++
  # measurement
  valgrind strace
  # a TrueType font for the PNG charts (plotters + ab_glyph)
  fonts-dejavu-core
  # real programs for compat
  redis-server redis-tools sqlite3 git gcc libc6-dev make python3 coreutils
  # packaging tests: C++ operator new/delete, make install + pkg-config, readelf
  g++ pkg-config binutils
  # CPython's own regression tests (Debian's python3 ships only the test runner without it)
  libpython3.11-testsuite
)

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${PKGS[@]}"

# The Debian redis-server package starts a service on port 6379 when one can; hakmem compat
# starts its own servers on free loopback ports, so a running system service does no harm.

# Report what the compat suite will use.
py=""
for cand in python3 /usr/bin/python3; do
  if command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import test.test_dict' >/dev/null 2>&1; then
    py="$(command -v "$cand")"; break
  fi
done
if [ -n "$py" ]; then
  echo "setup: python with regression tests: $py ($("$py" --version 2>&1))"
else
  echo "setup: WARNING: no python3 with the 'test' package found" >&2
fi
for lib in libmimalloc.so.2 libjemalloc.so.2 libtcmalloc_minimal.so.4; do
  if [ -e "/usr/lib/x86_64-linux-gnu/$lib" ]; then echo "setup: $lib present"; else echo "setup: $lib MISSING" >&2; fi
done
echo "setup: done"
