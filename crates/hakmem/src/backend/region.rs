//! Which 2 MiB chunks of the address space are live SuperSlabs: one byte each.
//!
//! Owner: the `heap` layer sets a chunk's bit once its header is initialised for a
//! heap and clears it before the chunk goes back to the warm pool, so a pointer into a
//! pooled or unmapped chunk is never mistaken for a block.
//!
//! 2^47 bytes of user address space / 2 MiB = 2^26 bytes = 64 MiB of .bss (address space,
//! not memory: only the pages covering chunks we actually use are ever touched, one 4 KiB
//! page per 8 GiB of SuperSlab addresses). A byte map rather than a bitmap because the free
//! path's test is then one shift, one compare and one byte load (the bitmap took a second
//! shift and a bit test: 3 instructions more per free).

use crate::types::SS_SHIFT;
use core::sync::atomic::{AtomicU8, Ordering::Relaxed};

const CHUNKS: usize = 1 << (47 - SS_SHIFT);

#[allow(clippy::declare_interior_mutable_const)]
const ZERO: AtomicU8 = AtomicU8::new(0);
static MAP: [AtomicU8; CHUNKS] = [ZERO; CHUNKS];

/// A chunk's byte: never a SuperSlab (or unmapped since).
pub const NONE: u8 = 0;
/// A live SuperSlab.
pub const LIVE: u8 = 1;
/// A SuperSlab given back to the warm pool (still mapped): a free of a pointer in it is a
/// double free of a block that lived there, or a wild pointer.
pub const POOLED: u8 = 2;

/// Is `p` inside a SuperSlab? False for null and for addresses above user space.
#[inline(always)]
pub fn is_superslab(p: usize) -> bool {
    state(p) == LIVE
}

/// The byte of the chunk holding `p` (`NONE` above user space).
#[inline(always)]
pub fn state(p: usize) -> u8 {
    // The chunk index doubles as the bounds check (p < 2^47 <=> i < CHUNKS).
    let i = p >> SS_SHIFT;
    if i >= CHUNKS {
        return NONE;
    }
    // SAFETY: i < CHUNKS is in bounds.
    unsafe { MAP.get_unchecked(i) }.load(Relaxed)
}

/// Set the byte of the chunk at `ss`.
pub fn mark(ss: usize, state: u8) {
    let i = ss >> SS_SHIFT;
    if i >= CHUNKS {
        return;
    }
    MAP[i].store(state, Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_and_unmarks_chunks() {
        let a = 0x5555_0000_0000usize;
        assert!(!is_superslab(a));
        mark(a, LIVE);
        assert!(is_superslab(a + 12345));
        assert!(!is_superslab(a + (1 << SS_SHIFT)));
        mark(a, POOLED);
        assert!(!is_superslab(a));
        assert_eq!(state(a + 7), POOLED);
        mark(a, NONE);
        assert_eq!(state(a), NONE);
        assert!(!is_superslab(0));
        assert!(!is_superslab(usize::MAX));
    }
}
