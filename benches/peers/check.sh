#!/usr/bin/env bash
# Checks that the peer libraries built by `make peers` really replace malloc:
# the exported symbols, a C program touching every entry point, and two real programs.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
lib_dir="$here/target/release"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cc -O1 -o "$tmp/check" "$here/check.c" -ldl
echo "glibc:      $("$tmp/check")"
for name in mimalloc3 snmalloc; do
  lib="$lib_dir/libpeer_$name.so"
  for sym in malloc free calloc realloc posix_memalign aligned_alloc memalign valloc \
             pvalloc malloc_usable_size reallocarray cfree; do
    nm -D --defined-only "$lib" | grep -qw "T $sym" || { echo "$lib: $sym not exported"; exit 1; }
  done
  echo "$name: $(LD_PRELOAD="$lib" "$tmp/check")"
  LD_PRELOAD="$lib" python3 -c 'import json; json.dumps(list(range(100000)))' >/dev/null
  LD_PRELOAD="$lib" ls -la / >/dev/null
  # The library must be mapped in the preloaded process.
  LD_PRELOAD="$lib" grep -q "libpeer_$name.so" /proc/self/maps
done
echo "peers: ok"
