//! `hakmem bench --prof-accuracy`: the heap profiler's estimate against the truth. Per
//! workload, `--runs` processes of `hakmem-workload` under libhakmem.so with `HAKMEM_PROF=1`,
//! each with its own `--seed` (and its own sampling seed, which hakmem draws per process),
//! write a profile at their largest live set (`--prof-dump`) and report the exact requested
//! bytes they hold; the profiles are decoded here and summarised by `hakmem_bench::profacc`.

use crate::bench::{self, BenchArgs};
use crate::util::{self, command_line, write_out};
use anyhow::{bail, Context, Result};
use hakmem_bench::contestants::{self, Contestant};
use hakmem_bench::paths;
use hakmem_bench::pprof::Profile;
use hakmem_bench::profacc::{self, Dump, Summary};
use hakmem_bench::runner;
use hakmem_bench::workloads::{self, default_cycles};
use std::path::Path;

/// Dumps per workload by default: enough for 3 standard errors of the mean error to come
/// below 10% for live sets of 2 MB or more at 512 KiB (the bound's SE is sqrt(mean / B / N)),
/// in about a minute and a half on two cores.
pub const RUNS: usize = 400;
/// Dumps per workload with --large (each dump alone must be within 10% there).
pub const RUNS_LARGE: usize = 30;
/// The rate of --large unless --sample-kb says otherwise.
pub const LARGE_SAMPLE_KB: u64 = 16;
/// Workloads run this share of their default ops unless --scale or --cycles says otherwise:
/// the live set at the dump is the same (each is past its start-up by then), the runs cheaper.
pub const SCALE: f64 = 0.1;
/// First seed of the runs; run i uses SEED + 7919 i.
pub const SEED: u32 = 1234567;

/// The working sets of --large: 20-100 MB live per workload (MB = 2^20 bytes), so that at 16 KiB
/// the bound sqrt(mean / B) is 3% or less and a single dump is within 10%. A `cycles` here
/// replaces the tenth of the default (not a --cycles or --scale given).
pub fn large_args(w: &str) -> &'static [(&'static str, &'static str)] {
    match w {
        // 65 536 blocks of 16..1039 bytes live: ~34 MB.
        "random-mixed" => &[("ws", "131072")],
        // 2048 objects growing at once (strings up to 16 KiB, vectors up to 256 KiB): ~28 MB,
        // with all of its default reallocs (a string grows by 32 bytes per realloc on average).
        "realloc-growth" => &[("live", "2048"), ("cycles", "2000000")],
        // 32 blocks of 64 KiB..8 MiB (log-uniform): ~50 MB.
        "large-blocks" => &[("ws", "32")],
        // 2 x 64 000 blocks of 8..512 bytes: ~33 MB.
        "server-churn" => &[("ws", "64000")],
        // 2 x 32 000 table blocks of 16 B..4 KiB (log-uniform), and the shared array: ~45 MB.
        "mixed-lifetimes" => &[("ws", "32000")],
        // 2 x 32 000 blocks per round: ~45 MB.
        "rounds" => &[("ws", "32000")],
        _ => &[],
    }
}

/// The workload words of one workload: the preset's (--large), the cycles, the user's --arg
/// (which win over the preset), --threads where it applies. Checked against the workload.
fn plan_args(a: &BenchArgs, w: &str) -> Result<Vec<String>> {
    let user = bench::passthrough(a.cycles, &a.args)?;
    let given = |k: &str| user.iter().any(|u| u == &format!("--{}", k.replace('_', "-")));
    if given("seed") || given("prof_dump") {
        bail!("--prof-accuracy sets --seed and --prof-dump of every run itself");
    }
    let mut args = Vec::new();
    let mut preset_cycles = false;
    if a.large {
        for &(k, v) in large_args(w) {
            if k == "cycles" {
                if a.cycles.is_some() || a.scale.is_some() {
                    continue;
                }
                preset_cycles = true;
            }
            if !given(k) {
                args.extend([format!("--{k}"), v.to_string()]);
            }
        }
    }
    if a.cycles.is_none() && !preset_cycles {
        let f = a.scale.unwrap_or(SCALE);
        let c = (default_cycles(w).unwrap_or(1) as f64 * f).round().max(1.0) as u64;
        args.extend(["--cycles".to_string(), c.to_string()]);
    }
    args.extend(user);
    bench::workload_args(w, &args, a.threads)
}

fn names(a: &BenchArgs) -> Result<Vec<String>> {
    let names = bench::workload_names(&bench::default_workloads(&a.workload, workloads::PROF_NAMES))?;
    if let Some(w) = names.iter().find(|w| !workloads::PROF_NAMES.contains(&w.as_str())) {
        bail!("workload {w} writes no heap profile (--prof-accuracy runs {})", workloads::PROF_NAMES.join(", "));
    }
    Ok(names)
}

/// One process: its dump decoded and deleted.
fn one_run(
    bin: &Path,
    c: &Contestant,
    w: &str,
    args: &[String],
    seed: u32,
    dir: &Path,
    sample_kb: Option<u64>,
) -> Result<Dump> {
    let path = dir.join(format!("{w}.{seed}.pb"));
    let path_s = path.to_str().context("temporary directory is not UTF-8")?.to_string();
    let mut args = args.to_vec();
    args.extend(["--seed".into(), seed.to_string(), "--prof-dump".into(), path_s]);
    let kb = sample_kb.map(|k| k.to_string());
    let mut env = vec![("HAKMEM_PROF", "1")];
    if let Some(k) = &kb {
        env.push(("HAKMEM_PROF_SAMPLE_KB", k));
    }
    let (o, _stderr) = runner::run_with_stderr(bin, c, w, &args, &env)?;
    let p = o.prof.with_context(|| format!("{w} (seed {seed}) reported no dump"))?;
    if p.rc != 0 {
        bail!("{w} (seed {seed}): hakmem_prof_dump returned {} ({})", p.rc, std::io::Error::from_raw_os_error(p.rc));
    }
    let prof = Profile::read(&path);
    let _ = std::fs::remove_file(&path);
    let prof = prof?;
    let estimate = prof.total("inuse_space").context("the profile has no inuse_space")?;
    if let Some(k) = sample_kb {
        let want = k.max(1) * 1024;
        if prof.period != want {
            bail!("{w}: the profile's period is {} bytes, --sample-kb {k} asked for {want}", prof.period);
        }
    }
    Ok(Dump {
        seed,
        live_bytes: p.live_bytes,
        other_bytes: p.other_bytes.context("the workload did not count its Rust allocations")?,
        estimate,
        samples: prof.samples.len(),
        mean: prof.period,
    })
}

pub fn main(a: BenchArgs) -> Result<i32> {
    let runs = a.runs_or(if a.large { RUNS_LARGE } else { RUNS });
    let sample_kb = a.sample_kb.or(a.large.then_some(LARGE_SAMPLE_KB));
    if let Some(k) = sample_kb {
        if k > 1 << 20 {
            bail!("--sample-kb must be at most 1048576 (hakmem's limit)");
        }
    }
    let names = names(&a)?;
    let plan: Vec<(String, Vec<String>)> =
        names.iter().map(|w| Ok((w.clone(), plan_args(&a, w)?))).collect::<Result<_>>()?;
    let c = match contestants::resolve("hakmem", a.profile.as_deref())? {
        Ok(c) => c,
        Err(why) => bail!("{why}"),
    };
    let bin = paths::workload_bin()?;
    let dir = std::env::temp_dir().join(format!("hakmem-prof-accuracy.{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let load_before = runner::loadavg();
    let pb = util::progress(runs * plan.len());
    let mut failures: Vec<String> = Vec::new();
    let mut all: Vec<(String, Vec<String>, Vec<Dump>)> = Vec::new();
    for (w, args) in &plan {
        let mut dumps = Vec::new();
        for i in 0..runs {
            pb.set_message(format!("{w}: dump {}/{runs}", i + 1));
            let seed = SEED.wrapping_add(7919u32.wrapping_mul(i as u32));
            match one_run(&bin, &c, w, args, seed, &dir, sample_kb) {
                Ok(d) => dumps.push(d),
                Err(e) => {
                    pb.suspend(|| eprintln!("hakmem bench: {e:#}"));
                    failures.push(format!("{e:#}"));
                }
            }
            pb.inc(1);
        }
        all.push((w.clone(), args.clone(), dumps));
    }
    pb.finish_and_clear();
    let _ = std::fs::remove_dir_all(&dir);
    let sums: Vec<Summary> = all.iter().filter_map(|(w, _, d)| profacc::summarize(w, d, a.large)).collect();
    let text = report_text(&sums, &plan, sample_kb, runs);
    let to_stderr = a.json.as_deref() == Some(Path::new("-")) || a.markdown.as_deref() == Some(Path::new("-"));
    if to_stderr {
        eprint!("{text}");
    } else {
        print!("{text}");
    }
    if let Some(p) = &a.json {
        let v = serde_json::json!({
            "machine": runner::machine(),
            "command": command_line(),
            "sample_kb": sample_kb,
            "large": a.large,
            "summaries": sums,
            "workloads": all.iter().map(|(w, args, d)| serde_json::json!({"workload": w, "args": args, "dumps": d})).collect::<Vec<_>>(),
            "failures": failures,
        });
        write_out(p, &(serde_json::to_string_pretty(&v)? + "\n"))?;
    }
    if let Some(p) = &a.markdown {
        write_out(p, &markdown(&sums, &plan, &c, &load_before))?;
        if p != Path::new("-") {
            eprintln!("hakmem bench: wrote {}", p.display());
        }
    }
    let failed = !failures.is_empty() || sums.iter().any(|s| s.verdict.failed()) || sums.len() < plan.len();
    Ok(if failed { 1 } else { 0 })
}

fn rate(sample_kb: Option<u64>, sums: &[Summary]) -> String {
    match (sample_kb, sums.first()) {
        (_, Some(s)) => format!("one sample per {} KiB on average", s.mean / 1024),
        (Some(k), None) => format!("HAKMEM_PROF_SAMPLE_KB={k}"),
        (None, None) => "hakmem's default rate".into(),
    }
}

fn report_text(sums: &[Summary], plan: &[(String, Vec<String>)], sample_kb: Option<u64>, runs: usize) -> String {
    let mut s = format!("heap profile accuracy: {} dumps per workload, {}\n", runs, rate(sample_kb, sums));
    for (w, args) in plan {
        s.push_str(&format!("  {w} {}\n", args.join(" ")));
    }
    s.push('\n');
    let (h, rows) = profacc::grid(sums);
    s.push_str(&hakmem_bench::report::plain_table(h, rows));
    s.push('\n');
    s.push_str(&textwrap(profacc::LEGEND, 100));
    s
}

fn textwrap(t: &str, width: usize) -> String {
    let mut out = String::new();
    let mut line = String::new();
    for w in t.split_whitespace() {
        if !line.is_empty() && line.len() + 1 + w.len() > width {
            out.push_str(&line);
            out.push('\n');
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(w);
    }
    if !line.is_empty() {
        out.push_str(&line);
        out.push('\n');
    }
    out
}

fn markdown(
    sums: &[Summary],
    plan: &[(String, Vec<String>)],
    c: &Contestant,
    load_before: &Option<[f64; 3]>,
) -> String {
    let mut s = bench::markdown_header(std::slice::from_ref(c), load_before);
    s.push_str("- workload options (each run adds `--seed S --prof-dump PATH`):\n");
    for (w, args) in plan {
        s.push_str(&format!("  - `{w} {}`\n", args.join(" ")));
    }
    s.push('\n');
    let (h, rows) = profacc::grid(sums);
    s.push_str(&hakmem_bench::report::markdown_grid(&h, &rows));
    s.push('\n');
    s.push_str(profacc::LEGEND);
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct T {
        #[command(flatten)]
        a: BenchArgs,
    }

    fn args(v: &[&str]) -> BenchArgs {
        T::try_parse_from(std::iter::once("bench").chain(v.iter().copied())).unwrap().a
    }

    #[test]
    fn plans() {
        let a = args(&["--prof-accuracy"]);
        assert_eq!(names(&a).unwrap(), workloads::PROF_NAMES);
        assert_eq!(plan_args(&a, "random-mixed").unwrap(), ["--cycles", "1000000"]);
        assert_eq!(plan_args(&a, "server-churn").unwrap(), ["--cycles", "400000"]);
        let l = args(&["--prof-accuracy", "--large", "--arg", "ws=1000", "--scale", "1"]);
        assert_eq!(plan_args(&l, "random-mixed").unwrap(), ["--cycles", "10000000", "--ws", "1000"]);
        let g = args(&["--prof-accuracy", "--large", "--scale", "0.5"]);
        assert_eq!(plan_args(&g, "realloc-growth").unwrap(), ["--live", "2048", "--cycles", "1000000"]);
        let g = args(&["--prof-accuracy", "--large"]);
        assert_eq!(plan_args(&g, "realloc-growth").unwrap(), ["--live", "2048", "--cycles", "2000000"]);
        assert_eq!(plan_args(&g, "rounds").unwrap(), ["--ws", "32000", "--cycles", "800000"]);
        let t = args(&["--prof-accuracy", "--cycles", "5000", "--threads", "3"]);
        assert_eq!(plan_args(&t, "rounds").unwrap(), ["--cycles", "5000", "--threads", "3"]);
        assert!(names(&args(&["--prof-accuracy", "-w", "mpmc"])).is_err());
        assert!(plan_args(&args(&["--prof-accuracy", "--arg", "seed=3"]), "random-mixed").is_err());
        for w in workloads::PROF_NAMES {
            let l = args(&["--prof-accuracy", "--large"]);
            assert!(!large_args(w).is_empty(), "{w}");
            plan_args(&l, w).unwrap();
        }
        assert!(T::try_parse_from(["bench", "--sample-kb", "4"]).is_err(), "--sample-kb needs --prof-accuracy");
        assert!(T::try_parse_from(["bench", "--prof-accuracy", "--memory"]).is_err());
    }
}
