//! `hakmem run [--profile P] [--stats] -- CMD ARGS...`

use crate::elf::{self, Loader};
use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
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

/// libhakmem.so: `HAKMEM_LIB` if set, else beside the `hakmem` executable (cargo puts the
/// cdylib and the binaries in one target directory), one level up, or in `../lib` (the
/// layout `make install` makes: `PREFIX/bin/hakmem`, `PREFIX/lib/libhakmem.so`).
pub fn libhakmem() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("HAKMEM_LIB") {
        let p = PathBuf::from(p);
        if p.is_file() {
            return Ok(p);
        }
        bail!("HAKMEM_LIB={} does not name a file", p.display());
    }
    if let Some(d) = std::env::current_exe().ok().and_then(|e| e.parent().map(Path::to_path_buf)) {
        for cand in [d.join("libhakmem.so"), d.join("../libhakmem.so"), d.join("../lib/libhakmem.so")] {
            if cand.is_file() {
                return Ok(cand.canonicalize().unwrap_or(cand));
            }
        }
    }
    bail!(
        "libhakmem.so not found next to the hakmem executable; build it with `cargo build --release` or set HAKMEM_LIB"
    )
}

/// The warning for a program the preload cannot reach, if it is one.
pub fn preload_warning(prog: &str, stats: bool) -> Option<String> {
    let path = elf::which(prog)?;
    let why = match elf::loader(&path) {
        Loader::Static => "is statically linked (no PT_INTERP: no dynamic loader reads LD_PRELOAD)",
        Loader::SetId => "is set-user/group-ID (the loader ignores LD_PRELOAD paths for it)",
        Loader::Dynamic | Loader::Unknown => return None,
    };
    Some(format!(
        "hakmem: warning: {} {why}; it will run on its own allocator, not hakmem{}",
        path.display(),
        if stats { ", and --stats will print nothing" } else { "" }
    ))
}

pub fn main(a: RunArgs) -> Result<i32> {
    let lib = libhakmem()?;
    if let Some(p) = &a.profile {
        hakmem::config::Profile::parse(p).map_err(|accepted| anyhow!("unknown profile {p:?}; accepted: {accepted}"))?;
    }
    if let Some(w) = preload_warning(&a.cmd[0], a.stats) {
        eprintln!("{w}");
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
