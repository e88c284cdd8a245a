//! `hakmem config [--profile P]`: the effective configuration and where each value came from.

use anyhow::{anyhow, Result};
use clap::Args;
use hakmem::config::{Accepted, Config, Profile, ShowValue, Warning, SWITCHES};
use std::os::unix::ffi::OsStrExt;

#[derive(Args)]
pub struct ConfigArgs {
    /// Profile to show (overrides HAKMEM_PROFILE from the environment).
    #[arg(long, short)]
    pub profile: Option<String>,
    /// Also describe each switch.
    #[arg(long, short)]
    pub verbose: bool,
}

pub fn main(a: ConfigArgs) -> Result<i32> {
    let over = match &a.profile {
        Some(p) => Some(Profile::parse(p).map_err(|acc| anyhow!("unknown profile {p:?}; accepted: {acc}"))?),
        None => None,
    };
    // The same resolution the allocator does at start-up, over this process's environment.
    let env: Vec<(Vec<u8>, Vec<u8>)> =
        std::env::vars_os().map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec())).collect();
    let mut warnings = Vec::new();
    let cfg = Config::resolve(
        &|n| env.iter().find(|(k, _)| k == n.as_bytes()).map(|(_, v)| v.as_slice()),
        &mut env.iter().map(|(k, _)| k.as_slice()),
        over,
        &mut |w| warnings.push(describe(&w)),
    );
    for w in &warnings {
        eprintln!("hakmem: {w}");
    }
    let mut out = format!("profile {} ({})\n", cfg.profile.name(), cfg.profile_source.name());
    out += &format!("{:<34} {:<10} {:<12} accepted\n", "switch", "value", "source");
    for (i, s) in SWITCHES.iter().enumerate() {
        out += &format!(
            "{:<34} {:<10} {:<12} {}\n",
            s.name,
            ShowValue(s.kind, cfg.values[i]).to_string(),
            cfg.sources[i].name(),
            Accepted(s.kind)
        );
        if a.verbose {
            out += &format!(
                "    {} (speed {}, balanced {})\n",
                s.help,
                ShowValue(s.kind, s.speed),
                ShowValue(s.kind, s.balanced)
            );
        }
    }
    crate::out::print(&out)?;
    Ok(0)
}

fn describe(w: &Warning<'_>) -> String {
    match w {
        Warning::Invalid { name, value, accepted, used, kind } => format!(
            "{name}={:?} is not valid (accepted: {accepted}); using {}",
            String::from_utf8_lossy(value),
            ShowValue(*kind, *used)
        ),
        Warning::Unknown { name } => {
            format!("unknown variable {} ignored", String::from_utf8_lossy(name))
        }
    }
}
