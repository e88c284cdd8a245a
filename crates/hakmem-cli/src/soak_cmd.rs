//! `hakmem soak` (being built; see the issue for soak).

use anyhow::{bail, Result};
use clap::Args;

#[derive(Args)]
pub struct SoakArgs {}

pub fn main(_a: SoakArgs) -> Result<i32> {
    bail!("hakmem soak is not built yet")
}
