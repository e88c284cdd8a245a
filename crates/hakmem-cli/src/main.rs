//! `hakmem`: the command users run. It does two things itself (`run`, `config`) and hands
//! the measuring commands (`bench`, `ab`, `soak`, `compat`) and `prof` to the `hakmem-tools` binary
//! that sits beside it, git-style: arguments, standard streams and the exit status pass
//! through unchanged (the tools binary replaces this process).

mod config_cmd;
mod elf;
mod out;
mod run_cmd;
mod tools;

use clap::{Parser, Subcommand};
use std::ffi::OsString;

#[derive(Parser)]
#[command(name = "hakmem", version, about = "hakmem memory allocator: run programs on it, configure, benchmark, soak")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

/// The raw words after a tools subcommand, `--help` included, for `hakmem-tools`.
#[derive(clap::Args)]
struct Passthrough {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
    args: Vec<OsString>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run a program with libhakmem.so preloaded and a profile's switches set.
    Run(run_cmd::RunArgs),
    /// Print the effective configuration: every switch, its value and where it came from.
    Config(config_cmd::ConfigArgs),
    /// Benchmark hakmem against glibc and the installed peers (runs hakmem-tools).
    #[command(disable_help_flag = true)]
    Bench(Passthrough),
    /// A/B one switch on the same binary: interleaved runs, confidence interval, verdict (runs hakmem-tools).
    #[command(disable_help_flag = true)]
    Ab(Passthrough),
    /// Long runs recording RSS and throughput per epoch, and their analysis (runs hakmem-tools).
    #[command(disable_help_flag = true)]
    Soak(Passthrough),
    /// Real programs (python3, sqlite3, git, gcc, redis) under hakmem vs glibc (runs hakmem-tools).
    #[command(disable_help_flag = true)]
    Compat(Passthrough),
    /// Heap profiles (HAKMEM_PROF=1): `prof report FILE`, `prof flamegraph FILE -o out.svg` (runs hakmem-tools).
    #[command(disable_help_flag = true)]
    Prof(Passthrough),
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.cmd {
        Cmd::Run(a) => run_cmd::main(a),
        Cmd::Config(a) => config_cmd::main(a),
        Cmd::Bench(p) => tools::exec("bench", p.args),
        Cmd::Ab(p) => tools::exec("ab", p.args),
        Cmd::Soak(p) => tools::exec("soak", p.args),
        Cmd::Compat(p) => tools::exec("compat", p.args),
        Cmd::Prof(p) => tools::exec("prof", p.args),
    };
    match result {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("hakmem: error: {e:#}");
            std::process::exit(2);
        }
    }
}
