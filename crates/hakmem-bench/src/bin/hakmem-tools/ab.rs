//! `hakmem ab`: one switch flipped on the same libhakmem.so, interleaved ABAB runs, the
//! difference with its interval, and the GO / NEUTRAL / NO-GO / INCONCLUSIVE verdict.
//!
//! It refuses, before running anything, what it could not judge: a `HAKMEM_*` name or value
//! the allocator would not accept (checked with the allocator's own `Config::resolve`), two
//! different variables in the two arms, fewer than 3 runs per side.

use crate::bench;
use crate::util::{self, command_line, pct};
use anyhow::{bail, Context, Result};
use clap::Args;
use hakmem::config::{Config, ShowValue, Warning};
use hakmem_bench::contestants::{self, Contestant};
use hakmem_bench::stats::{self, AbResult, Verdict};
use hakmem_bench::{paths, runner};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Fewest runs per side: with two, one disturbed run decides the verdict and the interval
/// has one degree of freedom.
pub const MIN_RUNS: usize = 3;

#[derive(Args)]
pub struct AbArgs {
    /// Side A, then side B, as NAME=VALUE (give it twice), e.g.
    /// `--env HAKMEM_ALLOC_PASSDOWN_SSOT=0 --env HAKMEM_ALLOC_PASSDOWN_SSOT=1`.
    #[arg(long = "env", value_name = "NAME=VALUE", required = true)]
    pub env: Vec<String>,
    /// The workload to measure.
    #[arg(short, long, default_value = "random-mixed")]
    pub workload: String,
    /// Runs per side (interleaved A B A B ...); at least 3.
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
    #[arg(short, long, value_parser = contestants::parse_profile)]
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
    if k.is_empty()
        || !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        || k.starts_with(|c: char| c.is_ascii_digit())
    {
        bail!("--env {s}: '{k}' is not an environment variable name");
    }
    Ok((k.to_string(), v.to_string()))
}

/// Refuses a `HAKMEM_*` arm the allocator would not take as given: an unknown name, or a
/// value it would replace by the default (the run would then measure the default twice).
/// Other names (a peer library's variables) pass: the allocator does not read them.
pub fn check_switch(name: &str, value: &str) -> Result<()> {
    if !name.starts_with("HAKMEM_") {
        return Ok(());
    }
    let mut problem = None;
    let get = |n: &str| (n == name).then_some(value.as_bytes());
    Config::resolve(&get, &mut std::iter::once(name.as_bytes()), None, &mut |w| {
        problem.get_or_insert(match w {
            Warning::Invalid { accepted, used, kind, .. } => format!(
                "{name}={value:?} is not a value hakmem accepts (accepted: {accepted}); it would run with {} instead",
                ShowValue(kind, used)
            ),
            Warning::Unknown { .. } => format!("{name} is not a hakmem switch (`hakmem config -v` lists them)"),
        });
    });
    match problem {
        Some(p) => bail!("--env {name}={value}: {p}"),
        None => Ok(()),
    }
}

/// The two arms, checked: each a known switch with a valid value, the same switch on both
/// sides, two different values.
pub fn parse_arms(env: &[String]) -> Result<((String, String), (String, String))> {
    if env.len() != 2 {
        bail!("give --env exactly twice (side A, then side B); got {}", env.len());
    }
    let ea = parse_env(&env[0])?;
    let eb = parse_env(&env[1])?;
    if ea.0 != eb.0 {
        bail!(
            "the two arms set different variables ({} and {}): an A/B flips one switch; give the same NAME twice",
            ea.0,
            eb.0
        );
    }
    if ea == eb {
        bail!("both sides are {}={}: nothing is flipped", ea.0, ea.1);
    }
    check_switch(&ea.0, &ea.1)?;
    check_switch(&eb.0, &eb.1)?;
    if !ea.0.starts_with("HAKMEM_") {
        eprintln!("hakmem ab: note: {} is not a HAKMEM_* switch", ea.0);
    }
    Ok((ea, eb))
}

/// `path` relative to the repository when it lies inside (the log is committed there and must
/// not name files outside it), else as given.
fn repo_relative(path: &Path) -> String {
    paths::repo_root()
        .and_then(|r| path.strip_prefix(r).ok().map(|p| p.display().to_string()))
        .unwrap_or_else(|| path.display().to_string())
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
    instructions: Option<Instructions>,
}

/// callgrind Ir of side A and side B, and the op count of those runs.
#[derive(Clone, Copy, serde::Serialize)]
struct Instructions {
    a: u64,
    b: u64,
    ops: u64,
}

pub fn main(a: AbArgs) -> Result<i32> {
    if a.runs < MIN_RUNS {
        bail!("--runs must be at least {MIN_RUNS} per side (got {}): fewer cannot support a verdict", a.runs);
    }
    let (ea, eb) = parse_arms(&a.env)?;
    let w = bench::workload_names(std::slice::from_ref(&a.workload))?;
    if w.len() != 1 {
        bail!("hakmem ab measures one workload at a time");
    }
    let w = &w[0];
    let wargs = bench::workload_args(w, &bench::passthrough(a.cycles, &a.args)?, a.threads)?;
    let lib = paths::libhakmem()?;
    let bin = paths::workload_bin_for(w)?;
    let side = |name: &str, e: &(String, String)| {
        let mut env = Vec::new();
        if let Some(p) = &a.profile {
            env.push(("HAKMEM_PROFILE".to_string(), p.clone()));
        }
        env.push(e.clone());
        Contestant { name: name.into(), preload: Some(lib.clone()), env }
    };
    let sides = [side("hakmem A", &ea), side("hakmem B", &eb)];
    let box_name = a.box_name.clone().unwrap_or_else(|| eb.0.clone());

    // Step 0: prove the switched code runs at all (an optimisation that never runs measures nothing).
    let hits = |c: &Contestant| -> Result<Option<u64>> {
        let (_, err) = runner::run_with_stderr(&bin, c, w, &wargs, &[("HAKMEM_STATS", "1")])?;
        Ok(box_hits(&runner::parse_box_hits(&err), &box_name))
    };
    let hits_b = hits(&sides[1]).context("side B with HAKMEM_STATS=1")?;
    let hits_a = hits(&sides[0]).context("side A with HAKMEM_STATS=1")?;

    let pb = util::progress(2 * a.runs);
    let mut ops: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
    for (r, s) in runner::schedule(2, a.runs) {
        pb.set_message(format!("{w}: side {} run {}/{}", ["A", "B"][s], r + 1, a.runs));
        let o = runner::run_once(&bin, &sides[s], w, &wargs).inspect_err(|_| pb.finish_and_clear())?;
        ops[s].push(o.ops_per_sec);
        pb.inc(1);
    }
    pb.finish_and_clear();
    let mut result = stats::ab(&ops[0], &ops[1]).context("no samples")?;
    // Code that never ran cannot have made a difference, whatever the numbers say.
    if hits_b == Some(0) {
        result.verdict = Verdict::Inconclusive;
    }
    let instructions = if a.instructions {
        let (iargs, ic) = util::callgrind_args(w, &wargs, a.instr_cycles);
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
        library: repo_relative(&lib),
        profile: a.profile.clone(),
        instructions: instructions.map(|(a, b, ops)| Instructions { a, b, ops }),
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

fn hits_line(rep: &Report) -> String {
    match rep.box_hits_b {
        Some(n) if n > 0 => format!(
            "box {} ran on side B ({n} hits; side A: {})",
            rep.box_name,
            rep.box_hits_a.map_or("no line".into(), |h| format!("{h} hits"))
        ),
        Some(_) => format!("box {} reported 0 hits on side B: the switched code did not run, so this A/B measured nothing (verdict INCONCLUSIVE); pick a workload that reaches it", rep.box_name),
        None => format!("WARNING: no `hakmem: box {} hits N` line on side B with HAKMEM_STATS=1: cannot confirm the switched code ran", rep.box_name),
    }
}

/// `instructions (callgrind, --cycles N): A x, B y, B vs A -0.29% (fewer is better)`.
fn instr_line(i: Option<Instructions>) -> Option<String> {
    let Instructions { a, b, ops } = i?;
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
        hakmem_bench::report::si(s.p50),
        hakmem_bench::report::si(s.min),
        hakmem_bench::report::si(s.max),
        hakmem_bench::report::si(s.stdev),
        s.cv * 100.0
    )
}

fn diff_line(r: &AbResult) -> String {
    let ci = r.ci95.map_or("-".into(), |(lo, hi)| format!("[{}, {}]", pct(lo), pct(hi)));
    let welch = r.welch.as_ref().map_or("-".into(), |w| {
        format!(
            "t = {:.2}, df = {:.1}, |t| > {:.3}: {}",
            w.t,
            w.df,
            w.t_crit95,
            if w.significant95 { "yes" } else { "no" }
        )
    });
    format!(
        "B vs A: {} (mean; median {}); 95% CI {ci} (Welch); {welch}; beyond noise: {}",
        pct(r.rel_diff),
        pct(r.rel_diff_median),
        if r.beyond_noise { "yes" } else { "no" }
    )
}

/// Why a verdict is INCONCLUSIVE, said with it.
fn verdict_reason(rep: &Report) -> &'static str {
    match (rep.result.verdict, rep.box_hits_b) {
        (Verdict::Inconclusive, Some(0)) => " (the switched code did not run)",
        (Verdict::Inconclusive, _) => {
            " (the interval holds zero and reaches past ±1%: re-run with more --runs or on a quieter machine)"
        }
        _ => "",
    }
}

fn text(rep: &Report) -> String {
    let r = &rep.result;
    format!(
        "{} — {} runs per side, interleaved ABAB\n{}\n{}\n{}\n{}{}\nverdict: {}{} (GO >= +1.0%, NEUTRAL within ±1.0%, NO-GO <= -1.0%, each only when the 95% CI supports it)\n",
        std::iter::once(rep.workload.as_str()).chain(rep.workload_args.iter().map(String::as_str)).collect::<Vec<_>>().join(" "),
        rep.runs,
        side_line("A", &rep.a, &r.a),
        side_line("B", &rep.b, &r.b),
        diff_line(r),
        instr_line(rep.instructions).map(|l| l + "\n").unwrap_or_default(),
        hits_line(rep),
        r.verdict,
        verdict_reason(rep)
    )
}

const LOG_HEADER: &str = "# A/B log\n\n\
Every A/B verdict with its numbers, newest last. Entries are appended by \
`hakmem ab --env NAME=A --env NAME=B --log docs/ab-log.md` (same libhakmem.so, one switch flipped, \
interleaved ABAB runs; GO at +1.0% or better, NEUTRAL within ±1.0%, NO-GO at −1.0% or worse, B relative \
to A). \"Beyond noise\" means the 95% interval of the difference (Welch) excludes zero. Entries since \
INCONCLUSIVE was added: a verdict stands only where that interval supports it (NEUTRAL: all of it \
within ±1%; GO / NO-GO: clear of zero); otherwise, and when the box reported 0 hits, INCONCLUSIVE.\n";

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
        verdict_reason(rep)
    ));
    if rep.a.0 != rep.b.0 {
        s.push_str(&format!("- sides: A {}={}, B {}={}\n", rep.a.0, rep.a.1, rep.b.0, rep.b.1));
    }
    if let Some(n) = note {
        s.push_str(&format!("- note: {n}\n"));
    }
    s.push_str(&format!(
        "- workload: `{}`, {} runs per side, interleaved ABAB\n",
        std::iter::once(rep.workload.as_str())
            .chain(rep.workload_args.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(" "),
        rep.runs
    ));
    s.push_str(&format!("- {}\n", side_line("A", &rep.a, &r.a)));
    s.push_str(&format!("- {}\n", side_line("B", &rep.b, &r.b)));
    s.push_str(&format!("- {}\n", diff_line(r)));
    if let Some(l) = instr_line(rep.instructions) {
        s.push_str(&format!("- {l}\n"));
    }
    s.push_str(&format!("- step 0: {}\n", hits_line(rep)));
    s.push_str(&format!(
        "- library: `{}`, HAKMEM_PROFILE={}\n",
        rep.library,
        rep.profile.as_deref().unwrap_or("(unset: the library's default)")
    ));
    s.push_str(&format!(
        "- machine: {} ({} cores), `{}`, load average {} at the end\n",
        m.cpu,
        m.cores,
        m.uname,
        runner::fmt_loadavg(m.loadavg)
    ));
    if let Some(g) = runner::git_revision() {
        s.push_str(&format!("- source: git {g}\n"));
    }
    s.push_str(&format!("- command: `{}`\n", command_line()));
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("cannot open {}", path.display()))?;
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
        let l = instr_line(Some(Instructions { a: 1000, b: 990, ops: 100 })).unwrap();
        assert!(l.contains("A 1000, B 990, B vs A -1.00%"), "{l}");
    }

    #[test]
    fn arms_are_refused_up_front() {
        let arms = |a: &str, b: &str| parse_arms(&[a.to_string(), b.to_string()]).map_err(|e| e.to_string());
        assert!(arms("HAKMEM_REMOTE_BATCH=0", "HAKMEM_REMOTE_BATCH=32").is_ok());
        assert!(arms("HAKMEM_SS_MEM_LEAN_DECOMMIT=OFF", "HAKMEM_SS_MEM_LEAN_DECOMMIT=FREE").is_ok());
        assert!(arms("HAKMEM_PROFILE=speed", "HAKMEM_PROFILE=balanced").is_ok());
        assert!(arms("OTHER_LIB_SWITCH=0", "OTHER_LIB_SWITCH=1").is_ok(), "not hakmem's to judge");
        let e = arms("HAKMEM_HARDEN=0", "HAKMEM_HARDEN=abc").unwrap_err();
        assert!(e.contains("not a value hakmem accepts") && e.contains("0|1"), "{e}");
        let e = arms("HAKMEM_HARDEN=", "HAKMEM_HARDEN=1").unwrap_err();
        assert!(e.contains("not a value hakmem accepts"), "{e}");
        let e = arms("HAKMEM_NO_SUCH=0", "HAKMEM_NO_SUCH=1").unwrap_err();
        assert!(e.contains("not a hakmem switch"), "{e}");
        let e = arms("HAKMEM_HARDEN=0", "HAKMEM_STATS=1").unwrap_err();
        assert!(e.contains("different variables"), "{e}");
        let e = arms("HAKMEM_PROFILE=speed", "HAKMEM_PROFILE=turbo").unwrap_err();
        assert!(e.contains("not a value hakmem accepts"), "{e}");
        assert!(arms("HAKMEM_HARDEN=1", "HAKMEM_HARDEN=1").unwrap_err().contains("nothing is flipped"));
    }

    #[test]
    fn library_paths_in_the_log_are_relative_to_the_repository() {
        let root = paths::repo_root().unwrap();
        assert_eq!(repo_relative(&root.join("target/release/libhakmem.so")), "target/release/libhakmem.so");
        assert_eq!(repo_relative(Path::new("/opt/lib/libhakmem.so")), "/opt/lib/libhakmem.so");
    }

    #[test]
    fn box_name_matching() {
        let hits =
            runner::parse_box_hits("hakmem: box HAKMEM_ALLOC_PASSDOWN_SSOT hits 42\nhakmem: box FRONT_OFF hits 0\n");
        assert_eq!(box_hits(&hits, "HAKMEM_ALLOC_PASSDOWN_SSOT"), Some(42));
        assert_eq!(box_hits(&hits, "alloc_passdown_ssot"), Some(42));
        assert_eq!(box_hits(&hits, "HAKMEM_FRONT_OFF"), Some(0));
        assert_eq!(box_hits(&hits, "HAKMEM_OTHER"), None);
    }
}
