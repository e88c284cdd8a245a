//! SuperSlabs: 2 MiB chunks aligned to 2 MiB, carved into 32 units of 64 KiB.
//!
//! Unit 0 holds the header (`types::SuperSlab`); units 1..32 hold slabs (one class each,
//! 1 or 4 units) or large spans (one block of several units). Everything about a block is
//! found from its address by arithmetic:
//!
//! ```text
//!   ss   = p & !(2 MiB - 1)            -> SuperSlab header
//!   unit = (p >> 16) & 31              -> the unit's record {owner, class, block-start
//!                                         test} (fast free: `unit_rec`),
//!                                         ss.slabs[ss.slabs[unit].head] (the slab's meta)
//! ```
//!
//! A unit's record is in the arena's unit-record table when the chunk is the arena's
//! (`backend::arena::rec_in_window`: `base + ((p - base) >> 16) * 32`), else in `ss.units[unit]`;
//! `unit_rec` is the one way to it.
//!
//! Owner: the heap that owns the SuperSlab (`heap` layer). Headers are written through raw
//! places (never a `&mut SuperSlab`), because other threads may read `units[u]` of a unit
//! holding a block they free while the owner changes another unit.

use crate::backend::{self, region};
use crate::size_class::NCLASS;
use crate::sync::Ordering;
use crate::types::{
    chunk_of, Heap, SlabMeta, SuperSlab, UnitKind, UnitRec, HEADER_OFF, UNITS, UNIT_SIZE, USABLE_UNITS_MASK,
};
use core::ptr;

/// Take an empty chunk from the backend and make it a SuperSlab of heap `owner`: header
/// written first, then the region bit set (so `free` never trusts a half-written header).
/// Null when the OS refuses.
pub fn acquire(owner: *mut Heap) -> *mut SuperSlab {
    let chunk = backend::acquire_chunk();
    if chunk == 0 {
        return ptr::null_mut();
    }
    let ss = (chunk + HEADER_OFF) as *mut SuperSlab;
    if crate::boxes::harden::on() {
        // Hardened: the chunk's first page faults (see `types::HEADER_OFF`).
        backend::os::protect_none(chunk as *mut u8, HEADER_OFF);
    }
    // SAFETY: the chunk is mapped, aligned, and ours alone until the region bit is set.
    unsafe { init(ss, owner) };
    region::mark(chunk, region::LIVE);
    ss
}

/// Give an empty SuperSlab back to the backend: region bit cleared first, then owner.
/// True when the backend says memory is flowing back that nobody asks for (the purge box
/// decommitted it and the one before).
///
/// # Safety
/// `ss` is empty (every unit free), on none of its heap's lists, and the caller owns it.
pub unsafe fn retire(ss: *mut SuperSlab) -> bool {
    debug_assert_eq!((*ss).free_units, USABLE_UNITS_MASK);
    region::mark(chunk_of(ss), region::POOLED);
    (*ss).owner.store(ptr::null_mut(), Ordering::Release);
    backend::warm_pool::release(chunk_of(ss))
}

/// Give the pages of free units `[first, first + k)` of a live SuperSlab back to the OS
/// (they read as zero when claimed again; nothing in a free unit is kept).
///
/// # Safety
/// The units are free and the caller owns `ss`.
pub unsafe fn decommit_units(ss: *mut SuperSlab, first: usize, k: usize) {
    debug_assert!(first >= 1 && first + k <= UNITS);
    let start = chunk_of(ss) + first * UNIT_SIZE;
    backend::os::decommit(start as *mut u8, k * UNIT_SIZE, backend::os::Decommit::DontNeed);
    crate::boxes::purge::decommitted();
}

/// Initialise a fresh or recycled SuperSlab header for `owner`.
///
/// # Safety
/// `ss` points to a mapped, 2 MiB-aligned chunk no one else uses.
pub unsafe fn init(ss: *mut SuperSlab, owner: *mut Heap) {
    for u in 0..UNITS {
        *unit_rec(ss, u) = UnitRec::FREE;
        (*ss).slabs[u] = SlabMeta::EMPTY;
        crate::types::SlabRemote::init(ptr::addr_of_mut!((*ss).remote[u]));
    }
    (*ss).free_units = USABLE_UNITS_MASK;
    (*ss).in_avail = false;
    (*ss).next = ptr::null_mut();
    (*ss).prev = ptr::null_mut();
    (*ss).owner.store(owner, Ordering::Release);
}

/// First index of `k` consecutive free units in `free_units`, if any.
pub fn find_units(free_units: u32, k: usize) -> Option<usize> {
    let mut run = free_units;
    for i in 1..k {
        run &= free_units >> i;
    }
    if run == 0 {
        None
    } else {
        Some(run.trailing_zeros() as usize)
    }
}

/// Claim units `[first, first+k)` for a slab (`uclass < NCLASS`) or span; returns its meta.
///
/// # Safety
/// The units are free (from `find_units`) and the caller owns `ss`.
pub unsafe fn claim_units(ss: *mut SuperSlab, first: usize, k: usize, kind: UnitKind, uclass: u8) -> *mut SlabMeta {
    let mask = (((1u64 << k) - 1) << first) as u32;
    debug_assert_eq!((*ss).free_units & mask, mask);
    (*ss).free_units &= !mask;
    // The free-check box off: every class block passes the block-start test.
    let rec = if (uclass as usize) < NCLASS {
        let check = crate::config::tuning().on(crate::boxes::sw::FREE_CHECK);
        UnitRec::class_slab((*ss).owner.load(Ordering::Relaxed), uclass, chunk_of(ss) + first * UNIT_SIZE, check)
    } else {
        UnitRec { class: uclass, ..UnitRec::FREE }
    };
    for u in first..first + k {
        *unit_rec(ss, u) = rec;
        (*ss).slabs[u].kind = if u == first { kind } else { UnitKind::Tail };
        (*ss).slabs[u].head = first as u8;
    }
    let meta = ptr::addr_of_mut!((*ss).slabs[first]);
    (*meta).units = k as u8;
    (*meta).start = chunk_of(ss) + first * UNIT_SIZE;
    meta
}

/// Give the units of the slab/span at `first` back; true if the SuperSlab is now empty.
///
/// # Safety
/// `first` heads a live slab or span of `ss`, owned by the caller.
pub unsafe fn release_units(ss: *mut SuperSlab, first: usize) -> bool {
    let k = (*ss).slabs[first].units as usize;
    for u in first..first + k {
        *unit_rec(ss, u) = UnitRec::FREE;
        (*ss).slabs[u] = SlabMeta::EMPTY;
    }
    (*ss).free_units |= (((1u64 << k) - 1) << first) as u32;
    (*ss).free_units == USABLE_UNITS_MASK
}

/// The record of unit `u` of `ss`: in the arena's unit-record table for a chunk of the
/// arena (`backend::arena`, where the free hit reads it), else in the chunk's header.
///
/// # Safety
/// `ss` is a SuperSlab header (of a mapped chunk); `u < UNITS`.
#[inline(always)]
pub unsafe fn unit_rec(ss: *mut SuperSlab, u: usize) -> *mut UnitRec {
    match backend::arena::rec_in_window(chunk_of(ss) + u * UNIT_SIZE) {
        Some(rec) => rec,
        None => ptr::addr_of_mut!((*ss).units[u]),
    }
}

/// The record of the unit holding address `a`, which is inside a SuperSlab's chunk.
///
/// # Safety
/// As `unit_rec`.
#[inline(always)]
pub unsafe fn rec_of(a: usize) -> *mut UnitRec {
    unit_rec(crate::types::ss_of(a), crate::types::unit_of(a))
}

/// Meta of the slab or span containing address `p`.
///
/// # Safety
/// `ss` is a live SuperSlab containing `p`.
#[inline]
pub unsafe fn meta_of(ss: *mut SuperSlab, p: usize) -> *mut SlabMeta {
    let head = (*ss).slabs[crate::types::unit_of(p)].head as usize;
    ptr::addr_of_mut!((*ss).slabs[head])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{SS_SIZE, UC_FREE};

    #[test]
    fn find_units_finds_runs() {
        assert_eq!(find_units(USABLE_UNITS_MASK, 1), Some(1));
        assert_eq!(find_units(USABLE_UNITS_MASK, 31), Some(1));
        assert_eq!(find_units(USABLE_UNITS_MASK, 32), None);
        assert_eq!(find_units(0b1011_0110, 2), Some(1));
        assert_eq!(find_units(0b1011_0110, 3), None);
    }

    #[test]
    fn unit_claim_and_release_on_real_memory() {
        let chunk = crate::backend::os::map_aligned(SS_SIZE, SS_SIZE) as usize;
        assert_ne!(chunk, 0);
        let p = crate::types::ss_of(chunk);
        // SAFETY: p is the header of a fresh aligned chunk that only this test uses.
        unsafe {
            init(p, ptr::null_mut());
            assert_eq!(find_units((*p).free_units, 1), Some(1));
            let m = claim_units(p, 1, 4, UnitKind::Slab, 9);
            assert_eq!((*m).start, chunk + UNIT_SIZE);
            assert_eq!(find_units((*p).free_units, 4), Some(5));
            assert_eq!(find_units((*p).free_units, 27), Some(5));
            assert_eq!(find_units((*p).free_units, 28), None);
            // every byte of the slab maps back to the head meta
            for off in [0usize, 1, UNIT_SIZE, 4 * UNIT_SIZE - 1] {
                assert_eq!(meta_of(p, (*m).start + off), m);
            }
            assert_eq!((*unit_rec(p, 3)).class, 9);
            assert!(release_units(p, 1));
            assert_eq!((*unit_rec(p, 3)).class, UC_FREE);
            assert_eq!((*unit_rec(p, 3)).owner, crate::types::NO_OWNER);
            crate::backend::os::unmap(chunk as *mut u8, SS_SIZE);
        }
    }
}
