//! Runners: the workload binary as a child process under LD_PRELOAD of each contestant,
//! interleaved; callgrind instruction counts; the machine description for reports.

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

pub use crate::contestants::Contestant;
pub use crate::probe::OsCalls;

/// The JSON line printed by `hakmem-workload`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunOutput {
    pub workload: String,
    pub ops: u64,
    pub seconds: f64,
    pub ops_per_sec: f64,
    pub peak_rss_kb: Option<u64>,
    #[serde(default)]
    pub rss_end_kb: Option<u64>,
    pub os_calls: Option<OsCalls>,
    /// The OS calls of the timed section alone (multi-threaded workloads, `mt::run_threads`).
    #[serde(default)]
    pub os_calls_timed: Option<OsCalls>,
    #[serde(default)]
    pub params: serde_json::Value,
    #[serde(default)]
    pub checks: BTreeMap<String, u64>,
    /// The memory workloads' samples (RSS in KiB, bytes), by name.
    #[serde(default)]
    pub memory: BTreeMap<String, u64>,
    /// The heap profile a workload wrote (`--prof-dump`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prof: Option<crate::workloads::profdump::ProfPoint>,
}

impl RunOutput {
    /// Parses the last line of stdout that is a JSON object (a preloaded library might print).
    pub fn parse(stdout: &str) -> Result<RunOutput> {
        let line = stdout
            .lines()
            .rev()
            .find(|l| l.trim_start().starts_with('{'))
            .context("the workload printed no JSON line")?;
        serde_json::from_str(line).with_context(|| format!("bad workload JSON: {line}"))
    }
}

/// Builds the command that runs `bin workload args...` for contestant `c`.
pub fn command(bin: &Path, c: &Contestant, workload: &str, args: &[String]) -> Command {
    let mut cmd = Command::new(bin);
    cmd.arg(workload).args(args);
    c.apply(&mut cmd);
    cmd
}

/// Runs one measurement; fails with the child's stderr when it exits non-zero.
pub fn run_once(bin: &Path, c: &Contestant, workload: &str, args: &[String]) -> Result<RunOutput> {
    Ok(run_with_stderr(bin, c, workload, args, &[])?.0)
}

/// Runs once with extra environment and returns (output, stderr): used for `HAKMEM_STATS=1`.
pub fn run_with_stderr(
    bin: &Path,
    c: &Contestant,
    workload: &str,
    args: &[String],
    extra: &[(&str, &str)],
) -> Result<(RunOutput, String)> {
    let mut cmd = command(bin, c, workload, args);
    for (k, v) in extra {
        cmd.env(k, v);
    }
    let out = cmd.output().with_context(|| format!("cannot run {}", bin.display()))?;
    finish(c, workload, "", out)
}

/// A finished workload run (`how`: "" or " under callgrind", ...): its JSON line and its
/// stderr, or an error with the end of its stderr when it failed.
fn finish(c: &Contestant, workload: &str, how: &str, out: std::process::Output) -> Result<(RunOutput, String)> {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    if !out.status.success() {
        bail!("{} on {workload}{how} failed ({}): {}", c.name, out.status, tail(&stderr, 800));
    }
    let o =
        RunOutput::parse(&String::from_utf8_lossy(&out.stdout)).with_context(|| format!("{} on {workload}", c.name))?;
    Ok((o, stderr))
}

fn tail(s: &str, n: usize) -> String {
    let s = s.trim();
    if s.len() <= n {
        return s.to_string();
    }
    let mut i = s.len() - n;
    while !s.is_char_boundary(i) {
        i += 1;
    }
    format!("...{}", &s[i..])
}

/// The interleaved schedule: round by round, every contestant once per round (A B C A B C ...).
pub fn schedule(contestants: usize, runs: usize) -> Vec<(usize, usize)> {
    (0..runs).flat_map(|r| (0..contestants).map(move |c| (r, c))).collect()
}

/// Total instructions (`Ir`) of one run under `valgrind --tool=callgrind`.
pub fn callgrind_ir(bin: &Path, c: &Contestant, workload: &str, args: &[String]) -> Result<(u64, RunOutput)> {
    let tmp = std::env::temp_dir().join(format!("hakmem-callgrind.{}.out", std::process::id()));
    let mut cmd = Command::new("valgrind");
    cmd.arg("--tool=callgrind")
        .arg(format!("--callgrind-out-file={}", tmp.display()))
        .arg(bin)
        .arg(workload)
        .args(args)
        // Waiters park instead of spinning (workloads/mt.rs): callgrind runs one thread at a
        // time, so a spin would only count the waiting.
        .env("WORKLOAD_WAIT", "park");
    c.apply(&mut cmd);
    let out = cmd.output().context("cannot run valgrind (apt-get install valgrind)")?;
    let _ = std::fs::remove_file(&tmp);
    let (o, stderr) = finish(c, workload, " under callgrind", out)?;
    let ir = parse_callgrind_collected(&stderr).context("callgrind printed no 'Collected' line")?;
    Ok((ir, o))
}

/// Memory-management syscalls an allocator makes; `strace -c` counts these for any allocator.
pub const MEM_SYSCALLS: &[&str] = &["mmap", "munmap", "madvise", "mremap", "brk", "mprotect"];

/// One run under `strace -f -c`: the count of each memory syscall (whole process, all threads,
/// start-up included) and the run's output.
pub fn strace_syscalls(
    bin: &Path,
    c: &Contestant,
    workload: &str,
    args: &[String],
) -> Result<(BTreeMap<String, u64>, RunOutput)> {
    let tmp = std::env::temp_dir().join(format!("hakmem-strace.{}.txt", std::process::id()));
    let mut cmd = Command::new("strace");
    cmd.args(["-f", "-c", "-e"])
        .arg(format!("trace={}", MEM_SYSCALLS.join(",")))
        .arg("-o")
        .arg(&tmp)
        .arg(bin)
        .arg(workload)
        .args(args);
    c.apply(&mut cmd);
    let out = cmd.output().context("cannot run strace (apt-get install strace)")?;
    let table = std::fs::read_to_string(&tmp).unwrap_or_default();
    let _ = std::fs::remove_file(&tmp);
    let (o, _) = finish(c, workload, " under strace", out)?;
    Ok((parse_strace_counts(&table), o))
}

/// Parses the `strace -c` table: `% time  seconds  usecs/call  calls  [errors]  syscall`.
pub fn parse_strace_counts(table: &str) -> BTreeMap<String, u64> {
    let mut m = BTreeMap::new();
    for l in table.lines() {
        let w: Vec<&str> = l.split_whitespace().collect();
        if w.len() < 5 || w[0].parse::<f64>().is_err() {
            continue;
        }
        let name = w[w.len() - 1];
        if name == "total" {
            continue;
        }
        if let Ok(calls) = w[3].parse::<u64>() {
            m.insert(name.to_string(), calls);
        }
    }
    m
}

/// Parses `==PID== Collected : N` from callgrind's stderr.
pub fn parse_callgrind_collected(stderr: &str) -> Option<u64> {
    stderr.lines().find_map(|l| {
        let rest = l.split("Collected :").nth(1)?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

/// Parses `hakmem: box NAME hits N` lines of the allocator's exit report.
pub fn parse_box_hits(stderr: &str) -> BTreeMap<String, u64> {
    let mut m = BTreeMap::new();
    for l in stderr.lines() {
        let w: Vec<&str> = l.split_whitespace().collect();
        if let ["hakmem:", "box", name, "hits", n, ..] = w.as_slice() {
            if let Ok(n) = n.parse() {
                m.insert(name.to_string(), n);
            }
        }
    }
    m
}

/// Parses `hakmem: syscalls mmap N munmap N madvise N`.
pub fn parse_syscalls_line(stderr: &str) -> Option<OsCalls> {
    stderr.lines().find_map(|l| {
        let w: Vec<&str> = l.split_whitespace().collect();
        match w.as_slice() {
            ["hakmem:", "syscalls", "mmap", a, "munmap", b, "madvise", c, ..] => {
                Some(OsCalls { mmap: a.parse().ok()?, munmap: b.parse().ok()?, madvise: c.parse().ok()? })
            }
            _ => None,
        }
    })
}

/// Machine description for reports: `uname -a`, CPU model, cores.
#[derive(Clone, Debug, Serialize)]
pub struct Machine {
    pub uname: String,
    pub cpu: String,
    pub cores: usize,
    pub date_utc: String,
    /// The 1, 5 and 15 minute load averages from /proc/loadavg (a loaded machine makes noisy
    /// numbers).
    pub loadavg: Option<[f64; 3]>,
}

pub fn machine() -> Machine {
    let uname = Command::new("uname")
        .arg("-a")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    Machine { uname, cpu, cores, date_utc: format_utc(secs), loadavg: loadavg() }
}

pub fn loadavg() -> Option<[f64; 3]> {
    parse_loadavg(&std::fs::read_to_string("/proc/loadavg").ok()?)
}

fn parse_loadavg(s: &str) -> Option<[f64; 3]> {
    let mut w = s.split_whitespace().map(|x| x.parse::<f64>().ok());
    Some([w.next()??, w.next()??, w.next()??])
}

/// `0.52 0.41 0.30`, or `unknown`.
pub fn fmt_loadavg(l: Option<[f64; 3]>) -> String {
    l.map_or("unknown".into(), |[a, b, c]| format!("{a:.2} {b:.2} {c:.2}"))
}

/// `abc1234` or `abc1234 + uncommitted changes` for the current directory's git tree, if any.
pub fn git_revision() -> Option<String> {
    let rev =
        Command::new("git").args(["rev-parse", "--short", "HEAD"]).output().ok().filter(|o| o.status.success())?;
    let rev = String::from_utf8_lossy(&rev.stdout).trim().to_string();
    let dirty = Command::new("git")
        .args(["status", "--porcelain", "--untracked-files=no"])
        .output()
        .ok()
        .map(|o| !o.stdout.is_empty())
        .unwrap_or(false);
    Some(if dirty { format!("{rev} + uncommitted changes") } else { rev })
}

/// `YYYY-MM-DD HH:MM UTC` from Unix seconds (civil-from-days, proleptic Gregorian).
pub fn format_utc(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + (m <= 2) as i64;
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02} UTC", rem / 3600, rem % 3600 / 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stats_lines() {
        let err = "hakmem: stats\nhakmem: box HAKMEM_FRONT_FASTLANE hits 12345\nhakmem: box HAKMEM_X hits 0\n\
                   noise hakmem: box nope\nhakmem: syscalls mmap 10 munmap 3 madvise 7\n";
        let hits = parse_box_hits(err);
        assert_eq!(hits.get("HAKMEM_FRONT_FASTLANE"), Some(&12345));
        assert_eq!(hits.get("HAKMEM_X"), Some(&0));
        assert_eq!(hits.len(), 2);
        assert_eq!(parse_syscalls_line(err), Some(OsCalls { mmap: 10, munmap: 3, madvise: 7 }));
        assert_eq!(parse_syscalls_line("hakmem: syscalls mmap x"), None);
    }

    #[test]
    fn parses_callgrind_and_workload_output() {
        let err = "==123== Events    : Ir\n==123== Collected : 987654321\n==123== I   refs:      987,654,321\n";
        assert_eq!(parse_callgrind_collected(err), Some(987654321));
        assert_eq!(parse_callgrind_collected("nothing"), None);
        let out = "mimalloc: banner\n{\"workload\":\"random-mixed\",\"ops\":10,\"seconds\":0.5,\"ops_per_sec\":20.0,\"peak_rss_kb\":100,\"os_calls\":{\"mmap\":1,\"munmap\":2,\"madvise\":3}}\n";
        let r = RunOutput::parse(out).unwrap();
        assert_eq!((r.ops, r.peak_rss_kb), (10, Some(100)));
        assert_eq!(r.os_calls.unwrap().total(), 6);
        assert!(RunOutput::parse("no json").is_err());
    }

    #[test]
    fn parses_strace_table() {
        let t = "% time     seconds  usecs/call     calls    errors syscall\n                 ------ ----------- ----------- --------- --------- ----------------\n                  60.00    0.000300          10        30           mmap\n                  30.00    0.000150          15        10         2 munmap\n                  10.00    0.000050           5         4           brk\n                 ------ ----------- ----------- --------- --------- ----------------\n                 100.00    0.000500                    44         2 total\n";
        let m = parse_strace_counts(t);
        assert_eq!(m.get("mmap"), Some(&30));
        assert_eq!(m.get("munmap"), Some(&10));
        assert_eq!(m.get("brk"), Some(&4));
        assert_eq!(m.len(), 3);
    }

    #[test]
    fn load_averages_are_numbers() {
        assert_eq!(parse_loadavg("0.52 0.41 0.30 2/345 6789\n"), Some([0.52, 0.41, 0.30]));
        assert_eq!(parse_loadavg("0.52 x 0.30"), None);
        assert_eq!(fmt_loadavg(Some([1.0, 0.5, 0.25])), "1.00 0.50 0.25");
        let m = serde_json::to_value(machine()).unwrap();
        assert!(m["loadavg"][0].is_f64(), "{m}");
    }

    #[test]
    fn schedule_interleaves() {
        assert_eq!(schedule(3, 2), vec![(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2)]);
    }

    #[test]
    fn utc_dates() {
        assert_eq!(format_utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(format_utc(951_782_400 + 3_661), "2000-02-29 01:01 UTC");
        assert_eq!(format_utc(1_767_225_600), "2026-01-01 00:00 UTC");
    }
}
