//! `hakmem bench` (being built; see the issue for bench).

use anyhow::{bail, Result};
use clap::Args;

#[derive(Args)]
pub struct BenchArgs {}

pub fn main(_a: BenchArgs) -> Result<i32> {
    bail!("hakmem bench is not built yet")
}
