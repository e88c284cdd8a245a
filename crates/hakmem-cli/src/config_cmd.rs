//! `hakmem config [--profile P]`: the effective configuration and where each value came from.

use anyhow::Result;
use clap::Args;

#[derive(Args)]
pub struct ConfigArgs {
    /// Profile to show (overrides HAKMEM_PROFILE from the environment).
    #[arg(long, short)]
    pub profile: Option<String>,
}

pub fn main(_a: ConfigArgs) -> Result<i32> {
    anyhow::bail!("hakmem config is not built yet")
}
