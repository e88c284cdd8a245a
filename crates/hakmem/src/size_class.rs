//! Size classes: size -> class, class -> block size and slab geometry.
//!
//! Forty classes. Up to 1 KiB (the tiny classes): 16..128 by 16, then four per doubling
//! (160 192 224 256 | 320 … 512 | 640 … 1024), so a request wastes at most ~20% (at most
//! 15 bytes below 128). Above 1 KiB, four per doubling up to 32 KiB. Every block size is a
//! multiple of 16 and every slab starts on a 64 KiB boundary, so a block of size `bs` is
//! aligned to the largest power of two dividing `bs` (that is how aligned allocations are
//! served without interior pointers).
//!
//! The fine-classes box (`HAKMEM_FINE_CLASSES`) chooses the size -> class table at start-up:
//! on, every class; off, only the seed's classes (tiny 16 32 64 128 256 512 768 1024 = C0–C7
//! of the seed, then the same small classes), a subset of the same forty, so both tables
//! index one `BLOCK_SIZE` and the hit path is the same instructions either way.

use core::sync::atomic::{AtomicPtr, Ordering::Relaxed};

/// Number of classes served by the FastLane front.
pub const NCLASS: usize = 40;
/// Largest tiny size (the 1 KiB class, C7 in the seed's numbering).
pub const TINY_MAX: usize = 1024;
/// Largest size served from a class slab; above it come large spans and huge mappings.
pub const SMALL_MAX: usize = 32 * 1024;

/// A class index, `0..NCLASS`.
pub type ClassIdx = usize;

const fn build_sizes() -> [u32; NCLASS] {
    let mut s = [0u32; NCLASS];
    let mut i = 0;
    // 16 .. 128 by 16
    while i < 8 {
        s[i] = 16 * (i as u32 + 1);
        i += 1;
    }
    // then four per doubling: 160 192 224 256 | 320 … 512 | … | 20480 … 32768
    let mut base = 128u32;
    while i < NCLASS {
        let mut k = 1;
        while k <= 4 && i < NCLASS {
            s[i] = base + base / 4 * k;
            k += 1;
            i += 1;
        }
        base *= 2;
    }
    s
}

/// Block size of each class.
pub static BLOCK_SIZE: [u32; NCLASS] = build_sizes();

/// Is class size `bs` one of the seed's classes (the coarse table)?
pub const fn seed_class(bs: u32) -> bool {
    if bs > 1024 {
        return true;
    }
    matches!(bs, 16 | 32 | 64 | 128 | 256 | 512 | 768 | 1024)
}

/// Entry `i` is the smallest class (all of them, or the seed's only) holding `i * 16`
/// bytes (entry 0: one byte).
const fn build_lookup(fine: bool) -> [u8; SMALL_MAX / 16 + 1] {
    let sizes = build_sizes();
    let mut t = [0u8; SMALL_MAX / 16 + 1];
    let mut i = 0;
    while i < t.len() {
        let n = if i == 0 { 1 } else { i * 16 } as u32;
        let mut c = 0;
        while sizes[c] < n || !(fine || seed_class(sizes[c])) {
            c += 1;
        }
        t[i] = c as u8;
        i += 1;
    }
    t
}

/// The size -> class tables (2.0 KiB each, of which a program touches the lines for the
/// sizes it uses).
pub static LOOKUP_FINE: [u8; SMALL_MAX / 16 + 1] = build_lookup(true);
pub static LOOKUP_SEED: [u8; SMALL_MAX / 16 + 1] = build_lookup(false);

/// The table in use: written once at global init (fine-classes box), read with a relaxed
/// load (a plain `mov`, as cheap as the address of a static).
static LOOKUP: AtomicPtr<u8> = AtomicPtr::new(LOOKUP_FINE.as_ptr() as *mut u8);

/// Choose the table (global init).
pub fn set_fine(fine: bool) {
    let t = if fine { LOOKUP_FINE.as_ptr() } else { LOOKUP_SEED.as_ptr() };
    LOOKUP.store(t as *mut u8, Relaxed);
}

/// Class of a size `n <= SMALL_MAX` (0 maps to the smallest class): one load.
#[inline(always)]
pub fn class_of(n: usize) -> ClassIdx {
    debug_assert!(n <= SMALL_MAX);
    // SAFETY: n <= SMALL_MAX, so (n + 15) >> 4 is inside either table.
    unsafe { *LOOKUP.load(Relaxed).add((n + 15) >> 4) as usize }
}

/// Index of the class whose blocks are exactly `bs` bytes.
pub const fn class_index(bs: u32) -> ClassIdx {
    let s = build_sizes();
    let mut c = 0;
    while s[c] != bs {
        c += 1;
    }
    c
}

/// The 1 KiB class (the C7-ultra box deepens its lane).
pub const C7: ClassIdx = class_index(TINY_MAX as u32);

/// `DIV[c]` = ceil(2^64 / block size): an offset `n < 2^32` is a multiple of the block size
/// exactly when `n * DIV[c]` (wrapping) is below `DIV[c]` (Lemire's divisibility test: one
/// multiply and one compare, the free path's block-start check).
pub static DIV: [u64; NCLASS] = {
    let s = build_sizes();
    let mut t = [0u64; NCLASS];
    let mut c = 0;
    while c < NCLASS {
        t[c] = u64::MAX / s[c] as u64 + 1;
        c += 1;
    }
    t
};

/// Is `off` (an offset in a slab whose class has multiplier `div = DIV[c]`) the start
/// of a block?
#[inline(always)]
pub fn is_block_offset(div: u64, off: u32) -> bool {
    (off as u64).wrapping_mul(div) < div
}

/// Slab units (64 KiB each) a slab of this class spans: enough for >= 8 blocks.
#[inline]
pub fn slab_units(c: ClassIdx) -> usize {
    if BLOCK_SIZE[c] <= 8192 {
        1
    } else {
        4
    }
}

/// How many blocks the FastLane may hold for a class before it flushes half back.
/// Sized by bytes (`lane_bytes` per class) so big classes don't hoard memory,
/// 16..=512 blocks.
pub const fn fastlane_limit(c: ClassIdx, lane_bytes: u32) -> u32 {
    let n = lane_bytes / build_sizes()[c];
    if n < 16 {
        16
    } else if n > 512 {
        512
    } else {
        n
    }
}

/// Smallest class that holds `n` bytes and whose blocks are `align`-aligned
/// (block size a multiple of `align`), if any.
pub fn class_for_aligned(n: usize, align: usize) -> Option<ClassIdx> {
    if n > SMALL_MAX || align > 64 * 1024 {
        return None;
    }
    let mut c = class_of(n);
    while c < NCLASS {
        if BLOCK_SIZE[c] as usize % align == 0 {
            return Some(c);
        }
        c += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_increasing_multiples_of_16() {
        for c in 0..NCLASS {
            assert_eq!(BLOCK_SIZE[c] % 16, 0, "class {c}");
            if c > 0 {
                assert!(BLOCK_SIZE[c] > BLOCK_SIZE[c - 1]);
            }
        }
        assert_eq!(BLOCK_SIZE[C7], 1024, "C7 is the 1 KiB class");
        assert_eq!(BLOCK_SIZE[NCLASS - 1] as usize, SMALL_MAX);
    }

    #[test]
    fn every_size_maps_to_the_smallest_fitting_class() {
        for n in 0..=SMALL_MAX {
            let c = class_of(n);
            assert!(BLOCK_SIZE[c] as usize >= n.max(1), "n={n} c={c}");
            if c > 0 {
                assert!((BLOCK_SIZE[c - 1] as usize) < n, "n={n} fits a smaller class than {c}");
            }
        }
    }

    #[test]
    fn waste_is_bounded_above_64_bytes() {
        for n in 65..=SMALL_MAX {
            let bs = BLOCK_SIZE[LOOKUP_FINE[(n + 15) >> 4] as usize] as usize;
            assert!(bs * 4 <= n * 5 + 60, "fine classes waste >25%: n={n} bs={bs}");
            let seed = BLOCK_SIZE[LOOKUP_SEED[(n + 15) >> 4] as usize] as usize;
            assert!(seed * 100 <= n * 200, "n={n} seed bs={seed}");
            if n > TINY_MAX {
                assert_eq!(seed, bs, "above 1 KiB both tables agree");
            }
        }
        // the seed table uses the seed's tiny classes only
        assert_eq!(BLOCK_SIZE[LOOKUP_SEED[(513 + 15) >> 4] as usize], 768);
        assert_eq!(BLOCK_SIZE[LOOKUP_FINE[(513 + 15) >> 4] as usize], 640);
        assert_eq!(BLOCK_SIZE[LOOKUP_FINE[(288 + 15) >> 4] as usize], 320);
    }

    #[test]
    fn aligned_classes_are_multiples_of_alignment() {
        for align in [16usize, 32, 64, 128, 256, 512, 1024, 4096, 8192, 32768] {
            for n in [1usize, 17, 100, 1000, 5000, 20000] {
                if let Some(c) = class_for_aligned(n, align) {
                    assert!(BLOCK_SIZE[c] as usize >= n);
                    assert_eq!(BLOCK_SIZE[c] as usize % align, 0);
                }
            }
        }
        assert!(class_for_aligned(100, 4096).is_some());
        assert!(class_for_aligned(40000, 16).is_none());
    }

    #[test]
    fn block_offset_test_matches_division() {
        for c in 0..NCLASS {
            let bs = BLOCK_SIZE[c];
            for off in (0..4 * 65536u32).step_by(1).filter(|o| o % 7 == 0 || o % bs == 0 || o % bs == 1) {
                assert_eq!(is_block_offset(DIV[c], off), off % bs == 0, "class {c} off {off}");
            }
        }
    }

    #[test]
    fn slabs_hold_at_least_eight_blocks() {
        for (c, &bs) in BLOCK_SIZE.iter().enumerate() {
            assert!(slab_units(c) * 65536 / bs as usize >= 8);
            assert!((16..=512).contains(&fastlane_limit(c, 64 * 1024)));
        }
        assert_eq!(fastlane_limit(C7, 64 * 1024), 64);
        assert_eq!(fastlane_limit(C7, 32 * 1024), 32);
    }
}
