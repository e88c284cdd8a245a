//! Huge-cache box: freed huge mappings (> 1 MiB) kept for reuse.
//!
//! Switch: `HAKMEM_HUGE_CACHE_MB=N` (speed 64, balanced 32; 0 disables).
//! Acts at: `large::huge_free` (keep or unmap) and `large::huge_alloc` (reuse: the
//! smallest cached mapping that fits, as it is; else the largest, grown with mremap).
//! Reuse skips the mmap and the page faults of touching fresh memory. On large-blocks
//! (64 KiB–8 MiB, 4 live) 16 MB gave 220 mmaps and ~2.5 k ops/s, 32 MB 7 mmaps and
//! ~13 k ops/s at the same peak RSS (40.6 MB), so balanced keeps 32.

use core::sync::atomic::AtomicU64;

pub static HITS: AtomicU64 = AtomicU64::new(0);
