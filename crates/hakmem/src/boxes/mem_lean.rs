//! Memory-lean box (seed: `ss_mem_lean_env_box`).
//!
//! Switches: `HAKMEM_SS_MEM_LEAN=0|1` (speed 0, balanced 1),
//! `HAKMEM_SS_MEM_LEAN_DECOMMIT=OFF|DONTNEED|FREE` (both OFF),
//! `HAKMEM_SS_MEM_LEAN_TARGET_MB=N` (10).
//! Acts at: the warm pool's cap (`pool_cap_bytes`) and when a SuperSlab enters the pool
//! (`on_pool_entry`); lean mode also suppresses the prewarm box.

use super::{hit, sw};
use crate::backend::os::{self, Decommit};
use crate::config::tuning;
use crate::sync::{AtomicU64, Ordering::Relaxed};
use crate::types::{SS_SIZE, UNIT_SIZE};

pub static DECOMMITS: AtomicU64 = AtomicU64::new(0);

/// Bytes of empty SuperSlabs the warm pool may keep.
pub fn pool_cap_bytes() -> usize {
    let t = tuning();
    if t.on(sw::SS_MEM_LEAN) {
        hit(sw::SS_MEM_LEAN);
        t.mb(sw::SS_MEM_LEAN_TARGET_MB)
    } else {
        t.mb(sw::WARM_POOL_MB)
    }
}

/// SuperSlabs mapped ahead of need at start-up: none in lean mode.
pub fn prewarm_count() -> usize {
    let t = tuning();
    if t.on(sw::SS_MEM_LEAN) {
        0
    } else {
        t.get(sw::SS_PREWARM) as usize
    }
}

/// A SuperSlab is entering the warm pool: in lean mode with a decommit policy, give its
/// slab pages back now (the header unit stays, it is rewritten on reuse anyway).
///
/// # Safety
/// `chunk` is an empty SuperSlab chunk owned by no heap.
pub unsafe fn on_pool_entry(chunk: usize) {
    let t = tuning();
    if t.on(sw::SS_MEM_LEAN) && t.decommit() != Decommit::Off {
        hit(sw::SS_MEM_LEAN);
        DECOMMITS.fetch_add(1, Relaxed);
        os::decommit((chunk + UNIT_SIZE) as *mut u8, SS_SIZE - UNIT_SIZE, t.decommit());
    }
}
