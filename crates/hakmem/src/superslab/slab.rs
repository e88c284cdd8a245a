//! A class slab: blocks of one size, carved lazily from the slab's units and
//! given back one by one. Owner-thread only, so no atomics.

use super::{Block, SlabMeta, UNIT_SIZE};
use crate::size_class::{ClassIdx, BLOCK_SIZE};
use core::ptr;

/// Set up `m` (already claimed, `start` and `units` set) as a slab of class `c`.
pub fn init(m: &mut SlabMeta, c: ClassIdx) {
    let bs = BLOCK_SIZE[c];
    m.class = c as u8;
    m.block_size = bs;
    m.capacity = (m.units as usize * UNIT_SIZE / bs as usize) as u32;
    m.carved = 0;
    m.used = 0;
    m.free = ptr::null_mut();
    m.free_count = 0;
}

/// Does the slab have a block to give?
#[inline]
pub fn has_room(m: &SlabMeta) -> bool {
    m.free_count > 0 || m.carved < m.capacity
}

/// Take up to `want` blocks as a linked chain; returns (head, count).
///
/// # Safety
/// `m` is a live slab owned by the caller.
pub unsafe fn take(m: &mut SlabMeta, want: u32) -> (*mut Block, u32) {
    if m.free_count > 0 {
        let head = m.free;
        let n;
        if m.free_count <= want {
            // Whole list: no walk needed.
            n = m.free_count;
            m.free = ptr::null_mut();
            m.free_count = 0;
        } else {
            let mut tail = head;
            for _ in 1..want {
                tail = (*tail).next;
            }
            m.free = (*tail).next;
            (*tail).next = ptr::null_mut();
            m.free_count -= want;
            n = want;
        }
        m.used += n;
        return (head, n);
    }
    // Carve fresh blocks, linking them in address order (sequential writes, prefetch-friendly).
    let n = want.min(m.capacity - m.carved);
    if n == 0 {
        return (ptr::null_mut(), 0);
    }
    let bs = m.block_size as usize;
    let first = m.start + m.carved as usize * bs;
    let mut p = first;
    for _ in 1..n {
        (*(p as *mut Block)).next = (p + bs) as *mut Block;
        p += bs;
    }
    (*(p as *mut Block)).next = ptr::null_mut();
    m.carved += n;
    m.used += n;
    (first as *mut Block, n)
}

/// Give one block back. Returns the slab's `used` count afterwards.
///
/// # Safety
/// `b` is a block of `m` that is out of the slab (counted in `used`).
#[inline]
pub unsafe fn give(m: &mut SlabMeta, b: *mut Block) -> u32 {
    (*b).next = m.free;
    m.free = b;
    m.free_count += 1;
    m.used -= 1;
    m.used
}

/// Is `p` the start of a block of this slab? (division; used on checked paths only)
pub fn is_block_start(m: &SlabMeta, p: usize) -> bool {
    p >= m.start && (p - m.start) % m.block_size as usize == 0 && ((p - m.start) / m.block_size as usize) < m.carved as usize
}
