//! hakmem: a general-purpose memory allocator.
//!
//! Use it from Rust as the global allocator:
//! ```no_run
//! #[global_allocator]
//! static A: hakmem::HakMem = hakmem::HakMem;
//!
//! fn main() {
//!     let v: Vec<u64> = (0..1000).collect(); // served by hakmem
//!     assert_eq!(v.len(), 1000);
//!     let s = hakmem::stats();
//!     println!("{} heaps, {} bytes mapped", s.heaps, s.mapped_bytes);
//! }
//! ```
//! or from C with `LD_PRELOAD=libhakmem.so` (crate `hakmem-preload`).
//!
//! # Layers
//!
//! Data flows one way, and each layer uses only the ones below it:
//!
//! ```text
//!   api        the malloc family with glibc's semantics
//!   front      per-thread: FastLanes, remote queue, hit paths, refill/flush, attach/exit
//!   lifecycle  global init, the heap pool (adopt/abandon/reclaim), fork, bootstrap arena
//!   heap       heaps, SuperSlab layout, slabs, large spans, the inbox
//!   backend    warm pool, huge mappings, region bitmap, os (the only syscalls)
//!   base       types (every shared structure and its invariants), config + boxes
//!              (switches), size_class, sync (atomics, spin lock), msg
//! ```
//!
//! `stats` observes every layer (reads counters) and nothing calls into it except
//! `lifecycle` arming the exit report. `docs/architecture.md` has the picture and says
//! which files to touch for a new size class, box, remote-free strategy or OS primitive.

#![cfg_attr(not(test), no_std)]
#![warn(clippy::undocumented_unsafe_blocks, clippy::missing_safety_doc)]

#[cfg(not(test))]
extern crate std;

#[macro_use]
mod msg;
pub mod api;
mod backend;
mod boxes;
pub mod config;
mod front;
mod heap;
mod lifecycle;
mod prof;
mod size_class;
mod stats;
mod sync;
mod types;

use core::alloc::{GlobalAlloc, Layout};
pub use front::{RustTls, ThreadAccess};
pub use stats::{ClassStats, Stats, ThreadStats};

/// What the preload library (`libhakmem.so`) needs beyond the public API: the thread
/// block's type (its initial-exec TLS symbol is sized by it). Not for other users.
#[doc(hidden)]
pub mod preload {
    pub use crate::types::ThreadBlock;

    /// `hakmem_prof_dump`: write the heap profile to the NUL-terminated `path`; 0 or an
    /// errno value (see [`crate::prof_dump`]).
    ///
    /// # Safety
    /// `path` is null or a NUL-terminated string.
    pub unsafe fn prof_dump_c(path: *const core::ffi::c_char) -> i32 {
        if path.is_null() {
            return libc::EINVAL;
        }
        // SAFETY: the caller passes a NUL-terminated string.
        let bytes = unsafe { core::ffi::CStr::from_ptr(path) }.to_bytes();
        match crate::prof::pprof::dump(bytes) {
            Ok(()) => 0,
            Err(e) => e,
        }
    }

    /// The allocator's own mmap, munmap and madvise calls since start.
    pub fn os_calls() -> [u64; 3] {
        use crate::backend::os;
        use crate::sync::Ordering::Relaxed;
        [os::MMAP_CALLS.load(Relaxed), os::MUNMAP_CALLS.load(Relaxed), os::MADVISE_CALLS.load(Relaxed)]
    }

    /// What [`crate::trim`] does, for the calling thread's block reached through `T`
    /// (the preload library's initial-exec TLS). Returns the bytes unmapped: what the
    /// caches gave back, or the drop in mapped bytes if larger (the release policy may
    /// unmap SuperSlabs the heap trim empties before they reach the pool).
    ///
    /// # Safety
    /// `T` is the thread access the calling thread allocates through.
    pub unsafe fn trim_for<T: crate::ThreadAccess>() -> usize {
        use crate::{backend, front, heap, lifecycle};
        let mapped = || backend::os::MAPPED_BYTES.load(crate::sync::Ordering::Relaxed) as usize;
        let before = mapped();
        lifecycle::heaps::reclaim_abandoned();
        let tb = T::block();
        // SAFETY: the calling thread owns the heap attached to its own thread block.
        unsafe {
            if !(*tb).heap.is_null() {
                front::remote::flush(tb);
                heap::drain_inbox(&*(*tb).heap);
                heap::trim(&*(*tb).heap);
            }
        }
        let released = backend::release_all_cached();
        released.max(before.saturating_sub(mapped()))
    }
}

/// The allocator, for `#[global_allocator]`.
pub struct HakMem;

// SAFETY: every method follows GlobalAlloc's contract: blocks are at least `size` bytes,
// aligned to `align`, and stay valid until deallocated; null signals failure.
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
///
/// ```
/// let s = hakmem::stats();
/// assert!(s.rss_bytes > 0);
/// ```
pub fn stats() -> Stats {
    stats::snapshot()
}

/// The calling thread's statistics: its heap's counters and what its FastLanes and remote
/// queue hold now (for a thread using hakmem as the global allocator).
///
/// ```
/// let v: Vec<Box<u64>> = (0..1000).map(Box::new).collect();
/// # let _ = v;
/// let t = hakmem::thread_stats();
/// # let _ = t.has_heap;
/// ```
pub fn thread_stats() -> ThreadStats {
    // SAFETY: RustTls is the access `HakMem` (the global allocator) uses.
    unsafe { stats::thread_snapshot::<RustTls>() }
}

/// Print the statistics report to stderr (what `HAKMEM_STATS=1` prints at exit).
pub fn stats_print() {
    stats::print()
}

/// Give memory back to the OS now: blocks freed into the heaps of exited threads go back
/// to their slabs, the calling thread's empty slabs are released, and every cached empty
/// SuperSlab and huge mapping is unmapped. Returns the bytes unmapped.
///
/// ```
/// let v = vec![0u8; 64 << 20];
/// drop(v);
/// let released = hakmem::trim();
/// # let _ = released;
/// ```
pub fn trim() -> usize {
    // SAFETY: RustTls is the thread access Rust programs allocate through.
    unsafe { preload::trim_for::<RustTls>() }
}

/// Usable size of a block hakmem handed out (what `malloc_usable_size` returns): at least
/// the size requested; 0 for null or a pointer hakmem does not know.
///
/// # Safety
/// `p` is null or a block returned by this allocator that has not been freed.
pub unsafe fn usable_size(p: *const u8) -> usize {
    api::usable_size(p as *mut u8)
}

/// Write the sampled heap profile (prof box, `HAKMEM_PROF=1`) to `path` now: the live
/// sampled allocations in pprof's protobuf format (uncompressed; `hakmem prof report`,
/// `pprof` and `go tool pprof` read it). Errors: the box is off (`ENOSYS`), a dump is
/// already being written (`EBUSY`), the path is empty or holds a NUL (`EINVAL`), or what
/// `open`/`write` said. See docs/profiling.md.
///
/// ```no_run
/// // HAKMEM_PROF=1 in the environment, hakmem the global allocator
/// hakmem::prof_dump("/tmp/heap.pb").expect("profile written");
/// ```
pub fn prof_dump(path: &str) -> Result<(), std::io::Error> {
    prof::pprof::dump(path.as_bytes()).map_err(std::io::Error::from_raw_os_error)
}

/// hakmem's version (the crate version).
pub fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

/// Verify the invariants of the calling thread's FastLanes and heap (list membership,
/// slab counts, free-list lengths), through the thread access `T`; aborts with a
/// `hakmem: check(): …` line if one does not hold. For tests and fuzzing: it walks every
/// partial slab.
///
/// # Safety
/// `T` is the thread access the calling thread allocates through.
pub unsafe fn check_thread<T: ThreadAccess>() {
    front::fastlane::check::<T>()
}
