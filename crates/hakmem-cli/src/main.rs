//! `hakmem`: the command-line face of the allocator.
//!
//! Each subcommand lives in its own module; this file only dispatches.

mod ab_cmd;
mod bench_cmd;
mod compat_cmd;
mod config_cmd;
mod paths;
mod plot_font;
mod run_cmd;
mod soak_cmd;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "hakmem", version, about = "hakmem memory allocator: run programs on it, configure, benchmark, soak")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run a program with libhakmem.so preloaded and a profile's switches set.
    Run(run_cmd::RunArgs),
    /// Print the effective configuration: every switch, its value and where it came from.
    Config(config_cmd::ConfigArgs),
    /// Benchmark hakmem against glibc and the installed peers (mimalloc, jemalloc, tcmalloc).
    Bench(bench_cmd::BenchArgs),
    /// A/B one switch on the same binary: interleaved runs, confidence interval, verdict.
    Ab(ab_cmd::AbArgs),
    /// Long single-process (or multi-process) runs recording RSS and throughput per epoch.
    Soak(soak_cmd::SoakArgs),
    /// Run real programs (python3, sqlite3, git, gcc, redis) under hakmem and compare with glibc.
    Compat(compat_cmd::CompatArgs),
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.cmd {
        Cmd::Run(a) => run_cmd::main(a),
        Cmd::Config(a) => config_cmd::main(a),
        Cmd::Bench(a) => bench_cmd::main(a),
        Cmd::Ab(a) => ab_cmd::main(a),
        Cmd::Soak(a) => soak_cmd::main(a),
        Cmd::Compat(a) => compat_cmd::main(a),
    };
    match result {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("hakmem: error: {e:#}");
            std::process::exit(2);
        }
    }
}
