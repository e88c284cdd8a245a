//! snmalloc as an `LD_PRELOAD` library.
//!
//! snmalloc-sys's `libc-api` feature compiles snmalloc's own libc front end
//! with every name prefixed `sn_`. Each libc name exported here
//! forwards to that front end (`malloc` -> `sn_malloc`, `memalign` -> `sn_memalign`, ...),
//! which does the size-class, alignment and `errno` work itself; no wrapper goes through
//! the sized `sn_rust_*` API, so no size or alignment has to be remembered here.
//!
//! The C++ library is linked statically into this `.so`; only the `#[no_mangle]`
//! functions below are exported.

// The exported functions have C's contracts (the malloc family's), not Rust ones.
#![allow(clippy::missing_safety_doc)]

use core::ffi::{c_int, c_void};

// Linked for its static library; the libc front end's symbols are declared below
// because snmalloc-sys declares only some of them.
use snmalloc_sys as _;

extern "C" {
    fn sn_malloc(size: usize) -> *mut c_void;
    fn sn_free(p: *mut c_void);
    fn sn_cfree(p: *mut c_void);
    fn sn_calloc(count: usize, size: usize) -> *mut c_void;
    fn sn_realloc(p: *mut c_void, size: usize) -> *mut c_void;
    fn sn_reallocarray(p: *mut c_void, count: usize, size: usize) -> *mut c_void;
    fn sn_posix_memalign(out: *mut *mut c_void, alignment: usize, size: usize) -> c_int;
    fn sn_aligned_alloc(alignment: usize, size: usize) -> *mut c_void;
    fn sn_memalign(alignment: usize, size: usize) -> *mut c_void;
    fn sn_valloc(size: usize) -> *mut c_void;
    fn sn_pvalloc(size: usize) -> *mut c_void;
    fn sn_malloc_usable_size(p: *const c_void) -> usize;
}

#[no_mangle]
pub unsafe extern "C" fn malloc(size: usize) -> *mut c_void {
    sn_malloc(size)
}

#[no_mangle]
pub unsafe extern "C" fn free(p: *mut c_void) {
    sn_free(p)
}

/// Old alias of `free` (glibc still exports it).
#[no_mangle]
pub unsafe extern "C" fn cfree(p: *mut c_void) {
    sn_cfree(p)
}

#[no_mangle]
pub unsafe extern "C" fn calloc(count: usize, size: usize) -> *mut c_void {
    sn_calloc(count, size)
}

#[no_mangle]
pub unsafe extern "C" fn realloc(p: *mut c_void, size: usize) -> *mut c_void {
    sn_realloc(p, size)
}

#[no_mangle]
pub unsafe extern "C" fn reallocarray(p: *mut c_void, count: usize, size: usize) -> *mut c_void {
    sn_reallocarray(p, count, size)
}

#[no_mangle]
pub unsafe extern "C" fn posix_memalign(
    out: *mut *mut c_void,
    alignment: usize,
    size: usize,
) -> c_int {
    sn_posix_memalign(out, alignment, size)
}

#[no_mangle]
pub unsafe extern "C" fn aligned_alloc(alignment: usize, size: usize) -> *mut c_void {
    sn_aligned_alloc(alignment, size)
}

#[no_mangle]
pub unsafe extern "C" fn memalign(alignment: usize, size: usize) -> *mut c_void {
    sn_memalign(alignment, size)
}

#[no_mangle]
pub unsafe extern "C" fn valloc(size: usize) -> *mut c_void {
    sn_valloc(size)
}

#[no_mangle]
pub unsafe extern "C" fn pvalloc(size: usize) -> *mut c_void {
    sn_pvalloc(size)
}

#[no_mangle]
pub unsafe extern "C" fn malloc_usable_size(p: *const c_void) -> usize {
    sn_malloc_usable_size(p)
}
