//! Memory-lean box (seed: `ss_mem_lean_env_box`).
//!
//! Switches: `HAKMEM_SS_MEM_LEAN=0|1` (speed 0, balanced 1),
//! `HAKMEM_SS_MEM_LEAN_DECOMMIT=OFF|DONTNEED|FREE` (both OFF),
//! `HAKMEM_SS_MEM_LEAN_TARGET_MB=N` (10).
//! Acts at: the warm pool's cap (`pool_cap_bytes`) and when a SuperSlab enters the pool
//! (`on_pool_entry`); lean mode also suppresses the prewarm box.

use crate::config::tuning;
use crate::os::{self, Decommit};
use crate::superslab::{SuperSlab, SS_SIZE, UNIT_SIZE};
use core::sync::atomic::{AtomicU64, Ordering::Relaxed};

pub static HITS: AtomicU64 = AtomicU64::new(0);
pub static DECOMMITS: AtomicU64 = AtomicU64::new(0);

/// Bytes of empty SuperSlabs the warm pool may keep.
pub fn pool_cap_bytes() -> usize {
    let t = tuning();
    if t.lean {
        HITS.fetch_add(1, Relaxed);
        t.lean_target_bytes
    } else {
        t.warm_pool_bytes
    }
}

/// SuperSlabs mapped ahead of need at start-up: none in lean mode.
pub fn prewarm_count() -> usize {
    let t = tuning();
    if t.lean {
        0
    } else {
        t.prewarm as usize
    }
}

/// A SuperSlab is entering the warm pool: in lean mode with a decommit policy, give its
/// slab pages back now (the header unit stays, it is rewritten on reuse anyway).
///
/// # Safety
/// `ss` is empty and owned by no heap.
pub unsafe fn on_pool_entry(ss: *mut SuperSlab) {
    let t = tuning();
    if t.lean && t.decommit != Decommit::Off {
        HITS.fetch_add(1, Relaxed);
        DECOMMITS.fetch_add(1, Relaxed);
        os::decommit((ss as *mut u8).add(UNIT_SIZE), SS_SIZE - UNIT_SIZE, t.decommit);
    }
}
