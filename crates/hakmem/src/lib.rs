//! hakmem: a general-purpose memory allocator.
//!
//! Data flows one way: `malloc -> FastLane (TLS) -> unified cache -> SuperSlab -> os`,
//! and `free` walks back the same rooms. See docs/architecture.md for the picture and
//! the table of boxes.
//!
//! Use it from Rust:
//! ```no_run
//! #[global_allocator]
//! static A: hakmem::HakMem = hakmem::HakMem;
//! ```
//! or from C with `LD_PRELOAD=libhakmem.so` (crate hakmem-preload).

#![cfg_attr(not(test), no_std)]
#![allow(clippy::missing_safety_doc)]

#[cfg(not(test))]
extern crate std;

#[macro_use]
pub mod msg;
pub mod api;
pub mod boxes;
pub mod cache;
pub mod config;
pub mod front;
pub mod heap;
pub mod large;
pub mod os;
pub mod size_class;
pub mod spinlock;
pub mod stats;
pub mod superslab;
pub mod thread;

use core::alloc::{GlobalAlloc, Layout};
pub use front::ThreadAccess;
pub use stats::Stats;
use thread::RustTls;

/// The allocator, for `#[global_allocator]`.
pub struct HakMem;

unsafe impl GlobalAlloc for HakMem {
    #[inline]
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        if l.align() <= 16 {
            api::malloc::<RustTls>(l.size())
        } else {
            api::memalign::<RustTls>(l.align(), l.size())
        }
    }

    #[inline]
    unsafe fn dealloc(&self, p: *mut u8, _l: Layout) {
        api::free::<RustTls>(p)
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        if l.align() <= 16 {
            api::calloc::<RustTls>(1, l.size())
        } else {
            let p = api::memalign::<RustTls>(l.align(), l.size());
            if !p.is_null() {
                core::ptr::write_bytes(p, 0, l.size());
            }
            p
        }
    }

    #[inline]
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        if l.align() <= 16 {
            return api::realloc::<RustTls>(p, n);
        }
        let q = api::memalign::<RustTls>(l.align(), n);
        if !q.is_null() {
            core::ptr::copy_nonoverlapping(p, q, l.size().min(n));
            api::free::<RustTls>(p);
        }
        q
    }
}

/// A snapshot of hakmem's counters (per class, SuperSlabs, syscalls, RSS).
pub fn stats() -> Stats {
    stats::snapshot()
}

/// Print the statistics report to stderr (what `HAKMEM_STATS=1` prints at exit).
pub fn stats_print() {
    stats::print()
}
