//! The malloc family over any `ThreadAccess`, with glibc's semantics: the top layer, a
//! thin skin over the front. Returns null on failure with `errno = ENOMEM` (set by the
//! failing mmap, or by us where no syscall was made), so the C layer can tail-call
//! straight into these.
//!
//! # Safety
//! Every function here is `unsafe` for the same reason as `malloc` and `free` in C: a
//! pointer passed in must be null or one this allocator handed out and has not been
//! freed (bad input is detected where cheap and ends in a `hakmem:` line and `abort()`),
//! and a block must not be used after it is freed.

use crate::backend::{huge, region};
use crate::front::fastlane::{self, alloc_huge, alloc_large};
use crate::front::ThreadAccess;
use crate::lifecycle::bootstrap;
use crate::msg;
use crate::size_class::{class_for_aligned, BLOCK_SIZE, SMALL_MAX};
use crate::types::{LARGE_MAX, UNIT_SIZE};
use core::ptr;

pub use fastlane::{free, malloc};

/// calloc: overflow-checked, zeroed.
///
/// # Safety
/// See the module docs.
pub unsafe fn calloc<T: ThreadAccess>(count: usize, size: usize) -> *mut u8 {
    let Some(n) = count.checked_mul(size) else {
        crate::backend::os::set_enomem();
        return ptr::null_mut();
    };
    if n > LARGE_MAX {
        // Fresh huge mappings are already zero: only recycled ones are cleared.
        return alloc_huge::<T>(n, 0, true);
    }
    let p = malloc::<T>(n);
    if !p.is_null() {
        ptr::write_bytes(p, 0, n);
    }
    p
}

/// Aligned allocation; `align` must be a power of two (callers check).
///
/// # Safety
/// See the module docs.
pub unsafe fn memalign<T: ThreadAccess>(align: usize, n: usize) -> *mut u8 {
    debug_assert!(align.is_power_of_two());
    if align <= 16 {
        return malloc::<T>(n);
    }
    if n <= SMALL_MAX {
        if let Some(c) = class_for_aligned(n, align) {
            let p = fastlane::malloc_class::<T>(c, n);
            if p as usize & (align - 1) != 0 {
                // A block of the next class that the class-borrow box put on this lane.
                return fastlane::realign::<T>(p, c, n, align);
            }
            return p;
        }
    }
    // Large spans start on 64 KiB boundaries; beyond that, a huge mapping.
    if align <= UNIT_SIZE && n <= LARGE_MAX {
        return alloc_large::<T>(n.max(SMALL_MAX + 1), align);
    }
    alloc_huge::<T>(n, align, false)
}

/// malloc_usable_size; 0 for null and for pointers hakmem does not know.
///
/// # Safety
/// See the module docs.
pub unsafe fn usable_size(p: *mut u8) -> usize {
    fastlane::usable_size(p)
}

/// realloc with glibc's edge cases: realloc(NULL, n) = malloc(n); realloc(p, 0) frees p
/// and returns NULL. On failure the old block is untouched and NULL is returned.
///
/// # Safety
/// See the module docs.
pub unsafe fn realloc<T: ThreadAccess>(p: *mut u8, n: usize) -> *mut u8 {
    if p.is_null() {
        return malloc::<T>(n);
    }
    if n == 0 {
        free::<T>(p);
        return ptr::null_mut();
    }
    let old = usable_size(p);
    if old == 0 {
        msg::fatal("realloc", "invalid pointer (not allocated by hakmem)", p as usize);
    }
    if region::is_superslab(p as usize) {
        fastlane::check_realloc::<T>(p);
        // A block sampled by the prof box stays where the block it stands for would stay,
        // and its sample follows its size (see `fastlane::sample_stands_for`).
        let sampled = fastlane::sample_stands_for(p, old);
        let keep = sampled.unwrap_or(old);
        // Keep the block when the new size still fits and does not waste more than half.
        if n <= keep && (n > keep / 2 || keep <= BLOCK_SIZE[0] as usize) {
            if sampled.is_some() {
                crate::prof::resize(p as usize, n);
            }
            return p;
        }
    } else if !bootstrap::contains(p) && n > LARGE_MAX {
        if let Some(q) = huge::realloc(p as usize, n) {
            fastlane::prof_huge_realloc::<T>(p, q, n);
            return q;
        }
    }
    let q = malloc::<T>(n);
    if q.is_null() {
        return q;
    }
    ptr::copy_nonoverlapping(p, q, old.min(n));
    free::<T>(p);
    q
}
