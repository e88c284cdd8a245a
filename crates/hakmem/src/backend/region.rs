//! Which 2 MiB chunks of the address space are live SuperSlabs: one bit each.
//!
//! Owner: the `heap` layer sets a chunk's bit once its header is initialised for a
//! heap and clears it before the chunk goes back to the warm pool, so a pointer into a
//! pooled or unmapped chunk is never mistaken for a block.
//!
//! 2^47 bytes of user address space / 2 MiB = 2^26 bits = 8 MiB of .bss, of which
//! only the pages covering chunks we actually use are ever touched.

use crate::types::SS_SHIFT;
use core::sync::atomic::{AtomicU64, Ordering::Relaxed};

const CHUNKS: usize = 1 << (47 - SS_SHIFT);

#[allow(clippy::declare_interior_mutable_const)]
const ZERO: AtomicU64 = AtomicU64::new(0);
static BITS: [AtomicU64; CHUNKS / 64] = [ZERO; CHUNKS / 64];

/// Is `p` inside a SuperSlab? False for null and for addresses above user space.
#[inline(always)]
pub fn is_superslab(p: usize) -> bool {
    // The word index doubles as the bounds check (p < 2^47 <=> word < CHUNKS / 64), and
    // the bit index needs no mask: shifts take it modulo 64.
    let word = p >> (SS_SHIFT + 6);
    if word >= CHUNKS / 64 {
        return false;
    }
    // SAFETY: word < CHUNKS / 64 is in bounds.
    let w = unsafe { BITS.get_unchecked(word) }.load(Relaxed);
    (w >> ((p >> SS_SHIFT) & 63)) & 1 != 0
}

/// Set or clear the bit of the chunk at `ss`.
pub fn mark(ss: usize, on: bool) {
    let i = ss >> SS_SHIFT;
    if i >= CHUNKS {
        return;
    }
    let bit = 1u64 << (i & 63);
    if on {
        BITS[i >> 6].fetch_or(bit, Relaxed);
    } else {
        BITS[i >> 6].fetch_and(!bit, Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_and_unmarks_chunks() {
        let a = 0x5555_0000_0000usize;
        assert!(!is_superslab(a));
        mark(a, true);
        assert!(is_superslab(a + 12345));
        assert!(!is_superslab(a + (1 << SS_SHIFT)));
        mark(a, false);
        assert!(!is_superslab(a));
        assert!(!is_superslab(0));
        assert!(!is_superslab(usize::MAX));
    }
}
