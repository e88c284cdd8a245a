//! The bytes a program's Rust code holds on the heap: a `#[global_allocator]` over the system
//! allocator (libc `malloc`, so whatever `LD_PRELOAD` put in front of it) that counts the
//! requested bytes of the live Rust allocations.
//!
//! `hakmem-workload` installs it so that a workload writing a heap profile
//! (`--prof-dump`) can say exactly what the process holds: the blocks it made itself with
//! `libc::malloc` (it tracks their sizes) plus its Rust bookkeeping (tables, vectors, the
//! runtime's own allocations), counted here. One relaxed atomic add per Rust allocation or
//! free; the workloads keep Rust allocations off their timed paths.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering::Relaxed};

static LIVE: AtomicIsize = AtomicIsize::new(0);
static INSTALLED: AtomicBool = AtomicBool::new(false);

/// The system allocator, counting the requested bytes it holds for Rust code.
pub struct Counting;

#[inline(always)]
fn add(n: isize) {
    LIVE.fetch_add(n, Relaxed);
}

// SAFETY: every call is forwarded to `System` unchanged; only a counter is kept beside it.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let p = System.alloc(l);
        if !p.is_null() {
            add(l.size() as isize);
        }
        p
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        let p = System.alloc_zeroed(l);
        if !p.is_null() {
            add(l.size() as isize);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        System.dealloc(p, l);
        add(-(l.size() as isize));
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        let q = System.realloc(p, l, n);
        if !q.is_null() {
            add(n as isize - l.size() as isize);
        }
        q
    }
}

impl Counting {
    /// Call once from `main` of a program that installed `Counting` as its global allocator:
    /// from then on `live_bytes` answers.
    pub fn installed() {
        INSTALLED.store(true, Relaxed);
    }
}

/// The requested bytes of the Rust allocations live now (all threads), or None when the
/// program did not install `Counting` (unit tests, other binaries).
pub fn live_bytes() -> Option<u64> {
    INSTALLED.load(Relaxed).then(|| LIVE.load(Relaxed).max(0) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_what_it_forwards() {
        // Not installed here (the test harness uses the default allocator): call it directly.
        let before = LIVE.load(Relaxed);
        let l = Layout::from_size_align(1000, 8).unwrap();
        unsafe {
            let p = Counting.alloc(l);
            assert!(!p.is_null());
            assert_eq!(LIVE.load(Relaxed) - before, 1000);
            let q = Counting.realloc(p, l, 5000);
            assert_eq!(LIVE.load(Relaxed) - before, 5000);
            Counting.dealloc(q, Layout::from_size_align(5000, 8).unwrap());
            let z = Counting.alloc_zeroed(Layout::from_size_align(64, 64).unwrap());
            assert_eq!(*z, 0);
            assert_eq!(LIVE.load(Relaxed) - before, 64);
            Counting.dealloc(z, Layout::from_size_align(64, 64).unwrap());
        }
        assert_eq!(LIVE.load(Relaxed), before);
        assert_eq!(live_bytes(), None, "not installed in the test harness");
    }
}
