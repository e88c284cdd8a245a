//! The SuperSlab arena (`HAKMEM_ARENA`): one reservation of address space that
//! SuperSlab chunks are cut from, so the free path's first question, "could this be a
//! SuperSlab block?", is three instructions (`contains`) instead of the region map's
//! eight (bounds test, shift, byte load, compare).
//!
//! **Why a wrong "yes" is safe.** Every byte of `[base, base + span)` is mapped and
//! readable at all times: the reservation is a read-only private mapping (zero pages, no
//! commit charge), a chunk in use is made read-write (`os::commit`), and a chunk given back
//! is mapped over read-only again (`os::uncommit`, never unmapped, so no other mapping can
//! land inside). A free of any address in the window can therefore read that chunk's header
//! without faulting. A chunk that holds no live SuperSlab reads either zeros (never used,
//! given back, decommitted: its unit records' block-start multiplier is 0, which passes no
//! offset) or the header its last SuperSlab left with every unit free (`NO_OWNER`, which
//! matches no thread), so the hit path sends such a free to the slow side, which consults
//! the region map as before. Chunks mapped outside the arena (the box off, the span used
//! up, or the reservation refused) are found through the region map on that same slow side.
//!
//! **Limits.** A commit inside the reservation does not grow the address space, so it
//! would slip past `RLIMIT_AS`: while that limit is finite, no reservation is made and new
//! chunks are mapped outside, where the limit counts them (`take`). `RLIMIT_DATA` and
//! strict overcommit count commits themselves (the kernel charges a private mapping when
//! it becomes writable), so a commit the limit refuses falls back to an mmap that fails too.
//!
//! Owner: this module, under `ARENA`'s lock (a leaf lock: nothing is taken while holding
//! it). Invariants: `next <= cap`; `free[..nfree]` are distinct chunk indices below `next`
//! that are neither in use nor pooled; `BASE` is written once, before any chunk of the
//! arena is handed out (a thread that frees a block of it got the pointer through some
//! synchronisation after that write; one that reads the old `BASE` takes the slow side,
//! which finds the block through the region map).

use super::os;
use crate::sync::{AtomicUsize, Ordering::Relaxed, SpinLock};
use crate::types::{SS_SHIFT, SS_SIZE};

/// log2 of the arena's size (16 GiB), which is also its alignment. Reserving it takes twice
/// that much address space (valgrind refuses reservations over 32 GiB).
pub const SHIFT: usize = 34;
/// The arena's chunks.
pub const CHUNKS: usize = 1 << (SHIFT - SS_SHIFT);

/// Without an arena: an address whose window `[NOWHERE, NOWHERE + 2^SHIFT)` holds only
/// non-canonical addresses, which no mapping can have (see `contains`).
const NOWHERE: usize = 1 << 63;

/// The arena's first byte, aligned to its size (`NOWHERE` before the reservation or
/// without one). Written once, under the lock, before any chunk of the arena exists.
static BASE: AtomicUsize = AtomicUsize::new(NOWHERE);

struct Arena {
    /// The reservation was tried (it is tried once).
    tried: bool,
    /// Chunks in the arena: `CHUNKS`, or 0 without one.
    cap: usize,
    /// Chunks below `next` have been handed out at least once.
    next: usize,
    /// Chunks given back, to hand out again before fresh ones.
    free: [u32; CHUNKS],
    nfree: usize,
}

static ARENA: SpinLock<Arena> = SpinLock::new(Arena { tried: false, cap: 0, next: 0, free: [0; CHUNKS], nfree: 0 });

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
    BASE.store((raw + size - 1) & !(size - 1), Relaxed);
}

/// Up to `n` adjacent chunks made read-write: `(first, count)`, `count` 0 when the arena is
/// off, used up or the kernel refuses (the caller maps outside it). A chunk given back is
/// handed out first, alone.
pub fn take(n: usize) -> (usize, usize) {
    // Under a finite RLIMIT_AS new chunks are mapped outside, where the limit counts them
    // (a commit inside the reservation does not grow the address space).
    if os::address_space_limited() {
        return (0, 0);
    }
    let (first, got) = {
        let mut a = ARENA.lock();
        if !a.tried {
            reserve(&mut a);
        }
        if a.nfree > 0 {
            a.nfree -= 1;
            (a.free[a.nfree] as usize, 1)
        } else {
            let got = n.min(a.cap - a.next);
            let first = a.next;
            a.next += got;
            (first, got)
        }
    };
    if got == 0 {
        return (0, 0);
    }
    let p = BASE.load(Relaxed) + (first << SS_SHIFT);
    if !os::commit(p as *mut u8, got << SS_SHIFT) {
        for i in 0..got {
            put_back(first + i);
        }
        return (0, 0);
    }
    crate::boxes::hit(crate::boxes::sw::ARENA);
    TAKEN.fetch_add(got, Relaxed);
    (p, got)
}

fn put_back(i: usize) {
    let mut a = ARENA.lock();
    let k = a.nfree;
    a.free[k] = i as u32;
    a.nfree += 1;
}

/// Give a chunk of the arena back to the OS: its pages go, it reads as zeros again.
///
/// # Safety
/// `chunk` came from `take`, is not in use, and nobody will write it.
pub unsafe fn give(chunk: usize) {
    debug_assert!(contains(chunk) && chunk % SS_SIZE == 0);
    os::uncommit(chunk as *mut u8, SS_SIZE);
    GIVEN.fetch_add(1, Relaxed);
    put_back((chunk - BASE.load(Relaxed)) >> SS_SHIFT);
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
        assert_eq!(base % (1 << SHIFT), 0);
        assert!(!contains(base - 1) && !contains(base + (1 << SHIFT)));
        assert!(!contains(0) && !contains(usize::MAX) && !contains(NOWHERE - 1));
        // SAFETY: both chunks were just made writable for this test alone.
        unsafe {
            *((c + 100) as *mut u64) = 7;
            *((c + SS_SIZE + 8) as *mut u64) = 9;
            give(c);
            // Given back: still readable, zero again.
            assert_eq!(*((c + 100) as *const u64), 0);
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
