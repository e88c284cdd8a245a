//! `hakmem-workload`: runs one workload and prints ONE JSON line on stdout.
//!
//! Every allocation goes through libc::malloc/free/realloc, so running this binary under
//! `LD_PRELOAD=libX.so` measures allocator X. The CLI (`hakmem bench`, `hakmem ab`) runs it as
//! a child process once per contestant and run.

use clap::Parser;
use hakmem_bench::workloads::{self, block, Overrides};

#[derive(Parser)]
#[command(name = "hakmem-workload", about = "Run one allocator workload and print one JSON line")]
struct Cli {
    /// One of: random-mixed, server-churn, producer-consumer, false-sharing, realloc-growth,
    /// large-blocks, thread-churn.
    workload: String,
    #[command(flatten)]
    o: Overrides,
}

/// The allocator's own mmap/munmap/madvise counts, when the preloaded library is hakmem.
fn os_calls() -> Option<[u64; 3]> {
    // SAFETY: dlsym with RTLD_DEFAULT and a NUL-terminated name; the symbol, when present, has
    // the documented signature `void hakmem_os_calls(uint64_t out[3])`.
    unsafe {
        let sym = libc::dlsym(libc::RTLD_DEFAULT, c"hakmem_os_calls".as_ptr());
        if sym.is_null() {
            return None;
        }
        let f: extern "C" fn(*mut u64) = std::mem::transmute(sym);
        let mut out = [0u64; 3];
        f(out.as_mut_ptr());
        Some(out)
    }
}

fn main() {
    let cli = Cli::parse();
    let (outcome, params) = match workloads::run_named(&cli.workload, &cli.o) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("hakmem-workload: {e:#}");
            std::process::exit(1);
        }
    };
    let os = os_calls().map(|[mmap, munmap, madvise]| serde_json::json!({"mmap": mmap, "munmap": munmap, "madvise": madvise}));
    let line = serde_json::json!({
        "workload": cli.workload,
        "params": params,
        "ops": outcome.ops,
        "seconds": outcome.seconds,
        "ops_per_sec": if outcome.seconds > 0.0 { outcome.ops as f64 / outcome.seconds } else { 0.0 },
        "peak_rss_kb": block::peak_rss_kb(),
        "rss_end_kb": block::rss_kb(),
        "os_calls": os,
        "checks": outcome.checks,
    });
    println!("{line}");
}
