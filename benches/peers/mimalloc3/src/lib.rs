//! mimalloc 3.x as an `LD_PRELOAD` library.
//!
//! Every function of the malloc family is exported under its libc name and forwards to
//! mimalloc's own entry point of the same meaning (`malloc` -> `mi_malloc`,
//! `posix_memalign` -> `mi_posix_memalign`, ...). mimalloc sets `errno` itself, so the
//! wrappers add nothing. `peer_mimalloc3_version` reports `mi_version()` (e.g. 30302 for
//! 3.3.2) so a script can check which line was built.
//!
//! The C library is linked statically into this `.so`; only the `#[no_mangle]` functions
//! below are exported.

// The exported functions have C's contracts (the malloc family's), not Rust ones.
#![allow(clippy::missing_safety_doc)]

use core::ffi::{c_int, c_void};
use libmimalloc_sys as mi;

// Declared in mimalloc's public header but not by libmimalloc-sys; the symbols are in
// the same static library.
extern "C" {
    fn mi_memalign(alignment: usize, size: usize) -> *mut c_void;
    fn mi_valloc(size: usize) -> *mut c_void;
    fn mi_pvalloc(size: usize) -> *mut c_void;
    fn mi_reallocarray(p: *mut c_void, count: usize, size: usize) -> *mut c_void;
    fn mi_malloc_usable_size(p: *const c_void) -> usize;
}

#[no_mangle]
pub unsafe extern "C" fn malloc(size: usize) -> *mut c_void {
    mi::mi_malloc(size)
}

#[no_mangle]
pub unsafe extern "C" fn free(p: *mut c_void) {
    mi::mi_free(p)
}

/// Old alias of `free` (glibc still exports it).
#[no_mangle]
pub unsafe extern "C" fn cfree(p: *mut c_void) {
    mi::mi_free(p)
}

#[no_mangle]
pub unsafe extern "C" fn calloc(count: usize, size: usize) -> *mut c_void {
    mi::mi_calloc(count, size)
}

#[no_mangle]
pub unsafe extern "C" fn realloc(p: *mut c_void, size: usize) -> *mut c_void {
    mi::mi_realloc(p, size)
}

#[no_mangle]
pub unsafe extern "C" fn reallocarray(p: *mut c_void, count: usize, size: usize) -> *mut c_void {
    mi_reallocarray(p, count, size)
}

#[no_mangle]
pub unsafe extern "C" fn posix_memalign(
    out: *mut *mut c_void,
    alignment: usize,
    size: usize,
) -> c_int {
    mi::mi_posix_memalign(out, alignment, size)
}

#[no_mangle]
pub unsafe extern "C" fn aligned_alloc(alignment: usize, size: usize) -> *mut c_void {
    mi::mi_aligned_alloc(alignment, size)
}

#[no_mangle]
pub unsafe extern "C" fn memalign(alignment: usize, size: usize) -> *mut c_void {
    mi_memalign(alignment, size)
}

#[no_mangle]
pub unsafe extern "C" fn valloc(size: usize) -> *mut c_void {
    mi_valloc(size)
}

#[no_mangle]
pub unsafe extern "C" fn pvalloc(size: usize) -> *mut c_void {
    mi_pvalloc(size)
}

#[no_mangle]
pub unsafe extern "C" fn malloc_usable_size(p: *const c_void) -> usize {
    mi_malloc_usable_size(p)
}

/// `mi_version()`: major * 10000 + minor * 100 + patch.
#[no_mangle]
pub extern "C" fn peer_mimalloc3_version() -> c_int {
    unsafe { mi::mi_version() }
}
