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

use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const PY_ALLOC: &str = include_str!("../../../tests/compat/py_alloc.py");
const SORT_SH: &str = include_str!("../../../tests/compat/sort.sh");
const GIT_SH: &str = include_str!("../../../tests/compat/git.sh");
const GCC_SH: &str = include_str!("../../../tests/compat/gcc.sh");
const SQLITE_SQL: &str = include_str!("../../../tests/compat/sqlite.sql");
const CPROG: &[(&str, &str)] = &[
    (
        "common.h",
        include_str!("../../../tests/compat/cprog/common.h"),
    ),
    ("util.c", include_str!("../../../tests/compat/cprog/util.c")),
    (
        "strtab.c",
        include_str!("../../../tests/compat/cprog/strtab.c"),
    ),
    ("vec.c", include_str!("../../../tests/compat/cprog/vec.c")),
    ("tree.c", include_str!("../../../tests/compat/cprog/tree.c")),
    ("main.c", include_str!("../../../tests/compat/cprog/main.c")),
];

/// CPython regression-test modules that stress allocation (bounded run).
const CPY_TESTS: &[&str] = &[
    "test_dict",
    "test_list",
    "test_set",
    "test_unicode",
    "test_json",
    "test_pickle",
    "test_re",
    "test_threading",
    "test_bytes",
    "test_collections",
    "test_deque",
    "test_tuple",
];
/// Added by `--full`.
const CPY_TESTS_FULL: &[&str] = &[
    "test_itertools",
    "test_gc",
    "test_weakref",
    "test_decimal",
    "test_ast",
    "test_marshal",
    "test_zlib",
    "test_hashlib",
    "test_codecs",
    "test_heapq",
    "test_array",
    "test_ordered_dict",
    "test_struct",
    "test_memoryview",
    "test_copy",
    "test_string",
    "test_sort",
    "test_float",
    "test_long",
    "test_queue",
    "test_functools",
    "test_enum",
];

const PEERS: &[(&str, &str)] = &[
    ("mimalloc", "libmimalloc.so.2"),
    ("jemalloc", "libjemalloc.so.2"),
    ("tcmalloc", "libtcmalloc_minimal.so.4"),
];
const LIB_DIRS: &[&str] = &[
    "/usr/lib/x86_64-linux-gnu",
    "/usr/lib64",
    "/usr/lib",
    "/usr/local/lib",
];
const PROGRAMS: &[&str] = &[
    "python",
    "cpython-tests",
    "sort",
    "sqlite3",
    "git",
    "gcc",
    "redis",
];

#[derive(Args)]
pub struct CompatArgs {
    /// hakmem profile(s): speed, balanced. Repeat or comma-separate for one hakmem column each;
    /// without it, one column with the allocator's default profile.
    #[arg(long, short, value_delimiter = ',')]
    pub profile: Vec<String>,
    /// The long versions (5x the data, more CPython test modules, more redis requests).
    #[arg(long)]
    pub full: bool,
    /// Allocator columns, comma separated: glibc, hakmem, mimalloc, jemalloc, tcmalloc.
    /// glibc is always run (it is the reference); a peer that is not installed is skipped.
    #[arg(long, value_delimiter = ',', default_value = "glibc,hakmem,mimalloc")]
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

// ---------------------------------------------------------------------------------------------
// allocators

#[derive(Clone)]
struct Alloc {
    label: String,
    preload: Option<PathBuf>,
    profile: Option<String>,
    is_hakmem: bool,
}

impl Alloc {
    /// Apply this allocator to a command: LD_PRELOAD and HAKMEM_PROFILE, nothing inherited.
    fn apply(&self, cmd: &mut Command) {
        cmd.env_remove("LD_PRELOAD");
        if !self.is_hakmem {
            for (k, _) in std::env::vars_os() {
                if k.to_string_lossy().starts_with("HAKMEM_") {
                    cmd.env_remove(&k);
                }
            }
        }
        if let Some(p) = &self.preload {
            cmd.env("LD_PRELOAD", p);
        }
        if let Some(p) = &self.profile {
            cmd.env("HAKMEM_PROFILE", p);
        }
    }
}

/// Check that a preloaded library really loads: a child's /proc/self/maps must map it, and
/// ld.so must not complain. Without this a typo would silently compare glibc with glibc.
fn probe(c: &Alloc) -> Result<()> {
    let Some(lib) = &c.preload else { return Ok(()) };
    let mut cmd = Command::new("cat");
    c.apply(&mut cmd);
    let out = cmd
        .arg("/proc/self/maps")
        .stdin(Stdio::null())
        .output()
        .context("running cat /proc/self/maps")?;
    let maps = String::from_utf8_lossy(&out.stdout);
    let real = lib.canonicalize().unwrap_or_else(|_| lib.clone());
    let err = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() || err.contains("ld.so") || !maps.contains(&*real.to_string_lossy()) {
        bail!(
            "{}: {} is not loaded by LD_PRELOAD (exit {}, stderr: {})",
            c.label,
            lib.display(),
            out.status,
            err.trim()
        );
    }
    Ok(())
}

fn find_lib(name: &str) -> Option<PathBuf> {
    LIB_DIRS
        .iter()
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
}

fn check_profile(p: &str) -> Result<()> {
    match p {
        "speed" | "balanced" | "MIXED_TINYV3_C7_SAFE" | "MIXED_TINYV3_C7_BALANCED" => Ok(()),
        _ => bail!("unknown profile {p:?}; accepted: speed, balanced"),
    }
}

fn columns(a: &CompatArgs, notes: &mut Vec<String>) -> Result<Vec<Alloc>> {
    let mut cols = vec![Alloc {
        label: "glibc".into(),
        preload: None,
        profile: None,
        is_hakmem: false,
    }];
    for name in &a.allocators {
        match name.as_str() {
            "glibc" => {}
            "hakmem" => {
                let lib = crate::paths::libhakmem()?;
                if a.profile.is_empty() {
                    cols.push(Alloc {
                        label: "hakmem".into(),
                        preload: Some(lib.clone()),
                        profile: None,
                        is_hakmem: true,
                    });
                }
                for p in &a.profile {
                    check_profile(p)?;
                    cols.push(Alloc {
                        label: format!("hakmem:{p}"),
                        preload: Some(lib.clone()),
                        profile: Some(p.clone()),
                        is_hakmem: true,
                    });
                }
            }
            other => {
                let Some((_, file)) = PEERS.iter().find(|(n, _)| *n == other) else {
                    bail!("unknown allocator {other:?}; accepted: glibc, hakmem, mimalloc, jemalloc, tcmalloc");
                };
                match find_lib(file) {
                    Some(lib) => cols.push(Alloc { label: other.into(), preload: Some(lib), profile: None, is_hakmem: false }),
                    None => notes.push(format!("{other}: column skipped, {file} is not installed (scripts/setup.sh installs it)")),
                }
            }
        }
    }
    for c in &cols {
        probe(c)?;
    }
    if !cols.iter().any(|c| c.is_hakmem) {
        notes.push("no hakmem column (--allocators without hakmem): nothing is checked".into());
    }
    Ok(cols)
}

// ---------------------------------------------------------------------------------------------
// running a measured process

#[derive(Clone, Copy, PartialEq, Debug)]
enum Exit {
    Code(i32),
    Signal(i32),
    Timeout,
}

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Exit::Code(c) => write!(f, "exit {c}"),
            Exit::Signal(s) => write!(f, "killed by signal {s}{}", signal_name(*s)),
            Exit::Timeout => write!(f, "TIMEOUT"),
        }
    }
}

fn signal_name(s: i32) -> &'static str {
    match s {
        libc::SIGSEGV => " (SIGSEGV)",
        libc::SIGABRT => " (SIGABRT)",
        libc::SIGBUS => " (SIGBUS)",
        libc::SIGKILL => " (SIGKILL)",
        libc::SIGILL => " (SIGILL)",
        libc::SIGFPE => " (SIGFPE)",
        _ => "",
    }
}

struct Measured {
    exit: Exit,
    wall: f64,
    /// user + system CPU seconds of the process and its waited-for descendants
    cpu: f64,
    maxrss_kb: u64,
}

/// A child in its own process group, with a watchdog that kills the group at the deadline.
struct Running {
    pid: i32,
    start: Instant,
    stop: mpsc::Sender<()>,
    timed_out: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

fn spawn(mut cmd: Command, timeout: Duration) -> Result<Running> {
    cmd.stdin(Stdio::null()).process_group(0);
    // A shell that starts us in the background (CI, `cmd &`) ignores SIGINT and SIGQUIT, and
    // children inherit that: CPython's test_threading.InterruptMainTests then fail on every
    // allocator. Programs run with the default dispositions, as from a terminal.
    // SAFETY: signal(2) is async-signal-safe, allowed between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            libc::signal(libc::SIGINT, libc::SIG_DFL);
            libc::signal(libc::SIGQUIT, libc::SIG_DFL);
            Ok(())
        });
    }
    let start = Instant::now();
    let child = cmd
        .spawn()
        .with_context(|| format!("cannot start {:?}", cmd.get_program()))?;
    let pid = child.id() as i32;
    drop(child); // reaped by wait4 below, not by std
    let (stop, rx) = mpsc::channel::<()>();
    let timed_out = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = timed_out.clone();
    std::thread::spawn(move || {
        if let Err(mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(timeout) {
            flag.store(true, std::sync::atomic::Ordering::SeqCst);
            // SAFETY: kill(2) on our own child's process group.
            unsafe { libc::kill(-pid, libc::SIGKILL) };
        }
    });
    Ok(Running {
        pid,
        start,
        stop,
        timed_out,
    })
}

impl Running {
    fn wait(self) -> Measured {
        let mut status = 0;
        // SAFETY: rusage is plain data; wait4 fills it in.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        loop {
            // SAFETY: waiting for our own child.
            let r = unsafe { libc::wait4(self.pid, &mut status, 0, &mut ru) };
            if r == self.pid {
                break;
            }
            if r < 0 && std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
                break;
            }
        }
        let wall = self.start.elapsed().as_secs_f64();
        let _ = self.stop.send(());
        // Stragglers of the group (a daemon a script left behind) go too.
        // SAFETY: kill(2) of the group we created; ESRCH when it is empty.
        unsafe { libc::kill(-self.pid, libc::SIGKILL) };
        let exit = if self.timed_out.load(std::sync::atomic::Ordering::SeqCst) {
            Exit::Timeout
        } else if libc::WIFEXITED(status) {
            Exit::Code(libc::WEXITSTATUS(status))
        } else if libc::WIFSIGNALED(status) {
            Exit::Signal(libc::WTERMSIG(status))
        } else {
            Exit::Code(-1)
        };
        let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
        Measured {
            exit,
            wall,
            cpu: tv(ru.ru_utime) + tv(ru.ru_stime),
            maxrss_kb: ru.ru_maxrss.max(0) as u64,
        }
    }
}

/// Run `cmd` in `dir` with stdout to `dir/stdout.txt` and stderr to `dir/stderr.txt`.
fn run_measured(mut cmd: Command, dir: &Path, timeout: Duration) -> Result<(Measured, Vec<u8>)> {
    let out = dir.join("stdout.txt");
    let err = dir.join("stderr.txt");
    cmd.current_dir(dir)
        .stdout(fs::File::create(&out)?)
        .stderr(fs::File::create(&err)?);
    let m = spawn(cmd, timeout)?.wait();
    Ok((m, fs::read(&out).unwrap_or_default()))
}

fn stderr_tail(dir: &Path) -> String {
    let s = fs::read_to_string(dir.join("stderr.txt")).unwrap_or_default();
    let lines: Vec<&str> = s.lines().filter(|l| !l.trim().is_empty()).collect();
    let tail = &lines[lines.len().saturating_sub(3)..];
    tail.join(" | ").chars().take(300).collect()
}

fn fnv64(data: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in data {
        h ^= *b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

// ---------------------------------------------------------------------------------------------
// outcomes

/// What one program produced under one allocator.
struct Outcome {
    /// Compared between allocators: exit status and normalised output.
    result: String,
    /// Short form for the table.
    summary: String,
    /// The run passed on its own terms (exit 0, all checks good).
    ok: bool,
    wall: f64,
    cpu: f64,
    maxrss_kb: u64,
    /// Extra measurements (redis throughput, memory).
    metrics: Vec<(String, String)>,
    /// Why it failed, for the report.
    detail: String,
    /// What the allocator itself printed on stderr (hakmem columns).
    messages: Vec<String>,
}

impl Outcome {
    fn from_output(m: &Measured, stdout: &[u8], dir: &Path) -> Outcome {
        let ok = m.exit == Exit::Code(0);
        let h = fnv64(stdout);
        let summary = if ok {
            format!("ok {:08x}", h as u32)
        } else {
            format!("{} {:08x}", m.exit, h as u32)
        };
        Outcome {
            result: format!("{}\n{}", m.exit, String::from_utf8_lossy(stdout)),
            summary,
            ok,
            wall: m.wall,
            cpu: m.cpu,
            maxrss_kb: m.maxrss_kb,
            metrics: vec![],
            detail: if ok { String::new() } else { stderr_tail(dir) },
            messages: vec![],
        }
    }

    fn error(e: anyhow::Error) -> Outcome {
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

struct Ctx {
    full: bool,
    timeout: Duration,
    python: Option<PathBuf>,
    /// Shared inputs (the sort file), written once.
    inputs: PathBuf,
}

// ---------------------------------------------------------------------------------------------
// programs

fn which(prog: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(prog))
        .find(|p| p.is_file())
}

/// A python3 whose `test` package holds the regression tests; the real executable, not a
/// pyenv shell shim (so the program measured is python itself).
fn find_python() -> Option<PathBuf> {
    let mut cands: Vec<PathBuf> = vec![PathBuf::from("/usr/bin/python3")];
    if let Some(p) = which("python3") {
        cands.push(p);
    }
    for c in cands {
        let Ok(out) = Command::new(&c)
            .args(["-c", "import sys, test.test_dict; print(sys.executable)"])
            .env_remove("LD_PRELOAD")
            .stderr(Stdio::null())
            .output()
        else {
            continue;
        };
        if out.status.success() {
            let exe = String::from_utf8_lossy(&out.stdout).trim().to_string();
            if !exe.is_empty() && Path::new(&exe).is_file() {
                return Some(PathBuf::from(exe));
            }
        }
    }
    None
}

/// Why a program cannot run here, or None when it can.
fn missing(name: &str, ctx: &Ctx) -> Option<String> {
    let need: &[&str] = match name {
        "python" | "cpython-tests" => {
            return if ctx.python.is_none() {
                Some(
                    "no python3 with the `test` package (apt-get install libpython3.11-testsuite)"
                        .into(),
                )
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
    let absent: Vec<&str> = need
        .iter()
        .copied()
        .filter(|p| which(p).is_none())
        .collect();
    if absent.is_empty() {
        None
    } else {
        Some(format!(
            "not installed: {} (scripts/setup.sh installs it)",
            absent.join(", ")
        ))
    }
}

fn describe(name: &str, ctx: &Ctx) -> String {
    let f = ctx.full;
    match name {
        "python" => format!("python3 py_alloc.py {}", if f { 4 } else { 1 }),
        "cpython-tests" => format!("python3 -m test ({} modules)", cpy_tests(f).len()),
        "sort" => format!("sort x3, {} lines", sort_lines(f)),
        "sqlite3" => format!("sqlite3 < sqlite.sql, {} rows", if f { 500_000 } else { 100_000 }),
        "git" => format!("git.sh, {} files", if f { 10_000 } else { 2_000 }),
        "gcc" => format!("gcc.sh (5 units, -O2 and -O0), scale {}", if f { 3 } else { 1 }),
        "redis" => format!(
            "redis-server; {} keys + {NLISTS} lists + {NHASHES} hashes written, redis-benchmark -n {} -P 8 -c 16 -t set,get,lpush,hset -d {:?}, keys read back, BGSAVE, restart from the RDB, keys read back",
            redis_keys(f),
            redis_bench_n(f),
            REDIS_BENCH_SIZES
        ),
        _ => String::new(),
    }
}

fn cpy_tests(full: bool) -> Vec<&'static str> {
    let mut v = CPY_TESTS.to_vec();
    if full {
        v.extend_from_slice(CPY_TESTS_FULL);
    }
    v
}
fn sort_lines(full: bool) -> usize {
    if full {
        5_000_000
    } else {
        1_000_000
    }
}
fn redis_keys(full: bool) -> usize {
    if full {
        100_000
    } else {
        20_000
    }
}
fn redis_bench_n(full: bool) -> usize {
    if full {
        100_000
    } else {
        20_000
    }
}

/// Lines the allocator wrote on stderr ("hakmem: ..."), from every stderr file of a run.
/// Without HAKMEM_STATS any such line is a warning or an error worth showing.
fn allocator_messages(dir: &Path) -> Vec<String> {
    let mut v = Vec::new();
    let Ok(rd) = fs::read_dir(dir) else { return v };
    let mut files: Vec<PathBuf> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with("stderr.txt"))
        .collect();
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

fn run_program(name: &str, ctx: &Ctx, col: &Alloc, dir: &Path) -> Outcome {
    let r = fs::create_dir_all(dir)
        .map_err(anyhow::Error::from)
        .and_then(|_| match name {
            "python" => run_python(ctx, col, dir),
            "cpython-tests" => run_cpython_tests(ctx, col, dir),
            "sort" => run_sort(ctx, col, dir),
            "sqlite3" => run_sqlite(ctx, col, dir),
            "git" => {
                let _ = fs::remove_dir_all(dir);
                fs::create_dir_all(dir)?;
                run_script(
                    ctx,
                    col,
                    dir,
                    "git.sh",
                    GIT_SH,
                    if ctx.full { "10000" } else { "2000" },
                )
            }
            "gcc" => run_gcc(ctx, col, dir),
            "redis" => run_redis(ctx, col, dir),
            _ => Err(anyhow!("unknown program {name}")),
        });
    let mut o = r.unwrap_or_else(Outcome::error);
    if col.is_hakmem && std::env::var_os("HAKMEM_STATS").is_none() {
        o.messages = allocator_messages(dir);
    }
    o
}

fn base_cmd(prog: impl AsRef<std::ffi::OsStr>, col: &Alloc) -> Command {
    let mut c = Command::new(prog);
    col.apply(&mut c);
    c.env("PYTHONHASHSEED", "0")
        .env("PYTHONDONTWRITEBYTECODE", "1");
    c
}

fn run_python(ctx: &Ctx, col: &Alloc, dir: &Path) -> Result<Outcome> {
    let py = ctx.python.as_ref().context("no python")?;
    fs::write(dir.join("py_alloc.py"), PY_ALLOC)?;
    let mut c = base_cmd(py, col);
    c.args(["py_alloc.py", if ctx.full { "4" } else { "1" }]);
    let (m, out) = run_measured(c, dir, ctx.timeout)?;
    let mut o = Outcome::from_output(&m, &out, dir);
    if o.ok && !String::from_utf8_lossy(&out).ends_with("done\n") {
        o.ok = false;
        o.detail = "output does not end with `done`".into();
    }
    Ok(o)
}

/// One line per test case: `name status result [failure|error]`, from regrtest's JUnit XML.
fn junit_cases(xml: &str) -> Vec<String> {
    fn attr(chunk: &str, key: &str) -> String {
        let pat = format!("{key}=\"");
        chunk
            .find(&pat)
            .and_then(|i| chunk[i + pat.len()..].split('"').next())
            .unwrap_or("")
            .to_string()
    }
    let mut v = Vec::new();
    for chunk in xml.split("<testcase ").skip(1) {
        let head_end = chunk.find('>').unwrap_or(chunk.len());
        let head = &chunk[..head_end];
        let body_end = chunk.find("</testcase>").unwrap_or(head_end);
        let body = if head.ends_with('/') {
            ""
        } else {
            &chunk[..body_end]
        };
        let mut line = format!(
            "{} {} {}",
            attr(head, "name"),
            attr(head, "status"),
            attr(head, "result")
        );
        if body.contains("<failure") {
            line.push_str(" FAILURE");
        }
        if body.contains("<error") {
            line.push_str(" ERROR");
        }
        if body.contains("<skipped") {
            line.push_str(" skipped");
        }
        v.push(line);
    }
    v.sort();
    v
}

fn run_cpython_tests(ctx: &Ctx, col: &Alloc, dir: &Path) -> Result<Outcome> {
    let py = ctx.python.as_ref().context("no python")?;
    let tests = cpy_tests(ctx.full);
    let mut c = base_cmd(py, col);
    c.args(["-m", "test", "--junit-xml", "junit.xml"])
        .args(&tests);
    let (m, out) = run_measured(c, dir, ctx.timeout)?;
    let xml = fs::read_to_string(dir.join("junit.xml")).unwrap_or_default();
    let cases = junit_cases(&xml);
    let text = String::from_utf8_lossy(&out);
    // The module-level verdicts of regrtest's summary ("3 tests OK.", "1 test failed: ...").
    let mut summary_lines = Vec::new();
    if let Some(i) = text.rfind("== Tests result") {
        for l in text[i..].lines() {
            if !l.starts_with("Total duration") && !l.trim().is_empty() {
                summary_lines.push(l.trim().to_string());
            }
        }
    }
    let bad = cases
        .iter()
        .filter(|c| c.contains("FAILURE") || c.contains("ERROR"))
        .count();
    let skipped = cases.iter().filter(|c| c.contains("skipped")).count();
    let ok = m.exit == Exit::Code(0) && !cases.is_empty() && bad == 0;
    let summary = if m.exit == Exit::Timeout || matches!(m.exit, Exit::Signal(_)) {
        format!("{} after {} cases", m.exit, cases.len())
    } else {
        format!(
            "{} pass {} fail {} skip",
            cases.len() - bad - skipped,
            bad,
            skipped
        )
    };
    let detail = if ok {
        String::new()
    } else {
        let failed: Vec<&String> = cases
            .iter()
            .filter(|c| c.contains("FAILURE") || c.contains("ERROR"))
            .take(5)
            .collect();
        format!("{}; {}; {:?}", m.exit, summary_lines.join(" "), failed)
    };
    Ok(Outcome {
        result: format!(
            "{}\n{}\n{}",
            m.exit,
            summary_lines.join("\n"),
            cases.join("\n")
        ),
        summary,
        ok,
        wall: m.wall,
        cpu: m.cpu,
        maxrss_kb: m.maxrss_kb,
        metrics: vec![],
        detail,
        messages: vec![],
    })
}

/// The sort input: deterministic lines of words and numbers, some duplicates, varied lengths.
fn sort_input(path: &Path, lines: usize) -> Result<()> {
    if path.is_file() {
        return Ok(());
    }
    let mut w = std::io::BufWriter::new(fs::File::create(path)?);
    let mut x: u32 = 1234567;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        x
    };
    const WORDS: &[&str] = &[
        "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india",
        "juliet", "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo", "sierra",
        "tango",
    ];
    for i in 0..lines {
        let r = next();
        let a = WORDS[(r % 20) as usize];
        let b = WORDS[((r >> 5) % 20) as usize];
        let pad = "x".repeat(((r >> 10) % 40) as usize);
        // every 10th line repeats an earlier key, so sort -u has work to do
        let key = if i % 10 == 0 { (r >> 8) % 1000 } else { r };
        writeln!(w, "{a}{b}{pad} {key:x} {} {}", (r >> 3) % 100_000, i % 7)?;
    }
    w.flush()?;
    Ok(())
}

fn run_sort(ctx: &Ctx, col: &Alloc, dir: &Path) -> Result<Outcome> {
    let input = ctx
        .inputs
        .join(format!("sort-{}.txt", sort_lines(ctx.full)));
    sort_input(&input, sort_lines(ctx.full))?;
    let local = dir.join("input.txt");
    let _ = fs::remove_file(&local);
    fs::hard_link(&input, &local).or_else(|_| fs::copy(&input, &local).map(|_| ()))?;
    fs::write(dir.join("sort.sh"), SORT_SH)?;
    let mut c = base_cmd("sh", col);
    c.arg("sort.sh");
    let (m, out) = run_measured(c, dir, ctx.timeout)?;
    for f in ["input.txt", "s1.txt", "s2.txt", "s3.txt"] {
        let _ = fs::remove_file(dir.join(f));
    }
    Ok(Outcome::from_output(&m, &out, dir))
}

fn run_sqlite(ctx: &Ctx, col: &Alloc, dir: &Path) -> Result<Outcome> {
    let rows = if ctx.full { "500000" } else { "100000" };
    fs::write(dir.join("sqlite.sql"), SQLITE_SQL.replace("@ROWS@", rows))?;
    let _ = fs::remove_file(dir.join("db.sqlite"));
    let mut c = base_cmd("sqlite3", col);
    c.arg("db.sqlite").stdin(Stdio::null());
    // sqlite3 reads the script with .read (stdin is /dev/null in measured runs)
    c.args(["-cmd", ".read sqlite.sql", ".exit"]);
    let (m, out) = run_measured(c, dir, ctx.timeout)?;
    let _ = fs::remove_file(dir.join("db.sqlite"));
    let mut o = Outcome::from_output(&m, &out, dir);
    if o.ok && !String::from_utf8_lossy(&out).contains("\nok\n") {
        o.ok = false;
        o.detail = "PRAGMA integrity_check did not say ok".into();
    }
    Ok(o)
}

/// `sh FILE ARG` in `dir` (which the caller has emptied and filled with any inputs).
fn run_script(
    ctx: &Ctx,
    col: &Alloc,
    dir: &Path,
    file: &str,
    text: &str,
    arg: &str,
) -> Result<Outcome> {
    fs::write(dir.join(file), text)?;
    let mut c = base_cmd("sh", col);
    c.args([file, arg]);
    let (m, out) = run_measured(c, dir, ctx.timeout)?;
    Ok(Outcome::from_output(&m, &out, dir))
}

fn run_gcc(ctx: &Ctx, col: &Alloc, dir: &Path) -> Result<Outcome> {
    let _ = fs::remove_dir_all(dir);
    fs::create_dir_all(dir.join("cprog"))?;
    for (name, text) in CPROG {
        fs::write(dir.join("cprog").join(name), text)?;
    }
    run_script(
        ctx,
        col,
        dir,
        "gcc.sh",
        GCC_SH,
        if ctx.full { "3" } else { "1" },
    )
}

// ---------------------------------------------------------------------------------------------
// redis

/// A minimal RESP client, enough for SET/GET/LPUSH/HSET/... with pipelining.
struct Resp {
    w: TcpStream,
    r: BufReader<TcpStream>,
}

#[derive(Debug, PartialEq)]
enum Reply {
    Simple(String),
    Error(String),
    Int(i64),
    Bulk(Option<Vec<u8>>),
    Array(Option<Vec<Reply>>),
}

impl Resp {
    fn connect(port: u16) -> Result<Resp> {
        let s = TcpStream::connect(("127.0.0.1", port))?;
        s.set_read_timeout(Some(Duration::from_secs(120)))?;
        Ok(Resp {
            w: s.try_clone()?,
            r: BufReader::with_capacity(1 << 16, s),
        })
    }

    fn encode(buf: &mut Vec<u8>, args: &[&[u8]]) {
        buf.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
        for a in args {
            buf.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            buf.extend_from_slice(a);
            buf.extend_from_slice(b"\r\n");
        }
    }

    fn line(&mut self) -> Result<String> {
        let mut l = String::new();
        if self.r.read_line(&mut l)? == 0 {
            bail!("redis closed the connection");
        }
        Ok(l.trim_end_matches(['\r', '\n']).to_string())
    }

    fn read(&mut self) -> Result<Reply> {
        let l = self.line()?;
        let (t, rest) = l.split_at(1.min(l.len()));
        Ok(match t {
            "+" => Reply::Simple(rest.into()),
            "-" => Reply::Error(rest.into()),
            ":" => Reply::Int(rest.parse()?),
            "$" => {
                let n: i64 = rest.parse()?;
                if n < 0 {
                    Reply::Bulk(None)
                } else {
                    let mut b = vec![0u8; n as usize + 2];
                    self.r.read_exact(&mut b)?;
                    b.truncate(n as usize);
                    Reply::Bulk(Some(b))
                }
            }
            "*" => {
                let n: i64 = rest.parse()?;
                if n < 0 {
                    Reply::Array(None)
                } else {
                    let mut v = Vec::with_capacity(n as usize);
                    for _ in 0..n {
                        v.push(self.read()?);
                    }
                    Reply::Array(Some(v))
                }
            }
            _ => bail!("bad RESP line {l:?}"),
        })
    }

    /// Send a batch of commands in one write, read all replies.
    fn pipeline(&mut self, cmds: &[Vec<Vec<u8>>]) -> Result<Vec<Reply>> {
        let mut buf = Vec::new();
        for c in cmds {
            let refs: Vec<&[u8]> = c.iter().map(|a| a.as_slice()).collect();
            Self::encode(&mut buf, &refs);
        }
        self.w.write_all(&buf)?;
        cmds.iter().map(|_| self.read()).collect()
    }

    fn cmd(&mut self, args: &[&str]) -> Result<Reply> {
        let c: Vec<Vec<u8>> = args.iter().map(|a| a.as_bytes().to_vec()).collect();
        Ok(self.pipeline(&[c])?.remove(0))
    }

    fn text(&mut self, args: &[&str]) -> Result<String> {
        match self.cmd(args)? {
            Reply::Bulk(Some(b)) => Ok(String::from_utf8_lossy(&b).into_owned()),
            Reply::Simple(s) => Ok(s),
            other => bail!("{args:?}: unexpected reply {other:?}"),
        }
    }
}

/// The value of key `i`: mixed sizes (mostly small, some KB, a few 64-200 KB), content from i.
fn redis_value(i: usize) -> Vec<u8> {
    let mut x = (i as u32).wrapping_mul(2654435761).wrapping_add(12345) | 1;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    let len = match x % 100 {
        0 => 65536 + (x as usize >> 8) % 131072,
        1..=14 => 1024 + (x as usize >> 8) % 8192,
        _ => 1 + (x as usize >> 8) % 200,
    };
    let seed = format!("v{i}:");
    let mut v = Vec::with_capacity(len);
    while v.len() < len {
        v.extend_from_slice(seed.as_bytes());
        v.push(b'a' + (v.len() % 26) as u8);
    }
    v.truncate(len);
    v
}

fn free_port() -> Result<u16> {
    let l = TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

fn start_redis(
    col: &Alloc,
    dir: &Path,
    port: u16,
    log: &str,
    timeout: Duration,
) -> Result<(Running, Resp)> {
    let mut c = base_cmd("redis-server", col);
    c.args([
        "--port",
        &port.to_string(),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
    ])
    .args([
        "--daemonize",
        "no",
        "--protected-mode",
        "no",
        "--dbfilename",
        "dump.rdb",
        "--logfile",
        "",
    ])
    .arg("--dir")
    .arg(dir)
    .current_dir(dir)
    .stdout(fs::File::create(dir.join(format!("{log}.stdout.txt")))?)
    .stderr(fs::File::create(dir.join(format!("{log}.stderr.txt")))?);
    let run = spawn(c, timeout)?;
    let t0 = Instant::now();
    loop {
        if let Ok(mut r) = Resp::connect(port) {
            match r.cmd(&["PING"]) {
                Ok(Reply::Simple(s)) if s == "PONG" => return Ok((run, r)),
                _ => {}
            }
        }
        // SAFETY: probing whether our child is still alive.
        if unsafe { libc::kill(run.pid, 0) } != 0 || t0.elapsed() > Duration::from_secs(20) {
            let m = run.wait();
            bail!(
                "redis-server did not answer on port {port} ({}); see {log}.stdout.txt",
                m.exit
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn stop_redis(run: Running, mut r: Resp) -> Measured {
    // SHUTDOWN closes the connection without a reply.
    let _ = r.cmd(&["SHUTDOWN", "NOSAVE"]);
    run.wait()
}

fn info_field(info: &str, key: &str) -> String {
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}:")))
        .unwrap_or("?")
        .trim()
        .to_string()
}

fn proc_status_kb(pid: i32, key: &str) -> u64 {
    fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix(&format!("{key}:")))
                .and_then(|v| v.split_whitespace().next().and_then(|n| n.parse().ok()))
        })
        .unwrap_or(0)
}

/// Value sizes (-d) of the redis-benchmark runs.
const REDIS_BENCH_SIZES: [usize; 3] = [16, 256, 2048];
const NLISTS: usize = 200;
const NHASHES: usize = 200;
const NITEMS: usize = 50;

/// Write the known keys: strings, lists and hashes.
fn redis_write(r: &mut Resp, nkeys: usize) -> Result<()> {
    for chunk in (0..nkeys).collect::<Vec<_>>().chunks(500) {
        let cmds: Vec<Vec<Vec<u8>>> = chunk
            .iter()
            .map(|&i| {
                vec![
                    b"SET".to_vec(),
                    format!("ck:{i}").into_bytes(),
                    redis_value(i),
                ]
            })
            .collect();
        for rep in r.pipeline(&cmds)? {
            if rep != Reply::Simple("OK".into()) {
                bail!("SET replied {rep:?}");
            }
        }
    }
    let mut cmds = Vec::new();
    for j in 0..NLISTS {
        for k in 0..NITEMS {
            cmds.push(vec![
                b"LPUSH".to_vec(),
                format!("cl:{j}").into_bytes(),
                redis_value(j * NITEMS + k),
            ]);
        }
    }
    for j in 0..NHASHES {
        for k in 0..NITEMS {
            cmds.push(vec![
                b"HSET".to_vec(),
                format!("ch:{j}").into_bytes(),
                format!("f{k}").into_bytes(),
                redis_value(j * 7 + k),
            ]);
        }
    }
    // churn: overwrite every 3rd key with a different size, delete every 11th, append to every 5th
    for i in (0..nkeys).step_by(3) {
        cmds.push(vec![
            b"SET".to_vec(),
            format!("ck:{i}").into_bytes(),
            redis_value(i + 1_000_000),
        ]);
    }
    for i in (0..nkeys).step_by(11) {
        cmds.push(vec![b"DEL".to_vec(), format!("ck:{i}").into_bytes()]);
    }
    for i in (0..nkeys).step_by(5) {
        cmds.push(vec![
            b"APPEND".to_vec(),
            format!("ck:{i}").into_bytes(),
            b"+tail".to_vec(),
        ]);
    }
    for chunk in cmds.chunks(500) {
        for rep in r.pipeline(chunk)? {
            if let Reply::Error(e) = rep {
                bail!("write replied error {e}");
            }
        }
    }
    Ok(())
}

/// What key `ck:i` must hold after redis_write, or None if deleted.
#[allow(clippy::manual_is_multiple_of)] // `%` keeps the workspace's rust-version (1.80)
fn redis_expected(i: usize) -> Option<Vec<u8>> {
    let mut v = if i % 3 == 0 {
        redis_value(i + 1_000_000)
    } else {
        redis_value(i)
    };
    if i % 11 == 0 {
        // deleted; an APPEND after the DEL recreates it with just the tail
        return if i % 5 == 0 {
            Some(b"+tail".to_vec())
        } else {
            None
        };
    }
    if i % 5 == 0 {
        v.extend_from_slice(b"+tail");
    }
    Some(v)
}

/// Read every known key back; return (keys checked, mismatches, first mismatch).
fn redis_verify(r: &mut Resp, nkeys: usize) -> Result<(usize, usize, String)> {
    let mut checked = 0;
    let mut bad = 0;
    let mut first = String::new();
    let mut note = |what: String, bad: &mut usize| {
        *bad += 1;
        if first.is_empty() {
            first = what;
        }
    };
    for chunk in (0..nkeys).collect::<Vec<_>>().chunks(500) {
        let cmds: Vec<Vec<Vec<u8>>> = chunk
            .iter()
            .map(|&i| vec![b"GET".to_vec(), format!("ck:{i}").into_bytes()])
            .collect();
        for (&i, rep) in chunk.iter().zip(r.pipeline(&cmds)?) {
            checked += 1;
            let want = redis_expected(i);
            if rep != Reply::Bulk(want) {
                note(format!("GET ck:{i} wrong"), &mut bad);
            }
        }
    }
    let cmds: Vec<Vec<Vec<u8>>> = (0..NLISTS)
        .map(|j| {
            vec![
                b"LRANGE".to_vec(),
                format!("cl:{j}").into_bytes(),
                b"0".to_vec(),
                b"-1".to_vec(),
            ]
        })
        .collect();
    for (j, rep) in r.pipeline(&cmds)?.into_iter().enumerate() {
        checked += 1;
        let want: Vec<Reply> = (0..NITEMS)
            .rev()
            .map(|k| Reply::Bulk(Some(redis_value(j * NITEMS + k))))
            .collect();
        if rep != Reply::Array(Some(want)) {
            note(format!("LRANGE cl:{j} wrong"), &mut bad);
        }
    }
    let cmds: Vec<Vec<Vec<u8>>> = (0..NHASHES)
        .map(|j| vec![b"HGETALL".to_vec(), format!("ch:{j}").into_bytes()])
        .collect();
    for (j, rep) in r.pipeline(&cmds)?.into_iter().enumerate() {
        checked += 1;
        let mut got = BTreeMap::new();
        if let Reply::Array(Some(items)) = rep {
            for pair in items.chunks(2) {
                if let [Reply::Bulk(Some(k)), Reply::Bulk(Some(v))] = pair {
                    got.insert(k.clone(), v.clone());
                }
            }
        }
        let want: BTreeMap<Vec<u8>, Vec<u8>> = (0..NITEMS)
            .map(|k| (format!("f{k}").into_bytes(), redis_value(j * 7 + k)))
            .collect();
        if got != want {
            note(format!("HGETALL ch:{j} wrong"), &mut bad);
        }
    }
    Ok((checked, bad, first))
}

/// redis-benchmark (not under the allocator: it is the load, the server is measured).
/// Returns requests/s per test name, summed over the value sizes as total requests / total time.
fn redis_bench(r: &mut Resp, port: u16, n: usize, dir: &Path) -> Result<BTreeMap<String, f64>> {
    let mut reqs: BTreeMap<String, (f64, f64)> = BTreeMap::new();
    let mut log = String::new();
    for size in REDIS_BENCH_SIZES {
        // LPUSH grows one list ("mylist") by n values per run: start each size afresh
        r.cmd(&["DEL", "mylist"])?;
        let out = Command::new("redis-benchmark")
            .env_remove("LD_PRELOAD")
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &port.to_string(),
                "-q",
                "-c",
                "16",
                "-P",
                "8",
                "-r",
                "10000",
            ])
            .args([
                "-n",
                &n.to_string(),
                "-d",
                &size.to_string(),
                "-t",
                "set,get,lpush,hset",
            ])
            .stdin(Stdio::null())
            .output()
            .context("redis-benchmark")?;
        let text = String::from_utf8_lossy(&out.stdout).replace('\r', "\n");
        let _ = writeln!(
            log,
            "-- size {size}\n{text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        if !out.status.success() {
            bail!("redis-benchmark -d {size} failed: {}", out.status);
        }
        for l in text.lines() {
            // "SET: 123456.79 requests per second, p50=0.135 msec"
            let Some((name, rest)) = l.split_once(": ") else {
                continue;
            };
            let Some(rps) = rest
                .split_whitespace()
                .next()
                .and_then(|v| v.parse::<f64>().ok())
            else {
                continue;
            };
            if !rest.contains("requests per second") || rps <= 0.0 {
                continue;
            }
            let e = reqs.entry(name.trim().to_string()).or_default();
            e.0 += n as f64;
            e.1 += n as f64 / rps;
        }
    }
    fs::write(dir.join("redis-benchmark.txt"), log)?;
    Ok(reqs.into_iter().map(|(k, (r, t))| (k, r / t)).collect())
}

fn run_redis(ctx: &Ctx, col: &Alloc, dir: &Path) -> Result<Outcome> {
    let _ = fs::remove_dir_all(dir);
    fs::create_dir_all(dir)?;
    let nkeys = redis_keys(ctx.full);
    let port = free_port()?;
    let t0 = Instant::now();
    let (run, mut r) = start_redis(col, dir, port, "server1", ctx.timeout)?;
    let pid = run.pid;
    let phase1 = (|| -> Result<_> {
        redis_write(&mut r, nkeys)?;
        let rps = redis_bench(&mut r, port, redis_bench_n(ctx.full), dir)?;
        let v1 = redis_verify(&mut r, nkeys)?;
        let dbsize = match r.cmd(&["DBSIZE"])? {
            Reply::Int(n) => n,
            other => bail!("DBSIZE: {other:?}"),
        };
        let mem = r.text(&["INFO", "memory"])?;
        let rss_kb = proc_status_kb(pid, "VmRSS");
        // BGSAVE forks: the child writes the RDB on the allocator inherited across fork.
        r.text(&["BGSAVE"])?;
        let t = Instant::now();
        let persist = loop {
            let p = r.text(&["INFO", "persistence"])?;
            if info_field(&p, "rdb_bgsave_in_progress") == "0"
                && info_field(&p, "rdb_changes_since_last_save") == "0"
            {
                break p;
            }
            if t.elapsed() > Duration::from_secs(120) {
                bail!("BGSAVE did not finish in 120 s");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        Ok((
            rps,
            v1,
            dbsize,
            mem,
            rss_kb,
            info_field(&persist, "rdb_last_bgsave_status"),
        ))
    })();
    let m1 = stop_redis(run, r);
    let (rps, v1, dbsize, mem, rss_kb, bgsave) = match phase1 {
        Ok(x) => x,
        Err(e) => {
            let mut o = Outcome::error(e.context(format!("redis-server ({})", m1.exit)));
            o.result = format!("server {}; {}", m1.exit, o.result);
            o.detail = format!(
                "{}; server log: {}",
                o.detail,
                tail_file(&dir.join("server1.stdout.txt"))
            );
            o.wall = t0.elapsed().as_secs_f64();
            o.cpu = m1.cpu;
            o.maxrss_kb = m1.maxrss_kb;
            return Ok(o);
        }
    };
    // Restart from the RDB the forked child wrote, read everything again.
    let (v2, m2) = if bgsave == "ok" {
        let port2 = free_port()?;
        let (run2, mut r2) = start_redis(col, dir, port2, "server2", ctx.timeout)?;
        let v2 = redis_verify(&mut r2, nkeys);
        (v2, Some(stop_redis(run2, r2)))
    } else {
        (Err(anyhow!("BGSAVE status {bgsave}")), None)
    };
    let wall = t0.elapsed().as_secs_f64();
    let (v2c, v2bad, v2first) = match &v2 {
        Ok((c, b, f)) => (*c, *b, f.clone()),
        Err(e) => (0, 1, format!("{e:#}")),
    };
    let exit2 = m2
        .as_ref()
        .map(|m| m.exit.to_string())
        .unwrap_or_else(|| "not run".into());
    let ok = m1.exit == Exit::Code(0)
        && v1.1 == 0
        && bgsave == "ok"
        && v2bad == 0
        && m2.as_ref().map(|m| m.exit) == Some(Exit::Code(0));
    let result = format!(
        "server {}; {} keys checked, {} wrong; bgsave {}; after reload: {} checked, {} wrong; server2 {}",
        m1.exit, v1.0, v1.1, bgsave, v2c, v2bad, exit2
    );
    let mut metrics: Vec<(String, String)> = rps
        .iter()
        .map(|(k, v)| (format!("{k} req/s"), format!("{v:.0}")))
        .collect();
    metrics.push(("dbsize (with benchmark keys)".into(), dbsize.to_string()));
    metrics.push(("used_memory".into(), info_field(&mem, "used_memory_human")));
    metrics.push((
        "used_memory_peak".into(),
        info_field(&mem, "used_memory_peak_human"),
    ));
    metrics.push(("server RSS after load".into(), mib(rss_kb)));
    metrics.push(("server peak RSS".into(), mib(m1.maxrss_kb)));
    Ok(Outcome {
        result,
        summary: if ok {
            format!("ok {} keys x2", v1.0)
        } else {
            format!("FAIL {} wrong", v1.1 + v2bad)
        },
        ok,
        wall,
        cpu: m1.cpu + m2.as_ref().map(|m| m.cpu).unwrap_or(0.0),
        maxrss_kb: m1
            .maxrss_kb
            .max(m2.as_ref().map(|m| m.maxrss_kb).unwrap_or(0)),
        metrics,
        detail: if ok {
            String::new()
        } else {
            format!("{} {}", v1.2, v2first)
        },
        messages: vec![],
    })
}

fn tail_file(p: &Path) -> String {
    let s = fs::read_to_string(p).unwrap_or_default();
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(3)..].join(" | ")
}

fn mib(kb: u64) -> String {
    format!("{:.1} MiB", kb as f64 / 1024.0)
}

// ---------------------------------------------------------------------------------------------
// the report

struct Row {
    program: String,
    what: String,
    skipped: Option<String>,
    cells: Vec<Outcome>,
}

fn verdict(row: &Row, cols: &[Alloc], i: usize) -> &'static str {
    if row.cells[i].result == row.cells[0].result {
        "same"
    } else if cols[i].is_hakmem {
        "DIFFERS"
    } else {
        "differs"
    }
}

fn render(rows: &[Row], cols: &[Alloc], notes: &[String], header: &str, markdown: bool) -> String {
    let mut s = String::new();
    let mut head = vec!["program".to_string()];
    for c in cols {
        head.push(c.label.clone());
    }
    let mut body: Vec<Vec<String>> = Vec::new();
    for r in rows {
        let mut line = vec![r.program.clone()];
        if let Some(why) = &r.skipped {
            line.push(format!("skipped: {why}"));
            body.push(line);
            continue;
        }
        for (i, c) in r.cells.iter().enumerate() {
            let v = if i == 0 {
                String::new()
            } else {
                format!(" [{}]", verdict(r, cols, i))
            };
            line.push(format!(
                "{}, {:.2} s ({:.2} s cpu), {}{v}",
                c.summary,
                c.wall,
                c.cpu,
                mib(c.maxrss_kb)
            ));
        }
        body.push(line);
    }
    if markdown {
        let _ = writeln!(s, "{header}\n");
        let _ = writeln!(s, "Each cell: result, wall time (CPU time of the program's processes), peak RSS; [same] when the result equals glibc's.\n");
        let _ = writeln!(s, "| {} |", head.join(" | "));
        let _ = writeln!(
            s,
            "|{}|",
            head.iter().map(|_| "---").collect::<Vec<_>>().join("|")
        );
        for l in &body {
            let mut l = l.clone();
            l.resize(head.len(), String::new());
            let _ = writeln!(s, "| {} |", l.join(" | "));
        }
    } else {
        let _ = writeln!(
            s,
            "{header} -- each cell: result, wall time (cpu time), peak RSS [verdict against glibc]"
        );
        let mut w: Vec<usize> = head.iter().map(|h| h.len()).collect();
        for l in body.iter().filter(|l| l.len() == head.len()) {
            for (i, c) in l.iter().enumerate() {
                w[i] = w[i].max(c.chars().count());
            }
        }
        for l in std::iter::once(&head).chain(body.iter()) {
            let line: Vec<String> = l
                .iter()
                .enumerate()
                .map(|(i, c)| format!("{:<w$}", c, w = w[i]))
                .collect();
            let _ = writeln!(s, "{}", line.join("  ").trim_end());
        }
    }
    // what each program ran
    let _ = writeln!(s);
    for r in rows {
        let _ = writeln!(
            s,
            "{}{}: {}",
            if markdown { "- " } else { "  " },
            r.program,
            r.what
        );
    }
    // extra measurements (redis)
    for r in rows
        .iter()
        .filter(|r| r.skipped.is_none() && r.cells.iter().any(|c| !c.metrics.is_empty()))
    {
        let mut keys: Vec<String> = Vec::new();
        for c in &r.cells {
            for (k, _) in &c.metrics {
                if !keys.contains(k) {
                    keys.push(k.clone());
                }
            }
        }
        let _ = writeln!(s);
        if markdown {
            let _ = writeln!(s, "{} measurements:\n", r.program);
            let _ = writeln!(
                s,
                "| measure | {} |",
                cols.iter()
                    .map(|c| c.label.as_str())
                    .collect::<Vec<_>>()
                    .join(" | ")
            );
            let _ = writeln!(
                s,
                "|---|{}|",
                cols.iter().map(|_| "---").collect::<Vec<_>>().join("|")
            );
        } else {
            let _ = writeln!(s, "{} measurements:", r.program);
            let _ = writeln!(
                s,
                "  {:<24}{}",
                "measure",
                cols.iter()
                    .map(|c| format!("{:>16}", c.label))
                    .collect::<String>()
            );
        }
        for k in &keys {
            let vals: Vec<String> = r
                .cells
                .iter()
                .map(|c| {
                    c.metrics
                        .iter()
                        .find(|(kk, _)| kk == k)
                        .map(|(_, v)| v.clone())
                        .unwrap_or_else(|| "-".into())
                })
                .collect();
            if markdown {
                let _ = writeln!(s, "| {k} | {} |", vals.join(" | "));
            } else {
                let _ = writeln!(
                    s,
                    "  {:<24}{}",
                    k,
                    vals.iter().map(|v| format!("{v:>16}")).collect::<String>()
                );
            }
        }
    }
    // failures, in full
    let mut problems = Vec::new();
    for r in rows.iter().filter(|r| r.skipped.is_none()) {
        for (i, c) in r.cells.iter().enumerate() {
            let differs = i > 0 && c.result != r.cells[0].result;
            if !c.ok || differs {
                problems.push(format!(
                    "{} under {}: {}{}{}",
                    r.program,
                    cols[i].label,
                    c.summary,
                    if differs {
                        " (result differs from glibc)"
                    } else {
                        ""
                    },
                    if c.detail.is_empty() {
                        String::new()
                    } else {
                        format!(": {}", c.detail)
                    }
                ));
            }
        }
    }
    for r in rows.iter().filter(|r| r.skipped.is_none()) {
        for (i, c) in r.cells.iter().enumerate() {
            for m in c.messages.iter().take(5) {
                problems.push(format!(
                    "{} under {}: the allocator said: {m}",
                    r.program, cols[i].label
                ));
            }
        }
    }
    if !problems.is_empty() {
        let _ = writeln!(s, "\nproblems:");
        for p in problems {
            let _ = writeln!(s, "{}{p}", if markdown { "- " } else { "  " });
        }
    }
    if !notes.is_empty() {
        let _ = writeln!(s, "\nnotes:");
        for n in notes {
            let _ = writeln!(s, "{}{n}", if markdown { "- " } else { "  " });
        }
    }
    s
}

fn first_diff_line(a: &str, b: &str) -> String {
    for (i, (x, y)) in a.lines().zip(b.lines()).enumerate() {
        if x != y {
            return format!("line {}: glibc {:?} vs {:?}", i + 1, trunc(x), trunc(y));
        }
    }
    format!(
        "glibc has {} lines, this run {}",
        a.lines().count(),
        b.lines().count()
    )
}

fn trunc(s: &str) -> String {
    s.chars().take(120).collect()
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
        python: find_python(),
        inputs: work.join("inputs"),
    };
    if let Some(py) = &ctx.python {
        notes.push(format!("python: {}", py.display()));
    }
    for c in &cols {
        if let Some(p) = &c.preload {
            notes.push(format!(
                "{}: LD_PRELOAD={}{}",
                c.label,
                p.display(),
                c.profile
                    .as_ref()
                    .map(|p| format!(" HAKMEM_PROFILE={p}"))
                    .unwrap_or_default()
            ));
        }
    }
    let mode = if a.full { "full" } else { "bounded" };
    eprintln!(
        "hakmem compat ({mode}): columns {}; work dir {}",
        cols.iter()
            .map(|c| c.label.as_str())
            .collect::<Vec<_>>()
            .join(", "),
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
            rows.push(Row {
                program: name.into(),
                what,
                skipped: Some(why),
                cells: vec![],
            });
            continue;
        }
        let mut cells: Vec<Outcome> = Vec::new();
        for (i, col) in cols.iter().enumerate() {
            let dir = work.join(name).join(col.label.replace(':', "-"));
            let o = run_program(name, &ctx, col, &dir);
            let cmp = if i == 0 {
                String::new()
            } else if o.result == cells[0].result {
                ", same as glibc".into()
            } else {
                format!(
                    ", DIFFERS from glibc ({})",
                    first_diff_line(&cells[0].result, &o.result)
                )
            };
            eprintln!(
                "  {name:<14} {:<16} {:<28} {:>7.2} s {:>7.2} s cpu {:>10}{cmp}",
                col.label,
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
        rows.push(Row {
            program: name.into(),
            what,
            skipped: None,
            cells,
        });
    }

    let header = format!("hakmem compat ({mode})");
    print!("{}", render(&rows, &cols, &notes, &header, false));
    if let Some(md) = &a.markdown {
        fs::write(md, render(&rows, &cols, &notes, &header, true))
            .with_context(|| format!("writing {}", md.display()))?;
    }
    let hakmem_differs = rows.iter().filter(|r| r.skipped.is_none()).any(|r| {
        (1..cols.len()).any(|i| cols[i].is_hakmem && r.cells[i].result != r.cells[0].result)
    });
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn junit_cases_reads_outcomes() {
        let xml = r#"<testsuites tests="3"><testsuite tests="3">
<testcase name="test.test_a.T.test_ok" status="run" result="completed" time="0.1" />
<testcase name="test.test_a.T.test_bad" status="run" result="completed" time="0.2"><failure type="AssertionError">boom</failure></testcase>
<testcase name="test.test_a.T.test_skip" status="skipped" result="skipped" time="0.0"><skipped>no</skipped></testcase>
</testsuite></testsuites>"#;
        let v = junit_cases(xml);
        assert_eq!(
            v,
            vec![
                "test.test_a.T.test_bad run completed FAILURE",
                "test.test_a.T.test_ok run completed",
                "test.test_a.T.test_skip skipped skipped skipped",
            ]
        );
        assert!(junit_cases("").is_empty());
    }

    #[test]
    fn redis_values_have_mixed_sizes_and_depend_on_the_key() {
        let sizes: Vec<usize> = (0..2000).map(|i| redis_value(i).len()).collect();
        assert!(sizes.iter().any(|&s| s <= 200));
        assert!(sizes.iter().any(|&s| (1024..=9216).contains(&s)));
        assert!(sizes.iter().any(|&s| s >= 65536));
        assert_ne!(redis_value(1), redis_value(2));
        assert_eq!(redis_value(7), redis_value(7));
        // the expected state after the churn of redis_write
        assert_eq!(redis_expected(11), None); // deleted
        assert_eq!(redis_expected(55).as_deref(), Some(&b"+tail"[..])); // deleted, then appended
        let mut v = redis_value(1_000_015);
        v.extend_from_slice(b"+tail");
        assert_eq!(redis_expected(15), Some(v)); // overwritten (15 % 3 == 0), then appended
        assert_eq!(redis_expected(1), Some(redis_value(1)));
    }

    #[test]
    fn fnv64_known_values() {
        assert_eq!(fnv64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv64(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
