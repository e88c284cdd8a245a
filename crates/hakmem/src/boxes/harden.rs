//! Hardened box: checks on every free and protected free lists.
//!
//! Switch: `HAKMEM_HARDEN=0|1` (both profiles 0).
//! Acts at: thread attach (the free fast path's owner compare is made to fail, so every
//! free takes `front::free::free_slow`, at no cost to the normal path), the refill
//! batch (1 block: the FastLane stays empty, all free blocks live in slab free lists),
//! and the slab free lists (`heap::slab`), whose links are stored XOR-ed with a
//! per-process random key and the slot's address (glibc's safe-linking, keyed). With it:
//! a freed pointer must start a carved block of its slab, must not already be free, and a
//! forged or overwritten link is caught before it is followed ("corrupted free list").
//! Not done: a guard page after each SuperSlab.

use crate::sync::{AtomicUsize, Ordering::Relaxed};

/// The XOR key; 0 when hardened mode is off (encoding is then the identity).
static KEY: AtomicUsize = AtomicUsize::new(0);

/// Choose the key (global init). The kernel's 16 random bytes for this process
/// (AT_RANDOM) need no syscall and no allocation.
pub fn init(enabled: bool) {
    if !enabled {
        return;
    }
    // SAFETY: getauxval has no preconditions; AT_RANDOM points at 16 readable bytes.
    let k = unsafe {
        let p = libc::getauxval(libc::AT_RANDOM) as *const usize;
        if p.is_null() {
            0x9e37_79b9_7f4a_7c15
        } else {
            core::ptr::read_unaligned(p.add(1))
        }
    };
    KEY.store(k | 1, Relaxed);
}

#[inline]
pub fn on() -> bool {
    KEY.load(Relaxed) != 0
}

/// Link as stored in a slab free list at `slot`.
#[inline]
pub fn encode(slot: usize, next: usize) -> usize {
    let k = KEY.load(Relaxed);
    if k == 0 {
        next
    } else {
        next ^ k ^ (slot >> 12)
    }
}

#[inline]
pub fn decode(slot: usize, stored: usize) -> usize {
    encode(slot, stored)
}
