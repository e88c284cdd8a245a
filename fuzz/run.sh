#!/usr/bin/env bash
# Coverage-guided fuzzing of hakmem with AFL++ on stable Rust.
#   fuzz/run.sh build          build the instrumented target (target/afl/release/hakmem-afl)
#   fuzz/run.sh fuzz [SECS]    fuzz for SECS seconds (default 600) from fuzz/corpus into fuzz/out
#   fuzz/run.sh replay [PATH]  replay files (default: corpus + any crashes found) without AFL
#                              (fuzz/run.sh replay corpus-terminal: the terminal-operation seeds)
# Needs Debian's afl++ (apt-get install afl++): its afl-fuzz and its coverage runtime
# /usr/lib/afl/afl-compiler-rt.o. rustc instruments the code itself with LLVM's
# SanitizerCoverage pass (-C passes=sancov-module), which works on stable: no nightly,
# no cargo-afl needed.
set -euo pipefail
cd "$(dirname "$0")"
RT=${AFL_RT:-/usr/lib/afl/afl-compiler-rt.o}
cmd=${1:-fuzz}

build() {
  [ -f "$RT" ] || { echo "missing $RT: apt-get install afl++" >&2; exit 1; }
  RUSTFLAGS="-C passes=sancov-module -C llvm-args=-sanitizer-coverage-level=3 \
    -C llvm-args=-sanitizer-coverage-trace-pc-guard -C llvm-args=-sanitizer-coverage-prune-blocks=0 \
    -C llvm-args=-sanitizer-coverage-trace-compares -C opt-level=3 -C target-cpu=native \
    -C debug-assertions -C overflow-checks -C link-arg=$RT" \
    cargo build --release --features afl --bin hakmem-afl --target-dir target/afl
}

case "$cmd" in
  build) build ;;
  fuzz)
    secs=${2:-600}
    build
    mkdir -p out
    export AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_UI=1 AFL_NO_AFFINITY=1
    # -V: stop after SECS; resume an existing run with -i - when out/ has one
    # seeds: the corpus and the terminal-operation seeds (corpus-terminal)
    rm -rf out/seeds && mkdir -p out/seeds && cp corpus/* corpus-terminal/* out/seeds/
    input=out/seeds
    [ -d out/default/queue ] && input=-
    afl-fuzz -V "$secs" -t 2000 -m none -i "$input" -o out -- target/afl/release/hakmem-afl
    ;;
  replay)
    shift
    cargo build --release --bin hakmem-replay
    if [ $# -eq 0 ]; then
      set -- corpus
      [ -d out/default/crashes ] && set -- corpus out/default/crashes
    fi
    ./target/release/hakmem-replay "$@"
    ;;
  *) echo "usage: $0 build|fuzz [SECS]|replay [PATH...]" >&2; exit 2 ;;
esac
