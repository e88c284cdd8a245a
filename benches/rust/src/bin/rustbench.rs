//! rustbench: runs the `bench-*` binaries (built beside it by `cargo build --release`)
//! interleaved, A B C D E A B C D E …, and reports per workload and allocator the median
//! wall time, its ratio to mimalloc's, the CV, the median CPU time (user + system, less
//! disturbed than wall time on a shared machine) and the median peak RSS (the child's
//! `ru_maxrss` and `ru_utime + ru_stime` from `wait4`). It builds nothing itself.
//!
//! ```text
//! rustbench [--rounds 7] [--workloads a,b] [--allocators a,b] [--scale F]
//!           [--markdown FILE] [--bin-dir DIR]
//! ```

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

const ALLOCATORS: &[&str] = &["hakmem", "mimalloc", "snmalloc", "jemalloc", "system"];
const BASELINE: &str = "mimalloc";

struct Opts {
    rounds: usize,
    workloads: Vec<String>,
    allocators: Vec<String>,
    scale: String,
    markdown: Option<PathBuf>,
    bin_dir: PathBuf,
}

fn usage() -> ! {
    eprintln!(
        "usage: rustbench [--rounds N] [--workloads a,b] [--allocators a,b] [--scale F] \
         [--markdown FILE] [--bin-dir DIR]\n  workloads: {}\n  allocators: {}",
        rustbench::WORKLOADS
            .iter()
            .map(|w| w.name)
            .collect::<Vec<_>>()
            .join(","),
        ALLOCATORS.join(",")
    );
    std::process::exit(2)
}

fn parse_args() -> Opts {
    let exe = std::env::current_exe().expect("current_exe");
    let mut o = Opts {
        rounds: 7,
        workloads: rustbench::WORKLOADS
            .iter()
            .map(|w| w.name.to_string())
            .collect(),
        allocators: ALLOCATORS.iter().map(|s| s.to_string()).collect(),
        scale: "1".into(),
        markdown: None,
        bin_dir: exe.parent().expect("exe dir").to_path_buf(),
    };
    let list = |v: String| v.split(',').map(str::to_string).collect::<Vec<_>>();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let Some(v) = args.next() else { usage() };
        match a.as_str() {
            "--rounds" => o.rounds = v.parse().unwrap_or_else(|_| usage()),
            "--workloads" => o.workloads = list(v),
            "--allocators" => o.allocators = list(v),
            "--scale" => o.scale = v,
            "--markdown" => o.markdown = Some(v.into()),
            "--bin-dir" => o.bin_dir = v.into(),
            _ => usage(),
        }
    }
    if o.rounds == 0
        || o.workloads.iter().any(|w| rustbench::find(w).is_none())
        || o.allocators
            .iter()
            .any(|a| !ALLOCATORS.contains(&a.as_str()))
    {
        usage()
    }
    o
}

struct Run {
    secs: f64,
    /// user + system CPU time of the child (all its threads), from `wait4`.
    cpu: f64,
    max_rss_kb: i64,
    checksum: String,
}

/// One child: wall time from spawn to reaping, and its peak RSS from `wait4`.
fn run_once(o: &Opts, alloc: &str, workload: &str) -> Result<(Run, Option<String>), String> {
    let bin = o.bin_dir.join(format!("bench-{alloc}"));
    let start = Instant::now();
    let mut child = Command::new(&bin)
        .args([workload, "--scale", &o.scale])
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{}: {e}", bin.display()))?;
    let mut out = String::new();
    child
        .stdout
        .take()
        .expect("piped stdout")
        .read_to_string(&mut out)
        .map_err(|e| e.to_string())?;
    let mut status = 0;
    // SAFETY: rusage is plain data; wait4 fills it for the child we spawned.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    let secs = start.elapsed().as_secs_f64();
    if pid < 0 {
        return Err(format!("wait4: {}", std::io::Error::last_os_error()));
    }
    if !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) != 0 {
        return Err(format!(
            "{} {workload}: exit status {status:#x}",
            bin.display()
        ));
    }
    let field = |key: &str| {
        out.split_whitespace()
            .find_map(|kv| kv.strip_prefix(key).map(str::to_string))
    };
    let checksum = field("checksum=").ok_or_else(|| format!("no checksum in {out:?}"))?;
    let version = field("version=").map(|v| v.replace('_', " "));
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    Ok((
        Run {
            secs,
            cpu: tv(usage.ru_utime) + tv(usage.ru_stime),
            max_rss_kb: usage.ru_maxrss,
            checksum,
        },
        version,
    ))
}

/// A summary table: title, the metric taken from each run, how a value is shown.
type Table = (&'static str, fn(&Run) -> f64, fn(f64) -> String);

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    let n = s.len();
    if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}

fn cv(v: &[f64]) -> f64 {
    let mean = v.iter().sum::<f64>() / v.len() as f64;
    let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / v.len() as f64;
    var.sqrt() / mean
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn cpu() -> String {
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "?".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("{model} ({cores} cores visible)")
}

/// `YYYY-MM-DD HH:MM UTC` from the system clock (days-to-civil, proleptic Gregorian).
fn utc_now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        rem / 3600,
        rem / 60 % 60
    )
}

fn fmt_secs(s: f64) -> String {
    if s >= 10.0 {
        format!("{s:.1} s")
    } else {
        format!("{:.0} ms", s * 1e3)
    }
}

fn fmt_kb(kb: f64) -> String {
    if kb >= 1024.0 * 1024.0 {
        format!("{:.2} GB", kb / 1024.0 / 1024.0)
    } else {
        format!("{:.1} MB", kb / 1024.0)
    }
}

fn main() {
    let o = parse_args();
    let date = utc_now();
    let load_before = loadavg();
    // (workload, allocator) -> runs
    let mut runs: BTreeMap<(usize, usize), Vec<Run>> = BTreeMap::new();
    let mut versions: BTreeMap<String, String> = BTreeMap::new();
    for (wi, w) in o.workloads.iter().enumerate() {
        for round in 0..o.rounds {
            for (ai, a) in o.allocators.iter().enumerate() {
                let (run, version) = run_once(&o, a, w).unwrap_or_else(|e| {
                    eprintln!("rustbench: {e}");
                    std::process::exit(1)
                });
                eprintln!(
                    "{w:9} round {}/{} {a:9} {:>9} wall {:>9} cpu {:>9}",
                    round + 1,
                    o.rounds,
                    fmt_secs(run.secs),
                    fmt_secs(run.cpu),
                    fmt_kb(run.max_rss_kb as f64)
                );
                if let Some(v) = version {
                    versions.insert(a.clone(), v);
                }
                runs.entry((wi, ai)).or_default().push(run);
            }
        }
        // Every allocator must have computed the same thing.
        let sums: Vec<&str> = (0..o.allocators.len())
            .flat_map(|ai| runs[&(wi, ai)].iter().map(|r| r.checksum.as_str()))
            .collect();
        if sums.iter().any(|s| *s != sums[0]) {
            eprintln!("rustbench: {w}: checksums differ between runs: {sums:?}");
            std::process::exit(1);
        }
    }
    let load_after = loadavg();

    let base = o.allocators.iter().position(|a| a == BASELINE);
    let mut md = String::new();
    let command = std::env::args().collect::<Vec<_>>().join(" ");
    let _ = writeln!(md, "- command: `{command}`");
    let _ = writeln!(md, "- date: {date}");
    let _ = writeln!(md, "- CPU: {}", cpu());
    let _ = writeln!(
        md,
        "- load average (1/5/15 min): {load_before} before, {load_after} after"
    );
    for (a, v) in &versions {
        let _ = writeln!(md, "- {a}: {v}");
    }
    let _ = writeln!(
        md,
        "- {} rounds, interleaved per workload ({}); time = wall time of the whole \
         process (spawn to exit); CPU time = the child's ru_utime + ru_stime (all threads); \
         peak RSS = the child's ru_maxrss; medians over the rounds; CV = stdev/mean of the \
         wall times\n",
        o.rounds,
        o.allocators.join(" ")
    );
    // Per workload and allocator: the median of a metric over the rounds, and its ratio
    // to mimalloc's median.
    let header = |md: &mut String, first: &str| {
        let _ = writeln!(md, "| {first} | {} |", o.allocators.join(" | "));
        let _ = writeln!(md, "|---|{}", "---:|".repeat(o.allocators.len()));
    };
    let metric = |wi: usize, ai: usize, f: fn(&Run) -> f64| {
        runs[&(wi, ai)].iter().map(f).collect::<Vec<_>>()
    };
    let tables: [Table; 3] = [
        ("median wall time (× mimalloc)", |r| r.secs, fmt_secs),
        (
            "median CPU time, user+sys (× mimalloc)",
            |r| r.cpu,
            fmt_secs,
        ),
        (
            "median peak RSS (× mimalloc)",
            |r| r.max_rss_kb as f64,
            fmt_kb,
        ),
    ];
    for (title, f, fmt) in tables {
        header(&mut md, title);
        for (wi, w) in o.workloads.iter().enumerate() {
            let _ = write!(md, "| {w} |");
            for ai in 0..o.allocators.len() {
                let m = median(&metric(wi, ai, f));
                let _ = match base {
                    Some(b) => write!(md, " {} ({:.2}) |", fmt(m), m / median(&metric(wi, b, f))),
                    None => write!(md, " {} |", fmt(m)),
                };
            }
            md.push('\n');
        }
        md.push('\n');
    }
    header(&mut md, "wall time CV");
    for (wi, w) in o.workloads.iter().enumerate() {
        let _ = write!(md, "| {w} |");
        for ai in 0..o.allocators.len() {
            let _ = write!(md, " {:.1}% |", cv(&metric(wi, ai, |r| r.secs)) * 100.0);
        }
        md.push('\n');
    }
    md.push_str("\nWorkloads:\n\n");
    for w in &o.workloads {
        let w = rustbench::find(w).expect("checked");
        let _ = writeln!(
            md,
            "- `{}` (n = {} × scale): {}",
            w.name, w.default_n, w.about
        );
    }
    print!("{md}");
    if let Some(path) = &o.markdown {
        if let Err(e) = std::fs::write(path, &md) {
            eprintln!("rustbench: {}: {e}", path.display());
            std::process::exit(1);
        }
    }
}
