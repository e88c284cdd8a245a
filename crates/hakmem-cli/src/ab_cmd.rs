//! `hakmem ab` (being built; see the issue for ab).

use anyhow::{bail, Result};
use clap::Args;

#[derive(Args)]
pub struct AbArgs {}

pub fn main(_a: AbArgs) -> Result<i32> {
    bail!("hakmem ab is not built yet")
}
