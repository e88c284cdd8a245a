//! A class slab: blocks of one size, carved lazily from the slab's units and given back
//! one by one. Owner: the heap's owner, so no atomics.
//!
//! Free-list links are stored through `harden::encode` (identity unless `HAKMEM_HARDEN=1`,
//! where they are XOR-ed with a per-process key and the slot address, safe-linking style).
//! Hardened mode also keeps a bitmap per slab (in the SuperSlab header, `free_bits`):
//! bit `i` set ⇔ block `i` is on the slab's free list, so its double-free check is one
//! bit test instead of a walk of the list.

use crate::boxes::harden;
use crate::size_class::{ClassIdx, BLOCK_SIZE};
use crate::types::{ss_of, unit_of, Block, SlabMeta, UNIT_SIZE};
use core::ptr;

/// # Safety
/// `b` is a block of a slab the caller owns.
#[inline]
unsafe fn set_next(b: *mut Block, next: *mut Block) {
    (*b).next = harden::encode(b as usize, next as usize) as *mut Block;
}

/// The next block after `b` on `m`'s free list (decoded, and validated when hardened).
///
/// # Safety
/// `b` is on `m`'s free list.
#[inline]
pub unsafe fn next_of(m: &SlabMeta, b: *mut Block) -> *mut Block {
    let n = harden::decode(b as usize, (*b).next as usize);
    if harden::on() && n != 0 && !is_block_start(m, n) {
        crate::msg::fatal("malloc", "corrupted free list (next pointer outside its slab)", b as usize);
    }
    n as *mut Block
}

/// The hardened free bitmap word and bit of block `b` of slab `m`.
///
/// # Safety
/// `b` is a block start of the live slab `m`, hardened mode (the bitmap is initialised).
#[inline]
unsafe fn bit(m: &SlabMeta, b: usize) -> (*mut u64, u64) {
    let i = (b - m.start) / m.block_size as usize;
    let ss = ss_of(m.start);
    let words = ptr::addr_of_mut!((*ss).free_bits[unit_of(m.start)]) as *mut u64;
    (words.add(i / 64), 1u64 << (i % 64))
}

/// Set up `m` (already claimed, `start` and `units` set) as a slab of class `c`.
///
/// # Safety
/// `m` is a claimed meta of a SuperSlab the caller owns.
pub unsafe fn init(m: &mut SlabMeta, c: ClassIdx) {
    let bs = BLOCK_SIZE[c];
    m.class = c as u8;
    m.block_size = bs;
    m.capacity = (m.units as usize * UNIT_SIZE / bs as usize) as u32;
    m.carved = 0;
    m.used = 0;
    m.free = ptr::null_mut();
    m.free_count = 0;
    if harden::on() {
        let ss = ss_of(m.start);
        (*ss).free_bits[unit_of(m.start)] = [0; 64];
    }
}

/// Does the slab have a block to give?
#[inline]
pub fn has_room(m: &SlabMeta) -> bool {
    m.free_count > 0 || m.carved < m.capacity
}

/// Take up to `want` blocks as a linked chain (plain links); returns (head, count).
///
/// # Safety
/// `m` is a live slab owned by the caller.
pub unsafe fn take(m: &mut SlabMeta, want: u32) -> (*mut Block, u32) {
    if m.free_count > 0 {
        let head = m.free;
        let n;
        if harden::on() {
            // Hand out plain links only: decode (and validate) the part we take.
            n = want.min(m.free_count);
            let mut tail = head;
            for i in 0..n {
                let (w, b) = bit(m, tail as usize);
                *w &= !b;
                if i + 1 == n {
                    break;
                }
                let next = next_of(m, tail);
                (*tail).next = next;
                tail = next;
            }
            m.free = next_of(m, tail);
            (*tail).next = ptr::null_mut();
            m.free_count -= n;
        } else if m.free_count <= want {
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
    let bs = m.block_size as usize;
    let n = want.min(m.capacity - m.carved).min(carve_cap(bs));
    if n == 0 {
        return (ptr::null_mut(), 0);
    }
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

/// Carve-cap box (`HAKMEM_CARVE_KB`): the most fresh blocks one refill carves, at least one.
/// Carving writes every block it links, so a refill that carves more than the thread then
/// uses leaves touched pages idle on a lane; freed blocks are not capped (they are touched
/// already).
fn carve_cap(bs: usize) -> u32 {
    let kb = crate::config::tuning().get(crate::boxes::sw::CARVE_KB) as usize;
    if kb == 0 {
        return u32::MAX;
    }
    crate::boxes::hit(crate::boxes::sw::CARVE_KB);
    (kb * 1024 / bs).max(1) as u32
}

/// Give one block back. Returns the slab's `used` count afterwards.
///
/// # Safety
/// `b` is a block of `m` that is out of the slab (counted in `used`).
#[inline]
pub unsafe fn give(m: &mut SlabMeta, b: *mut Block) -> u32 {
    if harden::on() {
        let (w, bit) = bit(m, b as usize);
        *w |= bit;
    }
    set_next(b, m.free);
    m.free = b;
    m.free_count += 1;
    m.used -= 1;
    m.used
}

/// Is `b` on this slab's free list? One bit test (hardened mode keeps the bitmap).
///
/// # Safety
/// Hardened mode only; `b` is a block start of `m`.
pub unsafe fn is_free(m: &SlabMeta, b: usize) -> bool {
    let (w, bit) = bit(m, b);
    *w & bit != 0
}

/// Is `b` on this slab's free list? A walk bounded by `free_count` (suspected double
/// frees only).
///
/// # Safety
/// The caller owns the slab's heap.
pub unsafe fn on_free_list(m: &SlabMeta, b: usize) -> bool {
    if m.kind != crate::types::UnitKind::Slab {
        return false;
    }
    let mut p = m.free;
    let mut n = 0;
    while !p.is_null() && n < m.free_count {
        if p as usize == b {
            return true;
        }
        p = next_of(m, p);
        n += 1;
    }
    false
}

/// Is `p` the start of a carved block of this slab? (division; checked paths only)
pub fn is_block_start(m: &SlabMeta, p: usize) -> bool {
    p >= m.start
        && (p - m.start) % m.block_size as usize == 0
        && ((p - m.start) / m.block_size as usize) < m.carved as usize
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::heap::superslab;
    use crate::types::{SuperSlab, UnitKind, SS_SIZE};

    #[test]
    fn carve_give_take_and_block_starts() {
        let chunk = crate::backend::os::map_aligned(SS_SIZE, SS_SIZE) as usize;
        assert_ne!(chunk, 0);
        let p: *mut SuperSlab = crate::types::ss_of(chunk);
        // SAFETY: a fresh chunk only this test uses.
        unsafe {
            superslab::init(p, ptr::null_mut());
            let c = crate::size_class::class_index(64);
            let m = &mut *superslab::claim_units(p, 1, 1, UnitKind::Slab, c as u8);
            init(m, c);
            assert_eq!(m.capacity, 1024);
            let (a, n) = take(m, 3);
            assert_eq!(n, 3);
            assert_eq!((a as usize, (*a).next as usize), (m.start, m.start + 64), "carved in address order");
            assert!(is_block_start(m, m.start + 128));
            assert!(!is_block_start(m, m.start + 130));
            assert!(!is_block_start(m, m.start + 192), "not carved yet");
            assert_eq!(give(m, a), 2);
            assert!(on_free_list(m, a as usize));
            assert!(!on_free_list(m, m.start + 64));
            assert!(has_room(m));
            let (b, k) = take(m, 8);
            assert_eq!((b, k), (a, 1), "the free list first, whole");
            assert_eq!((m.used, m.free_count, m.carved), (3, 0, 3));
            m.check();
            crate::backend::os::unmap(chunk as *mut u8, SS_SIZE);
        }
    }
}
