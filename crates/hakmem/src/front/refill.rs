//! Batch moves between a thread's FastLanes and its heap, so the per-block cost of the
//! slow path is amortised over `limit/2` operations: refill an empty lane, flush half of
//! a full one, and route the blocks other threads sent back (the inbox) straight onto
//! lanes with room.

use super::lane::{self, base_limit};
use crate::boxes::{self, harden, sw};
use crate::config::tuning;
use crate::heap::{self, superslab};
use crate::size_class::{ClassIdx, NCLASS};
use crate::types::{bump, Block, Heap, ThreadBlock};
use core::ptr;

/// Class-borrow box: the most blocks one refill takes from the next class's lane (a walk
/// over blocks that may have left the cache).
const BORROW_MAX: u32 = 8;

/// The smallest refill batch: a thread's first refill of a class.
const FIRST_BATCH: u32 = 4;

/// Blocks moved per refill: half the base limit (at least 8), reached by slow start. The
/// thread's first refill of a class takes `FIRST_BATCH` and each one after takes twice the
/// last, so a thread that uses a class a little (a short-lived thread: thread-churn) does
/// not carve a whole batch it gives back at exit.
///
/// # Safety
/// `tb` is the calling thread's block.
#[inline]
unsafe fn batch(tb: *mut ThreadBlock, c: ClassIdx) -> u32 {
    if harden::on() {
        return 1; // hardened: free blocks stay in the (protected) slab lists
    }
    let full = (base_limit(c) / 2).max(8);
    let k = lane::refills(tb, c);
    if k >= 8 {
        return full;
    }
    full.min(FIRST_BATCH << k)
}

/// The FastLane of class `c` is empty: fetch a batch, return one block, keep the rest.
/// Null when the OS has no memory for us.
///
/// # Safety
/// `tb` is the calling thread's block and `h` its heap.
pub unsafe fn refill(tb: *mut ThreadBlock, h: &Heap, c: ClassIdx) -> *mut u8 {
    if !h.shared.inbox.load(crate::sync::Ordering::Relaxed).is_null() {
        drain_inbox_to_lanes(tb, h);
        let b = lane::pop(tb, c);
        if !b.is_null() {
            return b;
        }
    }
    // Class-borrow box: with no freed block of its own left, the class takes blocks the
    // next class's lane holds (at most half of them) before the heap carves or borrows.
    if tuning().on(sw::CLASS_BORROW) && crate::size_class::borrows_from_next(c) && !heap::has_freed(h, c) {
        let b = lane::borrow(tb, c, c + 1, batch(tb, c).min(BORROW_MAX));
        if !b.is_null() {
            boxes::hit(sw::CLASS_BORROW);
            return b;
        }
    }
    let (head, n) = heap::take_batch(h, c, batch(tb, c));
    if head.is_null() {
        return ptr::null_mut();
    }
    if tuning().get(sw::FASTLANE_KB) != 64 {
        boxes::hit(sw::FASTLANE_KB);
    }
    let bs = crate::size_class::BLOCK_SIZE[c];
    if tuning().on(sw::FINE_CLASSES) && !crate::size_class::seed_class(bs) {
        boxes::hit(sw::FINE_CLASSES);
        if !crate::size_class::quarter_class(bs) {
            boxes::hit(sw::CLASS_DENSITY);
        }
    }
    if c == crate::size_class::C7 && tuning().on(sw::C7_ULTRA) {
        boxes::hit(sw::C7_ULTRA);
    }
    if tuning().on(sw::LANE_GUARD) {
        boxes::hit(sw::LANE_GUARD);
    }
    lane::note_miss(tb, c);
    let b = lane::install(tb, c, head, n);
    debug_check(tb, h);
    b
}

/// The FastLane of class `c` went over its limit (or the free hit's test says so, which
/// `lane::settle_full` decides): give the older half back to the slabs.
///
/// # Safety
/// `tb` is the calling thread's block and `h` its heap.
#[cold]
#[inline(never)]
pub unsafe fn flush(tb: *mut ThreadBlock, h: &Heap, c: ClassIdx) {
    // The free's test reads a room that leaves out the malloc hits since it was last made
    // exact (lazy room, `types::Lanes`): the lane may not be full at all.
    if !lane::settle_full(tb, c) {
        return;
    }
    if h.local().purging {
        // Memory is flowing back that nobody asks for: no lane keeps grown room.
        lane::shrink(tb, c);
    } else if lane::grow(tb, c) {
        boxes::hit(sw::LANE_GROW_KB);
        return;
    }
    let rest = lane::split(tb, c);
    bump(&h.shared.stats.flushes[c], 1);
    // The free-check box's hit: counted per flush (every block flushed went through the
    // checks), never per free.
    if tuning().on(sw::FREE_CHECK) {
        boxes::hit(sw::FREE_CHECK);
    }
    give_back(tb, h, c, rest);
    debug_check(tb, h);
}

/// Give a chain taken off lane `c` back: to the heap's slabs, and, with the remote-keep
/// box, the blocks of other heaps to their owners (through the remote queue). Returns how
/// many blocks left the lane.
///
/// # Safety
/// `tb` is the calling thread's block and `h` its heap; `b` is a chain of class-`c` blocks
/// that were on the lane, ending at the lane's end (`lane::end`).
unsafe fn give_back(tb: *mut ThreadBlock, h: &Heap, c: ClassIdx, mut b: *mut Block) -> u64 {
    let end = lane::end(tb);
    if !tuning().on(sw::REMOTE_KEEP) {
        return heap::give_chain(h, c, b, end);
    }
    let me = h as *const Heap as *mut Heap;
    let mut own: *mut Block = ptr::null_mut();
    let mut sent = 0;
    while b != end {
        let next = (*b).next;
        let owner = (*superslab::rec_of(b as usize)).owner;
        if owner == me {
            (*b).next = own;
            own = b;
        } else {
            super::remote::enqueue(tb, owner, b);
            sent += 1;
        }
        b = next;
    }
    sent + heap::give_chain(h, c, own, ptr::null_mut())
}

/// Debug builds verify the lanes' and the heap's invariants after every batch move.
#[inline]
/// # Safety
/// `tb` is the calling thread's block and `h` its heap.
unsafe fn debug_check(tb: *mut ThreadBlock, h: &Heap) {
    if cfg!(debug_assertions) {
        lane::check_all(tb);
        heap::check(h);
    }
}

/// Drain the inbox for a thread that is refilling: small blocks go straight onto its
/// FastLanes while they have room (a block freed remotely is reused without visiting its
/// slab), the rest back to their slabs and spans. Hardened mode sends everything to the
/// slabs, whose checks live there.
///
/// # Safety
/// `tb` is the calling thread's block and `h` its heap.
#[cold]
pub unsafe fn drain_inbox_to_lanes(tb: *mut ThreadBlock, h: &Heap) {
    if harden::on() {
        return heap::drain_inbox(h);
    }
    let mut b = heap::take_inbox(h);
    let mut to_lanes = 0;
    // Remote-prefetch box: the chain's blocks were last written by other cores, and each
    // link is a miss; the second word of a queued block names one AHEAD links on.
    let ahead = (*tb).rq.prefetch;
    if ahead && !b.is_null() {
        boxes::hit(sw::REMOTE_PREFETCH); // per drain that found blocks, not per block
    }
    while !b.is_null() {
        let next = (*b).next;
        if ahead {
            super::prefetch(*(b as *const usize).add(1));
        }
        let c = (*superslab::rec_of(b as usize)).class as usize;
        if c < NCLASS && lane::put_if_room(tb, c, b) {
            to_lanes += 1;
        } else if heap::is_slab_node(b) {
            to_lanes += slab_list_to_lane(tb, h, b);
        } else {
            heap::return_drained(h, b);
        }
        b = next;
    }
    bump(&h.shared.stats.remote_drained, to_lanes);
    debug_check(tb, h);
}

/// Slab-lists box: a slab's node came off the inbox (its link read): take the slab's remote
/// list whole onto its class's lane while the lane has room, the rest back to the slab.
/// Returns how many went to the lane.
///
/// # Safety
/// `tb` is the calling thread's block and `h` its heap; `node` came from `h`'s inbox.
#[cold]
#[inline(never)]
unsafe fn slab_list_to_lane(tb: *mut ThreadBlock, h: &Heap, node: *mut Block) -> u64 {
    let (m, chain) = heap::take_slab_list(node);
    let (rest, n) = lane::put_chain(tb, (*m).class as usize, chain);
    if !rest.is_null() {
        heap::give_slab_chain(h, rest);
    }
    n as u64
}

/// Give every FastLane block back (thread exit).
///
/// # Safety
/// `tb` is the calling thread's block and `h` its heap.
pub unsafe fn flush_all(tb: *mut ThreadBlock, h: &Heap) {
    for c in 0..NCLASS {
        let b = lane::take_all(tb, c);
        give_back(tb, h, c, b);
    }
}
