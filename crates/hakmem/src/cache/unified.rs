//! The unified cache layer: moves blocks between a thread's FastLane and its heap's
//! slabs in batches, so the per-block cost of the slow path is amortised over
//! `limit/2` operations.

use crate::front::fastlane::{limit, ThreadBlock};
use crate::heap::{self, Heap};
use crate::size_class::{ClassIdx, NCLASS};
use crate::superslab::Block;
use core::ptr;
use core::sync::atomic::Ordering::Relaxed;

/// Blocks moved per refill.
#[inline]
fn batch(c: ClassIdx) -> u32 {
    if crate::boxes::harden::on() {
        return 1; // hardened: free blocks stay in the (protected) slab lists
    }
    (limit(c) / 2).max(8)
}

/// The FastLane of class `c` is empty: fetch a batch, return one block, keep the rest.
/// Null when the OS has no memory for us.
pub unsafe fn refill(tb: *mut ThreadBlock, h: &mut Heap, c: ClassIdx) -> *mut u8 {
    if !h.inbox.load(Relaxed).is_null() {
        heap::drain_inbox_to_lanes(h, tb);
        let b = crate::front::fastlane::lane_pop(tb, c);
        if !b.is_null() {
            return b;
        }
    }
    let (head, n) = heap::take_batch(h, c, batch(c));
    if head.is_null() {
        return ptr::null_mut();
    }
    h.counters.refills[c] += 1;
    if crate::config::tuning().lane_kib != 64 {
        crate::boxes::fastlane_budget::HITS.fetch_add(1, core::sync::atomic::Ordering::Relaxed);
    }
    if c == 7 && crate::config::tuning().c7_ultra {
        crate::boxes::c7_ultra::HITS.fetch_add(1, core::sync::atomic::Ordering::Relaxed);
    }
    h.counters.refill_blocks[c] += n as u64;
    (*tb).fl[c] = (*head).next;
    (*tb).room[c] = limit(c) as i32 - (n as i32 - 1);
    head as *mut u8
}

/// The FastLane of class `c` is over its limit: keep the most recently freed half
/// (warm in cache), give the older half back to the slabs.
#[cold]
#[inline(never)]
pub unsafe fn flush(tb: *mut ThreadBlock, h: &mut Heap, c: ClassIdx) {
    let lim = limit(c);
    let keep = lim / 2;
    let mut last = (*tb).fl[c];
    for _ in 1..keep {
        last = (*last).next;
    }
    let rest = (*last).next;
    (*last).next = ptr::null_mut();
    (*tb).room[c] = (lim - keep) as i32;
    h.counters.flushes[c] += 1;
    h.counters.flush_blocks[c] += give_chain(h, rest);
}

/// Give a chain of blocks back to their slabs; returns how many.
unsafe fn give_chain(h: &mut Heap, mut b: *mut Block) -> u64 {
    let mut n = 0;
    while !b.is_null() {
        let next = (*b).next;
        heap::give_block(h, b);
        b = next;
        n += 1;
    }
    n
}

/// An attached thread starts with empty lanes: full room in each.
pub unsafe fn reset_lanes(tb: *mut ThreadBlock) {
    for c in 0..NCLASS {
        (*tb).room[c] = limit(c) as i32;
    }
}

/// Give every FastLane block back (thread exit).
pub unsafe fn flush_all(tb: *mut ThreadBlock, h: &mut Heap) {
    for c in 0..NCLASS {
        let b = (*tb).fl[c];
        (*tb).fl[c] = ptr::null_mut();
        (*tb).room[c] = limit(c) as i32;
        h.counters.flush_blocks[c] += give_chain(h, b);
    }
}
