//! Helpers shared by the workloads: stamping a block so that whoever frees it (possibly
//! another thread) can check that its contents survived, and drawing mixed sizes.

/// Writes `size` into the first 8 bytes (or the first byte, for small blocks) and a tag derived
/// from it into the last byte, where the two do not overlap. Blocks must be at least 1 byte.
///
/// # Safety
/// `p` must point to at least `size` writable bytes.
#[inline(always)]
pub unsafe fn stamp(p: *mut u8, size: usize) {
    let head = head_len(size);
    if head == 8 {
        (p as *mut u64).write_unaligned(size as u64);
    } else if head == 1 {
        p.write(size as u8);
    }
    if size > head {
        p.add(size - 1).write(tag(size));
    }
}

/// Reads back a stamped block; returns true if the stamp is intact.
///
/// # Safety
/// `p` must be a block stamped by `stamp` with the same `size` (when `size` is `Some`)
/// or a block of at least 8 bytes (when `None`, the size is read from the block).
#[inline(always)]
pub unsafe fn check(p: *const u8, size: Option<usize>) -> bool {
    let size = match size {
        Some(s) => s,
        None => (p as *const u64).read_unaligned() as usize,
    };
    if size == 0 || size > (1 << 40) {
        return false;
    }
    let head = head_len(size);
    let head_ok = match head {
        8 => (p as *const u64).read_unaligned() == size as u64,
        1 => p.read() == size as u8,
        _ => true,
    };
    head_ok && (size <= head || p.add(size - 1).read() == tag(size))
}

/// `malloc(size)`, stamped; aborts the process on NULL. Returns the address.
#[inline(always)]
pub fn alloc_stamped(size: usize) -> usize {
    // SAFETY: a fresh block of `size` bytes, stamped before anyone reads it.
    unsafe {
        let b = libc::malloc(size) as *mut u8;
        if b.is_null() {
            super::random_mixed::oom(size);
        }
        stamp(b, size);
        b as usize
    }
}

/// Checks a stamped block and frees it; returns whether the stamp was intact.
///
/// # Safety
/// `b` must be a live block from `alloc_stamped` that the caller owns (with its size when
/// `size` is `Some`, or of at least 8 bytes when `None`); it is freed here.
#[inline(always)]
pub unsafe fn free_checked(b: usize, size: Option<usize>) -> bool {
    let ok = check(b as *const u8, size);
    libc::free(b as *mut libc::c_void);
    ok
}

/// A size in `min..=max` drawn log-uniformly from `r`: the power of two is uniform, then the
/// size is uniform inside it (so 16..8192 gives as many 16..31-byte blocks as 4..8 KiB ones).
#[inline(always)]
pub fn log_size(r: u32, min: usize, max: usize) -> usize {
    let min = min.max(1);
    let max = max.max(min);
    let lo = min.ilog2();
    // A power-of-two max opens no bucket of its own (it would hold the max alone).
    let hi = if max.is_power_of_two() && max > min { max.ilog2() - 1 } else { max.ilog2() };
    let base = 1usize << (lo + r % (hi - lo + 1));
    let top = (2 * base - 1).min(max);
    (base + (r >> 8) as usize % (top - base + 1)).max(min)
}

#[inline(always)]
fn head_len(size: usize) -> usize {
    if size >= 8 {
        8
    } else if size >= 2 {
        1
    } else {
        0
    }
}

#[inline(always)]
fn tag(size: usize) -> u8 {
    (size as u8) ^ 0x5A
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamp_roundtrip_and_detects_damage() {
        for size in [1usize, 7, 8, 9, 100, 1039] {
            let p = unsafe { libc::malloc(size) as *mut u8 };
            assert!(!p.is_null());
            unsafe {
                stamp(p, size);
                assert!(check(p, Some(size)));
                if size >= 8 {
                    assert!(check(p, None));
                }
                // Damage the last byte: caught by the tail tag, or by the head for tiny blocks.
                *p.add(size - 1) ^= 1;
                assert!(!check(p, Some(size)), "size {size}");
                libc::free(p as *mut libc::c_void);
            }
        }
    }

    #[test]
    fn log_sizes_stay_in_range_and_spread() {
        let mut r = super::super::Xorshift32::new(7);
        let (mut small, mut big) = (0, 0);
        for _ in 0..100_000 {
            let s = log_size(r.next(), 16, 8192);
            assert!((16..=8192).contains(&s), "{s}");
            small += (s < 64) as u32;
            big += (s >= 4096) as u32;
        }
        // Nine powers of two (16..8191): 2/9 below 64, 1/9 at 4 KiB and above.
        assert!((19_000..25_500).contains(&small) && (9_000..13_500).contains(&big), "{small} {big}");
        assert_eq!(log_size(12345, 40, 40), 40);
        let b = alloc_stamped(100);
        assert!(unsafe { free_checked(b, None) });
    }
}
