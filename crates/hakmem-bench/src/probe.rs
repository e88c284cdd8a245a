//! The one probe of a process's memory and of the allocator's OS calls.
//!
//! - RSS: `VmRSS` (resident now) and `VmHWM` (high-water mark) from `/proc/<pid>/status`.
//!   [`Status`] keeps the file open and reads it with one `pread` into a stack buffer, so the
//!   soak worker can sample every epoch without allocating; [`rss`] is the one-shot form.
//! - A finished child (`hakmem compat`) is measured by the kernel's account in `wait4`'s
//!   rusage instead: its /proc entry is gone by then.
//! - Stop signals: [`on_stop_signals`] for the soak runner and its worker.
//! - OS calls: `hakmem_os_calls(uint64_t out[3])` (mmap, munmap, madvise since start), found
//!   with `dlsym` when libhakmem.so is preloaded. Other allocators do not export it.

use serde::{Deserialize, Serialize};
use std::fs::File;
use std::os::unix::fs::FileExt;

/// Resident set now and its high-water mark, in KiB.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rss {
    pub rss_kb: u64,
    pub peak_kb: u64,
}

/// `/proc/<pid>/status`, kept open.
pub struct Status {
    file: File,
}

impl Status {
    /// This process.
    pub fn open_self() -> std::io::Result<Status> {
        Ok(Status { file: File::open("/proc/self/status")? })
    }

    /// Another process (its status file is readable while it lives).
    pub fn open(pid: i32) -> std::io::Result<Status> {
        Ok(Status { file: File::open(format!("/proc/{pid}/status"))? })
    }

    /// One sample; no allocation.
    pub fn read(&self) -> Option<Rss> {
        let mut buf = [0u8; 8192];
        let n = self.file.read_at(&mut buf, 0).ok()?;
        parse_status(std::str::from_utf8(&buf[..n]).ok()?)
    }
}

/// This process's RSS (one read of /proc/self/status).
pub fn rss() -> Option<Rss> {
    Status::open_self().ok()?.read()
}

/// `VmRSS` and `VmHWM` from the text of a status file.
pub fn parse_status(status: &str) -> Option<Rss> {
    let field = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix(':')?.split_whitespace().next()?.parse::<u64>().ok())
    };
    Some(Rss { rss_kb: field("VmRSS")?, peak_kb: field("VmHWM")? })
}

/// The allocator's own OS calls since the process started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OsCalls {
    pub mmap: u64,
    pub munmap: u64,
    pub madvise: u64,
}

impl OsCalls {
    pub fn total(&self) -> u64 {
        self.mmap + self.munmap + self.madvise
    }

    /// The calls made since `earlier` (a reading of the same counters).
    pub fn since(&self, earlier: &OsCalls) -> OsCalls {
        OsCalls {
            mmap: self.mmap.saturating_sub(earlier.mmap),
            munmap: self.munmap.saturating_sub(earlier.munmap),
            madvise: self.madvise.saturating_sub(earlier.madvise),
        }
    }
}

type OsCallsFn = unsafe extern "C" fn(*mut u64);

/// `hakmem_os_calls` in this process, if the preloaded allocator exports it.
#[derive(Clone, Copy)]
pub struct OsCallsProbe(Option<OsCallsFn>);

impl OsCallsProbe {
    pub fn lookup() -> OsCallsProbe {
        // SAFETY: dlsym with RTLD_DEFAULT and a NUL-terminated name; the symbol, when present,
        // has the C signature `void hakmem_os_calls(uint64_t out[3])` (include/hakmem.h).
        unsafe {
            let p = libc::dlsym(libc::RTLD_DEFAULT, c"hakmem_os_calls".as_ptr());
            OsCallsProbe(if p.is_null() { None } else { Some(std::mem::transmute::<*mut libc::c_void, OsCallsFn>(p)) })
        }
    }

    pub fn available(&self) -> bool {
        self.0.is_some()
    }

    /// The counts now; no allocation.
    pub fn read(&self) -> Option<OsCalls> {
        let f = self.0?;
        let mut out = [0u64; 3];
        // SAFETY: out has room for the three counts the function writes.
        unsafe { f(out.as_mut_ptr()) };
        Some(OsCalls { mmap: out[0], munmap: out[1], madvise: out[2] })
    }
}

/// Installs `handler` for SIGINT and SIGTERM (restarting interrupted calls). The handler must
/// be async-signal-safe: touch atomics, call kill(2), nothing that allocates or locks.
pub fn on_stop_signals(handler: extern "C" fn(libc::c_int)) {
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: a zeroed sigaction with a handler, an empty mask and SA_RESTART is valid.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = handler as usize;
            libc::sigemptyset(&mut sa.sa_mask);
            sa.sa_flags = libc::SA_RESTART;
            libc::sigaction(sig, &sa, std::ptr::null_mut());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_parsing() {
        let s = "Name:\tx\nVmPeak:\t  1000 kB\nVmHWM:\t    3456 kB\nVmRSS:\t 12 kB\n";
        assert_eq!(parse_status(s), Some(Rss { rss_kb: 12, peak_kb: 3456 }));
        assert_eq!(parse_status("VmRSS:\t12 kB\n"), None, "both fields or none");
        assert_eq!(parse_status("VmRSSX:\t1 kB\nVmHWM:\t2 kB\n"), None);
    }

    #[test]
    fn this_process_is_resident_and_has_no_hakmem() {
        let a = std::hint::black_box(vec![1u8; 8 << 20]);
        let r = rss().unwrap();
        assert!(r.rss_kb >= 8 << 10 && r.peak_kb >= r.rss_kb, "{r:?}");
        drop(a);
        let s = Status::open_self().unwrap();
        assert!(s.read().unwrap().peak_kb >= 8 << 10, "the high-water mark remembers");
        assert!(Status::open(std::process::id() as i32).unwrap().read().is_some());
        // The test binary runs on the system allocator: no hakmem_os_calls.
        assert!(!OsCallsProbe::lookup().available());
        assert_eq!(OsCallsProbe::lookup().read(), None);
    }
}
