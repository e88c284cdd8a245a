//! Soak runs: the per-epoch record, its CSV form, and the analysis (drift, CV, tails, syscalls per op: docs/soak.md).
//!
//! Two kinds of CSV come out of `hakmem soak`:
//! - **epochs** (one long process): one row per epoch, written and flushed by the worker as it
//!   goes, so an interrupted run keeps every finished epoch;
//! - **processes** (`--processes N`): one row per fresh process, each running a fixed amount
//!   of work.
//!
//! Both may start with `# key=value` comment lines (allocator, profile, workload…) and may end
//! with a `# end …` line; the analysis ignores comments except to show them.
//!
//! Definitions (kept here, next to the code, so the doc and the numbers cannot disagree):
//! - warm-up: the first epochs, excluded from everything except peak RSS;
//! - window: `max(1, ceil(10% of the measured epochs))`;
//! - RSS drift = (mean RSS of the last window − mean RSS of the first window) / the first;
//! - throughput CV = sample stdev (n − 1) / mean of the measured epochs' ops/s;
//! - percentiles: linear interpolation between closest ranks (numpy's default); no p99 from
//!   fewer than 100 values (`stats::P99_MIN_SAMPLES`);
//! - syscalls per op = allocator mmap+munmap+madvise made during the measured epochs / their ops
//!   (the counters are cumulative, so this is last − value at the end of the warm-up).

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

/// Column names of the epochs CSV, in order.
pub const EPOCH_COLUMNS: &str = "epoch,t_s,ops,ops_per_s,rss_bytes,peak_rss_bytes,mmap,munmap,madvise";
/// Column names of the processes CSV, in order.
pub const PROCESS_COLUMNS: &str =
    "process,ops,seconds,ops_per_s,wall_s,rss_bytes,peak_rss_bytes,mmap,munmap,madvise,exit_code";

/// One epoch of a single-process soak.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Epoch {
    /// 0-based epoch number.
    pub epoch: u64,
    /// Seconds since the soak started, at the end of this epoch.
    pub t_s: f64,
    /// Workload ops done in this epoch.
    pub ops: u64,
    /// ops / the epoch's measured length.
    pub ops_per_s: f64,
    /// Resident set at the end of the epoch (`VmRSS`, `probe::Status`).
    pub rss_bytes: u64,
    /// High-water mark of the resident set so far (`VmHWM`), if recorded.
    #[serde(default)]
    pub peak_rss_bytes: Option<u64>,
    /// The allocator's own OS calls since process start (cumulative); empty when the
    /// allocator does not export `hakmem_os_calls`.
    #[serde(default)]
    pub mmap: Option<u64>,
    #[serde(default)]
    pub munmap: Option<u64>,
    #[serde(default)]
    pub madvise: Option<u64>,
}

impl Epoch {
    fn os_total(&self) -> Option<u64> {
        Some(self.mmap? + self.munmap? + self.madvise?)
    }
}

/// One fresh process of a multi-process soak.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProcessRun {
    pub process: u64,
    pub ops: u64,
    /// Seconds the worker spent in the workload loop.
    pub seconds: f64,
    pub ops_per_s: f64,
    /// Seconds from spawn to exit, seen by the parent: includes start-up and teardown.
    pub wall_s: f64,
    pub rss_bytes: u64,
    #[serde(default)]
    pub peak_rss_bytes: Option<u64>,
    #[serde(default)]
    pub mmap: Option<u64>,
    #[serde(default)]
    pub munmap: Option<u64>,
    #[serde(default)]
    pub madvise: Option<u64>,
    #[serde(default)]
    pub exit_code: Option<i32>,
}

fn opt(v: Option<u64>) -> String {
    v.map(|x| x.to_string()).unwrap_or_default()
}

/// Writes one epoch row (with trailing newline) into `buf`, which is cleared first.
/// Formatting into a reused buffer keeps the worker from allocating per epoch once `buf` has
/// grown, so the allocator under test sees (almost) only the workload.
pub fn format_epoch_row(e: &Epoch, buf: &mut Vec<u8>) {
    buf.clear();
    // Writing into a Vec cannot fail.
    let _ = write!(buf, "{},{:.6},{},{:.1},{},", e.epoch, e.t_s, e.ops, e.ops_per_s, e.rss_bytes);
    for (i, v) in [e.peak_rss_bytes, e.mmap, e.munmap, e.madvise].into_iter().enumerate() {
        if let Some(v) = v {
            let _ = write!(buf, "{v}");
        }
        buf.push(if i == 3 { b'\n' } else { b',' });
    }
}

/// One process row (with trailing newline).
pub fn format_process_row(p: &ProcessRun) -> String {
    format!(
        "{},{},{:.6},{:.1},{:.6},{},{},{},{},{},{}\n",
        p.process,
        p.ops,
        p.seconds,
        p.ops_per_s,
        p.wall_s,
        p.rss_bytes,
        opt(p.peak_rss_bytes),
        opt(p.mmap),
        opt(p.munmap),
        opt(p.madvise),
        p.exit_code.map(|c| c.to_string()).unwrap_or_default()
    )
}

/// `# key=value` lines for the top of a CSV.
pub fn format_meta(meta: &BTreeMap<String, String>) -> String {
    meta.iter().map(|(k, v)| format!("# {k}={v}\n")).collect()
}

/// What a soak CSV holds.
#[derive(Clone, Debug)]
pub enum SoakData {
    Epochs(Vec<Epoch>),
    Processes(Vec<ProcessRun>),
}

/// A parsed soak CSV: its `# key=value` comments and its rows.
#[derive(Clone, Debug)]
pub struct SoakFile {
    pub meta: BTreeMap<String, String>,
    pub data: SoakData,
}

impl SoakFile {
    pub fn label(&self) -> String {
        let a = self.meta.get("allocator").cloned().unwrap_or_else(|| "?".into());
        match self.meta.get("profile") {
            Some(p) if !p.is_empty() => format!("{a} ({p})"),
            _ => a,
        }
    }
}

/// Reads a soak CSV from a file. Errors name the file and, for bad rows, the line.
pub fn read_csv(path: &Path) -> Result<SoakFile> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    parse_csv(&text).with_context(|| format!("{} is not a usable soak CSV", path.display()))
}

/// Parses soak CSV text (either kind, told apart by the first column of the header).
pub fn parse_csv(text: &str) -> Result<SoakFile> {
    let mut meta = BTreeMap::new();
    for line in text.lines() {
        if let Some(c) = line.strip_prefix('#') {
            // `# end k=v k=v` (written when the worker stops) holds several pairs.
            if let Some(rest) = c.trim().strip_prefix("end ") {
                for (k, v) in rest.split_ascii_whitespace().filter_map(|t| t.split_once('=')) {
                    meta.insert(format!("end_{k}"), v.to_string());
                }
            } else if let Some((k, v)) = c.trim().split_once('=') {
                meta.insert(k.trim().to_string(), v.trim().to_string());
            }
        }
    }
    let header = text
        .lines()
        .find(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .context("the file is empty (no header, no rows)")?;
    let first = header.split(',').next().unwrap_or("").trim();
    let mut rdr = csv::ReaderBuilder::new().comment(Some(b'#')).trim(csv::Trim::All).from_reader(text.as_bytes());
    let data = match first {
        "epoch" => SoakData::Epochs(read_rows::<Epoch>(&mut rdr)?),
        "process" => SoakData::Processes(read_rows::<ProcessRun>(&mut rdr)?),
        other => bail!("unknown header (first column {other:?}); expected `{EPOCH_COLUMNS}` or `{PROCESS_COLUMNS}`"),
    };
    let n = match &data {
        SoakData::Epochs(v) => v.len(),
        SoakData::Processes(v) => v.len(),
    };
    if n == 0 {
        bail!("the file has a header but no rows");
    }
    Ok(SoakFile { meta, data })
}

fn read_rows<T: serde::de::DeserializeOwned>(rdr: &mut csv::Reader<&[u8]>) -> Result<Vec<T>> {
    let mut rows = Vec::new();
    for r in rdr.deserialize() {
        let row: T = r.map_err(|e| {
            let line = e.position().map(|p| format!("line {}: ", p.line())).unwrap_or_default();
            anyhow::anyhow!("{line}{e}")
        })?;
        rows.push(row);
    }
    Ok(rows)
}

/// How many leading epochs are warm-up.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Warmup {
    /// `max(1, round(10%))` of the epochs.
    Auto,
    Epochs(usize),
    /// A fraction of the epochs, rounded up.
    Fraction(f64),
}

impl Warmup {
    /// Parses `auto`, `N` (epochs) or `P%`.
    pub fn parse(s: &str) -> Result<Warmup> {
        let s = s.trim();
        if s == "auto" {
            return Ok(Warmup::Auto);
        }
        if let Some(p) = s.strip_suffix('%') {
            let f: f64 = p.trim().parse().with_context(|| format!("bad warm-up percentage {s:?}"))?;
            if !(0.0..100.0).contains(&f) {
                bail!("warm-up percentage must be in [0, 100), got {s}");
            }
            return Ok(Warmup::Fraction(f / 100.0));
        }
        let n: usize = s.parse().with_context(|| format!("bad warm-up {s:?}: use auto, N epochs or P%"))?;
        Ok(Warmup::Epochs(n))
    }

    pub fn epochs(self, n: usize) -> usize {
        match self {
            Warmup::Auto => ((n as f64 * 0.1).round() as usize).max(1),
            Warmup::Epochs(k) => k,
            Warmup::Fraction(f) => (n as f64 * f).ceil() as usize,
        }
    }
}

/// Limits the verdict checks against.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Budgets {
    /// Largest allowed RSS drift (0.01 = 1%). Shrinking RSS (negative drift) always passes.
    pub max_drift: f64,
    /// Largest allowed allocator syscalls per op (skipped when the counts are unknown).
    pub max_syscalls_per_op: f64,
    /// Largest allowed throughput CV, if any.
    pub max_cv: Option<f64>,
    /// Largest allowed drift of peak RSS across fresh processes (multi-process mode): a fresh
    /// process's peak varies by a few pages (about ±1% of a 5 MB process), so this is looser.
    pub max_process_drift: f64,
}

impl Default for Budgets {
    fn default() -> Self {
        Budgets { max_drift: 0.01, max_syscalls_per_op: 1.25e-7, max_cv: None, max_process_drift: 0.05 }
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AnalyzeOptions {
    pub warmup: Warmup,
    pub budgets: Budgets,
}

impl Default for AnalyzeOptions {
    fn default() -> Self {
        AnalyzeOptions { warmup: Warmup::Auto, budgets: Budgets::default() }
    }
}

pub use crate::stats::Summary;

/// Summary of a series that is known not to be empty.
fn summarize(xs: &[f64]) -> Summary {
    Summary::of(xs).expect("a non-empty series")
}

/// `(mean of last window − mean of first window) / mean of first window`, window =
/// `max(1, ceil(10% of len))`. Returns (drift, first mean, last mean, window).
pub fn drift(xs: &[f64]) -> Result<(f64, f64, f64, usize)> {
    if xs.is_empty() {
        bail!("no values to compute a drift from");
    }
    let w = ((xs.len() as f64 * 0.1).ceil() as usize).max(1);
    let first = xs[..w].iter().sum::<f64>() / w as f64;
    let last = xs[xs.len() - w..].iter().sum::<f64>() / w as f64;
    if first <= 0.0 {
        bail!("RSS of the first window is {first}; cannot compute a relative drift");
    }
    Ok(((last - first) / first, first, last, w))
}

/// The allocator's OS calls over a span of a run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Syscalls {
    pub mmap: u64,
    pub munmap: u64,
    pub madvise: u64,
    pub total: u64,
    pub per_op: f64,
}

impl Syscalls {
    /// The three counts over `ops` operations.
    pub fn new(mmap: u64, munmap: u64, madvise: u64, ops: u64) -> Syscalls {
        let total = mmap + munmap + madvise;
        let per_op = if ops > 0 { total as f64 / ops as f64 } else { 0.0 };
        Syscalls { mmap, munmap, madvise, total, per_op }
    }
}

/// One budget check.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Check {
    pub name: String,
    pub value: Option<f64>,
    pub budget: f64,
    /// `None` when the value is unknown (e.g. a peer allocator's syscall counts): not judged.
    pub pass: Option<bool>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Verdict {
    pub pass: bool,
    pub checks: Vec<Check>,
}

impl Verdict {
    fn from_checks(checks: Vec<Check>) -> Verdict {
        Verdict { pass: checks.iter().all(|c| c.pass != Some(false)), checks }
    }
}

fn check(name: &str, value: Option<f64>, budget: f64) -> Check {
    Check { name: name.into(), value, budget, pass: value.map(|v| v <= budget) }
}

/// Analysis of a single-process soak.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EpochReport {
    pub epochs: usize,
    pub warmup_epochs: usize,
    pub measured_epochs: usize,
    pub drift_window_epochs: usize,
    pub duration_s: f64,
    pub measured_ops: u64,
    pub rss_drift: f64,
    pub rss_first_mean_bytes: f64,
    pub rss_last_mean_bytes: f64,
    pub rss_mean_bytes: f64,
    /// Highest RSS seen, warm-up included (the VmHWM high-water mark when recorded).
    pub peak_rss_bytes: u64,
    pub throughput: Summary,
    /// Over the measured epochs; `None` when the allocator does not report its calls.
    pub syscalls: Option<Syscalls>,
    /// Over the whole run, start-up included.
    pub syscalls_whole_run: Option<Syscalls>,
    /// From `strace -c` (`# strace_*` lines): whole process, loader and libc included.
    pub syscalls_strace: Option<Syscalls>,
    pub verdict: Verdict,
}

fn syscalls_between(before: Option<&Epoch>, last: &Epoch, ops: u64) -> Option<Syscalls> {
    let (m0, u0, a0) = match before {
        Some(b) => (b.mmap?, b.munmap?, b.madvise?),
        None => (0, 0, 0),
    };
    let mmap = last.mmap?.checked_sub(m0)?;
    let munmap = last.munmap?.checked_sub(u0)?;
    let madvise = last.madvise?.checked_sub(a0)?;
    Some(Syscalls::new(mmap, munmap, madvise, ops))
}

fn validate_epochs(epochs: &[Epoch]) -> Result<()> {
    if epochs.is_empty() {
        bail!("no epochs");
    }
    for (i, e) in epochs.iter().enumerate() {
        if !e.ops_per_s.is_finite() || e.ops_per_s < 0.0 || !e.t_s.is_finite() {
            bail!("epoch row {i} has a bad ops_per_s or t_s ({} / {})", e.ops_per_s, e.t_s);
        }
        if i > 0 && e.t_s < epochs[i - 1].t_s {
            bail!("epoch row {i}: time goes backwards ({} after {})", e.t_s, epochs[i - 1].t_s);
        }
        if i > 0 {
            let p = &epochs[i - 1];
            if let (Some(a), Some(b)) = (p.os_total(), e.os_total()) {
                if b < a {
                    bail!("epoch row {i}: the cumulative syscall counts go down");
                }
            }
        }
    }
    Ok(())
}

/// Analyses a single-process soak.
pub fn analyze_epochs(epochs: &[Epoch], opt: &AnalyzeOptions) -> Result<EpochReport> {
    analyze_epochs_with_meta(epochs, &BTreeMap::new(), opt)
}

fn strace_calls(meta: &BTreeMap<String, String>, ops: u64) -> Option<Syscalls> {
    let g = |k: &str| meta.get(k).and_then(|v| v.parse::<u64>().ok());
    let (mmap, munmap, madvise) = (g("strace_mmap")?, g("strace_munmap")?, g("strace_madvise")?);
    Some(Syscalls::new(mmap, munmap, madvise, ops))
}

/// As [`analyze_epochs`], also reading `# strace_*` counts from the file's comments.
pub fn analyze_epochs_with_meta(
    epochs: &[Epoch],
    meta: &BTreeMap<String, String>,
    opt: &AnalyzeOptions,
) -> Result<EpochReport> {
    validate_epochs(epochs)?;
    let n = epochs.len();
    let warm = opt.warmup.epochs(n);
    if n < warm + 2 {
        bail!(
            "{n} epoch(s) with {warm} of warm-up leaves fewer than 2 to measure; run longer, use a shorter --epoch, or lower --warmup"
        );
    }
    let measured = &epochs[warm..];
    let rss: Vec<f64> = measured.iter().map(|e| e.rss_bytes as f64).collect();
    let (d, first, last, w) = drift(&rss)?;
    let tput: Vec<f64> = measured.iter().map(|e| e.ops_per_s).collect();
    let throughput = summarize(&tput);
    let measured_ops: u64 = measured.iter().map(|e| e.ops).sum();
    let all_ops: u64 = epochs.iter().map(|e| e.ops).sum();
    let lastep = &epochs[n - 1];
    let syscalls = syscalls_between(if warm > 0 { Some(&epochs[warm - 1]) } else { None }, lastep, measured_ops);
    let syscalls_whole_run = syscalls_between(None, lastep, all_ops);
    let peak = epochs.iter().map(|e| e.rss_bytes.max(e.peak_rss_bytes.unwrap_or(0))).max().unwrap_or(0);
    let mut checks = vec![
        check("rss_drift", Some(d), opt.budgets.max_drift),
        check("syscalls_per_op", syscalls.as_ref().map(|s| s.per_op), opt.budgets.max_syscalls_per_op),
    ];
    if let Some(c) = opt.budgets.max_cv {
        checks.push(check("throughput_cv", Some(throughput.cv), c));
    }
    Ok(EpochReport {
        epochs: n,
        warmup_epochs: warm,
        measured_epochs: measured.len(),
        drift_window_epochs: w,
        duration_s: lastep.t_s,
        measured_ops,
        rss_drift: d,
        rss_first_mean_bytes: first,
        rss_last_mean_bytes: last,
        rss_mean_bytes: rss.iter().sum::<f64>() / rss.len() as f64,
        peak_rss_bytes: peak,
        throughput,
        syscalls,
        syscalls_whole_run,
        syscalls_strace: strace_calls(meta, all_ops),
        verdict: Verdict::from_checks(checks),
    })
}

/// Analysis of a multi-process soak.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ProcessReport {
    pub processes: usize,
    pub failed_processes: usize,
    pub ops_per_process: Summary,
    pub throughput: Summary,
    pub wall_s: Summary,
    /// wall − loop time: exec, loader, allocator start-up, free-all and exit.
    pub overhead_s: Summary,
    pub peak_rss_bytes: Summary,
    /// Drift of the peak RSS from the first processes to the last (same windows as epochs):
    /// fresh processes should not grow, so anything here is state left outside the process.
    pub peak_rss_drift: f64,
    /// Whole-process calls (start-up included) over all ops; reported, not judged, because a
    /// short process pays its start-up mmaps over few ops.
    pub syscalls: Option<Syscalls>,
    pub verdict: Verdict,
}

pub fn analyze_processes(runs: &[ProcessRun], opt: &AnalyzeOptions) -> Result<ProcessReport> {
    if runs.is_empty() {
        bail!("no processes");
    }
    for (i, r) in runs.iter().enumerate() {
        if !r.ops_per_s.is_finite() || r.ops_per_s < 0.0 || !r.wall_s.is_finite() || !r.seconds.is_finite() {
            bail!("process row {i} has a bad ops_per_s, seconds or wall_s");
        }
    }
    let failed = runs.iter().filter(|r| r.exit_code.is_some_and(|c| c != 0)).count();
    // A failed process measured nothing: it counts against the verdict, not in the statistics.
    let all = runs;
    let runs: Vec<ProcessRun> = all.iter().filter(|r| !matches!(r.exit_code, Some(c) if c != 0)).cloned().collect();
    if runs.is_empty() {
        bail!("all {} processes failed", all.len());
    }
    let runs = &runs[..];
    let col = |f: &dyn Fn(&ProcessRun) -> f64| summarize(&runs.iter().map(f).collect::<Vec<_>>());
    let peaks: Vec<f64> =
        runs.iter().map(|r| r.peak_rss_bytes.unwrap_or(r.rss_bytes).max(r.rss_bytes) as f64).collect();
    let (d, _, _, _) = drift(&peaks)?;
    let ops: u64 = runs.iter().map(|r| r.ops).sum();
    let syscalls = (|| {
        let (mut m, mut u, mut a) = (0, 0, 0);
        for r in runs {
            m += r.mmap?;
            u += r.munmap?;
            a += r.madvise?;
        }
        Some(Syscalls::new(m, u, a, ops))
    })();
    let mut checks = vec![
        check("failed_processes", Some(failed as f64), 0.0),
        check("peak_rss_drift", Some(d), opt.budgets.max_process_drift),
    ];
    let throughput = col(&|r| r.ops_per_s);
    if let Some(c) = opt.budgets.max_cv {
        checks.push(check("throughput_cv", Some(throughput.cv), c));
    }
    Ok(ProcessReport {
        processes: all.len(),
        failed_processes: failed,
        ops_per_process: col(&|r| r.ops as f64),
        throughput,
        wall_s: col(&|r| r.wall_s),
        overhead_s: col(&|r| (r.wall_s - r.seconds).max(0.0)),
        peak_rss_bytes: summarize(&peaks),
        peak_rss_drift: d,
        syscalls,
        verdict: Verdict::from_checks(checks),
    })
}

/// Throughput ratio `other / base` of two runs made side by side, paired by index after
/// `skip` warm-up entries: epochs of soaks run at the same time (`--concurrent`), or the
/// interleaved fresh processes of multi-process mode. Noise that hits both alike cancels in
/// the ratio, which a shared machine needs. `None` with fewer than 2 pairs.
pub fn paired_ratio(base: &[f64], other: &[f64], skip: usize) -> Option<Summary> {
    let n = base.len().min(other.len());
    if n < skip + 2 {
        return None;
    }
    let r: Vec<f64> =
        base[skip..n].iter().zip(&other[skip..n]).filter(|(a, _)| **a > 0.0).map(|(a, b)| b / a).collect();
    (r.len() >= 2).then(|| summarize(&r))
}

/// Throughput per row (epochs or processes).
pub fn throughputs(d: &SoakData) -> Vec<f64> {
    match d {
        SoakData::Epochs(v) => v.iter().map(|e| e.ops_per_s).collect(),
        SoakData::Processes(v) => v.iter().map(|p| p.ops_per_s).collect(),
    }
}

/// Either report.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Report {
    Epochs(EpochReport),
    Processes(ProcessReport),
}

impl Report {
    pub fn verdict(&self) -> &Verdict {
        match self {
            Report::Epochs(r) => &r.verdict,
            Report::Processes(r) => &r.verdict,
        }
    }
}

pub fn analyze(file: &SoakFile, opt: &AnalyzeOptions) -> Result<Report> {
    Ok(match &file.data {
        SoakData::Epochs(e) => Report::Epochs(analyze_epochs_with_meta(e, &file.meta, opt)?),
        SoakData::Processes(p) => Report::Processes(analyze_processes(p, opt)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_round_trips_through_the_parser() {
        let e = Epoch {
            epoch: 3,
            t_s: 40.0,
            ops: 500,
            ops_per_s: 50.0,
            rss_bytes: 4096,
            peak_rss_bytes: Some(8192),
            mmap: Some(7),
            munmap: None,
            madvise: Some(1),
        };
        let mut buf = Vec::new();
        format_epoch_row(&e, &mut buf);
        let text = format!("# allocator=x\n{EPOCH_COLUMNS}\n{}", String::from_utf8(buf).unwrap());
        let f = parse_csv(&text).unwrap();
        assert_eq!(f.meta.get("allocator").map(String::as_str), Some("x"));
        match f.data {
            SoakData::Epochs(v) => assert_eq!(v, vec![e]),
            _ => panic!("wrong kind"),
        }
    }
}
