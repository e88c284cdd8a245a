//! `hakmem bench`: the same workload binary under LD_PRELOAD of each allocator, interleaved,
//! with a summary table (and optionally JSON, CSV, a Markdown report, a plot, callgrind counts).

use crate::util::{self, command_line, write_out};
use anyhow::{bail, Context, Result};
use clap::Args;
use hakmem_bench::contestants::{self, Contestant};
use hakmem_bench::paths;
use hakmem_bench::report::{self, ContestantRuns, Row};
use hakmem_bench::runner;
use hakmem_bench::workloads;
use std::path::{Path, PathBuf};

#[derive(Args)]
pub struct BenchArgs {
    /// Workloads (repeatable or comma list): random-mixed, random-mixed-c (random-mixed as a C
    /// program, compiled with cc -O2 on first use), server-churn, producer-consumer,
    /// false-sharing, realloc-growth, large-blocks, thread-churn, mpmc, mixed-lifetimes, rounds,
    /// cache-thrash, and the memory workloads burst and fit; `all` for every one but burst and
    /// fit, `mt` for the multi-threaded ones. Default: random-mixed; with --prof-accuracy,
    /// every workload that writes a profile (random-mixed, realloc-growth, large-blocks,
    /// server-churn, mixed-lifetimes, rounds).
    #[arg(short, long, value_delimiter = ',')]
    pub workload: Vec<String>,
    /// Run the memory section instead of the throughput workloads: RSS held after a 300 MB
    /// burst is freed (at each --idle time; one thread, then --threads threads that exit), RSS
    /// over the requested bytes per size range (fit), and each one's peak RSS. --scale
    /// multiplies the MB; --markdown writes a `## Memory` section.
    #[arg(long, conflicts_with_all = ["workload", "cycles", "args", "instructions", "instr_cycles", "syscalls", "plot", "csv", "reference"])]
    pub memory: bool,
    /// With --memory: when to sample RSS after the burst's last free (comma list).
    #[arg(long, value_delimiter = ',', value_name = "DURATIONS", default_value = "0s,1s,3s", requires = "memory")]
    pub idle: Vec<String>,
    /// Runs per contestant (interleaved A B C A B C ...). Default 5; with --prof-accuracy, dumps
    /// per workload, default 400 (30 with --large).
    #[arg(long)]
    pub runs: Option<usize>,
    /// Contestants: hakmem, hakmem-speed, hakmem-balanced, mimalloc, mimalloc3, jemalloc,
    /// tcmalloc, snmalloc, glibc, or a path to a malloc library. Default: hakmem, every peer
    /// whose library is there, and glibc.
    #[arg(short, long, value_delimiter = ',')]
    pub allocators: Vec<String>,
    /// Profile for the `hakmem` contestant (sets HAKMEM_PROFILE).
    #[arg(short, long, value_parser = contestants::parse_profile)]
    pub profile: Option<String>,
    /// Workload op count (passed as --cycles to every workload).
    #[arg(long)]
    pub cycles: Option<u64>,
    /// Multiply every workload's default op count (e.g. 0.1 for a quick `-w all`); --cycles
    /// sets one count for all, which suits a single workload better (its unit differs per workload).
    #[arg(long, conflicts_with = "cycles")]
    pub scale: Option<f64>,
    /// Threads for the multithreaded workloads (default 2; with --memory, the threaded burst's,
    /// default 32).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Any other workload option, as KEY=VALUE (e.g. `--arg ws=4096`); repeatable.
    #[arg(long = "arg", value_name = "KEY=VALUE")]
    pub args: Vec<String>,
    /// Write the results as JSON (`-` for stdout).
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Write the table rows as CSV (`-` for stdout).
    #[arg(long, value_name = "FILE")]
    pub csv: Option<PathBuf>,
    /// Bar chart of median ops/s with min..max error bars (.svg or .png).
    #[arg(long, value_name = "FILE")]
    pub plot: Option<PathBuf>,
    /// Write a Markdown report (tables, machine, date, command line), e.g. docs/benchmarks.md.
    #[arg(long, value_name = "FILE")]
    pub markdown: Option<PathBuf>,
    /// Also run each contestant once under `valgrind --tool=callgrind` and report instructions.
    #[arg(long)]
    pub instructions: bool,
    /// Op count for the callgrind runs (default: a tenth of the workload's default).
    #[arg(long)]
    pub instr_cycles: Option<u64>,
    /// Also run each contestant once under `strace -f -c` and report memory syscalls per op
    /// (mmap, munmap, madvise, mremap, brk, mprotect; whole process) for every allocator.
    #[arg(long)]
    pub syscalls: bool,
    /// The contestant ratios are taken against.
    #[arg(long, default_value = "mimalloc")]
    pub reference: String,
    /// Measure the heap profiler instead: per workload, --runs processes under hakmem with
    /// HAKMEM_PROF=1 (a different --seed each) write a profile at their largest live set; the
    /// estimate (inuse_space) against the exact live bytes: mean error, its standard error,
    /// per-dump errors against the bound sqrt(mean x B), and a verdict. Workloads run a tenth
    /// of their default ops unless --scale or --cycles says otherwise.
    #[arg(long, conflicts_with_all = ["memory", "instructions", "instr_cycles", "syscalls", "plot", "csv", "reference", "allocators"])]
    pub prof_accuracy: bool,
    /// With --prof-accuracy: HAKMEM_PROF_SAMPLE_KB, the mean KiB between samples (default:
    /// hakmem's, 512; with --large, 16).
    #[arg(long, value_name = "K", requires = "prof_accuracy")]
    pub sample_kb: Option<u64>,
    /// With --prof-accuracy: live sets of 20-100 MB (each workload's working set raised) at
    /// 16 KiB unless --sample-kb says otherwise; every single dump must be within 10%.
    #[arg(long, requires = "prof_accuracy")]
    pub large: bool,
}

impl BenchArgs {
    /// --runs, or the default of the mode (5, or `prof` for --prof-accuracy).
    pub fn runs_or(&self, default: usize) -> usize {
        self.runs.unwrap_or(default)
    }
    /// --runs for the throughput and memory sections.
    pub fn runs(&self) -> usize {
        self.runs_or(5)
    }
}

/// `KEY=VALUE` options to `--key value` words.
pub fn passthrough(cycles: Option<u64>, args: &[String]) -> Result<Vec<String>> {
    let mut v = Vec::new();
    if let Some(c) = cycles {
        v.push("--cycles".to_string());
        v.push(c.to_string());
    }
    for a in args {
        let Some((k, val)) = a.split_once('=') else { bail!("--arg {a}: expected KEY=VALUE") };
        let k = k.trim().trim_start_matches('-');
        if k.is_empty() {
            bail!("--arg {a}: empty KEY");
        }
        v.push(format!("--{}", k.replace('_', "-")));
        v.push(val.to_string());
    }
    Ok(v)
}

/// `-w` as given, or `default` when it was not.
pub fn default_workloads(given: &[String], default: &[&str]) -> Vec<String> {
    if given.is_empty() {
        default.iter().map(|s| s.to_string()).collect()
    } else {
        given.to_vec()
    }
}

/// Expands the groups (`all`, `mt`) and checks names; a workload named twice runs once.
pub fn workload_names(ws: &[String]) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for w in ws {
        let w = w.trim();
        let names: Vec<&str> = if let Some(g) = workloads::group(w) {
            g.to_vec()
        } else if workloads::NAMES.contains(&w) || workloads::MEMORY_NAMES.contains(&w) {
            vec![w]
        } else {
            let known = workloads::NAMES.iter().chain(workloads::MEMORY_NAMES).copied().collect::<Vec<_>>();
            bail!("unknown workload '{w}' (known: {}; groups: all, mt)", known.join(", "));
        };
        for n in names {
            if !out.iter().any(|o| o == n) {
                out.push(n.to_string());
            }
        }
    }
    if out.is_empty() {
        bail!("no workload given");
    }
    Ok(out)
}

/// Workload words for one workload: shared options plus `--threads` where it applies; checked
/// against the workload's options before anything runs.
pub fn workload_args(w: &str, base: &[String], threads: Option<usize>) -> Result<Vec<String>> {
    let mut a = base.to_vec();
    if let (Some(t), true) = (threads, workloads::takes_threads(w)) {
        a.push("--threads".into());
        a.push(t.to_string());
    }
    let o = workloads::parse_overrides(&a).with_context(|| format!("workload {w}"))?;
    workloads::prepare(w, &o)?;
    Ok(a)
}

pub struct WorkloadResult {
    pub workload: String,
    pub args: Vec<String>,
    pub cs: Vec<ContestantRuns>,
}

pub fn main(a: BenchArgs) -> Result<i32> {
    if a.runs == Some(0) {
        bail!("--runs must be at least 1");
    }
    if let Some(f) = a.scale {
        if !(f > 0.0 && f.is_finite()) {
            bail!("--scale must be a positive number");
        }
    }
    if a.memory {
        return crate::memory::main(a);
    }
    if a.prof_accuracy {
        return crate::profacc::main(a);
    }
    let names = workload_names(&default_workloads(&a.workload, &["random-mixed"]))?;
    let base = passthrough(a.cycles, &a.args)?;
    let mut plan: Vec<(String, Vec<String>)> = Vec::new();
    for w in &names {
        let mut wb = base.clone();
        if let Some(f) = a.scale {
            let c = (workloads::default_cycles(w).unwrap_or(1) as f64 * f).round().max(1.0) as u64;
            wb.splice(0..0, ["--cycles".to_string(), c.to_string()]);
        }
        plan.push((w.clone(), workload_args(w, &wb, a.threads)?));
    }
    if let Some(p) = &a.plot {
        // Fail before the runs, not after them.
        plot_ext(p)?;
        crate::plot_font::register()?;
    }
    let contestants = resolve_contestants(&a)?;
    let load_before = runner::loadavg();
    let (results, any_failed) = run_plan(&a, &plan, &contestants)?;

    let all_rows: Vec<Vec<Row>> = results.iter().map(|r| report::rows(&r.workload, &r.cs, &a.reference)).collect();
    let table_to_stderr = a.json.as_deref() == Some(Path::new("-")) || a.csv.as_deref() == Some(Path::new("-"));
    let mut text = String::new();
    for (r, rows) in results.iter().zip(&all_rows) {
        text.push_str(&format!("{} {}\n", r.workload, r.args.join(" ")));
        text.push_str(&report::text_table(rows));
        text.push('\n');
    }
    if table_to_stderr {
        eprint!("{text}");
    } else {
        print!("{text}");
    }
    let flat: Vec<Row> = all_rows.iter().flatten().cloned().collect();
    if let Some(p) = &a.json {
        write_json(p, "rows", serde_json::to_value(&flat)?, &results)?;
    }
    if let Some(p) = &a.csv {
        write_out(p, &report::csv(&flat)?)?;
    }
    if let Some(p) = &a.markdown {
        write_out(p, &markdown(&a, &results, &all_rows, &contestants, &load_before))?;
        eprintln!("hakmem bench: wrote {}", p.display());
    }
    if let Some(p) = &a.plot {
        plot(p, &results)?;
        eprintln!("hakmem bench: wrote {}", p.display());
    }
    Ok(if any_failed { 1 } else { 0 })
}

/// The contestants asked for, or by default hakmem, every installed peer and glibc.
pub fn resolve_contestants(a: &BenchArgs) -> Result<Vec<Contestant>> {
    let contestants = if a.allocators.is_empty() {
        contestants::installed(a.profile.as_deref())?
    } else {
        contestants::resolve_list(&a.allocators, a.profile.as_deref(), "hakmem bench")?
    };
    if contestants.is_empty() {
        bail!("no allocator left to run");
    }
    Ok(contestants)
}

/// Runs every workload of the plan for every contestant, `--runs` rounds interleaved, plus the
/// callgrind and strace runs when asked for. A failed run is reported and counted, not fatal:
/// returns the results and whether anything failed.
pub fn run_plan(
    a: &BenchArgs,
    plan: &[(String, Vec<String>)],
    contestants: &[Contestant],
) -> Result<(Vec<WorkloadResult>, bool)> {
    let runs = a.runs();
    let per_workload = runs * contestants.len() + (a.instructions as usize + a.syscalls as usize) * contestants.len();
    let pb = util::progress(per_workload * plan.len());
    let mut results: Vec<WorkloadResult> = Vec::new();
    let mut any_failed = false;
    for (w, args) in plan {
        let bin = paths::workload_bin_for(w)?;
        let mut cs: Vec<ContestantRuns> =
            contestants.iter().map(|c| ContestantRuns { name: c.name.clone(), ..Default::default() }).collect();
        for (r, ci) in runner::schedule(contestants.len(), runs) {
            let c = &contestants[ci];
            pb.set_message(format!("{w}: {} run {}/{}", c.name, r + 1, runs));
            match runner::run_once(&bin, c, w, args) {
                Ok(o) => cs[ci].runs.push(o),
                Err(e) => {
                    pb.suspend(|| eprintln!("hakmem bench: {e:#}"));
                    cs[ci].failures.push(format!("{e:#}"));
                    any_failed = true;
                }
            }
            pb.inc(1);
        }
        if a.instructions {
            let (iargs, _) = util::callgrind_args(w, args, a.instr_cycles);
            for (ci, c) in contestants.iter().enumerate() {
                pb.set_message(format!("{w}: {} under callgrind", c.name));
                match runner::callgrind_ir(&bin, c, w, &iargs) {
                    Ok((ir, o)) => cs[ci].instructions = Some((ir, o.ops)),
                    Err(e) => {
                        pb.suspend(|| eprintln!("hakmem bench: {e:#}"));
                        any_failed = true;
                    }
                }
                pb.inc(1);
            }
        }
        if a.syscalls {
            for (ci, c) in contestants.iter().enumerate() {
                pb.set_message(format!("{w}: {} under strace", c.name));
                match runner::strace_syscalls(&bin, c, w, args) {
                    Ok((counts, o)) => cs[ci].strace = Some((counts.values().sum(), o.ops)),
                    Err(e) => {
                        pb.suspend(|| eprintln!("hakmem bench: {e:#}"));
                        any_failed = true;
                    }
                }
                pb.inc(1);
            }
        }
        results.push(WorkloadResult { workload: w.clone(), args: args.clone(), cs });
    }
    pb.finish_and_clear();
    Ok((results, any_failed))
}

/// The JSON report: the machine, the command line, the tables under `key`, and every run.
pub fn write_json(p: &Path, key: &str, tables: serde_json::Value, results: &[WorkloadResult]) -> Result<()> {
    let runs: Vec<serde_json::Value> = results
        .iter()
        .map(|r| serde_json::json!({"workload": r.workload, "args": r.args, "contestants": r.cs}))
        .collect();
    let mut v = serde_json::json!({"machine": runner::machine(), "command": command_line()});
    v[key] = tables;
    v["runs"] = serde_json::Value::Array(runs);
    write_out(p, &(serde_json::to_string_pretty(&v)? + "\n"))
}

/// The bullet list that opens a Markdown report: command, date, machine, load, source,
/// contestants.
pub fn markdown_header(cs: &[Contestant], load_before: &Option<[f64; 3]>) -> String {
    let m = runner::machine();
    let mut s = String::new();
    s.push_str(&format!("- command: `{}`\n", command_line()));
    s.push_str(&format!("- date: {}\n", m.date_utc));
    s.push_str(&format!("- machine: `{}`\n", m.uname));
    s.push_str(&format!("- CPU: {} ({} cores visible)\n", m.cpu, m.cores));
    s.push_str(&format!(
        "- load average (1/5/15 min): {} before, {} after\n",
        runner::fmt_loadavg(*load_before),
        runner::fmt_loadavg(m.loadavg)
    ));
    if let Some(g) = runner::git_revision() {
        s.push_str(&format!("- source: git {g}\n"));
    }
    s.push_str(&format!(
        "- contestants: {}\n",
        cs.iter()
            .map(|c| {
                // Relative to the working directory when under it (the repository root, usually).
                let lib = c.preload.as_ref().map_or("no preload".to_string(), |p| {
                    let cwd = std::env::current_dir().unwrap_or_default();
                    p.strip_prefix(&cwd).unwrap_or(p).display().to_string()
                });
                let env: Vec<String> = c.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
                if env.is_empty() {
                    format!("{} ({lib})", c.name)
                } else {
                    format!("{} ({lib}, {})", c.name, env.join(" "))
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    ));
    s
}

fn markdown(
    a: &BenchArgs,
    results: &[WorkloadResult],
    rows: &[Vec<Row>],
    cs: &[Contestant],
    load_before: &Option<[f64; 3]>,
) -> String {
    let mut s = String::from("# Benchmarks\n\n");
    s.push_str("Generated by `hakmem bench --markdown`; do not edit by hand, re-run the command below.\n\n");
    s.push_str(&markdown_header(cs, load_before));
    s.push_str(&format!(
        "\nMethod: every contestant runs the same `hakmem-workload` binary as a whole process under `LD_PRELOAD` \
         (glibc: no preload), {} runs each, interleaved (A B C A B C ...). ops/s are median, mean and min over \
         the runs; CV = stdev/mean; `vs {}` is the ratio of medians; peak RSS is the median VmHWM; \
         syscalls/op counts the allocator's own mmap+munmap+madvise (only hakmem reports them). \
         Throughput is never asserted in tests; these numbers come from a shared, noisy machine and are \
         meaningful as ratios within one run.\n",
        a.runs(),
        a.reference
    ));
    for (r, rows) in results.iter().zip(rows) {
        s.push_str(&format!("\n## {}\n\n{}\n\n", r.workload, workloads::describe(&r.workload)));
        s.push_str(&format!(
            "workload options: `{}`\n\n",
            if r.args.is_empty() { "(defaults)".into() } else { r.args.join(" ") }
        ));
        if let Some(p) = r.cs.iter().flat_map(|c| c.runs.first()).next() {
            s.push_str(&format!("parameters: `{}`\n\n", p.params));
        }
        s.push_str(&report::markdown_table(rows));
        if rows.iter().any(|r| r.strace_syscalls_per_op.is_some()) {
            s.push_str("\nstrace mem calls/op: one extra run per contestant under `strace -f -c`, counting mmap, munmap, madvise, mremap, brk and mprotect of the whole process (start-up and thread stacks included) per op.\n");
        }
        if rows.iter().any(|r| r.instructions.is_some()) {
            let ops = r.cs.iter().find_map(|c| c.instructions.map(|(_, ops)| ops)).unwrap_or(0);
            let (_, cycles) = util::callgrind_args(&r.workload, &r.args, a.instr_cycles);
            s.push_str(&format!(
                "\ninstructions: one extra run per contestant under `valgrind --tool=callgrind` with `--cycles {cycles}` ({ops} ops); instr/op = total Ir of the process (start-up, warm-up and teardown included) / {ops}.\n"
            ));
        }
    }
    s
}

/// One panel per workload; bars are medians, whiskers span min..max.
fn plot(path: &Path, results: &[WorkloadResult]) -> Result<()> {
    use plotters::prelude::*;
    crate::plot_font::register()?;
    let h = 320 * results.len().max(1) as u32;
    if plot_ext(path)? == "svg" {
        draw(SVGBackend::new(path, (900, h)).into_drawing_area(), results)
    } else {
        draw(BitMapBackend::new(path, (900, h)).into_drawing_area(), results)
    }
}

fn plot_ext(path: &Path) -> Result<&'static str> {
    match path.extension().and_then(|e| e.to_str()).map(|e| e.to_ascii_lowercase()).as_deref() {
        Some("svg") => Ok("svg"),
        Some("png") => Ok("png"),
        _ => bail!("--plot {}: use a .svg or .png file name", path.display()),
    }
}

fn draw<DB: plotters::prelude::DrawingBackend>(
    root: plotters::prelude::DrawingArea<DB, plotters::coord::Shift>,
    results: &[WorkloadResult],
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    use plotters::prelude::*;
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow::anyhow!("plot: {e:?}");
    root.fill(&WHITE).map_err(e)?;
    let panels = root.split_evenly((results.len().max(1), 1));
    for (r, area) in results.iter().zip(panels.iter()) {
        let stats: Vec<(String, f64, f64, f64)> =
            r.cs.iter()
                .filter(|c| !c.runs.is_empty())
                .map(|c| {
                    let v: Vec<f64> = c.runs.iter().map(|x| x.ops_per_sec / 1e6).collect();
                    let s = hakmem_bench::stats::Summary::of(&v).expect("non-empty");
                    (c.name.clone(), s.p50, s.min, s.max)
                })
                .collect();
        if stats.is_empty() {
            continue;
        }
        let ymax = stats.iter().map(|s| s.3).fold(0.0, f64::max) * 1.15;
        let n = stats.len();
        let mut chart = ChartBuilder::on(area)
            .caption(format!("{} (median ops/s, whiskers min..max)", r.workload), ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(30)
            .y_label_area_size(60)
            // plotters' integer ranges are inclusive: 0..n-1 gives exactly n segments.
            .build_cartesian_2d((0..n - 1).into_segmented(), 0.0..ymax.max(1e-9))
            .map_err(e)?;
        let names: Vec<String> = stats.iter().map(|s| s.0.clone()).collect();
        chart
            .configure_mesh()
            .disable_x_mesh()
            .max_light_lines(1)
            .light_line_style(WHITE)
            .y_desc("M ops/s")
            .x_labels(n)
            .x_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) | SegmentValue::Exact(i) => names.get(*i).cloned().unwrap_or_default(),
                SegmentValue::Last => String::new(),
            })
            .draw()
            .map_err(e)?;
        let colors = [
            RGBColor(0x2b, 0x6c, 0xb0),
            RGBColor(0xd9, 0x7b, 0x29),
            RGBColor(0x3a, 0x9a, 0x4a),
            RGBColor(0xb0, 0x3a, 0x3a),
            RGBColor(0x7a, 0x5a, 0xa8),
            RGBColor(0x88, 0x88, 0x88),
            RGBColor(0x44, 0x44, 0x44),
        ];
        chart
            .draw_series(stats.iter().enumerate().map(|(i, s)| {
                let right = if i + 1 == n { SegmentValue::Last } else { SegmentValue::Exact(i + 1) };
                let mut bar =
                    Rectangle::new([(SegmentValue::Exact(i), 0.0), (right, s.1)], colors[i % colors.len()].filled());
                bar.set_margin(0, 0, 12, 12);
                bar
            }))
            .map_err(e)?;
        chart
            .draw_series(stats.iter().enumerate().map(|(i, s)| {
                ErrorBar::new_vertical(SegmentValue::CenterOf(i), s.2, s.1, s.3, BLACK.stroke_width(2), 14)
            }))
            .map_err(e)?;
    }
    root.present().map_err(e)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passthrough_words() {
        let v = passthrough(Some(100), &["ws=64".into(), "max_extra_mask=0xff".into()]).unwrap();
        assert_eq!(v, ["--cycles", "100", "--ws", "64", "--max-extra-mask", "0xff"]);
        assert!(passthrough(None, &["noequals".into()]).is_err());
        assert!(passthrough(None, &["=3".into()]).is_err());
    }

    #[test]
    fn workload_name_expansion() {
        assert_eq!(workload_names(&["all".into()]).unwrap().len(), workloads::NAMES.len());
        assert_eq!(workload_names(&["random-mixed".into()]).unwrap(), ["random-mixed"]);
        let mt = workload_names(&["mt".into(), "server-churn".into()]).unwrap();
        assert_eq!(mt, workloads::MT_NAMES);
        assert!(mt.iter().all(|w| workloads::takes_threads(w)));
        assert!(workload_names(&["nope".into()]).is_err());
    }

    #[test]
    fn threads_only_where_they_apply() {
        assert_eq!(workload_args("random-mixed", &[], Some(4)).unwrap(), Vec::<String>::new());
        assert_eq!(workload_args("server-churn", &[], Some(4)).unwrap(), ["--threads", "4"]);
        assert!(workload_args("random-mixed", &["--live".into(), "3".into()], None).is_err());
    }
}
