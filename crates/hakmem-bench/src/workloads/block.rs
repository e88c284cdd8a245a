//! Helpers shared by the workloads: stamping a block so that whoever frees it (possibly
//! another thread) can check that its contents survived.

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
}
