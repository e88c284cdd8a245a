//! Huge-cache box: freed huge mappings (> 1 MiB) kept for reuse.
//!
//! Switch: `HAKMEM_HUGE_CACHE_MB=N` (speed 64, balanced 16; 0 disables).
//! Acts at: `large::huge_free` (keep or unmap) and `large::huge_alloc` (reuse).
//! Reuse skips the mmap and the page faults of touching fresh memory.

use core::sync::atomic::AtomicU64;

pub static HITS: AtomicU64 = AtomicU64::new(0);
