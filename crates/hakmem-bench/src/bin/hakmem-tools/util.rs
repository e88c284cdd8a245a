//! What the tools share: durations, the command line for reports, output files, progress bars,
//! the callgrind op count, number formats.

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::Path;
use std::time::Duration;

/// `90` (seconds), `90s`, `500ms`, `0.5s`, `10m`, `1h30m` (humantime's grammar) → Duration.
pub fn parse_duration(s: &str) -> Result<Duration> {
    let t = s.trim();
    if t.is_empty() {
        bail!("empty duration");
    }
    if let Ok(secs) = t.parse::<f64>() {
        return Duration::try_from_secs_f64(secs).map_err(|_| anyhow::anyhow!("bad duration {s:?}"));
    }
    humantime::parse_duration(t).map_err(|e| match e {
        humantime::DurationError::UnknownUnit { unit, .. } => {
            anyhow::anyhow!("bad duration {s:?}: unknown unit {unit:?} (use ms, s, m, h)")
        }
        e => anyhow::anyhow!("bad duration {s:?}: {e} (e.g. 10s, 10m, 1h30m)"),
    })
}

/// `1%` → 0.01, `0.01` → 0.01; never negative.
pub fn parse_fraction(s: &str, what: &str) -> Result<f64> {
    let t = s.trim();
    let v = match t.strip_suffix('%') {
        Some(p) => p.trim().parse::<f64>().map(|x| x / 100.0),
        None => t.parse::<f64>(),
    }
    .with_context(|| format!("bad {what} {s:?}: use a fraction (0.01) or a percentage (1%)"))?;
    if !v.is_finite() || v < 0.0 {
        bail!("{what} must be >= 0, got {s}");
    }
    Ok(v)
}

/// This invocation as a shell command (`hakmem` plus the arguments, quoted where needed).
pub fn command_line() -> String {
    std::iter::once("hakmem".to_string())
        .chain(std::env::args().skip(1).map(|a| shell_quote(&a)))
        .collect::<Vec<_>>()
        .join(" ")
}

pub fn shell_quote(a: &str) -> String {
    if !a.is_empty() && a.chars().all(|c| c.is_ascii_alphanumeric() || "-_=.,/:+@%".contains(c)) {
        a.to_string()
    } else {
        format!("'{}'", a.replace('\'', "'\\''"))
    }
}

/// Writes `s` to the file `p`, or to stdout for `-`.
pub fn write_out(p: &Path, s: &str) -> Result<()> {
    if p == Path::new("-") {
        print!("{s}");
        return Ok(());
    }
    if let Some(d) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(d).with_context(|| format!("cannot create {}", d.display()))?;
    }
    std::fs::write(p, s).with_context(|| format!("cannot write {}", p.display()))
}

/// A progress bar on stderr for `len` steps.
pub fn progress(len: usize) -> ProgressBar {
    let pb = ProgressBar::new(len as u64);
    pb.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} {msg} [{elapsed_precise}, eta {eta}]")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    pb
}

/// Workload words for a callgrind run: `args` with its `--cycles` replaced by
/// `instr_cycles`, by default a tenth of the timed runs' count (valgrind is ~50x slower).
/// Returns the words and the op count.
pub fn callgrind_args(workload: &str, args: &[String], instr_cycles: Option<u64>) -> (Vec<String>, u64) {
    let timed =
        args.iter().position(|x| x == "--cycles").and_then(|i| args.get(i + 1)).and_then(|c| c.parse::<u64>().ok());
    let ic = instr_cycles
        .unwrap_or_else(|| {
            timed.or_else(|| hakmem_bench::workloads::default_cycles(workload)).unwrap_or(1_000_000) / 10
        })
        .max(1);
    let mut v = Vec::new();
    let mut i = 0;
    while i < args.len() {
        if args[i] == "--cycles" {
            i += 2;
            continue;
        }
        v.push(args[i].clone());
        i += 1;
    }
    v.extend(["--cycles".to_string(), ic.to_string()]);
    (v, ic)
}

/// `+1.23%`.
pub fn pct(x: f64) -> String {
    format!("{:+.2}%", x * 100.0)
}

/// `12.3 MB` (10^6 bytes).
pub fn mb(b: f64) -> String {
    format!("{:.1} MB", b / 1e6)
}

/// `1.23M` (ops/s in millions).
pub fn mops(x: f64) -> String {
    format!("{:.2}M", x / 1e6)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("10m").unwrap(), Duration::from_secs(600));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("0.5s").unwrap(), Duration::from_millis(500));
        assert!(parse_duration("10x").unwrap_err().to_string().contains("unknown unit"));
        assert!(parse_duration("m").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_duration("-5").is_err());
    }

    #[test]
    fn fractions() {
        assert_eq!(parse_fraction("1%", "x").unwrap(), 0.01);
        assert_eq!(parse_fraction("0.05", "x").unwrap(), 0.05);
        assert!(parse_fraction("-1%", "x").is_err());
        assert!(parse_fraction("lots", "x").is_err());
    }

    #[test]
    fn quoting() {
        assert_eq!(shell_quote("--runs"), "--runs");
        assert_eq!(shell_quote("HAKMEM_X=1"), "HAKMEM_X=1");
        assert_eq!(shell_quote("a note"), "'a note'");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
        assert_eq!(shell_quote(""), "''");
    }

    #[test]
    fn callgrind_cycles() {
        let v: Vec<String> = ["--ws", "3", "--cycles", "90", "--seed", "1"].iter().map(|s| s.to_string()).collect();
        assert_eq!(
            callgrind_args("random-mixed", &v, None),
            (vec!["--ws".into(), "3".into(), "--seed".into(), "1".into(), "--cycles".into(), "9".into()], 9)
        );
        assert_eq!(callgrind_args("random-mixed", &v, Some(5)).1, 5);
    }
}
