//! libhakmem.so (SONAME `libhakmem.so.0`): the whole malloc family over hakmem, for
//! `LD_PRELOAD` or linking with `-lhakmem`.
//!
//! This crate is a thin C skin (in the manner of snmalloc's `override/`): argument
//! checks and `errno` per glibc, the fast thread-local block, the entry points declared
//! in `include/hakmem.h`, glibc's `malloc_trim` / `mallinfo` / `mallinfo2` / `mallopt`,
//! C23's sized frees and every global C++ `operator new` / `delete`. Everything else is
//! the `hakmem` crate.

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

/// Give memory back to the OS now (what `hakmem::trim()` does, for this library's
/// thread block); returns the bytes unmapped.
#[no_mangle]
pub extern "C" fn hakmem_trim() -> usize {
    // SAFETY: Tls is the thread access this library allocates through on every thread.
    unsafe { hakmem::preload::trim_for::<Tls>() }
}

/// Write the sampled heap profile (`HAKMEM_PROF=1`) to `path` now, in pprof's protobuf
/// format. Returns 0, or an errno value: ENOSYS (profiling off), EBUSY (a dump is being
/// written), EINVAL (null or empty path), or what open/write said.
#[no_mangle]
pub unsafe extern "C" fn hakmem_prof_dump(path: *const core::ffi::c_char) -> i32 {
    hakmem::preload::prof_dump_c(path)
}

/// NUL-terminated version string. Both crates take the workspace version, so this is
/// also `hakmem::version()`.
static VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");

/// hakmem's version, a static NUL-terminated string such as "0.1.0".
#[no_mangle]
pub extern "C" fn hakmem_version() -> *const core::ffi::c_char {
    VERSION.as_ptr() as *const core::ffi::c_char
}

// ---- glibc's malloc.h extras: malloc_trim, mallinfo, mallinfo2, mallopt ------------------

/// glibc's `malloc_trim`: release free memory to the OS. `pad` is ignored (hakmem keeps
/// no top-of-heap pad). Returns 1 if memory was released, 0 otherwise, as glibc does.
#[no_mangle]
pub extern "C" fn malloc_trim(_pad: usize) -> i32 {
    (hakmem_trim() > 0) as i32
}

/// glibc's `struct mallinfo2` (every field `size_t`).
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct MallInfo2 {
    pub arena: usize,
    pub ordblks: usize,
    pub smblks: usize,
    pub hblks: usize,
    pub hblkhd: usize,
    pub usmblks: usize,
    pub fsmblks: usize,
    pub uordblks: usize,
    pub fordblks: usize,
    pub keepcost: usize,
}

/// glibc's legacy `struct mallinfo` (every field `int`).
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct MallInfo {
    pub arena: i32,
    pub ordblks: i32,
    pub smblks: i32,
    pub hblks: i32,
    pub hblkhd: i32,
    pub usmblks: i32,
    pub fsmblks: i32,
    pub uordblks: i32,
    pub fordblks: i32,
    pub keepcost: i32,
}

/// Bytes of one SuperSlab (the 2 MiB regions the core maps for blocks up to 960 KiB).
const SUPERSLAB_BYTES: u64 = 2 << 20;

/// mallinfo2 from hakmem's counters. Approximations (documented in hakmem.h):
/// - `arena`: every byte hakmem has mapped now (SuperSlabs, huge blocks, metadata);
/// - `fordblks`: the empty SuperSlabs waiting in the warm pool (mapped, holding no block);
///   `ordblks`: how many there are;
/// - `uordblks`: `arena - fordblks`, so it also counts free blocks inside partly used
///   slabs and in the threads' FastLanes;
/// - `hblks`: live huge blocks; `hblkhd`: mapped bytes outside SuperSlabs (huge blocks,
///   live and cached, plus hakmem's own metadata mappings);
/// - `smblks`, `usmblks`, `fsmblks`, `keepcost`: 0.
fn mallinfo_now() -> MallInfo2 {
    let s = hakmem::stats();
    let arena = s.mapped_bytes;
    let pooled = s.ss_in_pool * SUPERSLAB_BYTES;
    let superslabs = s.ss_mapped.saturating_sub(s.ss_unmapped) * SUPERSLAB_BYTES;
    let fordblks = pooled.min(arena);
    MallInfo2 {
        arena: arena as usize,
        ordblks: s.ss_in_pool as usize,
        hblks: s.huge_allocs.saturating_sub(s.huge_frees) as usize,
        hblkhd: arena.saturating_sub(superslabs) as usize,
        uordblks: (arena - fordblks) as usize,
        fordblks: fordblks as usize,
        ..MallInfo2::default()
    }
}

/// glibc's `mallinfo2()`, from hakmem's counters (see [`mallinfo_now`]).
#[no_mangle]
pub extern "C" fn mallinfo2() -> MallInfo2 {
    mallinfo_now()
}

/// glibc's deprecated `mallinfo()`: as `mallinfo2()`, each field clamped to `INT_MAX`.
#[no_mangle]
pub extern "C" fn mallinfo() -> MallInfo {
    let m = mallinfo_now();
    let c = |v: usize| v.min(i32::MAX as usize) as i32;
    MallInfo {
        arena: c(m.arena),
        ordblks: c(m.ordblks),
        smblks: c(m.smblks),
        hblks: c(m.hblks),
        hblkhd: c(m.hblkhd),
        usmblks: c(m.usmblks),
        fsmblks: c(m.fsmblks),
        uordblks: c(m.uordblks),
        fordblks: c(m.fordblks),
        keepcost: c(m.keepcost),
    }
}

/// glibc's `mallopt`: hakmem is tuned by `HAKMEM_*` variables, not at run time. The
/// parameters glibc knows (`M_MXFAST` 1, `M_NLBLKS` 2, `M_GRAIN` 3, `M_KEEP` 4, and
/// `M_TRIM_THRESHOLD` -1 through `M_ARENA_MAX` -8) are accepted and ignored (returns 1,
/// so programs that tune glibc carry on); any other is refused (returns 0).
#[no_mangle]
pub extern "C" fn mallopt(param: i32, _value: i32) -> i32 {
    matches!(param, -8..=-1 | 1..=4) as i32
}

// ---- C23 sized frees ----------------------------------------------------------------------

/// C23 `free_sized`: `free(p)`; the size is not needed (hakmem finds a block's size from
/// its address).
#[no_mangle]
pub unsafe extern "C" fn free_sized(p: *mut c_void, _size: usize) {
    api::free::<Tls>(p as *mut u8)
}

/// C23 `free_aligned_sized`: `free(p)` (a block from `aligned_alloc` is freed like any).
#[no_mangle]
pub unsafe extern "C" fn free_aligned_sized(p: *mut c_void, _align: usize, _size: usize) {
    api::free::<Tls>(p as *mut u8)
}

// ---- C++ operator new and delete ------------------------------------------------------------
//
// Every global overload, under its Itanium-mangled name, so a C++ program's new/delete come
// here directly (not through libstdc++'s operator new, which would call our malloc anyway,
// plus a new_handler check).
//
// A throwing `new` that fails does not return null (C++ forbids it): it writes
// `hakmem: operator new(): out of memory (N bytes); aborting` and aborts. It does not run
// the new_handler loop and does not throw std::bad_alloc: both need the C++ runtime
// (`std::get_new_handler` and the exception machinery live in libstdc++, which a C program
// under LD_PRELOAD does not load), and the handler's usual `throw std::bad_alloc` would
// have to unwind through this library's frames, which are built with `panic = "abort"` and
// `extern "C"`: Rust aborts on such an unwind anyway. Out of memory here means mmap failed
// even after hakmem gave back every cached mapping, so the process was about to die.

/// `std::align_val_t`: an enum class over `size_t`, passed as one.
type AlignVal = usize;

#[cold]
#[inline(never)]
fn new_failed(n: usize) -> ! {
    // The line is built on the stack: nothing may allocate here.
    let mut b = [0u8; 96];
    let head = b"hakmem: operator new(): out of memory (";
    let tail = b" bytes); aborting\n";
    b[..head.len()].copy_from_slice(head);
    let mut digits = [0u8; 20];
    let (mut i, mut v) = (digits.len(), n);
    loop {
        i -= 1;
        digits[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    let mut len = head.len();
    for part in [&digits[i..], &tail[..]] {
        b[len..len + part.len()].copy_from_slice(part);
        len += part.len();
    }
    // SAFETY: write(2) of a stack buffer, then abort(3): no memory preconditions.
    unsafe {
        libc::write(2, b.as_ptr() as *const c_void, len);
        libc::abort()
    }
}

/// Allocate for `new`: `align` 0 means the default (16, what malloc gives). Null on
/// failure.
///
/// # Safety
/// As `malloc` (the calling thread allocates through `Tls`).
#[inline(always)]
unsafe fn new_impl(n: usize, align: usize) -> *mut u8 {
    if align <= 16 {
        api::malloc::<Tls>(n)
    } else if align.is_power_of_two() {
        api::memalign::<Tls>(align, n)
    } else {
        // Not a valid alignment (undefined behaviour in C++): refuse.
        core::ptr::null_mut()
    }
}

/// As [`new_impl`], but never null: failure ends the process ([`new_failed`]).
///
/// # Safety
/// As `malloc`.
#[inline(always)]
unsafe fn new_or_abort(n: usize, align: usize) -> *mut c_void {
    let p = new_impl(n, align);
    if p.is_null() {
        new_failed(n);
    }
    p as *mut c_void
}

/// `operator new(size_t)`
///
/// # Safety
/// As `malloc`.
#[export_name = "_Znwm"]
pub unsafe extern "C" fn cxx_new(n: usize) -> *mut c_void {
    new_or_abort(n, 0)
}

/// `operator new[](size_t)`
///
/// # Safety
/// As `malloc`.
#[export_name = "_Znam"]
pub unsafe extern "C" fn cxx_new_array(n: usize) -> *mut c_void {
    new_or_abort(n, 0)
}

/// `operator new(size_t, const std::nothrow_t&)`: null on failure.
///
/// # Safety
/// As `malloc`.
#[export_name = "_ZnwmRKSt9nothrow_t"]
pub unsafe extern "C" fn cxx_new_nothrow(n: usize, _nt: *const c_void) -> *mut c_void {
    new_impl(n, 0) as *mut c_void
}

/// `operator new[](size_t, const std::nothrow_t&)`: null on failure.
///
/// # Safety
/// As `malloc`.
#[export_name = "_ZnamRKSt9nothrow_t"]
pub unsafe extern "C" fn cxx_new_array_nothrow(n: usize, _nt: *const c_void) -> *mut c_void {
    new_impl(n, 0) as *mut c_void
}

/// `operator new(size_t, std::align_val_t)`
///
/// # Safety
/// As `aligned_alloc`.
#[export_name = "_ZnwmSt11align_val_t"]
pub unsafe extern "C" fn cxx_new_aligned(n: usize, a: AlignVal) -> *mut c_void {
    new_or_abort(n, a)
}

/// `operator new[](size_t, std::align_val_t)`
///
/// # Safety
/// As `aligned_alloc`.
#[export_name = "_ZnamSt11align_val_t"]
pub unsafe extern "C" fn cxx_new_array_aligned(n: usize, a: AlignVal) -> *mut c_void {
    new_or_abort(n, a)
}

/// `operator new(size_t, std::align_val_t, const std::nothrow_t&)`: null on failure.
///
/// # Safety
/// As `aligned_alloc`.
#[export_name = "_ZnwmSt11align_val_tRKSt9nothrow_t"]
pub unsafe extern "C" fn cxx_new_aligned_nothrow(n: usize, a: AlignVal, _nt: *const c_void) -> *mut c_void {
    new_impl(n, a) as *mut c_void
}

/// `operator new[](size_t, std::align_val_t, const std::nothrow_t&)`: null on failure.
///
/// # Safety
/// As `aligned_alloc`.
#[export_name = "_ZnamSt11align_val_tRKSt9nothrow_t"]
pub unsafe extern "C" fn cxx_new_array_aligned_nothrow(n: usize, a: AlignVal, _nt: *const c_void) -> *mut c_void {
    new_impl(n, a) as *mut c_void
}

// Every delete is `free`: hakmem finds a block's size and kind from its address, so the
// size and alignment arguments are not needed.

/// `operator delete(void*)`
///
/// # Safety
/// As `free`.
#[export_name = "_ZdlPv"]
pub unsafe extern "C" fn cxx_delete(p: *mut c_void) {
    api::free::<Tls>(p as *mut u8)
}

/// `operator delete[](void*)`
///
/// # Safety
/// As `free`.
#[export_name = "_ZdaPv"]
pub unsafe extern "C" fn cxx_delete_array(p: *mut c_void) {
    api::free::<Tls>(p as *mut u8)
}

/// `operator delete(void*, size_t)`
///
/// # Safety
/// As `free`.
#[export_name = "_ZdlPvm"]
pub unsafe extern "C" fn cxx_delete_sized(p: *mut c_void, _n: usize) {
    api::free::<Tls>(p as *mut u8)
}

/// `operator delete[](void*, size_t)`
///
/// # Safety
/// As `free`.
#[export_name = "_ZdaPvm"]
pub unsafe extern "C" fn cxx_delete_array_sized(p: *mut c_void, _n: usize) {
    api::free::<Tls>(p as *mut u8)
}

/// `operator delete(void*, const std::nothrow_t&)`
///
/// # Safety
/// As `free`.
#[export_name = "_ZdlPvRKSt9nothrow_t"]
pub unsafe extern "C" fn cxx_delete_nothrow(p: *mut c_void, _nt: *const c_void) {
    api::free::<Tls>(p as *mut u8)
}

/// `operator delete[](void*, const std::nothrow_t&)`
///
/// # Safety
/// As `free`.
#[export_name = "_ZdaPvRKSt9nothrow_t"]
pub unsafe extern "C" fn cxx_delete_array_nothrow(p: *mut c_void, _nt: *const c_void) {
    api::free::<Tls>(p as *mut u8)
}

/// `operator delete(void*, std::align_val_t)`
///
/// # Safety
/// As `free`.
#[export_name = "_ZdlPvSt11align_val_t"]
pub unsafe extern "C" fn cxx_delete_aligned(p: *mut c_void, _a: AlignVal) {
    api::free::<Tls>(p as *mut u8)
}

/// `operator delete[](void*, std::align_val_t)`
///
/// # Safety
/// As `free`.
#[export_name = "_ZdaPvSt11align_val_t"]
pub unsafe extern "C" fn cxx_delete_array_aligned(p: *mut c_void, _a: AlignVal) {
    api::free::<Tls>(p as *mut u8)
}

/// `operator delete(void*, size_t, std::align_val_t)`
///
/// # Safety
/// As `free`.
#[export_name = "_ZdlPvmSt11align_val_t"]
pub unsafe extern "C" fn cxx_delete_sized_aligned(p: *mut c_void, _n: usize, _a: AlignVal) {
    api::free::<Tls>(p as *mut u8)
}

/// `operator delete[](void*, size_t, std::align_val_t)`
///
/// # Safety
/// As `free`.
#[export_name = "_ZdaPvmSt11align_val_t"]
pub unsafe extern "C" fn cxx_delete_array_sized_aligned(p: *mut c_void, _n: usize, _a: AlignVal) {
    api::free::<Tls>(p as *mut u8)
}

/// `operator delete(void*, std::align_val_t, const std::nothrow_t&)`
///
/// # Safety
/// As `free`.
#[export_name = "_ZdlPvSt11align_val_tRKSt9nothrow_t"]
pub unsafe extern "C" fn cxx_delete_aligned_nothrow(p: *mut c_void, _a: AlignVal, _nt: *const c_void) {
    api::free::<Tls>(p as *mut u8)
}

/// `operator delete[](void*, std::align_val_t, const std::nothrow_t&)`
///
/// # Safety
/// As `free`.
#[export_name = "_ZdaPvSt11align_val_tRKSt9nothrow_t"]
pub unsafe extern "C" fn cxx_delete_array_aligned_nothrow(p: *mut c_void, _a: AlignVal, _nt: *const c_void) {
    api::free::<Tls>(p as *mut u8)
}
