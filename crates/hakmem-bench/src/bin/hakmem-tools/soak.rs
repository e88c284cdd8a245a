//! `hakmem soak`: long runs that record RSS and throughput per epoch, and their analysis.
//!
//! - `hakmem soak --duration 60m [--profile P] [--epoch 10s] [--allocators hakmem,mimalloc] [--out run.csv]`
//!   runs `hakmem-soak-worker` (one process per allocator, the allocator preloaded) and analyses
//!   what it recorded;
//! - `hakmem soak --processes N [--ops-per-process M]` runs N fresh processes per allocator,
//!   interleaved across allocators;
//! - `hakmem soak analyze FILE.csv... [--json] [--plot F.svg|F.png]` analyses recorded runs.
//!
//! The worker writes the CSV itself, one flushed row per epoch, and runs in its own process
//! group: Ctrl-C reaches this process, which forwards it to the worker's group, waits for the
//! worker to finish its last whole epoch, and still prints the analysis.

use crate::util::{mb, mops, parse_duration, parse_fraction, pct};
use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use hakmem_bench::contestants::{self, Contestant};
use hakmem_bench::soak::{self, AnalyzeOptions, Budgets, ProcessRun, Report, SoakData, SoakFile, Warmup};
use hakmem_bench::stats::Summary;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use std::io::{BufRead, BufReader, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::time::{Duration, Instant};

#[derive(Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct SoakArgs {
    #[command(subcommand)]
    pub cmd: Option<SoakCmd>,
    #[command(flatten)]
    pub run: RunFlags,
}

#[derive(Subcommand)]
pub enum SoakCmd {
    /// Analyse recorded soak CSVs (several files are shown side by side).
    Analyze(AnalyzeArgs),
}

#[derive(Args)]
pub struct AnalyzeArgs {
    /// CSV files written by `hakmem soak`.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    #[command(flatten)]
    pub judge: JudgeFlags,
}

/// Flags shared by running and analysing: budgets, warm-up, output form.
#[derive(Args, Clone)]
pub struct JudgeFlags {
    /// Leading epochs excluded as warm-up: `auto` (10% of the epochs, at least 1), N, or P%.
    #[arg(long, default_value = "auto")]
    pub warmup: String,
    /// RSS drift budget, as a fraction (0.01) or a percentage (1%).
    #[arg(long, default_value = "1%")]
    pub max_drift: String,
    /// Budget for the allocator's own mmap+munmap+madvise calls per op.
    #[arg(long, default_value = "1.25e-7")]
    pub max_syscalls_per_op: f64,
    /// Optional budget for the throughput CV (fraction or percentage).
    #[arg(long)]
    pub max_cv: Option<String>,
    /// Multi-process mode: budget for the drift of peak RSS from the first processes to the
    /// last (fresh processes vary by a few pages, so looser than --max-drift).
    #[arg(long, default_value = "5%")]
    pub max_process_drift: String,
    /// Print the analysis as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Draw RSS and throughput over time into FILE.svg (or FILE.png, see docs/soak.md).
    #[arg(long, value_name = "FILE")]
    pub plot: Option<PathBuf>,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Workload {
    RandomMixed,
}

#[derive(Args)]
pub struct RunFlags {
    /// How long the single process runs: e.g. 90s, 10m, 1h, 1h30m (a bare number is seconds).
    #[arg(long)]
    pub duration: Option<String>,
    /// Length of one epoch (one CSV row). Default: 10s, shorter for a short --duration so that
    /// it holds 10 epochs.
    #[arg(long)]
    pub epoch: Option<String>,
    /// hakmem profile (speed or balanced); only applies to the hakmem allocator.
    #[arg(long, short, value_parser = contestants::parse_profile)]
    pub profile: Option<String>,
    #[arg(short, long, value_enum, default_value = "random-mixed")]
    pub workload: Workload,
    /// Allocators to soak, comma-separated: hakmem, mimalloc, mimalloc3, jemalloc, tcmalloc,
    /// snmalloc, glibc, or a path to a malloc library to preload.
    #[arg(short, long, alias = "allocator", value_delimiter = ',', default_value = "hakmem")]
    pub allocators: Vec<String>,
    /// Run the allocators at the same time (one core each) instead of one after another.
    #[arg(long)]
    pub concurrent: bool,
    /// CSV to write; with several allocators `-ALLOCATOR` is added before the extension.
    /// Default: soak-ALLOCATOR[-PROFILE].csv (soak-procs-… for --processes).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Multi-process mode: N fresh processes in sequence, each running --ops-per-process ops.
    #[arg(long)]
    pub processes: Option<u32>,
    #[arg(long, default_value_t = 10_000_000)]
    pub ops_per_process: u64,
    /// random-mixed slots.
    #[arg(long, default_value_t = 8192)]
    pub ws: usize,
    #[arg(long, default_value_t = 16)]
    pub min_size: usize,
    /// Sizes are min-size + (r & mask).
    #[arg(long, default_value_t = 0x3FF)]
    pub max_extra_mask: u32,
    #[arg(long, default_value_t = 1234567)]
    pub seed: u32,
    /// Ask hakmem for its statistics report when the worker exits.
    #[arg(long)]
    pub stats: bool,
    /// Count mmap/munmap/madvise with `strace -f -c` (for allocators that do not export
    /// hakmem_os_calls). Whole-process totals, loader and libc included; ptrace slows those
    /// calls, so throughput under --strace is not comparable with a plain run.
    #[arg(long)]
    pub strace: bool,
    /// Worker binary (default: hakmem-soak-worker next to this executable).
    #[arg(long, hide = true)]
    pub worker: Option<PathBuf>,
    #[command(flatten)]
    pub judge: JudgeFlags,
}

pub fn main(a: SoakArgs) -> Result<i32> {
    match a.cmd {
        Some(SoakCmd::Analyze(x)) => analyze_main(&x.files, &x.judge),
        None => run_main(a.run),
    }
}

// ---------- parsing helpers ----------

/// The longest default epoch, and the fewest epochs a default epoch gives a soak.
const DEFAULT_EPOCH: Duration = Duration::from_secs(10);
const DEFAULT_EPOCHS: u32 = 10;
/// Epochs the analysis needs: one of warm-up, two measured.
const MIN_EPOCHS: u64 = 3;

/// The epoch for a soak of `d` when none is given: 10 s, or d/10 when that is shorter, so a
/// short soak still has 10 epochs (not below 100 ms: shorter epochs measure the clock).
pub fn fitting_epoch(d: Duration) -> Result<Duration> {
    let e = DEFAULT_EPOCH.min(d / DEFAULT_EPOCHS);
    if e < Duration::from_millis(100) {
        bail!("--duration {d:?} is too short for a soak: give at least 1s");
    }
    Ok(e)
}

fn options(j: &JudgeFlags) -> Result<AnalyzeOptions> {
    if !(j.max_syscalls_per_op.is_finite() && j.max_syscalls_per_op >= 0.0) {
        bail!("--max-syscalls-per-op must be >= 0");
    }
    Ok(AnalyzeOptions {
        warmup: Warmup::parse(&j.warmup)?,
        budgets: Budgets {
            max_drift: parse_fraction(&j.max_drift, "--max-drift")?,
            max_syscalls_per_op: j.max_syscalls_per_op,
            max_cv: j.max_cv.as_deref().map(|c| parse_fraction(c, "--max-cv")).transpose()?,
            max_process_drift: parse_fraction(&j.max_process_drift, "--max-process-drift")?,
        },
    })
}

// ---------- signals ----------

static INTERRUPTED: AtomicBool = AtomicBool::new(false);
const MAX_CHILDREN: usize = 16;
static CHILDREN: [AtomicI32; MAX_CHILDREN] = [const { AtomicI32::new(0) }; MAX_CHILDREN];

extern "C" fn on_sigint(sig: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
    // Forward, in case the signal was sent to this process only (not the terminal's group).
    for c in CHILDREN.iter() {
        let pid = c.load(Ordering::SeqCst);
        if pid > 0 {
            // SAFETY: kill is async-signal-safe.
            unsafe { libc::kill(-pid, sig) };
        }
    }
}

fn register_child(pid: u32) -> Option<usize> {
    let slot =
        CHILDREN.iter().position(|c| c.compare_exchange(0, pid as i32, Ordering::SeqCst, Ordering::SeqCst).is_ok());
    // A Ctrl-C that came between spawn and registration was not forwarded: pass it on now.
    if INTERRUPTED.load(Ordering::SeqCst) {
        // SAFETY: signals the group of a child we just started.
        unsafe { libc::kill(-(pid as i32), libc::SIGINT) };
    }
    slot
}

fn unregister_child(slot: Option<usize>) {
    if let Some(i) = slot {
        CHILDREN[i].store(0, Ordering::SeqCst);
    }
}

// ---------- running ----------

struct Plan {
    worker: PathBuf,
    profile: Option<String>,
    duration: Option<Duration>,
    epoch: Duration,
    flags: Vec<String>,
    stats: bool,
    strace: bool,
}

/// The worker, preloaded with `alloc`; under `strace -c` writing its table to `strace_out`.
fn worker_command(plan: &Plan, alloc: &Contestant, strace_out: Option<&Path>) -> Command {
    let mut cmd = match strace_out {
        Some(o) => {
            let mut c = Command::new("strace");
            c.args(["-f", "-qq", "-c", "-e", "trace=mmap,munmap,madvise", "-o"]).arg(o);
            // -E: the preload is for the worker, not for strace itself.
            if let Some(lib) = &alloc.preload {
                c.arg("-E").arg(format!("LD_PRELOAD={}", lib.display()));
            }
            c.arg("--").arg(&plan.worker);
            c
        }
        None => Command::new(&plan.worker),
    };
    cmd.args(&plan.flags);
    alloc.apply(&mut cmd);
    if strace_out.is_some() {
        // strace passes the preload on to the worker (-E above); strace itself runs on glibc.
        cmd.env_remove("LD_PRELOAD");
    }
    if alloc.is_hakmem() && plan.stats {
        cmd.env("HAKMEM_STATS", "1");
    }
    cmd.arg("--meta").arg(format!("allocator={}", alloc.name));
    if let Some(lib) = &alloc.preload {
        cmd.arg("--meta").arg(format!("library={}", lib.display()));
    }
    if alloc.is_hakmem() {
        cmd.arg("--meta").arg(format!("profile={}", plan.profile.as_deref().unwrap_or("default")));
    }
    cmd.stdout(Stdio::piped()).stdin(Stdio::null());
    // Its own process group: a terminal's Ctrl-C reaches only this process, which forwards it
    // to the whole group (strace and worker alike) and then waits for the last epoch.
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    // If this process is killed outright, the worker stops (cleanly, keeping its epochs)
    // instead of soaking on, orphaned, for the rest of its duration.
    // SAFETY: prctl is async-signal-safe, as a pre_exec hook must be.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut cmd, || {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
            Ok(())
        });
    }
    cmd
}

/// mmap, munmap and madvise calls from the `strace -c` table written to `path`.
fn parse_strace(path: &Path) -> Result<[u64; 3]> {
    let t = std::fs::read_to_string(path).with_context(|| format!("cannot read strace output {}", path.display()))?;
    let m = hakmem_bench::runner::parse_strace_counts(&t);
    Ok(["mmap", "munmap", "madvise"].map(|k| m.get(k).copied().unwrap_or(0)))
}

fn strace_path(out: &Path) -> PathBuf {
    let mut s = out.as_os_str().to_owned();
    s.push(".strace");
    PathBuf::from(s)
}

fn label(alloc: &Contestant, profile: &Option<String>) -> String {
    match (alloc.is_hakmem(), profile) {
        (true, Some(p)) => format!("{}-{p}", alloc.name),
        _ => alloc.name.clone(),
    }
}

fn out_path(out: &Option<PathBuf>, lbl: &str, many: bool, procs: bool) -> PathBuf {
    match out {
        None => PathBuf::from(if procs { format!("soak-procs-{lbl}.csv") } else { format!("soak-{lbl}.csv") }),
        Some(p) if !many => p.clone(),
        Some(p) => {
            let stem = p.file_stem().and_then(|s| s.to_str()).unwrap_or("soak");
            let ext = p.extension().and_then(|s| s.to_str()).unwrap_or("csv");
            p.with_file_name(format!("{stem}-{lbl}.{ext}"))
        }
    }
}

fn epoch_msg(e: &soak::Epoch) -> String {
    let calls = match (e.mmap, e.munmap, e.madvise) {
        (Some(a), Some(b), Some(c)) => format!(" mmap {a} munmap {b} madvise {c}"),
        _ => String::new(),
    };
    format!("epoch {} {} ops/s RSS {}{calls}", e.epoch, mops(e.ops_per_s), mb(e.rss_bytes as f64))
}

fn bar_style() -> ProgressStyle {
    ProgressStyle::with_template("{prefix:>16} [{elapsed_precise}] {bar:30} {pos}/{len}s {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
}

/// Runs one single-process soak; returns whether the worker finished normally.
fn run_one(plan: &Plan, alloc: &Contestant, out: &Path, bar: ProgressBar) -> Result<bool> {
    let st = plan.strace.then(|| strace_path(out));
    let mut cmd = worker_command(plan, alloc, st.as_deref());
    cmd.arg("--out").arg(out);
    if let Some(d) = plan.duration {
        cmd.arg("--duration-s").arg(d.as_secs_f64().to_string());
    }
    cmd.arg("--epoch-s").arg(plan.epoch.as_secs_f64().to_string());
    let mut child = cmd.spawn().with_context(|| format!("cannot start {}", plan.worker.display()))?;
    let slot = register_child(child.id());
    let plain = bar.is_hidden();
    if let Some(so) = child.stdout.take() {
        for line in BufReader::new(so).lines() {
            let Ok(line) = line else { break };
            if line.starts_with('#') || line.starts_with("epoch") {
                continue;
            }
            if let Ok(f) = soak::parse_csv(&format!("{}\n{line}\n", soak::EPOCH_COLUMNS)) {
                if let SoakData::Epochs(v) = f.data {
                    let e = &v[0];
                    bar.set_position(e.t_s as u64);
                    bar.set_message(epoch_msg(e));
                    if plain {
                        eprintln!("[{}] t={:.0}s {}", bar.prefix(), e.t_s, epoch_msg(e));
                    }
                }
            }
        }
    }
    let status = child.wait()?;
    unregister_child(slot);
    bar.finish();
    if let Some(st) = &st {
        let c = parse_strace(st)?;
        let mut f = std::fs::OpenOptions::new().append(true).open(out)?;
        write!(f, "# strace_mmap={}\n# strace_munmap={}\n# strace_madvise={}\n", c[0], c[1], c[2])?;
    }
    if !status.success() && !INTERRUPTED.load(Ordering::SeqCst) {
        // What it recorded before failing is still worth analysing: keep going.
        eprintln!("hakmem: the soak worker for {} failed ({status}); analysing the epochs it recorded", alloc.name);
    }
    Ok(status.success())
}

/// Multi-process mode, one allocator: its CSV, written a row at a time as processes finish.
struct ProcSink<'a> {
    alloc: &'a Contestant,
    out: &'a Path,
    f: std::fs::File,
    bar: ProgressBar,
}

impl<'a> ProcSink<'a> {
    fn create(plan: &Plan, alloc: &'a Contestant, ops: u64, out: &'a Path, bar: ProgressBar) -> Result<Self> {
        let mut f = std::fs::File::create(out).with_context(|| format!("cannot create {}", out.display()))?;
        let mut meta = std::collections::BTreeMap::new();
        meta.insert("allocator".to_string(), alloc.name.clone());
        if alloc.is_hakmem() {
            meta.insert("profile".to_string(), plan.profile.clone().unwrap_or_else(|| "default".into()));
        }
        meta.insert("mode".to_string(), "processes".into());
        meta.insert("ops_per_process".to_string(), ops.to_string());
        if plan.strace {
            meta.insert("os_calls".to_string(), "strace (whole process, loader and libc included)".into());
        }
        writeln!(f, "{}{}", soak::format_meta(&meta), soak::PROCESS_COLUMNS)?;
        Ok(ProcSink { alloc, out, f, bar })
    }

    /// Runs fresh process `i`; Ok(false) when interrupted.
    fn one(&mut self, plan: &Plan, i: u32, ops: u64) -> Result<bool> {
        let st = plan.strace.then(|| strace_path(self.out));
        let mut cmd = worker_command(plan, self.alloc, st.as_deref());
        cmd.arg("--ops").arg(ops.to_string()).arg("--epoch-s").arg("0");
        let t0 = Instant::now();
        let child = cmd.spawn().with_context(|| format!("cannot start {}", plan.worker.display()))?;
        let slot = register_child(child.id());
        let output = child.wait_with_output()?;
        let wall = t0.elapsed().as_secs_f64();
        unregister_child(slot);
        let text = String::from_utf8_lossy(&output.stdout);
        let mut epoch = match soak::parse_csv(&text).map(|f| f.data) {
            Ok(SoakData::Epochs(v)) if !v.is_empty() => v[0].clone(),
            _ if INTERRUPTED.load(Ordering::SeqCst) => return Ok(false),
            _ => {
                // Recorded as a failed process (the verdict fails on it); then this
                // allocator's sequence stops.
                let run = ProcessRun {
                    process: i as u64,
                    ops: 0,
                    seconds: 0.0,
                    ops_per_s: 0.0,
                    wall_s: wall,
                    rss_bytes: 0,
                    peak_rss_bytes: None,
                    mmap: None,
                    munmap: None,
                    madvise: None,
                    exit_code: Some(output.status.code().unwrap_or(-1)),
                };
                self.f.write_all(soak::format_process_row(&run).as_bytes())?;
                bail!(
                    "process {i} for {} recorded nothing ({}); its messages are above",
                    self.alloc.name,
                    output.status
                );
            }
        };
        if let Some(st) = &st {
            let c = parse_strace(st)?;
            (epoch.mmap, epoch.munmap, epoch.madvise) = (Some(c[0]), Some(c[1]), Some(c[2]));
        }
        let run = ProcessRun {
            process: i as u64,
            ops: epoch.ops,
            seconds: epoch.t_s,
            ops_per_s: epoch.ops_per_s,
            wall_s: wall,
            rss_bytes: epoch.rss_bytes,
            peak_rss_bytes: epoch.peak_rss_bytes,
            mmap: epoch.mmap,
            munmap: epoch.munmap,
            madvise: epoch.madvise,
            exit_code: output.status.code(),
        };
        self.f.write_all(soak::format_process_row(&run).as_bytes())?;
        self.f.flush()?;
        self.bar.inc(1);
        let msg = format!(
            "process {i}: {} ops/s, wall {:.3}s, peak RSS {}",
            mops(run.ops_per_s),
            wall,
            mb(run.peak_rss_bytes.unwrap_or(run.rss_bytes) as f64)
        );
        if self.bar.is_hidden() {
            eprintln!("[{}] {msg}", self.bar.prefix());
        }
        self.bar.set_message(msg);
        Ok(true)
    }
}

/// Multi-process mode: `n` rounds; each round starts one fresh process per allocator, in turn
/// (A B C A B C …), so slow phases of a shared machine hit every allocator alike.
fn run_processes(
    plan: &Plan,
    allocs: &[Contestant],
    outs: &[PathBuf],
    bars: Vec<ProgressBar>,
    n: u32,
    ops: u64,
) -> Vec<Result<bool>> {
    let mut sinks: Vec<Result<ProcSink>> =
        allocs.iter().zip(outs).zip(bars).map(|((a, o), b)| ProcSink::create(plan, a, ops, o, b)).collect();
    'rounds: for i in 0..n {
        for s in sinks.iter_mut() {
            if INTERRUPTED.load(Ordering::SeqCst) {
                break 'rounds;
            }
            if let Ok(sink) = s {
                match sink.one(plan, i, ops) {
                    Ok(true) => {}
                    Ok(false) => break 'rounds,
                    Err(e) => *s = Err(e),
                }
            }
        }
    }
    sinks
        .into_iter()
        .map(|s| {
            s.map(|sink| {
                sink.bar.finish();
                true
            })
        })
        .collect()
}

fn run_main(r: RunFlags) -> Result<i32> {
    let procs = r.processes;
    let duration = match (&r.duration, procs) {
        (Some(d), None) => {
            let d = parse_duration(d).context("--duration")?;
            if d.is_zero() {
                bail!("--duration must be more than zero");
            }
            Some(d)
        }
        (None, None) => {
            bail!("give --duration (e.g. --duration 10m), or --processes N, or use `hakmem soak analyze FILE`")
        }
        (Some(_), Some(_)) => bail!("--duration and --processes are two different modes; give one"),
        (None, Some(_)) => None,
    };
    let epoch = match (&r.epoch, duration) {
        (Some(e), _) => parse_duration(e).context("--epoch")?,
        (None, Some(d)) => fitting_epoch(d)?,
        (None, None) => DEFAULT_EPOCH,
    };
    if let Some(d) = duration {
        if epoch.is_zero() {
            bail!("--epoch must be more than zero");
        }
        let n = (d.as_secs_f64() / epoch.as_secs_f64()).floor() as u64;
        if n < MIN_EPOCHS {
            bail!(
                "--duration {} / --epoch {} gives {n} epoch(s); the analysis needs at least {MIN_EPOCHS}",
                r.duration.as_deref().unwrap_or(""),
                r.epoch.as_deref().unwrap_or("")
            );
        }
        if r.epoch.is_none() && epoch < DEFAULT_EPOCH {
            eprintln!("soak: epoch {:?} ({} epochs over --duration)", epoch, n);
        }
    }
    if let Some(n) = procs {
        if n < 2 {
            bail!("--processes needs at least 2");
        }
        if r.ops_per_process == 0 {
            bail!("--ops-per-process must be more than zero");
        }
    }
    if r.ws == 0 {
        bail!("--ws must be more than zero");
    }
    let opt = options(&r.judge)?;
    let mut allocs: Vec<Contestant> = Vec::new();
    for a in &r.allocators {
        match contestants::resolve(a, r.profile.as_deref())? {
            Ok(c) => allocs.push(c),
            // A soak asked for by name that cannot run is an error, not a silent gap.
            Err(why) => bail!("{}: {why}", a.trim()),
        }
    }
    if allocs.is_empty() {
        bail!("--allocator is empty");
    }
    if allocs.len() > MAX_CHILDREN {
        bail!("at most {MAX_CHILDREN} allocators at once");
    }
    if r.profile.is_some() && !allocs.iter().any(|a| a.is_hakmem()) {
        eprintln!("note: --profile only applies to hakmem; ignored");
    }
    let worker = match &r.worker {
        Some(w) => w.clone(),
        None => hakmem_bench::paths::soak_worker_bin()?,
    };
    let plan = Plan {
        worker,
        profile: r.profile.clone(),
        duration,
        epoch,
        flags: vec![
            "--ws".into(),
            r.ws.to_string(),
            "--min-size".into(),
            r.min_size.to_string(),
            "--max-extra-mask".into(),
            r.max_extra_mask.to_string(),
            "--seed".into(),
            r.seed.to_string(),
            "--meta".into(),
            "workload=random-mixed".into(),
        ],
        stats: r.stats,
        strace: r.strace,
    };
    let many = allocs.len() > 1;
    let outs: Vec<PathBuf> =
        allocs.iter().map(|a| out_path(&r.out, &label(a, &r.profile), many, procs.is_some())).collect();
    for (i, o) in outs.iter().enumerate() {
        if outs[..i].contains(o) {
            bail!("two runs would write {}; give different allocators", o.display());
        }
    }
    hakmem_bench::probe::on_stop_signals(on_sigint);

    let mp = MultiProgress::new();
    if !std::io::stderr().is_terminal() {
        mp.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let make_bar = |a: &Contestant| {
        let len = match (duration, procs) {
            (Some(d), _) => d.as_secs(),
            (None, Some(n)) => n as u64,
            _ => 0,
        };
        let b = mp.add(ProgressBar::new(len));
        b.set_style(bar_style());
        b.set_prefix(label(a, &r.profile));
        b
    };
    for (a, o) in allocs.iter().zip(&outs) {
        eprintln!("soak: {} -> {}", label(a, &r.profile), o.display());
    }
    for o in &outs {
        // A stale file from an earlier run must not be analysed as this run's.
        let _ = std::fs::remove_file(o);
    }
    let results: Vec<Result<bool>> = if let Some(n) = procs {
        let bars = allocs.iter().map(&make_bar).collect();
        run_processes(&plan, &allocs, &outs, bars, n, r.ops_per_process)
    } else if r.concurrent && many {
        std::thread::scope(|s| {
            let hs: Vec<_> = allocs
                .iter()
                .zip(&outs)
                .map(|(a, o)| {
                    let bar = make_bar(a);
                    let plan = &plan;
                    s.spawn(move || run_one(plan, a, o, bar))
                })
                .collect();
            hs.into_iter()
                .map(|h| h.join().unwrap_or_else(|_| Err(anyhow::anyhow!("a soak thread panicked"))))
                .collect()
        })
    } else {
        let mut v = Vec::new();
        for (a, o) in allocs.iter().zip(&outs) {
            if INTERRUPTED.load(Ordering::SeqCst) {
                break;
            }
            v.push(run_one(&plan, a, o, make_bar(a)));
        }
        v
    };
    let interrupted = INTERRUPTED.load(Ordering::SeqCst);
    let mut failed = false;
    for res in results {
        match res {
            Ok(ok) => failed |= !ok && !interrupted,
            Err(e) => {
                eprintln!("hakmem: error: {e:#}");
                failed = true;
            }
        }
    }
    if interrupted {
        eprintln!("soak: interrupted; analysing what was recorded");
    }
    let recorded: Vec<PathBuf> = outs.iter().filter(|o| o.is_file()).cloned().collect();
    let code = analyze_paths(&recorded, &r.judge, &opt, true)?;
    Ok(if interrupted {
        130
    } else if failed {
        // A soak whose worker died did not survive, whatever its epochs say.
        code.max(1)
    } else {
        code
    })
}

// ---------- analysing ----------

fn analyze_main(files: &[PathBuf], j: &JudgeFlags) -> Result<i32> {
    let opt = options(j)?;
    analyze_paths(files, j, &opt, false)
}

/// `lenient` (after a run): a file that cannot be analysed (e.g. interrupted before its third
/// epoch) is reported and skipped, so the others still are.
fn analyze_paths(files: &[PathBuf], j: &JudgeFlags, opt: &AnalyzeOptions, lenient: bool) -> Result<i32> {
    let mut loaded = Vec::new();
    for f in files {
        let one = soak::read_csv(f).and_then(|sf| {
            let rep = soak::analyze(&sf, opt).with_context(|| format!("cannot analyse {}", f.display()))?;
            Ok((f.clone(), sf, rep))
        });
        match one {
            Ok(x) => loaded.push(x),
            Err(e) if lenient => eprintln!("hakmem: {e:#}"),
            Err(e) => return Err(e),
        }
    }
    if loaded.is_empty() {
        bail!("nothing recorded that can be analysed");
    }
    let pass = loaded.iter().all(|(_, _, r)| r.verdict().pass);
    if j.json {
        let files: Vec<_> = loaded
            .iter()
            .map(|(p, sf, r)| serde_json::json!({"file": p, "label": sf.label(), "meta": meta_json(&sf.meta), "report": r}))
            .collect();
        let pairs: Vec<_> = if loaded.len() > 1 {
            paired(&loaded).into_iter().map(|(l, s)| serde_json::json!({"label": l, "ratio_to_first": s})).collect()
        } else {
            vec![]
        };
        let v = serde_json::json!({"budgets": opt.budgets, "pass": pass, "files": files, "paired": pairs});
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        for (p, sf, r) in &loaded {
            print_report(p, sf, r);
        }
        if loaded.len() > 1 {
            print_table(&loaded);
            print_paired(&loaded);
        }
    }
    if let Some(plot) = &j.plot {
        let series: Vec<(String, &SoakFile)> = loaded
            .iter()
            .map(|(_, sf, r)| {
                let (t, d) = match r {
                    Report::Epochs(e) => (&e.throughput, e.rss_drift),
                    Report::Processes(p) => (&p.throughput, p.peak_rss_drift),
                };
                (format!("{}: {} ops/s, CV {:.2}%, RSS drift {}", sf.label(), mops(t.mean), t.cv * 100.0, pct(d)), sf)
            })
            .collect();
        plot::draw(plot, &series).with_context(|| format!("cannot draw {}", plot.display()))?;
        eprintln!("soak: plot written to {}", plot.display());
    }
    Ok(if pass { 0 } else { 1 })
}

/// The CSV's `# key=value` lines as JSON: numbers as numbers, the rest as strings.
fn meta_json(meta: &std::collections::BTreeMap<String, String>) -> serde_json::Value {
    meta.iter()
        .map(|(k, v)| {
            let n = v
                .parse::<u64>()
                .map(serde_json::Value::from)
                .or_else(|_| v.parse::<f64>().map(serde_json::Value::from));
            (k.clone(), n.unwrap_or_else(|_| serde_json::Value::from(v.as_str())))
        })
        .collect::<serde_json::Map<_, _>>()
        .into()
}

fn fmt_check(c: &soak::Check) -> String {
    let show = |v: f64| {
        if c.name.contains("syscalls") {
            format!("{v:.3e}")
        } else if c.name.contains("failed") {
            format!("{v}")
        } else {
            pct(v)
        }
    };
    match (c.value, c.pass) {
        (Some(v), Some(p)) => format!("{} {} {} {}", c.name, show(v), if p { "<=" } else { ">" }, show(c.budget)),
        _ => format!("{} not measured (budget {}; not judged)", c.name, show(c.budget)),
    }
}

fn throughput_line(t: &Summary) -> String {
    format!(
        "  throughput       mean {} ops/s  CV {:.2}%  p50 {}  p90 {}  min {}  {}",
        mops(t.mean),
        t.cv * 100.0,
        mops(t.p50),
        mops(t.p90),
        mops(t.min),
        t.tail(mops)
    )
}

fn print_report(path: &Path, sf: &SoakFile, r: &Report) {
    println!("{}  [{}]", sf.label(), path.display());
    if let Some(reason) = sf.meta.get("end_reason") {
        if reason == "interrupted" {
            println!("  note             the run was interrupted; the rows cover whole epochs only");
        }
    }
    match r {
        Report::Epochs(e) => {
            println!(
                "  epochs           {} ({} warm-up, {} measured, drift window {}), {:.0} s, {:.3e} ops measured",
                e.epochs,
                e.warmup_epochs,
                e.measured_epochs,
                e.drift_window_epochs,
                e.duration_s,
                e.measured_ops as f64
            );
            println!("{}", throughput_line(&e.throughput));
            println!(
                "  RSS              first {}  last {}  drift {}  mean {}  peak {}",
                mb(e.rss_first_mean_bytes),
                mb(e.rss_last_mean_bytes),
                pct(e.rss_drift),
                mb(e.rss_mean_bytes),
                mb(e.peak_rss_bytes as f64)
            );
            match (&e.syscalls, &e.syscalls_whole_run) {
                (Some(s), Some(w)) => println!(
                    "  syscalls         {:.3e}/op measured (mmap {} munmap {} madvise {}); whole run {} calls, {:.3e}/op",
                    s.per_op, s.mmap, s.munmap, s.madvise, w.total, w.per_op
                ),
                _ => println!("  syscalls         unknown (the allocator does not export hakmem_os_calls)"),
            }
            if let Some(s) = &e.syscalls_strace {
                println!(
                    "  strace -c        {} calls whole process (mmap {} munmap {} madvise {}), {:.3e}/op; loader and libc included, not judged",
                    s.total, s.mmap, s.munmap, s.madvise, s.per_op
                );
            }
            if let Some(a) = sf.meta.get("end_rss_after_free_bytes").and_then(|v| v.parse::<f64>().ok()) {
                println!("  after free-all   RSS {}", mb(a));
            }
        }
        Report::Processes(p) => {
            println!(
                "  processes        {} ({} failed), {:.3e} ops each",
                p.processes, p.failed_processes, p.ops_per_process.mean
            );
            println!("{}", throughput_line(&p.throughput));
            println!(
                "  wall per process mean {:.4} s  CV {:.2}%; start-up+teardown mean {:.4} s  max {:.4} s",
                p.wall_s.mean,
                p.wall_s.cv * 100.0,
                p.overhead_s.mean,
                p.overhead_s.max
            );
            println!(
                "  peak RSS         mean {}  min {}  max {}  drift first->last {}",
                mb(p.peak_rss_bytes.mean),
                mb(p.peak_rss_bytes.min),
                mb(p.peak_rss_bytes.max),
                pct(p.peak_rss_drift)
            );
            match &p.syscalls {
                Some(s) => {
                    println!("  syscalls         {:.3e}/op whole processes (start-up included; not judged)", s.per_op)
                }
                None => println!("  syscalls         unknown (the allocator does not export hakmem_os_calls)"),
            }
        }
    }
    let v = r.verdict();
    println!(
        "  verdict          {}  ({})",
        if v.pass { "PASS" } else { "FAIL" },
        v.checks.iter().map(fmt_check).collect::<Vec<_>>().join("; ")
    );
    println!();
}

/// Per-epoch ratios against the first file (meaningful for runs made with --concurrent).
fn paired(loaded: &[(PathBuf, SoakFile, Report)]) -> Vec<(String, Summary)> {
    let (_, first, rep) = &loaded[0];
    let skip = match rep {
        Report::Epochs(e) => e.warmup_epochs,
        Report::Processes(_) => 0,
    };
    let base = soak::throughputs(&first.data);
    loaded[1..]
        .iter()
        .filter(|(_, sf, _)| std::mem::discriminant(&sf.data) == std::mem::discriminant(&first.data))
        .filter_map(|(_, sf, _)| soak::paired_ratio(&base, &soak::throughputs(&sf.data), skip).map(|s| (sf.label(), s)))
        .collect()
}

fn print_paired(loaded: &[(PathBuf, SoakFile, Report)]) {
    let base = loaded[0].1.label();
    let pairs = paired(loaded);
    if pairs.is_empty() {
        return;
    }
    for (l, s) in pairs {
        println!(
            "paired throughput ratio {l} / {base}: median {:.3}  mean {:.3}  CV {:.2}%  min {:.3}  max {:.3}  ({} pairs)",
            s.p50, s.mean, s.cv * 100.0, s.min, s.max, s.n
        );
    }
    println!("(pairs: epochs with the same index, meaningful for --concurrent soaks; or the interleaved processes of one --processes run)");
    println!();
}

fn print_table(loaded: &[(PathBuf, SoakFile, Report)]) {
    let header =
        ["side by side", "ops/s", "CV", "p50", "p99 (or max)", "RSS mean", "RSS peak", "drift", "sys/op", "verdict"];
    let body = loaded
        .iter()
        .map(|(_, sf, r)| {
            let (t, rss_mean, peak, d, sys) = match r {
                Report::Epochs(e) => (
                    &e.throughput,
                    e.rss_mean_bytes,
                    e.peak_rss_bytes as f64,
                    e.rss_drift,
                    e.syscalls.as_ref().map(|s| s.per_op),
                ),
                Report::Processes(p) => (
                    &p.throughput,
                    p.peak_rss_bytes.mean,
                    p.peak_rss_bytes.max,
                    p.peak_rss_drift,
                    p.syscalls.as_ref().map(|s| s.per_op),
                ),
            };
            vec![
                sf.label(),
                mops(t.mean),
                format!("{:.2}%", t.cv * 100.0),
                mops(t.p50),
                t.p99.map_or_else(|| format!("max {} (n={})", mops(t.max), t.n), mops),
                mb(rss_mean),
                mb(peak),
                pct(d),
                sys.map(|x| format!("{x:.2e}")).unwrap_or_else(|| "unknown".into()),
                if r.verdict().pass { "PASS" } else { "FAIL" }.to_string(),
            ]
        })
        .collect();
    print!("{}", hakmem_bench::report::plain_table(header.map(String::from).to_vec(), body));
    println!();
}

mod plot {
    //! RSS and throughput over time, one picture: throughput on top, RSS below, one line per run.
    use super::*;
    use plotters::coord::Shift;
    use plotters::prelude::*;

    const COLORS: [RGBColor; 6] = [
        RGBColor(31, 119, 180),
        RGBColor(255, 127, 14),
        RGBColor(44, 160, 44),
        RGBColor(214, 39, 40),
        RGBColor(148, 103, 189),
        RGBColor(140, 86, 75),
    ];

    /// (x, ops/s in M, RSS in MB); x is seconds for epochs, the index for processes.
    type Point = (f64, f64, f64);
    /// A panel: where, its title, its y range, which coordinate of a point it shows.
    type Panel<'a, DB> = (&'a DrawingArea<DB, Shift>, &'static str, f64, fn(&Point) -> f64);

    fn points(sf: &SoakFile) -> Vec<Point> {
        match &sf.data {
            SoakData::Epochs(v) => v.iter().map(|e| (e.t_s, e.ops_per_s / 1e6, e.rss_bytes as f64 / 1e6)).collect(),
            SoakData::Processes(v) => v
                .iter()
                .map(|p| (p.process as f64, p.ops_per_s / 1e6, p.peak_rss_bytes.unwrap_or(p.rss_bytes) as f64 / 1e6))
                .collect(),
        }
    }

    pub fn draw(path: &Path, series: &[(String, &SoakFile)]) -> Result<()> {
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
        if ext != "svg" && ext != "png" {
            bail!("--plot wants a file ending in .svg or .png");
        }
        crate::plot_font::register()?;
        if ext == "svg" {
            let root = SVGBackend::new(path, (1000, 700)).into_drawing_area();
            draw_on(&root, series)?;
            root.present().map_err(|e| anyhow::anyhow!("{e}"))?;
        } else {
            let root = BitMapBackend::new(path, (1000, 700)).into_drawing_area();
            draw_on(&root, series)?;
            root.present().map_err(|e| anyhow::anyhow!("{e}"))?;
        }
        Ok(())
    }

    fn draw_on<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, series: &[(String, &SoakFile)]) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        let err = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow::anyhow!("{e:?}");
        root.fill(&WHITE).map_err(err)?;
        let procs = series.iter().any(|(_, s)| matches!(s.data, SoakData::Processes(_)));
        let mut all: Vec<Vec<Point>> = series.iter().map(|(_, s)| points(s)).collect();
        // Long soaks read better in minutes.
        let minutes = !procs && all.iter().flatten().any(|p| p.0 > 600.0);
        if minutes {
            all.iter_mut().flatten().for_each(|p| p.0 /= 60.0);
        }
        let xlabel = if procs {
            "process"
        } else if minutes {
            "time (min)"
        } else {
            "time (s)"
        };
        let xmax = all.iter().flatten().map(|p| p.0).fold(1.0f64, f64::max);
        let tmax = all.iter().flatten().map(|p| p.1).fold(0.0f64, f64::max) * 1.1 + 1e-9;
        let rmax = all.iter().flatten().map(|p| p.2).fold(0.0f64, f64::max) * 1.1 + 1e-9;
        let (top, bottom) = root.split_vertically(350);
        let panels: [Panel<DB>; 2] = [
            (&top, "throughput (M ops/s)", tmax, |p| p.1),
            (&bottom, if procs { "peak RSS (MB)" } else { "RSS (MB)" }, rmax, |p| p.2),
        ];
        for (area, ylabel, ymax, pick) in panels {
            let mut chart = ChartBuilder::on(area)
                .caption(ylabel, ("sans-serif", 18))
                .margin(10)
                .x_label_area_size(35)
                .y_label_area_size(60)
                .build_cartesian_2d(0.0..xmax, 0.0..ymax)
                .map_err(err)?;
            chart.configure_mesh().x_desc(xlabel).y_desc(ylabel).draw().map_err(err)?;
            for (i, ((name, _), pts)) in series.iter().zip(&all).enumerate() {
                let c = COLORS[i % COLORS.len()];
                chart
                    .draw_series(LineSeries::new(pts.iter().map(|p| (p.0, pick(p))), c.stroke_width(2)))
                    .map_err(err)?
                    .label(name.clone())
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2)));
            }
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::LowerRight)
                .background_style(WHITE.mix(0.8))
                .border_style(BLACK)
                .draw()
                .map_err(err)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_soaks_get_a_fitting_epoch() {
        assert_eq!(fitting_epoch(Duration::from_secs(20)).unwrap(), Duration::from_secs(2));
        assert_eq!(fitting_epoch(Duration::from_secs(3600)).unwrap(), DEFAULT_EPOCH);
        assert_eq!(fitting_epoch(Duration::from_secs(100)).unwrap(), DEFAULT_EPOCH);
        assert!(fitting_epoch(Duration::from_millis(500)).is_err());
    }

    #[test]
    fn meta_numbers_are_json_numbers() {
        let meta: std::collections::BTreeMap<String, String> =
            [("ws", "8192"), ("allocator", "hakmem"), ("end_free_all_s", "0.25"), ("sizes", "16..1039")]
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
        let v = meta_json(&meta);
        assert_eq!(v["ws"], 8192);
        assert_eq!(v["end_free_all_s"], 0.25);
        assert_eq!(v["allocator"], "hakmem");
        assert_eq!(v["sizes"], "16..1039");
    }

    #[test]
    fn strace_table() {
        // Captured from `strace -f -qq -c -e trace=mmap,munmap,madvise` over the worker.
        let t = "% time     seconds  usecs/call     calls    errors syscall\n\
------ ----------- ----------- --------- --------- ----------------\n\
  0.00    0.000000           0        35           mmap\n\
  0.00    0.000000           0         4         1 munmap\n\
  0.00    0.000000           0         2           madvise\n\
------ ----------- ----------- --------- --------- ----------------\n\
100.00    0.000000           0        41         1 total\n";
        let p = std::env::temp_dir().join(format!("hakmem-strace-{}.txt", std::process::id()));
        std::fs::write(&p, t).unwrap();
        assert_eq!(parse_strace(&p).unwrap(), [35, 4, 2]);
        let _ = std::fs::remove_file(&p);
    }

    #[test]
    fn out_paths() {
        let a = Contestant { name: "mimalloc".into(), preload: None, env: vec![] };
        let l = label(&a, &Some("speed".into()));
        assert_eq!(l, "mimalloc", "the profile names only hakmem runs");
        assert_eq!(out_path(&Some("r.csv".into()), &l, true, false), PathBuf::from("r-mimalloc.csv"));
        assert_eq!(out_path(&Some("r.csv".into()), &l, false, false), PathBuf::from("r.csv"));
        assert_eq!(out_path(&None, "hakmem-speed", false, true), PathBuf::from("soak-procs-hakmem-speed.csv"));
    }
}
