//! Large blocks (`SMALL_MAX` < n <= `LARGE_MAX`): a span of 64 KiB units inside one of the
//! heap's SuperSlabs, so they come and go without syscalls. The block starts at the
//! span's first byte (64 KiB aligned); its `SlabMeta` has `kind == Large`.

use super::{claim_units, release_units};
use crate::types::{bump, Heap, HeapLocal, SlabMeta, SuperSlab, UnitKind, UC_LARGE, UNIT_SIZE};
use core::ptr;

/// Units a large block of `n` bytes needs.
#[inline]
pub fn units_for(n: usize) -> usize {
    n.div_ceil(UNIT_SIZE)
}

/// Allocate a large span of at least `n` bytes; null when the OS refuses memory.
///
/// # Safety
/// The caller owns `h`; `n <= LARGE_MAX`.
pub unsafe fn alloc(h: &Heap, n: usize) -> *mut u8 {
    let k = units_for(n);
    let m = claim_units(h.local(), k, UnitKind::Large, UC_LARGE);
    if m.is_null() {
        return ptr::null_mut();
    }
    (*m).used = 1;
    (*m).block_size = (k * UNIT_SIZE) as u32;
    (*m).capacity = 1;
    (*m).carved = 1;
    (*m).sampled = false;
    bump(&h.shared.stats.large_allocs, 1);
    (*m).start as *mut u8
}

/// Free a large span owned by this heap.
///
/// # Safety
/// The caller owns `h`; `m` is a live large span of `ss`, a SuperSlab of `h`.
pub unsafe fn release(h: &Heap, ss: *mut SuperSlab, m: *mut SlabMeta) {
    bump(&h.shared.stats.large_frees, 1);
    release_in(h.local(), ss, m);
}

/// # Safety
/// As `release`, with the owner's state already in hand.
pub(super) unsafe fn release_in(l: &mut HeapLocal, ss: *mut SuperSlab, m: *mut SlabMeta) {
    (*m).used = 0;
    release_units(l, ss, m);
}
