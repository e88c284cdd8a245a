//! The SuperSlab arena (`HAKMEM_ARENA`): one reservation of address space that
//! SuperSlab chunks are cut from, so the free path's first question, "could this be a
//! SuperSlab block?", takes four instructions with its branch (`contains`: load the base,
//! xor, shift) instead of the region map's nine (bounds test, shift, byte load, compare).
//!
//! **The unit-record table.** The window's first `TABLE_CHUNKS` chunks hold the unit
//! records (`types::UnitRec`) of every 64 KiB unit of the window, in address order: the
//! record of address `a` is at `base + ((a - base) >> UNIT_SHIFT) * 32` (`rec_at`). The free
//! hit finds its record with one subtract, one shift and one bound test (the bound is the
//! window test too), where the chunk header's records took the window test, the chunk base
//! and the unit offset (`front::fastlane::free`). Records of arena chunks live only here
//! (`heap::superslab::unit_rec`); chunks outside the arena keep theirs in their header. The
//! table is committed 64 KiB at a time as chunks are first handed out (`take`), and a chunk
//! given back has its records zeroed (`give`): a record reads as zeros unless its chunk
//! holds a SuperSlab (the table's own chunks never do).
//!
//! **Why a wrong "yes" is safe.** Every byte of the window `[base, base + 2^SHIFT)` is
//! mapped and readable at all times. The reservation is a read-only private mapping (zero
//! pages, no commit charge); a chunk is made read-write when it is taken (`os::commit`);
//! given back, it loses its pages but is never unmapped, so no other mapping can land
//! inside: by `MADV_DONTNEED` (it reads as zeros and stays writable, taken again without a
//! syscall), or, where writable memory is limited (`RLIMIT_DATA`, strict overcommit), by an
//! mmap over it, read-only again (`os::uncommit`). The table's pages are never given back.
//! A free of any address in the window can therefore read its unit's record without
//! faulting. The records of a chunk that holds no live SuperSlab are either zeros (never
//! used, given back: an all-zero record fails the block-start test) or those its last
//! SuperSlab left with every unit free (`NO_OWNER`, which matches no thread), so the hit
//! path sends such a free to the slow side, which consults the region map as before. Chunks
//! mapped outside the arena (the box off, the window used up, or the reservation refused)
//! are found through the region map on that same slow side.
//!
//! **Limits.** A commit inside the reservation does not grow the address space, so it
//! would slip past `RLIMIT_AS`: while that limit is finite, no reservation is made and new
//! chunks are mapped outside, where the limit counts them (`take`). `RLIMIT_DATA` and
//! strict overcommit count commits themselves (the kernel charges a private mapping when
//! it becomes writable), so a commit the limit refuses falls back to an mmap that fails too.
//!
//! Owner: this module, under `ARENA`'s lock (a leaf lock: nothing is taken while holding
//! it). Invariants: `next <= cap`; `free[..nfree]` are distinct chunks below `next` that
//! are neither in use nor pooled and hold no pages (read-write, or read-only when flagged
//! `READ_ONLY`); a chunk below `next` on no list is in use or pooled, or was lost to a
//! refused commit. `BASE` is written once, before any chunk of the arena is handed out (a
//! thread that frees a block of it got the pointer through some synchronisation after that
//! write; one that still read `NOWHERE` would take the slow side, which finds the block
//! through the region map).

use super::os;
use crate::sync::{AtomicUsize, Ordering::Relaxed, SpinLock};
use crate::types::{UnitRec, SS_SHIFT, SS_SIZE, UNITS, UNIT_SHIFT};

/// log2 of the arena's size (16 GiB), which is also its alignment. Reserving it takes twice
/// that much address space (valgrind refuses reservations over 32 GiB).
pub const SHIFT: usize = 34;
/// The arena's chunks.
pub const CHUNKS: usize = 1 << (SHIFT - SS_SHIFT);
/// The window's units (records in the table).
pub const WINDOW_UNITS: usize = 1 << (SHIFT - UNIT_SHIFT);
/// Chunks at the window's start that hold the unit-record table (8 MiB).
pub const TABLE_CHUNKS: usize = (WINDOW_UNITS * core::mem::size_of::<UnitRec>()) >> SS_SHIFT;
/// The table is made writable this many bytes at a time (the records of 64 chunks).
const TABLE_GRAIN: usize = 64 << 10;
const _: () = assert!(core::mem::size_of::<UnitRec>() == 32 && TABLE_CHUNKS * SS_SIZE == WINDOW_UNITS * 32);

/// Without an arena: an address whose window `[NOWHERE, NOWHERE + 2^SHIFT)` holds only
/// non-canonical addresses, which no mapping can have (see `contains`).
const NOWHERE: usize = 1 << 63;

/// The arena's first byte, aligned to its size (`NOWHERE` before the reservation or
/// without one). Written once, under the lock, before any chunk of the arena exists.
static BASE: AtomicUsize = AtomicUsize::new(NOWHERE);

/// A free-list entry's flag: the chunk was given back read-only (`os::uncommit`).
const READ_ONLY: u32 = 1 << 31;

struct Arena {
    /// The reservation was tried (it is tried once).
    tried: bool,
    /// Chunks in the arena: `CHUNKS`, or 0 without one.
    cap: usize,
    /// Chunks below `next` have been handed out at least once.
    next: usize,
    /// Chunks given back, to hand out again before fresh ones (`READ_ONLY` set: mapped
    /// over read-only, to be committed again).
    free: [u32; CHUNKS],
    nfree: usize,
    /// Bytes of the unit-record table made writable (a multiple of `TABLE_GRAIN`): the
    /// records of every chunk below `next`.
    table: usize,
}

static ARENA: SpinLock<Arena> =
    SpinLock::new(Arena { tried: false, cap: 0, next: 0, free: [0; CHUNKS], nfree: 0, table: 0 });

/// Chunks handed out (fresh or again) and given back, for the stats report.
pub static TAKEN: AtomicUsize = AtomicUsize::new(0);
pub static GIVEN: AtomicUsize = AtomicUsize::new(0);

/// Could `p` be inside a SuperSlab of the arena? True for any address in the arena's
/// window (see the module docs for why reading the header of such an address is safe);
/// without an arena, only for non-canonical addresses (the one gap: a free of such an
/// address faults when it reads the header, `docs/reliability.md`). Three instructions:
/// xor with the base, shift, branch on zero.
#[inline(always)]
pub fn contains(p: usize) -> bool {
    (p ^ BASE.load(Relaxed)) >> SHIFT == 0
}

/// The window's base (`NOWHERE` without an arena): the free hit computes its record from it.
#[inline(always)]
pub fn base() -> usize {
    BASE.load(Relaxed)
}

/// The record of unit `u` of the window at `base`.
#[inline(always)]
fn record(base: usize, u: usize) -> *mut UnitRec {
    (base + u * core::mem::size_of::<UnitRec>()) as *mut UnitRec
}

/// The unit record of address `a`, which is in the window (`contains`).
#[inline(always)]
pub fn rec_at(a: usize) -> *mut UnitRec {
    let base = base();
    record(base, unit_index(a - base))
}

/// The record of `p`'s unit if `p` is in the window, else `None` (without an arena, `None`
/// for every canonical address: see `contains`): the free hit's lookup, and
/// `superslab::unit_rec`'s. Subtract, shift, compare the index with the window's units,
/// scale: the bound is the window test.
#[inline(always)]
pub fn rec_in_window(p: usize) -> Option<*mut UnitRec> {
    let base = base();
    let u = unit_index(p.wrapping_sub(base));
    if u >= WINDOW_UNITS {
        return None;
    }
    Some(record(base, u))
}

/// `d >> UNIT_SHIFT`, hidden from the optimiser on x86-64: seen through, `rec_in_window`'s
/// bound on the index becomes `d >> 34 != 0`, which needs a copy of `d` (one instruction
/// more on the free hit than a compare of the index with a constant).
#[inline(always)]
fn unit_index(d: usize) -> usize {
    #[cfg(target_arch = "x86_64")]
    {
        let mut u = d;
        // SAFETY: a shift of a register; no memory, no stack.
        unsafe { core::arch::asm!("shr {0}, {s}", inout(reg) u, s = const UNIT_SHIFT, options(pure, nomem, nostack)) };
        u
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        d >> UNIT_SHIFT
    }
}

/// The arena's size in GiB, 0 without one (stats).
pub fn window_gib() -> usize {
    if BASE.load(Relaxed) == NOWHERE {
        0
    } else {
        1 << (SHIFT - 30)
    }
}

/// Reserve the arena: twice its size, to cut an aligned window from. The rest stays
/// reserved (address space only): unmapped, it would leave holes of odd sizes where later
/// 2 MiB mappings land misaligned (`os::map_aligned` then over-maps every chunk).
fn reserve(a: &mut Arena) {
    a.tried = true;
    if !crate::config::tuning().on(crate::boxes::sw::ARENA) || os::address_space_limited() {
        return;
    }
    let size = 1usize << SHIFT;
    let raw = os::reserve_readable(2 * size) as usize;
    if raw == 0 {
        return;
    }
    a.cap = CHUNKS;
    // The table's chunks are never handed out.
    a.next = TABLE_CHUNKS;
    BASE.store((raw + size - 1) & !(size - 1), Relaxed);
}

/// Make the table's records of chunks below `upto` writable (under the lock). False when
/// the kernel refuses (the commit limits).
fn table_cover(a: &mut Arena, upto: usize) -> bool {
    let need = (upto * UNITS * core::mem::size_of::<UnitRec>()).next_multiple_of(TABLE_GRAIN);
    if need <= a.table {
        return true;
    }
    if !os::commit((BASE.load(Relaxed) + a.table) as *mut u8, need - a.table) {
        return false;
    }
    a.table = need;
    true
}

/// Up to `n` adjacent read-write chunks: `(first, count)`, `count` 0 when the arena is off,
/// used up or the kernel refuses (the caller maps outside it). A chunk given back is handed
/// out first, alone and without a syscall; fresh ones are made writable with one `mprotect`.
pub fn take(n: usize) -> (usize, usize) {
    // Under a finite RLIMIT_AS new chunks are mapped outside, where the limit counts them
    // (a commit inside the reservation does not grow the address space).
    if os::address_space_limited() {
        return (0, 0);
    }
    let (first, got, fresh) = {
        let mut a = ARENA.lock();
        if !a.tried {
            reserve(&mut a);
        }
        if a.nfree > 0 {
            a.nfree -= 1;
            let e = a.free[a.nfree];
            ((e & !READ_ONLY) as usize, 1, e & READ_ONLY != 0)
        } else {
            let got = n.min(a.cap - a.next);
            let first = a.next;
            if got > 0 && !table_cover(&mut a, first + got) {
                return (0, 0);
            }
            a.next += got;
            (first, got, true)
        }
    };
    if got == 0 {
        return (0, 0);
    }
    let p = BASE.load(Relaxed) + (first << SS_SHIFT);
    if fresh {
        // Fresh or given back read-only: one mprotect (counts in MAPPED_BYTES).
        if !os::commit(p as *mut u8, got << SS_SHIFT) {
            // Out of commit (strict overcommit, RLIMIT_DATA): these chunks stay reserved and
            // unused; the caller maps outside, which fails the same way.
            return (0, 0);
        }
    } else {
        // Given back writable, its pages dropped: no syscall.
        os::MAPPED_BYTES.fetch_add(SS_SIZE as u64, Relaxed);
    }
    crate::boxes::hit(crate::boxes::sw::ARENA);
    TAKEN.fetch_add(got, Relaxed);
    (p, got)
}

/// Give a chunk of the arena back to the OS: its pages go and it reads as zeros, to be
/// taken again first. Normally one `madvise` that leaves it writable (taken again without a
/// syscall); where writable memory is limited (`os::writable_limited`: a finite
/// `RLIMIT_DATA` or strict overcommit, which go on counting a writable chunk without pages)
/// one mmap over it, read-only.
///
/// # Safety
/// `chunk` came from `take`, is not in use, and nobody will write it.
pub unsafe fn give(chunk: usize) {
    debug_assert!(contains(chunk) && chunk % SS_SIZE == 0);
    // Its records read as zeros again (no SuperSlab: every free of it takes the slow side).
    core::ptr::write_bytes(rec_at(chunk), 0, UNITS);
    let mut e = ((chunk - BASE.load(Relaxed)) >> SS_SHIFT) as u32;
    if os::writable_limited() {
        os::uncommit(chunk as *mut u8, SS_SIZE);
        e |= READ_ONLY;
    } else {
        os::decommit(chunk as *mut u8, SS_SIZE, os::Decommit::DontNeed);
    }
    os::MAPPED_BYTES.fetch_sub(SS_SIZE as u64, Relaxed);
    GIVEN.fetch_add(1, Relaxed);
    let mut a = ARENA.lock();
    let k = a.nfree;
    a.free[k] = e;
    a.nfree += 1;
}

/// `fork` prepare / parent and child: the arena's lock, after the warm pool's.
pub fn lock_for_fork() {
    ARENA.raw_lock();
}

pub fn unlock_after_fork() {
    ARENA.raw_unlock();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_come_from_the_window_and_read_as_zeros_when_given_back() {
        let (c, got) = take(2);
        if got == 0 {
            // The box is off or the reservation was refused: nothing is in the window.
            assert!(!contains(c));
            return;
        }
        assert!(contains(c) && contains(c + 2 * SS_SIZE - 1));
        assert_eq!(c % SS_SIZE, 0);
        let base = BASE.load(Relaxed);
        assert!(c >= base + TABLE_CHUNKS * SS_SIZE, "the table's chunks are not handed out");
        // The records of both chunks are in the table, writable, and read as zeros.
        for u in 0..2 * UNITS {
            let r = rec_at(c + (u << UNIT_SHIFT));
            assert!((r as usize) >= base && (r as usize) < c);
            // SAFETY: the table covers every chunk handed out.
            unsafe {
                assert_eq!((*r).mul, 0);
                (*r).class = 5;
            }
        }
        assert_eq!(base % (1 << SHIFT), 0);
        assert!(!contains(base - 1) && !contains(base + (1 << SHIFT)));
        assert!(!contains(0) && !contains(usize::MAX) && !contains(NOWHERE - 1));
        // SAFETY: both chunks were just made writable for this test alone.
        unsafe {
            *((c + 100) as *mut u64) = 7;
            *((c + SS_SIZE + 8) as *mut u64) = 9;
            give(c);
            // Given back: still readable, zero again, and so are its records.
            assert_eq!(*((c + 100) as *const u64), 0);
            assert_eq!((*rec_at(c + 100)).class, 0);
            assert_eq!((*rec_at(c + SS_SIZE + 100)).class, 5);
            // The far end of the window was never used: readable zeros too.
            assert_eq!(*((base + (1 << SHIFT) - 8) as *const u64), 0);
            assert_eq!(*((c + SS_SIZE + 8) as *const u64), 9);
            give(c + SS_SIZE);
        }
        // Taken again (here, or by a test running beside this one): fresh zeros, writable.
        let (d, got) = take(1);
        assert_eq!(got, 1);
        // SAFETY: ours alone.
        unsafe {
            assert_eq!(*((d + 8) as *const u64), 0);
            *((d + 8) as *mut u64) = 1;
            give(d);
        }
    }
}
