//! `hakmem compat [--profile P[,Q]] [--full] [--allocators glibc,hakmem,mimalloc]`
//!
//! Runs real programs under each allocator (glibc: nothing preloaded; the others through
//! `LD_PRELOAD`) and compares what they produce with the glibc run:
//!
//! | program     | what runs                                                                   |
//! |-------------|-----------------------------------------------------------------------------|
//! | python      | `tests/compat/py_alloc.py`: dicts, lists, strings, sets, objects, threads   |
//! | cpython-tests | `python3 -m test` on allocation-heavy modules, per-test-case results      |
//! | sort        | GNU sort three ways over a generated file of 1M lines (5M with --full)      |
//! | sqlite3     | `tests/compat/sqlite.sql`: 100k rows (500k), index, query, update, vacuum  |
//! | git         | `tests/compat/git.sh`: init, add of 2000 files (10000), commits, log, gc    |
//! | gcc         | `tests/compat/gcc.sh`: compile the multi-file program `cprog/`, run it      |
//! | redis       | redis-server under the allocator, loaded by redis-benchmark, own keys read back, BGSAVE, restart from the RDB, keys read back again |
//!
//! The "result" of a program is its exit status plus its normalised output (for the CPython
//! tests: the list of test cases with their outcome; for redis: the verification report).
//! Time is wall time; peak RSS is `ru_maxrss` from `wait4` (the largest process of the tree).
//! The scripts and inputs are compiled into the binary (`include_str!`), so `hakmem compat`
//! needs nothing from the source tree at run time.
//!
//! Exit code: 0 when every program's result under hakmem equals its result under glibc,
//! 1 otherwise. A difference under a peer allocator (mimalloc, ...) is reported, not fatal.

mod gcc;
mod git;
mod process;
mod python;
mod redis;
mod report;
mod resp;
mod sort;
mod sqlite;

use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use hakmem_bench::contestants::{self, Contestant};
use process::{fnv64, mib, run_measured, stderr_tail, Exit, Measured};
use report::{first_diff_line, render, Row};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const PROGRAMS: &[&str] = &["python", "cpython-tests", "sort", "sqlite3", "git", "gcc", "redis"];

#[derive(Args)]
pub struct CompatArgs {
    /// hakmem profile(s): speed, balanced. Repeat or comma-separate for one hakmem column each;
    /// without it, one column with the allocator's default profile.
    #[arg(long, short, value_delimiter = ',', value_parser = contestants::parse_profile)]
    pub profile: Vec<String>,
    /// The long versions (5x the data, more CPython test modules, more redis requests).
    #[arg(long)]
    pub full: bool,
    /// Allocator columns, comma separated: glibc, hakmem, mimalloc, mimalloc3, jemalloc,
    /// tcmalloc, snmalloc. glibc is always run (it is the reference); a peer whose library is
    /// not there is skipped with a note.
    #[arg(short, long, value_delimiter = ',', default_value = "glibc,hakmem,mimalloc")]
    pub allocators: Vec<String>,
    /// Run only these programs (comma separated): python, cpython-tests, sort, sqlite3, git, gcc, redis.
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,
    /// Also write the report as Markdown to this file.
    #[arg(long)]
    pub markdown: Option<PathBuf>,
    /// Keep the work directory (outputs of every run) instead of deleting it.
    #[arg(long)]
    pub keep: bool,
    /// Time limit for one program run, in seconds (a run over it is killed and counts as TIMEOUT).
    #[arg(long, default_value_t = 600)]
    pub timeout: u64,
}

/// The columns: glibc first (the reference), then each allocator asked for; hakmem once per
/// `--profile` (labelled `hakmem:PROFILE`). Every preload is checked to really load.
fn columns(a: &CompatArgs, notes: &mut Vec<String>) -> Result<Vec<Contestant>> {
    let mut cols = vec![contestants::resolve("glibc", None)?.map_err(|e| anyhow!(e))?];
    for name in &a.allocators {
        let profiles: Vec<Option<&str>> = if name.trim() == "hakmem" && !a.profile.is_empty() {
            a.profile.iter().map(|p| Some(p.as_str())).collect()
        } else {
            vec![None]
        };
        for p in profiles {
            match contestants::resolve(name, p)? {
                Ok(c) if c.name == "glibc" => {}
                Ok(mut c) => {
                    if let Some(p) = p {
                        c.name = format!("hakmem:{p}");
                    }
                    cols.push(c);
                }
                // The library under test must be there; a missing peer only loses its column.
                Err(why) if name.trim().starts_with("hakmem") => bail!("{}: {why}", name.trim()),
                Err(why) => notes.push(format!("{}: column skipped, {why}", name.trim())),
            }
        }
    }
    for c in &cols {
        c.check_loads()?;
    }
    if !cols.iter().any(|c| c.is_hakmem()) {
        notes.push("no hakmem column (--allocators without hakmem): nothing is checked".into());
    }
    Ok(cols)
}

// ---------------------------------------------------------------------------------------------
// outcomes

/// What one program produced under one allocator.
pub struct Outcome {
    /// Compared between allocators: exit status and normalised output.
    pub result: String,
    /// Short form for the table.
    pub summary: String,
    /// The run passed on its own terms (exit 0, all checks good).
    pub ok: bool,
    pub wall: f64,
    pub cpu: f64,
    pub maxrss_kb: u64,
    /// Extra measurements (redis throughput, memory).
    pub metrics: Vec<(String, String)>,
    /// Why it failed, for the report.
    pub detail: String,
    /// What the allocator itself printed on stderr (hakmem columns).
    pub messages: Vec<String>,
}

impl Outcome {
    /// An outcome of measured run `m` with the given result and verdict.
    pub fn measured(m: &Measured, result: String, summary: String, ok: bool, detail: String) -> Outcome {
        Outcome {
            result,
            summary,
            ok,
            wall: m.wall,
            cpu: m.cpu,
            maxrss_kb: m.maxrss_kb,
            metrics: vec![],
            detail,
            messages: vec![],
        }
    }

    pub fn from_output(m: &Measured, stdout: &[u8], dir: &Path) -> Outcome {
        let ok = m.exit == Exit::Code(0);
        let h = fnv64(stdout);
        let summary = if ok { format!("ok {:08x}", h as u32) } else { format!("{} {:08x}", m.exit, h as u32) };
        let detail = if ok { String::new() } else { stderr_tail(dir) };
        Outcome::measured(m, format!("{}\n{}", m.exit, String::from_utf8_lossy(stdout)), summary, ok, detail)
    }

    pub fn error(e: anyhow::Error) -> Outcome {
        Outcome {
            result: format!("harness error: {e:#}"),
            summary: "ERROR".into(),
            ok: false,
            wall: 0.0,
            cpu: 0.0,
            maxrss_kb: 0,
            metrics: vec![],
            detail: format!("{e:#}"),
            messages: vec![],
        }
    }
}

pub struct Ctx {
    pub full: bool,
    pub timeout: Duration,
    pub python: Option<PathBuf>,
    /// Shared inputs (the sort file), written once.
    pub inputs: PathBuf,
}

pub fn which(prog: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join(prog)).find(|p| p.is_file())
}

/// Why a program cannot run here, or None when it can.
fn missing(name: &str, ctx: &Ctx) -> Option<String> {
    let need: &[&str] = match name {
        "python" | "cpython-tests" => {
            return if ctx.python.is_none() {
                Some("no python3 with the `test` package (apt-get install libpython3.11-testsuite)".into())
            } else {
                None
            }
        }
        "sort" => &["sort", "sh", "cksum"],
        "sqlite3" => &["sqlite3"],
        "git" => &["git", "sh", "awk", "xargs", "cksum"],
        "gcc" => &["gcc", "sh", "cksum", "cmp"],
        "redis" => &["redis-server", "redis-benchmark"],
        _ => return Some("unknown program".into()),
    };
    let absent: Vec<&str> = need.iter().copied().filter(|p| which(p).is_none()).collect();
    if absent.is_empty() {
        None
    } else {
        Some(format!("not installed: {} (scripts/setup.sh installs it)", absent.join(", ")))
    }
}

fn describe(name: &str, ctx: &Ctx) -> String {
    let f = ctx.full;
    match name {
        "python" => format!("python3 py_alloc.py {}", if f { 4 } else { 1 }),
        "cpython-tests" => format!("python3 -m test ({} modules)", python::cpy_tests(f).len()),
        "sort" => format!("sort x3, {} lines", sort::sort_lines(f)),
        "sqlite3" => format!("sqlite3 < sqlite.sql, {} rows", if f { 500_000 } else { 100_000 }),
        "git" => format!("git.sh, {} files", if f { 10_000 } else { 2_000 }),
        "gcc" => format!("gcc.sh (5 units, -O2 and -O0), scale {}", if f { 3 } else { 1 }),
        "redis" => format!(
            "redis-server; {} keys + {} lists + {} hashes written, redis-benchmark -n {} -P 8 -c 16 -t set,get,lpush,hset -d {:?}, keys read back, BGSAVE, restart from the RDB, keys read back",
            redis::redis_keys(f),
            redis::NLISTS,
            redis::NHASHES,
            redis::redis_bench_n(f),
            redis::REDIS_BENCH_SIZES
        ),
        _ => String::new(),
    }
}

/// Lines the allocator wrote on stderr ("hakmem: ..."), from every stderr file of a run.
/// Without HAKMEM_STATS any such line is a warning or an error worth showing.
fn allocator_messages(dir: &Path) -> Vec<String> {
    let mut v = Vec::new();
    let Ok(rd) = fs::read_dir(dir) else { return v };
    let mut files: Vec<PathBuf> =
        rd.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.to_string_lossy().ends_with("stderr.txt")).collect();
    files.sort();
    for f in files {
        for l in fs::read_to_string(&f).unwrap_or_default().lines() {
            if l.starts_with("hakmem: ") && !v.iter().any(|x: &String| x == l) {
                v.push(l.chars().take(200).collect());
            }
        }
    }
    v
}

fn run_program(name: &str, ctx: &Ctx, col: &Contestant, dir: &Path) -> Outcome {
    let r = fs::create_dir_all(dir).map_err(anyhow::Error::from).and_then(|_| match name {
        "python" => python::run_python(ctx, col, dir),
        "cpython-tests" => python::run_cpython_tests(ctx, col, dir),
        "sort" => sort::run_sort(ctx, col, dir),
        "sqlite3" => sqlite::run_sqlite(ctx, col, dir),
        "git" => git::run_git(ctx, col, dir),
        "gcc" => gcc::run_gcc(ctx, col, dir),
        "redis" => redis::run_redis(ctx, col, dir),
        _ => Err(anyhow!("unknown program {name}")),
    });
    let mut o = r.unwrap_or_else(Outcome::error);
    if col.is_hakmem() && std::env::var_os("HAKMEM_STATS").is_none() {
        o.messages = allocator_messages(dir);
    }
    o
}

pub fn base_cmd(prog: impl AsRef<std::ffi::OsStr>, col: &Contestant) -> Command {
    let mut c = Command::new(prog);
    col.apply(&mut c);
    c.env("PYTHONHASHSEED", "0").env("PYTHONDONTWRITEBYTECODE", "1");
    c
}

/// `sh FILE ARG` in `dir` (which the caller has emptied and filled with any inputs).
pub fn run_script(ctx: &Ctx, col: &Contestant, dir: &Path, file: &str, text: &str, arg: &str) -> Result<Outcome> {
    fs::write(dir.join(file), text)?;
    let mut c = base_cmd("sh", col);
    c.args([file, arg]);
    let (m, out) = run_measured(c, dir, ctx.timeout)?;
    Ok(Outcome::from_output(&m, &out, dir))
}

pub fn main(a: CompatArgs) -> Result<i32> {
    for p in &a.only {
        if !PROGRAMS.contains(&p.as_str()) {
            bail!("unknown program {p:?}; accepted: {}", PROGRAMS.join(", "));
        }
    }
    let mut notes = Vec::new();
    let cols = columns(&a, &mut notes)?;
    let work = std::env::temp_dir().join(format!("hakmem-compat-{}", std::process::id()));
    fs::create_dir_all(work.join("inputs"))?;
    let ctx = Ctx {
        full: a.full,
        timeout: Duration::from_secs(a.timeout.max(1)),
        python: python::find_python(),
        inputs: work.join("inputs"),
    };
    if let Some(py) = &ctx.python {
        notes.push(format!("python: {}", py.display()));
    }
    for c in &cols {
        if let Some(p) = &c.preload {
            notes.push(format!(
                "{}: LD_PRELOAD={}{}",
                c.name,
                p.display(),
                c.profile().map(|p| format!(" HAKMEM_PROFILE={p}")).unwrap_or_default()
            ));
        }
    }
    let mode = if a.full { "full" } else { "bounded" };
    eprintln!(
        "hakmem compat ({mode}): columns {}; work dir {}",
        cols.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(", "),
        work.display()
    );

    let mut rows = Vec::new();
    for &name in PROGRAMS {
        if !a.only.is_empty() && !a.only.iter().any(|o| o == name) {
            continue;
        }
        let what = describe(name, &ctx);
        if let Some(why) = missing(name, &ctx) {
            eprintln!("  {name}: skipped ({why})");
            rows.push(Row { program: name.into(), what, skipped: Some(why), cells: vec![] });
            continue;
        }
        let mut cells: Vec<Outcome> = Vec::new();
        for (i, col) in cols.iter().enumerate() {
            let dir = work.join(name).join(col.name.replace(':', "-"));
            let o = run_program(name, &ctx, col, &dir);
            let cmp = if i == 0 {
                String::new()
            } else if o.result == cells[0].result {
                ", same as glibc".into()
            } else {
                format!(", DIFFERS from glibc ({})", first_diff_line(&cells[0].result, &o.result))
            };
            eprintln!(
                "  {name:<14} {:<16} {:<28} {:>7.2} s {:>7.2} s cpu {:>10}{cmp}",
                col.name,
                o.summary,
                o.wall,
                o.cpu,
                mib(o.maxrss_kb)
            );
            if !o.ok && !o.detail.is_empty() {
                eprintln!("      {}", o.detail);
            }
            for m in o.messages.iter().take(5) {
                eprintln!("      allocator: {m}");
            }
            cells.push(o);
        }
        rows.push(Row { program: name.into(), what, skipped: None, cells });
    }

    let header = format!("hakmem compat ({mode})");
    print!("{}", render(&rows, &cols, &notes, &header, false));
    if let Some(md) = &a.markdown {
        fs::write(md, render(&rows, &cols, &notes, &header, true))
            .with_context(|| format!("writing {}", md.display()))?;
    }
    let hakmem_differs = rows
        .iter()
        .filter(|r| r.skipped.is_none())
        .any(|r| (1..cols.len()).any(|i| cols[i].is_hakmem() && r.cells[i].result != r.cells[0].result));
    if a.keep {
        eprintln!("outputs kept in {}", work.display());
    } else {
        let _ = fs::remove_dir_all(&work);
    }
    if hakmem_differs {
        println!("RESULT: hakmem differs from glibc");
        Ok(1)
    } else {
        println!("RESULT: hakmem matches glibc on every program run");
        Ok(0)
    }
}
