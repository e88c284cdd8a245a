//! `hakmem ab`: one switch flipped on the same libhakmem.so, interleaved ABAB runs, the
//! difference with its interval, and the GO / NEUTRAL / NO-GO verdict (DESIGN.md section 4).

use crate::{bench_cmd, paths};
use anyhow::{bail, Context, Result};
use clap::Args;
use hakmem_bench::runner::{self, Contestant};
use hakmem_bench::stats::{self, AbResult};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Args)]
pub struct AbArgs {
    /// Side A, then side B, as NAME=VALUE (give it twice), e.g.
    /// `--env HAKMEM_ALLOC_PASSDOWN_SSOT=0 --env HAKMEM_ALLOC_PASSDOWN_SSOT=1`.
    #[arg(long = "env", value_name = "NAME=VALUE", required = true)]
    pub env: Vec<String>,
    /// The workload to measure.
    #[arg(short, long, default_value = "random-mixed")]
    pub workload: String,
    /// Runs per side (interleaved A B A B ...).
    #[arg(long, default_value_t = 10)]
    pub runs: usize,
    /// Workload op count (--cycles of the workload).
    #[arg(long)]
    pub cycles: Option<u64>,
    /// Threads, for the multithreaded workloads.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Any other workload option, as KEY=VALUE; repeatable.
    #[arg(long = "arg", value_name = "KEY=VALUE")]
    pub args: Vec<String>,
    /// Profile for both sides (HAKMEM_PROFILE).
    #[arg(long, value_parser = ["speed", "balanced"])]
    pub profile: Option<String>,
    /// Box whose hit counter proves the switched code ran (default: side B's variable name).
    #[arg(long = "box", value_name = "NAME")]
    pub box_name: Option<String>,
    /// Append the verdict with its numbers to this Markdown log (e.g. docs/ab-log.md).
    #[arg(long, value_name = "FILE")]
    pub log: Option<PathBuf>,
    /// A note for the log entry (what the switch does, why it was tried).
    #[arg(long)]
    pub note: Option<String>,
    /// Also count instructions (valgrind callgrind, one run per side): exact and load-independent,
    /// the measure for sub-1% changes on a noisy machine.
    #[arg(long)]
    pub instructions: bool,
    /// Op count for the callgrind runs (default: a tenth of the timed runs').
    #[arg(long)]
    pub instr_cycles: Option<u64>,
    /// Print the result as JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `NAME=VALUE` with a plausible variable name.
pub fn parse_env(s: &str) -> Result<(String, String)> {
    let Some((k, v)) = s.split_once('=') else { bail!("--env {s}: expected NAME=VALUE") };
    let k = k.trim();
    if k.is_empty() || !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') || k.starts_with(|c: char| c.is_ascii_digit()) {
        bail!("--env {s}: '{k}' is not an environment variable name");
    }
    Ok((k.to_string(), v.to_string()))
}

/// Hits of `name` in the parsed report, accepting the name with or without `HAKMEM_`.
pub fn box_hits(hits: &std::collections::BTreeMap<String, u64>, name: &str) -> Option<u64> {
    let norm = |s: &str| s.trim_start_matches("HAKMEM_").trim_start_matches("hakmem_").to_ascii_uppercase();
    let want = norm(name);
    hits.iter().find(|(k, _)| norm(k) == want).map(|(_, v)| *v)
}

#[derive(serde::Serialize)]
struct Report {
    workload: String,
    workload_args: Vec<String>,
    a: (String, String),
    b: (String, String),
    runs: usize,
    result: AbResult,
    box_name: String,
    box_hits_a: Option<u64>,
    box_hits_b: Option<u64>,
    a_ops_per_sec: Vec<f64>,
    b_ops_per_sec: Vec<f64>,
    library: String,
    profile: Option<String>,
    /// callgrind Ir of side A and side B, and the op count of those runs.
    instructions: Option<(u64, u64, u64)>,
}

pub fn main(a: AbArgs) -> Result<i32> {
    if a.env.len() != 2 {
        bail!("give --env exactly twice (side A, then side B); got {}", a.env.len());
    }
    let ea = parse_env(&a.env[0])?;
    let eb = parse_env(&a.env[1])?;
    if ea == eb {
        bail!("both sides are {}={}: nothing is flipped", ea.0, ea.1);
    }
    for k in if ea.0 == eb.0 { vec![&ea.0] } else { vec![&ea.0, &eb.0] } {
        if !k.starts_with("HAKMEM_") {
            eprintln!("hakmem ab: note: {k} is not a HAKMEM_* switch");
        }
    }
    if a.runs == 0 {
        bail!("--runs must be at least 1");
    }
    let w = bench_cmd::workload_names(std::slice::from_ref(&a.workload))?;
    if w.len() != 1 {
        bail!("hakmem ab measures one workload at a time");
    }
    let w = &w[0];
    let wargs = bench_cmd::workload_args(w, &bench_cmd::passthrough(a.cycles, &a.args)?, a.threads)?;
    let lib = paths::libhakmem()?;
    let bin = paths::workload_bin()?;
    let side = |name: &str, e: &(String, String)| {
        let mut env = Vec::new();
        if let Some(p) = &a.profile {
            env.push(("HAKMEM_PROFILE".to_string(), p.clone()));
        }
        env.push(e.clone());
        Contestant { name: name.into(), preload: Some(lib.clone()), env }
    };
    let sides = [side("A", &ea), side("B", &eb)];
    let box_name = a.box_name.clone().unwrap_or_else(|| eb.0.clone());

    // Step 0: prove the switched code runs at all (an optimisation that never runs measures nothing).
    let hits = |c: &Contestant| -> Result<Option<u64>> {
        let (_, err) = runner::run_with_stderr(&bin, c, w, &wargs, &[("HAKMEM_STATS", "1")])?;
        Ok(box_hits(&runner::parse_box_hits(&err), &box_name))
    };
    let hits_b = hits(&sides[1]).context("side B with HAKMEM_STATS=1")?;
    let hits_a = hits(&sides[0]).context("side A with HAKMEM_STATS=1")?;

    let pb = ProgressBar::new((2 * a.runs) as u64);
    pb.set_style(ProgressStyle::with_template("{bar:30} {pos}/{len} {msg} [{elapsed_precise}, eta {eta}]").unwrap_or_else(|_| ProgressStyle::default_bar()));
    let mut ops: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
    for (r, s) in runner::schedule(2, a.runs) {
        pb.set_message(format!("{w}: side {} run {}/{}", sides[s].name, r + 1, a.runs));
        let o = runner::run_once(&bin, &sides[s], w, &wargs).inspect_err(|_| pb.finish_and_clear())?;
        ops[s].push(o.ops_per_sec);
        pb.inc(1);
    }
    pb.finish_and_clear();
    let result = stats::ab(&ops[0], &ops[1]).context("no samples")?;
    let instructions = if a.instructions {
        let timed = wargs.iter().position(|x| x == "--cycles").and_then(|i| wargs.get(i + 1)).and_then(|c| c.parse::<u64>().ok());
        let ic = a.instr_cycles.unwrap_or_else(|| timed.or_else(|| hakmem_bench::workloads::default_cycles(w)).unwrap_or(1_000_000) / 10).max(1);
        let mut iargs: Vec<String> = Vec::new();
        let mut i = 0;
        while i < wargs.len() {
            if wargs[i] == "--cycles" {
                i += 2;
                continue;
            }
            iargs.push(wargs[i].clone());
            i += 1;
        }
        iargs.extend(["--cycles".to_string(), ic.to_string()]);
        eprintln!("hakmem ab: counting instructions under callgrind (--cycles {ic}) ...");
        let (ir_a, _) = runner::callgrind_ir(&bin, &sides[0], w, &iargs)?;
        let (ir_b, _) = runner::callgrind_ir(&bin, &sides[1], w, &iargs)?;
        Some((ir_a, ir_b, ic))
    } else {
        None
    };
    let rep = Report {
        workload: w.clone(),
        workload_args: wargs.clone(),
        a: ea,
        b: eb,
        runs: a.runs,
        result,
        box_name,
        box_hits_a: hits_a,
        box_hits_b: hits_b,
        a_ops_per_sec: ops[0].clone(),
        b_ops_per_sec: ops[1].clone(),
        library: lib.display().to_string(),
        profile: a.profile.clone(),
        instructions,
    };
    if a.json {
        println!("{}", serde_json::to_string_pretty(&rep)?);
    } else {
        print!("{}", text(&rep));
    }
    if let Some(p) = &a.log {
        append_log(p, &rep, a.note.as_deref())?;
        eprintln!("hakmem ab: appended to {}", p.display());
    }
    Ok(0)
}

fn pct(x: f64) -> String {
    format!("{:+.2}%", x * 100.0)
}

fn hits_line(rep: &Report) -> String {
    match rep.box_hits_b {
        Some(n) if n > 0 => format!(
            "box {} ran on side B ({n} hits; side A: {})",
            rep.box_name,
            rep.box_hits_a.map_or("no line".into(), |h| format!("{h} hits"))
        ),
        Some(_) => format!("WARNING: box {} reported 0 hits on side B: the switched code did not run, this A/B measured nothing", rep.box_name),
        None => format!("WARNING: no `hakmem: box {} hits N` line on side B with HAKMEM_STATS=1: cannot confirm the switched code ran", rep.box_name),
    }
}

/// `instructions (callgrind, --cycles N): A x, B y, B vs A -0.29% (fewer is better)`.
fn instr_line(i: Option<(u64, u64, u64)>) -> Option<String> {
    let (a, b, ops) = i?;
    Some(format!(
        "instructions (callgrind, whole process, --cycles {ops}): A {a}, B {b}, B vs A {} (fewer is better)",
        pct(b as f64 / a.max(1) as f64 - 1.0)
    ))
}

fn side_line(label: &str, e: &(String, String), s: &stats::Summary) -> String {
    format!(
        "{label} {}={}: mean {} ops/s, median {}, min {}, max {}, stdev {} (CV {:.2}%)",
        e.0,
        e.1,
        hakmem_bench::report::si(s.mean),
        hakmem_bench::report::si(s.median),
        hakmem_bench::report::si(s.min),
        hakmem_bench::report::si(s.max),
        hakmem_bench::report::si(s.stdev),
        s.cv * 100.0
    )
}

fn diff_line(r: &AbResult) -> String {
    let ci = r.ci95.map_or("-".into(), |(lo, hi)| format!("[{}, {}]", pct(lo), pct(hi)));
    let welch = r.welch.as_ref().map_or("-".into(), |w| format!("t = {:.2}, df = {:.1}, |t| > {:.2}: {}", w.t, w.df, w.t_crit95, if w.significant95 { "yes" } else { "no" }));
    format!(
        "B vs A: {} (mean; median {}); 95% bootstrap CI {ci}; Welch {welch}; beyond noise: {}",
        pct(r.rel_diff),
        pct(r.rel_diff_median),
        if r.beyond_noise { "yes" } else { "no" }
    )
}

/// A GO or NO-GO inside the noise is worth saying out loud: more runs may change it.
fn noise_caveat(r: &AbResult) -> &'static str {
    if r.verdict != stats::Verdict::Neutral && !r.beyond_noise {
        ", but within the noise (re-run with more --runs or on a quieter machine)"
    } else {
        ""
    }
}

fn text(rep: &Report) -> String {
    let r = &rep.result;
    format!(
        "{} — {} runs per side, interleaved ABAB\n{}\n{}\n{}\n{}{}\nverdict: {}{} (GO >= +1.0%, NEUTRAL within ±1.0%, NO-GO <= -1.0%)\n",
        std::iter::once(rep.workload.as_str()).chain(rep.workload_args.iter().map(String::as_str)).collect::<Vec<_>>().join(" "),
        rep.runs,
        side_line("A", &rep.a, &r.a),
        side_line("B", &rep.b, &r.b),
        diff_line(r),
        instr_line(rep.instructions).map(|l| l + "\n").unwrap_or_default(),
        hits_line(rep),
        r.verdict,
        noise_caveat(r)
    )
}

const LOG_HEADER: &str = "# A/B log\n\n\
Every A/B verdict with its numbers, newest last. Entries are appended by \
`hakmem ab --env NAME=A --env NAME=B --log docs/ab-log.md` (same libhakmem.so, one switch flipped, \
interleaved ABAB runs; GO at +1.0% or better, NEUTRAL within ±1.0%, NO-GO at −1.0% or worse, B relative \
to A). \"Beyond noise\" means the 95% bootstrap interval of the difference excludes zero and Welch's t \
agrees.\n";

fn append_log(path: &Path, rep: &Report, note: Option<&str>) -> Result<()> {
    let m = runner::machine();
    let r = &rep.result;
    let mut s = String::new();
    if !path.exists() {
        if let Some(d) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(d)?;
        }
        s.push_str(LOG_HEADER);
    }
    s.push_str(&format!(
        "\n## {}: {} {} → {} — {} ({}{})\n\n",
        m.date_utc,
        rep.b.0,
        rep.a.1,
        rep.b.1,
        r.verdict,
        pct(r.rel_diff),
        if r.verdict != stats::Verdict::Neutral && !r.beyond_noise { ", within the noise" } else { "" }
    ));
    if rep.a.0 != rep.b.0 {
        s.push_str(&format!("- sides: A {}={}, B {}={}\n", rep.a.0, rep.a.1, rep.b.0, rep.b.1));
    }
    if let Some(n) = note {
        s.push_str(&format!("- note: {n}\n"));
    }
    s.push_str(&format!(
        "- workload: `{}`, {} runs per side, interleaved ABAB\n",
        std::iter::once(rep.workload.as_str()).chain(rep.workload_args.iter().map(String::as_str)).collect::<Vec<_>>().join(" "),
        rep.runs
    ));
    s.push_str(&format!("- {}\n", side_line("A", &rep.a, &r.a)));
    s.push_str(&format!("- {}\n", side_line("B", &rep.b, &r.b)));
    s.push_str(&format!("- {}\n", diff_line(r)));
    if let Some(l) = instr_line(rep.instructions) {
        s.push_str(&format!("- {l}\n"));
    }
    s.push_str(&format!("- step 0: {}\n", hits_line(rep)));
    s.push_str(&format!("- library: `{}`, HAKMEM_PROFILE={}\n", rep.library, rep.profile.as_deref().unwrap_or("(unset: the library's default)")));
    s.push_str(&format!("- machine: {} ({} cores), `{}`, load average {} at the end\n", m.cpu, m.cores, m.uname, m.loadavg));
    if let Some(g) = runner::git_revision() {
        s.push_str(&format!("- source: git {g}\n"));
    }
    s.push_str(&format!("- command: `{}`\n", bench_cmd::command_line()));
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path).with_context(|| format!("cannot open {}", path.display()))?;
    f.write_all(s.as_bytes())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_parsing() {
        assert_eq!(parse_env("HAKMEM_X=1").unwrap(), ("HAKMEM_X".into(), "1".into()));
        assert_eq!(parse_env("HAKMEM_X=").unwrap(), ("HAKMEM_X".into(), "".into()));
        assert_eq!(parse_env("HAKMEM_X=a=b").unwrap().1, "a=b");
        assert!(parse_env("HAKMEM_X").is_err());
        assert!(parse_env("=1").is_err());
        assert!(parse_env("BAD NAME=1").is_err());
        assert!(parse_env("1X=1").is_err());
    }

    #[test]
    fn instruction_line() {
        assert_eq!(instr_line(None), None);
        let l = instr_line(Some((1000, 990, 100))).unwrap();
        assert!(l.contains("A 1000, B 990, B vs A -1.00%"), "{l}");
    }

    #[test]
    fn box_name_matching() {
        let hits = runner::parse_box_hits("hakmem: box HAKMEM_ALLOC_PASSDOWN_SSOT hits 42\nhakmem: box FRONT_OFF hits 0\n");
        assert_eq!(box_hits(&hits, "HAKMEM_ALLOC_PASSDOWN_SSOT"), Some(42));
        assert_eq!(box_hits(&hits, "alloc_passdown_ssot"), Some(42));
        assert_eq!(box_hits(&hits, "HAKMEM_FRONT_OFF"), Some(0));
        assert_eq!(box_hits(&hits, "HAKMEM_OTHER"), None);
    }
}
