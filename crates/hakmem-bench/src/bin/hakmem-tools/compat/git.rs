//! git: `tests/compat/git.sh`: init, add of 2000 files (10000 with --full), commits, log, gc.

use super::{run_script, Ctx, Outcome};
use anyhow::Result;
use hakmem_bench::contestants::Contestant;
use std::fs;
use std::path::Path;

const GIT_SH: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/compat/git.sh"));

pub fn run_git(ctx: &Ctx, col: &Contestant, dir: &Path) -> Result<Outcome> {
    let _ = fs::remove_dir_all(dir);
    fs::create_dir_all(dir)?;
    run_script(ctx, col, dir, "git.sh", GIT_SH, if ctx.full { "10000" } else { "2000" })
}
