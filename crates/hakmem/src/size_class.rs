//! Size classes: size -> class, class -> block size and slab geometry.
//!
//! Seventy-two classes: 16..128 by 16, then eight per doubling up to 32 KiB (144 160 … 256 |
//! 288 320 … 512 | 576 … 1024 | 1152 … 2048 | …), so a request above 128 bytes wastes at
//! most 1/8 (on average 1/16 of a doubling, ~4%), and at most 15 bytes below. Every block
//! size is a multiple of 16 and every slab starts on a 64 KiB boundary, so a block of size
//! `bs` is aligned to the largest power of two dividing `bs` (that is how aligned
//! allocations are served without interior pointers).
//!
//! Two boxes choose the size -> class table at start-up, each table a subset of the same
//! seventy-two classes, so every table indexes one `BLOCK_SIZE` and the hit path is the same
//! instructions whichever is used:
//! - `HAKMEM_FINE_CLASSES=0`: only the seed's classes (tiny 16 32 64 128 256 512 768 1024 =
//!   C0–C7 of the seed, then four per doubling);
//! - `HAKMEM_FINE_CLASSES=1` with `HAKMEM_CLASS_DENSITY=4`: four per doubling above 128
//!   (160 192 224 256 | 320 …), the table of the previous release;
//! - `HAKMEM_FINE_CLASSES=1` with `HAKMEM_CLASS_DENSITY=8` (default): every class.

use core::sync::atomic::{AtomicPtr, Ordering::Relaxed};

/// Number of classes served by the FastLane front.
pub const NCLASS: usize = 72;
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
    // then eight per doubling: 144 160 … 256 | 288 … 512 | … | 28672 … 32768
    let mut base = 128u32;
    while i < NCLASS {
        let mut k = 1;
        while k <= 8 && i < NCLASS {
            s[i] = base + base / 8 * k;
            k += 1;
            i += 1;
        }
        base *= 2;
    }
    s
}

/// Is class size `bs` one of the four-per-doubling classes (16..128 by 16, then
/// `base + base/4 * k`)?
pub const fn quarter_class(bs: u32) -> bool {
    if bs <= 128 {
        return true;
    }
    let base = 1u32 << (31 - (bs - 1).leading_zeros()); // largest power of two below bs
    (bs - base) % (base / 4) == 0
}

/// Block size of each class.
pub static BLOCK_SIZE: [u32; NCLASS] = build_sizes();

/// Is class size `bs` one of the seed's classes (the coarse table)?
pub const fn seed_class(bs: u32) -> bool {
    if bs > 1024 {
        return quarter_class(bs);
    }
    matches!(bs, 16 | 32 | 64 | 128 | 256 | 512 | 768 | 1024)
}

/// Which classes a table uses.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Table {
    /// The seed's: powers of two (and 768) up to 1 KiB, four per doubling above.
    Seed,
    /// Four per doubling above 128 bytes.
    Quarter,
    /// Every class: eight per doubling above 128 bytes.
    Eighth,
}

const fn in_table(bs: u32, t: Table) -> bool {
    match t {
        Table::Seed => seed_class(bs),
        Table::Quarter => quarter_class(bs),
        Table::Eighth => true,
    }
}

/// Largest size whose class is read from a byte-indexed table (`Lookup::direct`): the malloc
/// hit then indexes by `n` itself, one instruction less than rounding it to 16 bytes, and
/// one more compare sends bigger sizes to `Lookup::coarse` (out of line in `malloc`).
pub const DIRECT_MAX: usize = 1024;

/// One size -> class table: `direct[n]` is the class of `n <= DIRECT_MAX` bytes (1 KiB, the
/// lines of the sizes a program uses); `coarse[i]` that of `i * 16` bytes (entry 0: one
/// byte), for every size up to `SMALL_MAX` (2 KiB). Both give the smallest class of the
/// table's set that holds the size.
#[repr(C)]
pub struct Lookup {
    pub direct: [u8; DIRECT_MAX + 1],
    pub coarse: [u8; SMALL_MAX / 16 + 1],
}

const fn smallest_class(n: u32, which: Table) -> u8 {
    let sizes = build_sizes();
    let mut c = 0;
    while sizes[c] < n || !in_table(sizes[c], which) {
        c += 1;
    }
    c as u8
}

const fn build_lookup(which: Table) -> Lookup {
    let mut t = Lookup { direct: [0u8; DIRECT_MAX + 1], coarse: [0u8; SMALL_MAX / 16 + 1] };
    let mut i = 0;
    while i < t.direct.len() {
        t.direct[i] = smallest_class(if i == 0 { 1 } else { i as u32 }, which);
        i += 1;
    }
    i = 0;
    while i < t.coarse.len() {
        t.coarse[i] = smallest_class(if i == 0 { 1 } else { i as u32 * 16 }, which);
        i += 1;
    }
    t
}

/// The size -> class tables, one per class set.
pub static LOOKUP_FINE: Lookup = build_lookup(Table::Eighth);
pub static LOOKUP_QUARTER: Lookup = build_lookup(Table::Quarter);
pub static LOOKUP_SEED: Lookup = build_lookup(Table::Seed);

/// The table in use: written once at global init (fine-classes and class-density boxes),
/// read with a relaxed load (a plain `mov`, as cheap as the address of a static).
static LOOKUP: AtomicPtr<Lookup> = AtomicPtr::new(&LOOKUP_FINE as *const Lookup as *mut Lookup);

/// Choose the table (global init).
pub fn set_table(which: Table) {
    let t: &'static Lookup = match which {
        Table::Seed => &LOOKUP_SEED,
        Table::Quarter => &LOOKUP_QUARTER,
        Table::Eighth => &LOOKUP_FINE,
    };
    LOOKUP.store(t as *const Lookup as *mut Lookup, Relaxed);
}

/// Class of a size `n <= DIRECT_MAX` (0 maps to the smallest class): one load, indexed by
/// `n` (the malloc hit's lookup).
#[inline(always)]
pub fn class_direct(n: usize) -> ClassIdx {
    debug_assert!(n <= DIRECT_MAX);
    // SAFETY: n <= DIRECT_MAX indexes `direct`; LOOKUP always points at one of the statics.
    unsafe { *(*LOOKUP.load(Relaxed)).direct.as_ptr().add(n) as usize }
}

/// Class of a size `n <= SMALL_MAX` (0 maps to the smallest class): one load, indexed by
/// `n` rounded up to 16 bytes.
#[inline(always)]
pub fn class_coarse(n: usize) -> ClassIdx {
    debug_assert!(n <= SMALL_MAX);
    // SAFETY: n <= SMALL_MAX, so (n + 15) >> 4 indexes `coarse`; LOOKUP points at a static.
    unsafe { *(*LOOKUP.load(Relaxed)).coarse.as_ptr().add((n + 15) >> 4) as usize }
}

/// Class of a size `n <= SMALL_MAX` (0 maps to the smallest class).
#[inline(always)]
pub fn class_of(n: usize) -> ClassIdx {
    if n <= DIRECT_MAX {
        class_direct(n)
    } else {
        class_coarse(n)
    }
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

/// `DIV[c]` = ceil(2^64 / block size), the multiplier of the free path's block-start test
/// (`types::UnitRec::starts_block`, after Lemire's divisibility test).
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

/// Class-borrow box: may class `c` take freed blocks of class `c + 1`? Only where the next
/// class is at most 1/8 bigger (eight classes per doubling, from 128 B up), so a borrowed
/// block wastes at most as much as the four-per-doubling table would. A borrowed block may
/// be aligned less well than the class's own (aligned allocations pick their class by its
/// alignment, `class_for_aligned`): `api::memalign` checks what it gets.
pub fn borrows_from_next(c: ClassIdx) -> bool {
    c + 1 < NCLASS && BLOCK_SIZE[c] >= 128 && BLOCK_SIZE[c + 1] as u64 * 8 <= BLOCK_SIZE[c] as u64 * 9
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
    fn a_borrowed_block_fits_and_wastes_at_most_an_eighth() {
        let mut borrowers = 0;
        for c in 0..NCLASS {
            if !borrows_from_next(c) {
                continue;
            }
            borrowers += 1;
            let (b, d) = (BLOCK_SIZE[c] as usize, BLOCK_SIZE[c + 1] as usize);
            assert!(b >= 128 && d > b && d * 8 <= b * 9, "class {c}: {b} -> {d}");
        }
        assert!(borrowers > 20, "only {borrowers} classes borrow");
    }

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
    fn both_halves_of_each_table_agree() {
        for t in [&LOOKUP_FINE, &LOOKUP_QUARTER, &LOOKUP_SEED] {
            for n in 0..=DIRECT_MAX {
                assert_eq!(t.direct[n], t.coarse[(n + 15) >> 4], "n={n}");
            }
        }
        for n in 0..=SMALL_MAX {
            let c = if n <= DIRECT_MAX { class_direct(n) } else { class_coarse(n) };
            assert_eq!(class_of(n), c, "n={n}");
            assert_eq!(class_coarse(n), c, "n={n}");
        }
    }

    #[test]
    fn waste_is_bounded_above_64_bytes() {
        // Through the byte-indexed half where it covers the size, as the malloc hit reads it.
        let bs = |t: &Lookup, n: usize| {
            let c = if n <= DIRECT_MAX { t.direct[n] } else { t.coarse[(n + 15) >> 4] };
            BLOCK_SIZE[c as usize] as usize
        };
        for n in 65..=SMALL_MAX {
            let fine = bs(&LOOKUP_FINE, n);
            assert!(fine * 8 <= n * 9 + 120, "eighth classes waste >12.5%: n={n} bs={fine}");
            let quarter = bs(&LOOKUP_QUARTER, n);
            assert!(quarter * 4 <= n * 5 + 60, "quarter classes waste >25%: n={n} bs={quarter}");
            let seed = bs(&LOOKUP_SEED, n);
            assert!(seed * 100 <= n * 200, "n={n} seed bs={seed}");
            if n > TINY_MAX {
                assert_eq!(seed, quarter, "above 1 KiB the seed's table is four per doubling");
            }
            assert!(fine <= quarter && quarter <= seed);
        }
        // each table uses its own classes
        assert_eq!(bs(&LOOKUP_SEED, 513), 768);
        assert_eq!(bs(&LOOKUP_QUARTER, 513), 640);
        assert_eq!(bs(&LOOKUP_FINE, 513), 576);
        assert_eq!(bs(&LOOKUP_QUARTER, 288), 320);
        assert_eq!(bs(&LOOKUP_FINE, 288), 288);
        assert_eq!(bs(&LOOKUP_FINE, 1025), 1152);
        assert_eq!(bs(&LOOKUP_QUARTER, 1025), 1280);
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
    fn slabs_hold_at_least_eight_blocks() {
        for (c, &bs) in BLOCK_SIZE.iter().enumerate() {
            assert!(slab_units(c) * 65536 / bs as usize >= 8);
            assert!((16..=512).contains(&fastlane_limit(c, 64 * 1024)));
        }
        assert_eq!(fastlane_limit(C7, 64 * 1024), 64);
        assert_eq!(fastlane_limit(C7, 32 * 1024), 32);
    }
}
