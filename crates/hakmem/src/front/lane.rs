//! The FastLanes: the only code that writes a `Lane` (see `types::Lane` for the
//! invariants). A lane is a LIFO of free blocks of one class owned by the thread; `room`
//! counts down from the class's limit, so the free path tests "over the limit" with the
//! flags of one decrement. Everything that changes a lane's length goes through here:
//! pop (malloc hit), push (free hit), install (refill), split (flush), put (a drained
//! remote block), reset (attach) and take_all (thread exit).

use crate::config::tuning;
use crate::size_class::{ClassIdx, NCLASS};
use crate::types::{Block, ThreadBlock};
use core::ptr;

/// FastLane limit of class `c` (blocks), frozen at start-up.
#[inline(always)]
pub fn limit(c: ClassIdx) -> u32 {
    tuning().lane_limits[c]
}

/// Pop a block from class `c`'s lane (the malloc hit); null when the lane is empty.
///
/// # Safety
/// `tb` is the calling thread's block.
#[inline(always)]
pub unsafe fn pop(tb: *mut ThreadBlock, c: ClassIdx) -> *mut u8 {
    let slot = (*tb).lanes.head.as_mut_ptr().add(c);
    let b = *slot;
    if !b.is_null() {
        *slot = (*b).next;
        *(*tb).lanes.room.as_mut_ptr().add(c) += 1;
    }
    b as *mut u8
}

/// Push block `p` of class `c` (the free hit). Returns true when the lane went over its
/// limit: the caller flushes (`refill::flush`).
///
/// # Safety
/// `tb` is the calling thread's block; `p` is a block of class `c` of its heap.
#[inline(always)]
pub unsafe fn push(tb: *mut ThreadBlock, c: ClassIdx, p: *mut u8) -> bool {
    let slot = (*tb).lanes.head.as_mut_ptr().add(c);
    let head = *slot;
    if head as *mut u8 == p {
        crate::msg::fatal("free", "double free detected", p as usize);
    }
    let b = p as *mut Block;
    (*b).next = head;
    *slot = b;
    let room = (*tb).lanes.room.as_mut_ptr().add(c);
    *room -= 1;
    *room < 0
}

/// Put a block that came back through the inbox on its lane if the lane has room.
/// False: no room, the caller gives it to its slab.
///
/// # Safety
/// As `push`.
#[inline]
pub unsafe fn put_if_room(tb: *mut ThreadBlock, c: ClassIdx, b: *mut Block) -> bool {
    let l = &mut (*tb).lanes;
    if l.room[c] <= 0 {
        return false;
    }
    if l.head[c] == b {
        crate::msg::fatal("free", "double free detected (block sent to its owner twice)", b as usize);
    }
    (*b).next = l.head[c];
    l.head[c] = b;
    l.room[c] -= 1;
    true
}

/// Install a refilled chain of `n` blocks (the lane was empty) and return its first block
/// to the caller: the lane keeps the other `n - 1`.
///
/// # Safety
/// The lane of class `c` is empty; `head` is a chain of exactly `n >= 1` blocks.
pub unsafe fn install(tb: *mut ThreadBlock, c: ClassIdx, head: *mut Block, n: u32) -> *mut u8 {
    let l = &mut (*tb).lanes;
    debug_assert!(l.head[c].is_null());
    l.head[c] = (*head).next;
    l.room[c] = limit(c) as i32 - (n as i32 - 1);
    head as *mut u8
}

/// The lane is over its limit: keep the most recently freed half (warm in cache) and
/// return the older half as a null-terminated chain for the heap.
///
/// # Safety
/// The lane holds more than `limit(c) / 2` blocks.
pub unsafe fn split(tb: *mut ThreadBlock, c: ClassIdx) -> *mut Block {
    let lim = limit(c);
    let keep = lim / 2;
    let l = &mut (*tb).lanes;
    let mut last = l.head[c];
    for _ in 1..keep {
        last = (*last).next;
    }
    let rest = (*last).next;
    (*last).next = ptr::null_mut();
    l.room[c] = (lim - keep) as i32;
    rest
}

/// A thread attaching a heap starts with empty lanes: full room in each.
///
/// # Safety
/// `tb` is the calling thread's block and its lanes are empty.
pub unsafe fn reset(tb: *mut ThreadBlock) {
    for c in 0..NCLASS {
        (*tb).lanes.head[c] = ptr::null_mut();
        (*tb).lanes.room[c] = limit(c) as i32;
    }
}

/// Empty class `c`'s lane and return its chain (thread exit).
///
/// # Safety
/// `tb` is the calling thread's block.
pub unsafe fn take_all(tb: *mut ThreadBlock, c: ClassIdx) -> *mut Block {
    let l = &mut (*tb).lanes;
    l.room[c] = limit(c) as i32;
    core::mem::replace(&mut l.head[c], ptr::null_mut())
}

/// Verify every lane's invariant (tests, debug builds).
///
/// # Safety
/// `tb` is the calling thread's block with a heap attached.
pub unsafe fn check_all(tb: *mut ThreadBlock) {
    for c in 0..NCLASS {
        (*tb).lanes.check(c, limit(c));
    }
}
