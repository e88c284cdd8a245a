//! `hakmem compat` (being built; see the issue for compat).

use anyhow::{bail, Result};
use clap::Args;

#[derive(Args)]
pub struct CompatArgs {}

pub fn main(_a: CompatArgs) -> Result<i32> {
    bail!("hakmem compat is not built yet")
}
