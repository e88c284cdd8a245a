//! libhakmem.so: the whole malloc family over hakmem, for `LD_PRELOAD`.
//!
//! This crate is a thin C skin (in the manner of snmalloc's `override/`): argument
//! checks and `errno` per glibc, the fast thread-local block, and the stats entry points
//! declared in `include/hakmem.h`. Everything else is the `hakmem` crate.

#![allow(clippy::missing_safety_doc)]

use core::ffi::c_void;
use hakmem::api;
use hakmem::preload::ThreadBlock;
use hakmem::ThreadAccess;

// ---- initial-exec TLS on stable Rust ------------------------------------------------------
//
// A cdylib's `thread_local!` is general-dynamic: each access calls `__tls_get_addr`.
// Instead the thread block is a symbol in `.tbss`, defined here in assembly, and its
// address is the thread pointer (fs:[0]) plus the offset the dynamic linker stores in
// the symbol's GOT slot (`@GOTTPOFF`): two instructions, no call. The linker marks the
// library STATIC_TLS, which suits a library loaded at start-up by LD_PRELOAD.

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
core::arch::global_asm!(
    ".pushsection .tbss,\"awT\",@nobits",
    ".p2align 6",
    ".globl hakmem_tls_block",
    ".hidden hakmem_tls_block",
    ".type hakmem_tls_block, @object",
    ".size hakmem_tls_block, {size}",
    "hakmem_tls_block:",
    ".zero {size}",
    ".popsection",
    size = const core::mem::size_of::<ThreadBlock>(),
);

/// Thread access through the initial-exec TLS block.
pub struct InitialExecTls;

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
impl ThreadAccess for InitialExecTls {
    #[inline(always)]
    fn block() -> *mut ThreadBlock {
        let p: usize;
        // SAFETY: reads the thread pointer and a GOT slot filled by the dynamic linker;
        // the result is this thread's copy of hakmem_tls_block, zero-initialised by glibc.
        unsafe {
            core::arch::asm!(
                "mov {p}, qword ptr fs:[0]",
                "add {p}, qword ptr [rip + hakmem_tls_block@GOTTPOFF]",
                p = out(reg) p,
                options(pure, readonly, nostack),
            );
        }
        p as *mut ThreadBlock
    }
}

#[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
impl ThreadAccess for InitialExecTls {
    #[inline(always)]
    fn block() -> *mut ThreadBlock {
        <hakmem::RustTls as ThreadAccess>::block()
    }
}

type Tls = InitialExecTls;

#[inline(always)]
fn set_errno(e: i32) {
    // SAFETY: __errno_location returns this thread's errno slot.
    unsafe { *libc::__errno_location() = e };
}

/// The core sets errno = ENOMEM itself on failure; this only changes the pointer type.
#[inline(always)]
fn enomem_if_null(p: *mut u8) -> *mut c_void {
    p as *mut c_void
}

// ---- the malloc family ---------------------------------------------------------------------

#[no_mangle]
pub unsafe extern "C" fn malloc(n: usize) -> *mut c_void {
    enomem_if_null(api::malloc::<Tls>(n))
}

#[no_mangle]
pub unsafe extern "C" fn free(p: *mut c_void) {
    api::free::<Tls>(p as *mut u8)
}

#[no_mangle]
pub unsafe extern "C" fn cfree(p: *mut c_void) {
    api::free::<Tls>(p as *mut u8)
}

#[no_mangle]
pub unsafe extern "C" fn calloc(count: usize, size: usize) -> *mut c_void {
    enomem_if_null(api::calloc::<Tls>(count, size))
}

#[no_mangle]
pub unsafe extern "C" fn realloc(p: *mut c_void, n: usize) -> *mut c_void {
    api::realloc::<Tls>(p as *mut u8, n) as *mut c_void
}

#[no_mangle]
pub unsafe extern "C" fn reallocarray(p: *mut c_void, count: usize, size: usize) -> *mut c_void {
    match count.checked_mul(size) {
        Some(n) => realloc(p, n),
        None => {
            set_errno(libc::ENOMEM);
            core::ptr::null_mut()
        }
    }
}

#[no_mangle]
pub unsafe extern "C" fn posix_memalign(out: *mut *mut c_void, align: usize, n: usize) -> i32 {
    if !align.is_power_of_two() || align % core::mem::size_of::<*mut c_void>() != 0 {
        return libc::EINVAL;
    }
    let p = api::memalign::<Tls>(align, n);
    if p.is_null() {
        return libc::ENOMEM;
    }
    *out = p as *mut c_void;
    0
}

#[no_mangle]
pub unsafe extern "C" fn aligned_alloc(align: usize, n: usize) -> *mut c_void {
    if !align.is_power_of_two() {
        set_errno(libc::EINVAL);
        return core::ptr::null_mut();
    }
    enomem_if_null(api::memalign::<Tls>(align, n))
}

/// glibc rounds a non-power-of-two alignment up to the next power of two.
#[no_mangle]
pub unsafe extern "C" fn memalign(align: usize, n: usize) -> *mut c_void {
    let Some(a) = align.max(1).checked_next_power_of_two() else {
        set_errno(libc::EINVAL);
        return core::ptr::null_mut();
    };
    if a > isize::MAX as usize / 2 + 1 {
        set_errno(libc::EINVAL);
        return core::ptr::null_mut();
    }
    enomem_if_null(api::memalign::<Tls>(a, n))
}

#[no_mangle]
pub unsafe extern "C" fn valloc(n: usize) -> *mut c_void {
    enomem_if_null(api::memalign::<Tls>(4096, n))
}

#[no_mangle]
pub unsafe extern "C" fn pvalloc(n: usize) -> *mut c_void {
    let Some(r) = n.max(1).checked_add(4095) else {
        set_errno(libc::ENOMEM);
        return core::ptr::null_mut();
    };
    enomem_if_null(api::memalign::<Tls>(4096, r & !4095))
}

#[no_mangle]
pub unsafe extern "C" fn malloc_usable_size(p: *mut c_void) -> usize {
    api::usable_size(p as *mut u8)
}

// ---- hakmem's own entry points (include/hakmem.h) ----------------------------------------

/// Print the statistics report to stderr.
#[no_mangle]
pub extern "C" fn hakmem_stats_print() {
    hakmem::stats_print()
}

/// The allocator's own mmap, munmap and madvise calls since start.
#[no_mangle]
pub unsafe extern "C" fn hakmem_os_calls(out: *mut u64) {
    if out.is_null() {
        return;
    }
    let c = hakmem::preload::os_calls();
    core::ptr::copy_nonoverlapping(c.as_ptr(), out, 3);
}

/// Copy a snapshot of the counters into `out` (at most `size` bytes); returns the full
/// size of `hakmem_stats_t`, so callers built against another version can tell.
#[no_mangle]
pub unsafe extern "C" fn hakmem_stats_get(out: *mut c_void, size: usize) -> usize {
    let s = hakmem::stats();
    let full = core::mem::size_of::<hakmem::Stats>();
    if !out.is_null() {
        core::ptr::copy_nonoverlapping(&s as *const _ as *const u8, out as *mut u8, size.min(full));
    }
    full
}
