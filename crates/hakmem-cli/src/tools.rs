//! The measuring commands live in `hakmem-tools` (crate hakmem-bench), so that the `hakmem`
//! binary stays small. `hakmem bench ARGS` becomes `hakmem-tools bench ARGS`, found beside
//! this executable, as git finds `git-foo`.

use anyhow::{bail, Result};
use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Command;

pub const TOOLS: &str = "hakmem-tools";

/// Where `hakmem-tools` is looked for: beside this executable (cargo builds every binary of the
/// workspace into one directory; `cargo install` puts them in one bin directory), or one level
/// up (a test binary in target/release/deps).
pub fn candidates() -> Vec<PathBuf> {
    let Some(dir) = std::env::current_exe().ok().and_then(|e| e.parent().map(PathBuf::from)) else {
        return vec![];
    };
    vec![dir.join(TOOLS), dir.join("..").join(TOOLS)]
}

/// Replaces this process with `hakmem-tools SUB ARGS...`; returns only on failure.
pub fn exec(sub: &str, args: Vec<OsString>) -> Result<i32> {
    let cands = candidates();
    let Some(bin) = cands.iter().find(|p| p.is_file()) else {
        bail!(
            "`hakmem {sub}` needs the {TOOLS} binary, which is not installed beside hakmem (looked for {}); \
             build it with `cargo build --release --workspace` (or `cargo install --path crates/hakmem-bench`)",
            cands.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
        );
    };
    let err = Command::new(bin).arg(sub).args(args).exec();
    bail!("cannot run {}: {err}", bin.display())
}
