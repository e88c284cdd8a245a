//! `hakmem-workload`: runs one workload and prints ONE JSON line on stdout.
//!
//! Every allocation goes through libc::malloc/free/realloc, so running this binary under
//! `LD_PRELOAD=libX.so` measures allocator X. The CLI (`hakmem bench`, `hakmem ab`) runs it as
//! a child process once per contestant and run.
//!
//! Rust's own allocations go to libc `malloc` too, counted (`heapcount`) so that a workload
//! writing a heap profile (`--prof-dump`) can say what the process holds besides its blocks.

use clap::Parser;
use hakmem_bench::heapcount::Counting;
use hakmem_bench::probe;
use hakmem_bench::workloads::{self, Overrides};

#[global_allocator]
static COUNTING: Counting = Counting;

#[derive(Parser)]
#[command(name = "hakmem-workload", about = "Run one allocator workload and print one JSON line")]
struct Cli {
    /// One of: random-mixed, random-mixed-c (a C program, run through its own binary),
    /// server-churn, producer-consumer, false-sharing, realloc-growth, large-blocks,
    /// thread-churn, mpmc, mixed-lifetimes, rounds, cache-thrash; the memory workloads burst, fit.
    workload: String,
    #[command(flatten)]
    o: Overrides,
}

fn main() {
    Counting::installed();
    let cli = Cli::parse();
    if let Some(c) = hakmem_bench::cprog::find(&cli.workload) {
        // A workload written in C: the same command line goes to its own binary.
        use std::os::unix::process::CommandExt;
        let e = match c.binary() {
            Ok(bin) => anyhow::Error::from(std::process::Command::new(bin).args(std::env::args_os().skip(1)).exec()),
            Err(e) => e,
        };
        eprintln!("hakmem-workload: {e:#}");
        std::process::exit(1);
    }
    let (outcome, params) = match workloads::run_named(&cli.workload, &cli.o) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("hakmem-workload: {e:#}");
            std::process::exit(1);
        }
    };
    let os = probe::OsCallsProbe::lookup().read();
    let mem = probe::rss();
    let line = serde_json::json!({
        "workload": cli.workload,
        "params": params,
        "ops": outcome.ops,
        "seconds": outcome.seconds,
        "ops_per_sec": if outcome.seconds > 0.0 { outcome.ops as f64 / outcome.seconds } else { 0.0 },
        "peak_rss_kb": mem.map(|m| m.peak_kb),
        "rss_end_kb": mem.map(|m| m.rss_kb),
        "os_calls": os,
        // Multi-threaded workloads: the OS calls from the start line to the end of the work.
        "os_calls_timed": workloads::mt::take_timed_os_calls(),
        "checks": outcome.checks,
        "memory": outcome.memory,
    });
    let mut line = line;
    if let Some(p) = &outcome.prof {
        line["prof"] = serde_json::to_value(p).unwrap_or_default();
    }
    println!("{line}");
}
