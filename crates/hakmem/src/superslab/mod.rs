//! SuperSlabs: 2 MiB regions aligned to 2 MiB, carved into 32 units of 64 KiB.
//!
//! Unit 0 holds the header (`SuperSlab`); units 1..32 hold slabs (one class each,
//! 1 or 4 units) or large spans (one block of several units). Everything about a
//! block is found from its address by arithmetic:
//!
//! ```text
//!   ss   = p & !(2 MiB - 1)            -> SuperSlab header
//!   unit = (p >> 16) & 31              -> ss.units[unit] {owner, class} (fast free),
//!                                         ss.slabs[unit].head
//! ```
//!
//! A process-wide bitmap with one bit per 2 MiB of address space says which chunks
//! are SuperSlabs, so `free` can tell our pointers from foreign ones without touching
//! memory that may not be mapped.

pub mod region;
pub mod slab;

use crate::heap::Heap;
use crate::size_class::NCLASS;
use core::ptr;
use core::sync::atomic::{AtomicPtr, Ordering};

pub const SS_SHIFT: usize = 21;
pub const SS_SIZE: usize = 1 << SS_SHIFT;
pub const SS_MASK: usize = SS_SIZE - 1;
pub const UNIT_SHIFT: usize = 16;
pub const UNIT_SIZE: usize = 1 << UNIT_SHIFT;
pub const UNITS: usize = SS_SIZE / UNIT_SIZE;
/// Units 1..32 are usable; unit 0 is the header.
pub const USABLE_UNITS_MASK: u32 = !1u32;
pub const SS_MAGIC: u64 = 0x6861_6b6d_656d_5353; // "hakmemSS"

/// `unit_class` value of a unit that belongs to no slab.
pub const UC_FREE: u8 = 0xFF;
/// `unit_class` value of a unit inside a large span.
pub const UC_LARGE: u8 = 0xFE;

/// A free (or in-cache) block: its first word links to the next one.
#[repr(C)]
pub struct Block {
    pub next: *mut Block,
}

/// What a unit holds.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
pub enum UnitKind {
    Free = 0,
    /// First unit of a class slab (its `SlabMeta` is live).
    Slab = 1,
    /// First unit of a large span.
    Large = 2,
    /// A later unit of a multi-unit slab or span; `head` names the first.
    Tail = 3,
}

/// Per-slab (or per-span) metadata, kept in the SuperSlab header, owner-thread only.
#[repr(C)]
pub struct SlabMeta {
    /// Blocks given back to this slab (by FastLane flushes and remote frees).
    pub free: *mut Block,
    pub free_count: u32,
    /// Blocks out of the slab: in a FastLane or with the program.
    pub used: u32,
    pub capacity: u32,
    pub carved: u32,
    /// Address of the first block.
    pub start: usize,
    pub block_size: u32,
    pub class: u8,
    pub kind: UnitKind,
    pub units: u8,
    pub head: u8,
    pub in_partial: bool,
    /// Links in the owner heap's partial list for this class.
    pub next: *mut SlabMeta,
    pub prev: *mut SlabMeta,
}

impl SlabMeta {
    pub const EMPTY: SlabMeta = SlabMeta {
        free: ptr::null_mut(),
        free_count: 0,
        used: 0,
        capacity: 0,
        carved: 0,
        start: 0,
        block_size: 0,
        class: 0,
        kind: UnitKind::Free,
        units: 0,
        head: 0,
        in_partial: false,
        next: ptr::null_mut(),
        prev: ptr::null_mut(),
    };
}

/// `UnitRec::owner` of a unit that is not a class slab: equal to no thread's
/// `fast_heap` (which is a heap or null), so the free fast path's one compare also
/// rejects free units and large spans.
pub const NO_OWNER: *mut Heap = ptr::dangling_mut();

/// What the free fast path reads about a unit: one 16-byte record, one cache line.
#[repr(C, align(16))]
#[derive(Clone, Copy)]
pub struct UnitRec {
    /// Owning heap if the unit is part of a class slab, else `NO_OWNER`.
    pub owner: *mut Heap,
    /// Class of the unit's slab, or UC_FREE / UC_LARGE.
    pub class: u8,
}

impl UnitRec {
    pub const FREE: UnitRec = UnitRec { owner: NO_OWNER, class: UC_FREE };
}

/// The header at the start of every SuperSlab.
#[repr(C, align(64))]
pub struct SuperSlab {
    /// Per unit: owner (for class slabs) and class: everything the free fast path reads.
    pub units: [UnitRec; UNITS],
    /// The heap that owns this SuperSlab; null while it sits in the warm pool.
    pub owner: AtomicPtr<Heap>,
    pub magic: u64,
    /// Bitmask of free units (bit 0 is the header and never free).
    pub free_units: u32,
    pub in_avail: bool,
    /// Links in the owner heap's list of SuperSlabs with free units, or the warm pool.
    pub next: *mut SuperSlab,
    pub prev: *mut SuperSlab,
    pub slabs: [SlabMeta; UNITS],
}

const _: () = assert!(core::mem::size_of::<SuperSlab>() <= UNIT_SIZE);
const _: () = assert!(core::mem::size_of::<UnitRec>() == 16);
const _: () = assert!(NCLASS < UC_LARGE as usize);

/// SuperSlab containing an address (no check that it is one).
#[inline(always)]
pub fn ss_of(p: usize) -> *mut SuperSlab {
    (p & !SS_MASK) as *mut SuperSlab
}

#[inline(always)]
pub fn unit_of(p: usize) -> usize {
    (p >> UNIT_SHIFT) & (UNITS - 1)
}

impl SuperSlab {
    /// Initialise a fresh or recycled SuperSlab header for `owner`.
    ///
    /// # Safety
    /// `ss` points to a mapped, 2 MiB-aligned region no one else uses.
    pub unsafe fn init(ss: *mut SuperSlab, owner: *mut Heap) {
        let s = &mut *ss;
        s.units = [UnitRec::FREE; UNITS];
        s.magic = SS_MAGIC;
        s.free_units = USABLE_UNITS_MASK;
        s.in_avail = false;
        s.next = ptr::null_mut();
        s.prev = ptr::null_mut();
        for m in s.slabs.iter_mut() {
            *m = SlabMeta::EMPTY;
        }
        s.owner.store(owner, Ordering::Release);
    }

    /// First index of `k` consecutive free units, if any.
    pub fn find_units(&self, k: usize) -> Option<usize> {
        let mut m = self.free_units;
        let mut run = m;
        for i in 1..k {
            run &= m >> i;
        }
        m = run;
        if m == 0 {
            None
        } else {
            Some(m.trailing_zeros() as usize)
        }
    }

    /// Claim units `[first, first+k)` for a slab or span; returns its meta.
    ///
    /// # Safety
    /// The units must be free (from `find_units`) and the caller the owner.
    pub unsafe fn claim_units(ss: *mut SuperSlab, first: usize, k: usize, kind: UnitKind, uclass: u8) -> *mut SlabMeta {
        let s = &mut *ss;
        let mask = (((1u64 << k) - 1) << first) as u32;
        debug_assert_eq!(s.free_units & mask, mask);
        s.free_units &= !mask;
        let owner = if (uclass as usize) < NCLASS { s.owner.load(Ordering::Relaxed) } else { NO_OWNER };
        for u in first..first + k {
            s.units[u] = UnitRec { owner, class: uclass };
            let m = &mut s.slabs[u];
            m.kind = if u == first { kind } else { UnitKind::Tail };
            m.head = first as u8;
        }
        let meta = &mut s.slabs[first];
        meta.units = k as u8;
        meta.start = ss as usize + first * UNIT_SIZE;
        meta
    }

    /// Give the units of the slab/span at `first` back; true if the SuperSlab is now empty.
    ///
    /// # Safety
    /// `first` heads a live slab or span of `ss`, owned by the caller.
    pub unsafe fn release_units(ss: *mut SuperSlab, first: usize) -> bool {
        let s = &mut *ss;
        let k = s.slabs[first].units as usize;
        for u in first..first + k {
            s.units[u] = UnitRec::FREE;
            s.slabs[u] = SlabMeta::EMPTY;
        }
        s.free_units |= (((1u64 << k) - 1) << first) as u32;
        s.free_units == USABLE_UNITS_MASK
    }

    /// Meta of the slab or span containing address `p`, and whether `p` is inside one.
    ///
    /// # Safety
    /// `ss` is a live SuperSlab containing `p`.
    #[inline]
    pub unsafe fn meta_of(ss: *mut SuperSlab, p: usize) -> *mut SlabMeta {
        let u = unit_of(p);
        let head = (*ss).slabs[u].head as usize;
        &mut (*ss).slabs[head]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_arithmetic_finds_header_and_unit() {
        let base = 0x7f00_0000_0000usize; // 2 MiB aligned
        assert_eq!(ss_of(base + 5 * UNIT_SIZE + 123) as usize, base);
        assert_eq!(unit_of(base + 5 * UNIT_SIZE + 123), 5);
        assert_eq!(unit_of(base + SS_SIZE - 1), 31);
        assert_eq!(ss_of(base + SS_SIZE) as usize, base + SS_SIZE);
    }

    #[test]
    fn unit_claim_and_release_on_real_memory() {
        let p = crate::os::map_aligned(SS_SIZE, SS_SIZE) as *mut SuperSlab;
        assert!(!p.is_null());
        unsafe {
            SuperSlab::init(p, ptr::null_mut());
            assert_eq!((*p).find_units(1), Some(1));
            let m = SuperSlab::claim_units(p, 1, 4, UnitKind::Slab, 9);
            assert_eq!((*m).start, p as usize + UNIT_SIZE);
            assert_eq!((*p).find_units(4), Some(5));
            assert_eq!((*p).find_units(27), Some(5));
            assert_eq!((*p).find_units(28), None);
            // every byte of the slab maps back to the head meta
            for off in [0usize, 1, UNIT_SIZE, 4 * UNIT_SIZE - 1] {
                assert_eq!(SuperSlab::meta_of(p, (*m).start + off), m);
            }
            assert_eq!((*p).units[3].class, 9);
            assert!(SuperSlab::release_units(p, 1));
            assert_eq!((*p).units[3].class, UC_FREE);
            assert_eq!((*p).units[3].owner, NO_OWNER);
            crate::os::unmap(p as *mut u8, SS_SIZE);
        }
    }
}
