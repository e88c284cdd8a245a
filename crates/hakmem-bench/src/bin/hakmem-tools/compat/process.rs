//! Running one measured program: its own process group, a watchdog at the deadline, wall and
//! CPU time and peak RSS from `wait4`, output to files in its work directory.

use anyhow::{Context, Result};
use std::fs;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

#[derive(Clone, Copy, PartialEq, Debug)]
pub enum Exit {
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

pub struct Measured {
    pub exit: Exit,
    pub wall: f64,
    /// user + system CPU seconds of the process and its waited-for descendants
    pub cpu: f64,
    pub maxrss_kb: u64,
}

/// A child in its own process group, with a watchdog that kills the group at the deadline.
pub struct Running {
    pub pid: i32,
    start: Instant,
    stop: mpsc::Sender<()>,
    timed_out: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

pub fn spawn(mut cmd: Command, timeout: Duration) -> Result<Running> {
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
    let child = cmd.spawn().with_context(|| format!("cannot start {:?}", cmd.get_program()))?;
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
    Ok(Running { pid, start, stop, timed_out })
}

impl Running {
    pub fn wait(self) -> Measured {
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
        Measured { exit, wall, cpu: tv(ru.ru_utime) + tv(ru.ru_stime), maxrss_kb: ru.ru_maxrss.max(0) as u64 }
    }
}

/// Run `cmd` in `dir` with stdout to `dir/stdout.txt` and stderr to `dir/stderr.txt`.
pub fn run_measured(mut cmd: Command, dir: &Path, timeout: Duration) -> Result<(Measured, Vec<u8>)> {
    let out = dir.join("stdout.txt");
    let err = dir.join("stderr.txt");
    cmd.current_dir(dir).stdout(fs::File::create(&out)?).stderr(fs::File::create(&err)?);
    let m = spawn(cmd, timeout)?.wait();
    Ok((m, fs::read(&out).unwrap_or_default()))
}

pub fn stderr_tail(dir: &Path) -> String {
    let s = fs::read_to_string(dir.join("stderr.txt")).unwrap_or_default();
    let lines: Vec<&str> = s.lines().filter(|l| !l.trim().is_empty()).collect();
    let tail = &lines[lines.len().saturating_sub(3)..];
    tail.join(" | ").chars().take(300).collect()
}

pub fn fnv64(data: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in data {
        h ^= *b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

pub fn tail_file(p: &Path) -> String {
    let s = fs::read_to_string(p).unwrap_or_default();
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(3)..].join(" | ")
}

pub fn mib(kb: u64) -> String {
    format!("{:.1} MiB", kb as f64 / 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv64_known_values() {
        assert_eq!(fnv64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv64(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
