//! Out of memory on the Rust side (issue 9): under RLIMIT_AS, `api::malloc` and friends
//! and `GlobalAlloc::alloc` return null (errno ENOMEM) instead of crashing, live blocks keep
//! their contents, and allocation works again once memory is freed. Rust's own
//! `handle_alloc_error` path (an infallible `Vec` allocation) ends in a clean abort with
//! std's message, not a fault inside hakmem.
//!
//! The limit is per process, so each case re-runs this test binary as a child
//! (`--exact <test>`) with `OOM_TEST_CHILD` set; in the child, the same test function
//! sets the limit (VmSize now + 64 MiB) and does the work. Hakmem is this binary's global
//! allocator, so the test harness itself runs on it.

use hakmem::api;
use hakmem::HakMem;
use hakmem::RustTls as T;
use std::alloc::{GlobalAlloc, Layout};
use std::process::Command;

#[global_allocator]
static GLOBAL: HakMem = HakMem;

const MIB: usize = 1 << 20;
const CHILD: &str = "OOM_TEST_CHILD";

fn vm_size() -> usize {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = s.lines().find(|l| l.starts_with("VmSize:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse::<usize>().unwrap() * 1024
}

fn limit_address_space(headroom: usize) {
    let lim = (vm_size() + headroom) as libc::rlim_t;
    let rl = libc::rlimit { rlim_cur: lim, rlim_max: lim };
    // SAFETY: plain syscall on a valid struct.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_AS, &rl) }, 0);
}

fn errno() -> i32 {
    // SAFETY: this thread's errno slot.
    unsafe { *libc::__errno_location() }
}

/// In the parent: run `test` again in a child process with `OOM_TEST_CHILD=1`; returns
/// the child's output. The child must be the only thing running under its limit.
fn in_child(test: &str) -> std::process::Output {
    let o = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .output()
        .unwrap();
    eprintln!("child {test}: {:?}\n{}", o.status, String::from_utf8_lossy(&o.stdout));
    o
}

fn is_child() -> bool {
    std::env::var_os(CHILD).is_some()
}

fn child_passed(test: &str) {
    let o = in_child(test);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success() && out.contains("CHILD-OK"),
        "child {test} failed: {:?}\nstdout: {out}\nstderr: {}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Blocks held while memory is exhausted, with a byte pattern checked before freeing.
/// Checks do not allocate (the vector's capacity is reserved before the limit); a failed
/// check frees everything first, then panics, so the panic message can be formatted.
struct Held {
    v: Vec<(usize, usize, u8)>,
}

impl Held {
    fn new() -> Held {
        Held { v: Vec::with_capacity(1 << 21) }
    }
    unsafe fn push(&mut self, p: *mut u8, n: usize) -> Result<(), &'static str> {
        if self.v.len() == self.v.capacity() {
            return Err("more blocks than reserved: the limit was not reached");
        }
        let b = (self.v.len() as u8).wrapping_mul(7) | 1;
        *p = b;
        *p.add(n - 1) = b;
        self.v.push((p as usize, n, b));
        Ok(())
    }
    unsafe fn check(&self) -> Result<(), &'static str> {
        for &(p, n, b) in &self.v {
            let p = p as *const u8;
            if *p != b || *p.add(n - 1) != b {
                return Err("a block allocated before the failure was corrupted");
            }
        }
        Ok(())
    }
    unsafe fn free_all(&mut self, f: impl Fn(usize, usize)) {
        for &(p, n, _) in &self.v {
            f(p, n);
        }
        self.v.clear();
    }
}

/// Allocate with `alloc(n)` until it returns null; errno must be ENOMEM.
unsafe fn exhaust(held: &mut Held, n: usize, alloc: impl Fn(usize) -> *mut u8) -> Result<usize, &'static str> {
    loop {
        let p = alloc(n);
        if p.is_null() {
            if errno() != libc::ENOMEM {
                return Err("allocation failed without errno = ENOMEM");
            }
            if held.v.is_empty() && n <= 4 * MIB {
                return Err("nothing fit under the limit");
            }
            return Ok(held.v.len());
        }
        held.push(p, n)?;
    }
}

unsafe fn api_case(held: &mut Held) -> Result<(), &'static str> {
    // a block made before the limit keeps its contents through every failure
    let old = api::malloc::<T>(3000);
    std::ptr::write_bytes(old, 0x5a, 3000);
    limit_address_space(64 * MIB);
    for n in [512 * MIB, usize::MAX / 2] {
        if !api::malloc::<T>(n).is_null() || errno() != libc::ENOMEM {
            return Err("malloc beyond the limit did not fail with ENOMEM");
        }
        if !api::calloc::<T>(n / 8, 8).is_null() || !api::memalign::<T>(4096, n).is_null() {
            return Err("calloc/memalign beyond the limit did not fail");
        }
        if !api::realloc::<T>(old, n).is_null() || errno() != libc::ENOMEM {
            return Err("realloc beyond the limit did not fail with ENOMEM");
        }
    }
    for n in [64, 20_000, 100_000, 3 * MIB] {
        exhaust(held, n, |n| api::malloc::<T>(n))?;
        // memalign and calloc fail as well while the memory is full (calloc of at least the
        // size that just failed: up to that much address space may be left)
        if !api::memalign::<T>(65536, 200_000).is_null() && !api::calloc::<T>(1, (2 * MIB).max(n)).is_null() {
            return Err("memalign and calloc both succeeded with memory exhausted");
        }
        held.check()?;
        held.free_all(|p, _| api::free::<T>(p as *mut u8));
        for m in [64, 20_000, 100_000, 3 * MIB] {
            let p = api::malloc::<T>(m);
            if p.is_null() {
                return Err("allocation still fails after everything was freed");
            }
            api::free::<T>(p);
        }
    }
    if std::slice::from_raw_parts(old, 3000).iter().any(|&b| b != 0x5a) {
        return Err("the block allocated before the limit was corrupted");
    }
    api::free::<T>(old);
    Ok(())
}

unsafe fn global_case(held: &mut Held) -> Result<(), &'static str> {
    let mut kept: Vec<u64> = (0..10_000).collect();
    let mut probe: Vec<u8> = Vec::new();
    limit_address_space(64 * MIB);
    let layouts = [(48, 8), (5000, 64), (100_000, 4096), (2 * MIB, 1 << 20), (300_000, 65536)];
    for &(size, align) in &layouts {
        let l = Layout::from_size_align(size, align).unwrap();
        exhaust(held, size, |_| GLOBAL.alloc(l))?;
        // fallible std collections see the failure as an error, not an abort
        if probe.try_reserve(32 * MIB).is_ok() {
            return Err("Vec::try_reserve succeeded with memory exhausted");
        }
        held.check()?;
        for &(p, _, _) in &held.v {
            if p % align != 0 {
                return Err("GlobalAlloc::alloc returned a misaligned block");
            }
        }
        held.free_all(|p, n| GLOBAL.dealloc(p as *mut u8, Layout::from_size_align(n, align).unwrap()));
    }
    let l = Layout::from_size_align(1000, 16).unwrap();
    let p = GLOBAL.alloc_zeroed(l);
    if p.is_null() {
        return Err("alloc_zeroed fails after recovery");
    }
    let q = GLOBAL.realloc(p, l, 512 * MIB);
    if !q.is_null() || *p != 0 {
        return Err("GlobalAlloc::realloc beyond the limit must return null and keep the block");
    }
    GLOBAL.dealloc(p, l);
    if probe.try_reserve(8 * MIB).is_err() {
        return Err("Vec::try_reserve still fails after everything was freed");
    }
    kept.push(1);
    if kept.iter().take(10_000).enumerate().any(|(i, &v)| v != i as u64) {
        return Err("a Vec made before the limit was corrupted");
    }
    Ok(())
}

fn run_case(f: unsafe fn(&mut Held) -> Result<(), &'static str>) {
    let mut held = Held::new();
    // SAFETY: every block freed here came from the same allocator and is live.
    let r = unsafe { f(&mut held) };
    if let Err(msg) = r {
        unsafe { held.free_all(|p, _| api::free::<T>(p as *mut u8)) };
        panic!("{msg}");
    }
    println!("CHILD-OK");
}

#[test]
fn api_returns_null_with_enomem_and_recovers_under_rlimit_as() {
    if is_child() {
        return run_case(api_case);
    }
    child_passed("api_returns_null_with_enomem_and_recovers_under_rlimit_as");
}

#[test]
fn global_alloc_returns_null_and_recovers_under_rlimit_as() {
    if is_child() {
        return run_case(global_case);
    }
    child_passed("global_alloc_returns_null_and_recovers_under_rlimit_as");
}

/// An infallible allocation that cannot be satisfied goes through std's
/// `handle_alloc_error`: a clean SIGABRT with std's message, not a SIGSEGV in hakmem.
#[test]
fn infallible_rust_allocation_aborts_cleanly() {
    if is_child() {
        limit_address_space(64 * MIB);
        let v = vec![1u8; 512 * MIB];
        println!("CHILD-SURVIVED {}", v.len());
        return;
    }
    let o = in_child("infallible_rust_allocation_aborts_cleanly");
    use std::os::unix::process::ExitStatusExt;
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.signal(), Some(libc::SIGABRT), "{:?}\n{err}", o.status);
    assert!(err.contains("memory allocation of 536870912 bytes failed"), "{err}");
    assert!(!String::from_utf8_lossy(&o.stdout).contains("CHILD-SURVIVED"));
}
