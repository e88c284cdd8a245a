//! Helpers shared by the preload test binaries: where libhakmem.so is, and the C
//! programs of tests/c compiled once per test run, a runner that kills a child (and
//! everything it forked) after a deadline, and the check that a fault ended the process
//! with SIGABRT and exactly one `hakmem:` line.

// Each test binary uses a different part of this module.
#![allow(dead_code)]

use std::io::Read;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// target/<profile>/libhakmem.so, next to the deps/ folder holding this test binary.
pub fn lib() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap();
    let so = dir.join("libhakmem.so");
    assert!(so.is_file(), "{} missing: run `cargo build --release` before the tests", so.display());
    so
}

/// Compile tests/c/<name>.c once per test run (one compile at a time: tests run in
/// parallel and must not exec a half-written binary).
pub fn c_prog(name: &str) -> PathBuf {
    compile(name, &["-w"])
}

/// As [`c_prog`], with warnings on (`-Wall -Wextra -pthread`), for programs written to
/// that standard (robust.c compiles without a warning on gcc 12; not -Werror, so a newer
/// compiler's new warning about the deliberate misuse cannot stop the tests).
pub fn c_prog_wall(name: &str) -> PathBuf {
    compile(name, &["-Wall", "-Wextra", "-pthread"])
}

/// As [`c_prog`], with frame pointers and no inlining (the prof box walks the frame
/// chain: the test's allocation sites must keep their frames).
pub fn c_prog_fp(name: &str) -> PathBuf {
    compile(name, &["-w", "-fno-omit-frame-pointer", "-fno-inline", "-fno-optimize-sibling-calls"])
}

/// Compile tests/c/<name>.cc with g++ (C++17, -O0 so no new/delete pair is elided),
/// once per test run.
pub fn cxx_prog(name: &str) -> PathBuf {
    build(name, "g++", "cc", &["-std=c++17", "-O0", "-g", "-Wall", "-Wextra"])
}

fn compile(name: &str, warnings: &[&str]) -> PathBuf {
    // -fno-builtin: gcc must not fold malloc(SIZE_MAX) or free(&x) at compile time.
    let flags: Vec<&str> = ["-O1", "-g", "-fno-builtin"].iter().chain(warnings).copied().collect();
    build(name, "cc", "c", &flags)
}

fn build(name: &str, compiler: &str, ext: &str, flags: &[&str]) -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    static COMPILING: Mutex<()> = Mutex::new(());
    let dir = DIR.get_or_init(|| {
        let exe = std::env::current_exe().unwrap();
        let tag = exe.file_stem().unwrap().to_string_lossy().into_owned();
        let d = std::env::temp_dir().join(format!("hakmem-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    });
    let out = dir.join(name);
    let _one_at_a_time = COMPILING.lock().unwrap_or_else(|e| e.into_inner());
    if !out.exists() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/c").join(format!("{name}.{ext}"));
        let st = Command::new(compiler)
            .args(flags)
            .arg("-o")
            .arg(&out)
            .arg(&src)
            .args(["-lpthread", "-ldl"])
            .status()
            .unwrap_or_else(|e| panic!("{compiler}: {e} (install gcc / g++)"));
        assert!(st.success(), "compiling {name}.{ext} failed");
    }
    out
}

/// `prog args` with LD_PRELOAD=libhakmem.so (when `preload`), no HAKMEM_* variable from the
/// caller's shell (the profile and switches come from each test), then `env`.
pub fn command(prog: &Path, args: &[&str], env: &[(&str, &str)], preload: bool) -> Command {
    let mut c = Command::new(prog);
    c.args(args);
    for (k, _) in std::env::vars() {
        if k.starts_with("HAKMEM_") {
            c.env_remove(k);
        }
    }
    if preload {
        c.env("LD_PRELOAD", lib());
    } else {
        c.env_remove("LD_PRELOAD");
    }
    for (k, v) in env {
        c.env(k, v);
    }
    c
}

/// How a child run ended.
pub struct Run {
    pub what: String,
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    /// Killed at the deadline (with its whole process group).
    pub hung: bool,
    pub elapsed: Duration,
}

impl Run {
    /// Lines of stderr starting with `hakmem: `.
    pub fn hakmem_lines(&self) -> Vec<&str> {
        self.stderr.lines().filter(|l| l.starts_with("hakmem: ")).collect()
    }
    /// "exit 0", "signal 6 (SIGABRT)", "HUNG (killed after 30s)".
    pub fn how(&self) -> String {
        if self.hung {
            return format!("HUNG (killed after {:.0?})", self.elapsed);
        }
        match (self.status.code(), self.status.signal()) {
            (Some(c), _) => format!("exit {c}"),
            (_, Some(s)) => format!("signal {s} ({})", signal_name(s)),
            _ => format!("{:?}", self.status),
        }
    }
    /// Everything needed to see what happened: the command, how it ended, stdout, and
    /// the tail of stderr.
    pub fn describe(&self) -> String {
        let tail: Vec<&str> = self.stderr.lines().rev().take(15).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        format!(
            "{}: {} after {:.1?}\n  stdout: {}\n  stderr (tail): {}",
            self.what,
            self.how(),
            self.elapsed,
            self.stdout.trim().replace('\n', "\n          "),
            tail.join("\n                 ")
        )
    }
    /// `key=value` figure printed on stdout.
    pub fn figure(&self, key: &str) -> Option<f64> {
        self.stdout.split_whitespace().find_map(|w| w.strip_prefix(&format!("{key}=")))?.parse().ok()
    }
}

pub fn signal_name(s: i32) -> &'static str {
    match s {
        libc::SIGABRT => "SIGABRT",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGBUS => "SIGBUS",
        libc::SIGKILL => "SIGKILL",
        libc::SIGILL => "SIGILL",
        libc::SIGFPE => "SIGFPE",
        libc::SIGTRAP => "SIGTRAP",
        _ => "?",
    }
}

/// Run `c` to completion or until `limit`; then SIGKILL its process group (the children it
/// forked too). Output is drained while it runs, so a chatty child cannot block.
pub fn run_child(mut c: Command, what: &str, limit: Duration) -> Run {
    c.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).process_group(0);
    let t = Instant::now();
    let mut child = c.spawn().unwrap_or_else(|e| panic!("{what}: spawn: {e}"));
    let drain = |r: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut v = Vec::new();
            if let Some(mut r) = r {
                let _ = r.read_to_end(&mut v);
            }
            String::from_utf8_lossy(&v).into_owned()
        })
    };
    let out = drain(child.stdout.take().map(|r| Box::new(r) as Box<dyn Read + Send>));
    let err = drain(child.stderr.take().map(|r| Box::new(r) as Box<dyn Read + Send>));
    let mut hung = false;
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if t.elapsed() > limit {
            hung = true;
            // SAFETY: kill(2) on the child's own process group (process_group(0) above).
            unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
            break child.wait().unwrap();
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let elapsed = t.elapsed();
    // A grandchild still holding the pipes is gone with the group kill above; one left
    // running after a normal exit of its parent is killed here so the pipes close.
    // SAFETY: as above; the group may already be empty (ESRCH).
    unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
    Run { what: what.to_string(), status, stdout: out.join().unwrap(), stderr: err.join().unwrap(), hung, elapsed }
}

/// A fault must end the process with SIGABRT and exactly one line
/// `hakmem: <call>(): ... ; aborting`, with `<call>` one of `calls` (any call when empty),
/// naming `addr` when given, and the program must not have run on ("survived").
pub fn check_abort(r: &Run, calls: &[&str], addr: Option<&str>) -> Result<(), String> {
    if r.hung {
        return Err("hung".into());
    }
    if r.stdout.contains("survived") {
        return Err("the fault went unnoticed (the program printed \"survived\")".into());
    }
    if r.status.signal() != Some(libc::SIGABRT) {
        return Err(format!("want SIGABRT, got {}", r.how()));
    }
    let lines = r.hakmem_lines();
    if lines.len() != 1 {
        return Err(format!("want exactly one `hakmem: ` line, got {}: {lines:?}", lines.len()));
    }
    let line = lines[0];
    if !calls.is_empty() && !calls.iter().any(|c| line.starts_with(&format!("hakmem: {c}(): "))) {
        return Err(format!("want `hakmem: {}(): `, got {line:?}", calls.join("()`/`")));
    }
    if !line.ends_with("; aborting") {
        return Err(format!("want `; aborting` at the end: {line:?}"));
    }
    if let Some(a) = addr {
        if !line.contains(a) {
            return Err(format!("want the address {a} in {line:?}"));
        }
    }
    Ok(())
}
