//! `hakmem-tools`: the measuring commands of `hakmem` (`bench`, `ab`, `soak`, `compat`) and the heap profile
//! reader (`prof`).
//! Users run them as `hakmem bench ...`; the `hakmem` binary hands its arguments here.

mod ab;
mod bench;
mod compat;
mod memory;
mod plot_font;
mod prof;
mod profacc;
mod soak;
mod util;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "hakmem",
    bin_name = "hakmem",
    version,
    about = "hakmem's measuring tools: bench, ab, soak, compat, prof"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Benchmark hakmem against glibc and the installed peers (mimalloc, jemalloc, tcmalloc, ...).
    Bench(bench::BenchArgs),
    /// A/B one switch on the same binary: interleaved runs, confidence interval, verdict.
    Ab(ab::AbArgs),
    /// Long single-process (or multi-process) runs recording RSS and throughput per epoch.
    Soak(soak::SoakArgs),
    /// Run real programs (python3, sqlite3, git, gcc, redis) under hakmem and compare with glibc.
    Compat(compat::CompatArgs),
    /// Heap profiles of the prof box (HAKMEM_PROF=1): report, flamegraph.
    Prof(prof::ProfArgs),
}

fn main() {
    // A reader that goes away (`hakmem bench | head`) ends this process quietly, as it
    // would any Unix filter, instead of a panic on the failed write.
    // SAFETY: setting a signal disposition at start-up, before any thread exists.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    let cli = Cli::parse();
    let result = match cli.cmd {
        Cmd::Bench(a) => bench::main(a),
        Cmd::Ab(a) => ab::main(a),
        Cmd::Soak(a) => soak::main(a),
        Cmd::Compat(a) => compat::main(a),
        Cmd::Prof(a) => prof::main(a),
    };
    match result {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("hakmem: error: {e:#}");
            std::process::exit(2);
        }
    }
}
