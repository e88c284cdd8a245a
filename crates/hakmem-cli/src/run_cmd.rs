//! `hakmem run [--profile P] -- CMD ARGS...`

use anyhow::{Context, Result};
use clap::Args;
use std::os::unix::process::CommandExt;
use std::process::Command;

#[derive(Args)]
pub struct RunArgs {
    /// Profile: speed or balanced (seed names MIXED_TINYV3_C7_SAFE / MIXED_TINYV3_C7_BALANCED).
    #[arg(long, short)]
    pub profile: Option<String>,
    /// Print hakmem's statistics to stderr when the program exits.
    #[arg(long)]
    pub stats: bool,
    /// The program and its arguments.
    #[arg(trailing_var_arg = true, required = true, allow_hyphen_values = true)]
    pub cmd: Vec<String>,
}

pub fn main(a: RunArgs) -> Result<i32> {
    let lib = crate::paths::libhakmem()?;
    if let Some(p) = &a.profile {
        hakmem::config::Profile::parse(p).map_err(|accepted| {
            anyhow::anyhow!("unknown profile {p:?}; accepted: {accepted}")
        })?;
    }
    let mut cmd = Command::new(&a.cmd[0]);
    cmd.args(&a.cmd[1..]);
    let preload = match std::env::var("LD_PRELOAD") {
        Ok(old) if !old.is_empty() => format!("{}:{}", lib.display(), old),
        _ => lib.display().to_string(),
    };
    cmd.env("LD_PRELOAD", preload);
    if let Some(p) = &a.profile {
        cmd.env("HAKMEM_PROFILE", p);
    }
    if a.stats {
        cmd.env("HAKMEM_STATS", "1");
    }
    // exec replaces this process, so the program's exit status is the command's.
    let err = cmd.exec();
    Err(err).with_context(|| format!("cannot run {}", a.cmd[0]))
}
