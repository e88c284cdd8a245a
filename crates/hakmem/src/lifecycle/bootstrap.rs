//! The bootstrap arena: allocations made while hakmem initialises (a libc call inside
//! init that allocates) are served from 256 KiB of `.bss`, never freed. Each block has a
//! 16-byte header holding its size.

use crate::sync::{AtomicUsize, Ordering};
use core::cell::UnsafeCell;
use core::ptr;

const BOOT_SIZE: usize = 256 * 1024;

#[repr(C, align(64))]
struct BootArena(UnsafeCell<[u8; BOOT_SIZE]>);
// SAFETY: disjoint ranges are handed out by an atomic bump pointer.
unsafe impl Sync for BootArena {}

static BOOT: BootArena = BootArena(UnsafeCell::new([0; BOOT_SIZE]));
static BOOT_USED: AtomicUsize = AtomicUsize::new(0);

/// Serve an allocation made while hakmem initialises; null (ENOMEM) when the arena is full.
#[cold]
pub fn alloc(n: usize) -> *mut u8 {
    let need = (n.max(1) + 16 + 15) & !15;
    let off = BOOT_USED.fetch_add(need, Ordering::Relaxed);
    if off + need > BOOT_SIZE {
        crate::backend::os::set_enomem();
        return ptr::null_mut();
    }
    // SAFETY: [off, off + need) is inside the arena and handed to nobody else.
    unsafe {
        let base = (BOOT.0.get() as *mut u8).add(off);
        *(base as *mut usize) = n;
        base.add(16)
    }
}

/// Is `p` inside the arena?
pub fn contains(p: *mut u8) -> bool {
    let start = BOOT.0.get() as usize;
    (p as usize) >= start && (p as usize) < start + BOOT_SIZE
}

/// Size requested for an arena block.
///
/// # Safety
/// `p` was returned by `alloc`.
pub unsafe fn size(p: *mut u8) -> usize {
    *(p.sub(16) as *const usize)
}
