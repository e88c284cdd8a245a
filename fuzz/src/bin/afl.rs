//! AFL++ target, persistent mode: one process runs many inputs (read from stdin each
//! round). Built with AFL++'s coverage runtime and LLVM's sancov pass on stable rustc:
//! see `fuzz/run.sh`.
use std::io::Read;

extern "C" {
    fn __afl_persistent_loop(max: u32) -> i32;
    fn __afl_manual_init();
}

fn main() {
    let mut buf = Vec::with_capacity(1 << 16);
    // SAFETY: AFL++ runtime entry points, called from the main thread before any input.
    unsafe { __afl_manual_init() };
    // SAFETY: as above; returns 0 when the fuzzer wants a fresh process.
    while unsafe { __afl_persistent_loop(10_000) } != 0 {
        buf.clear();
        if std::io::stdin().read_to_end(&mut buf).is_err() {
            continue;
        }
        hakmem_fuzz::run(&buf);
    }
}
