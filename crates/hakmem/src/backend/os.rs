//! The only module that talks to the OS for memory (the bottom of the `backend` layer). Every call is counted, so the
//! stats report and `hakmem_os_calls()` show exactly what the allocator asked for.

pub use crate::config::Decommit;
use core::ptr;
use core::sync::atomic::{AtomicU64, Ordering::Relaxed};

pub static MMAP_CALLS: AtomicU64 = AtomicU64::new(0);
pub static MUNMAP_CALLS: AtomicU64 = AtomicU64::new(0);
pub static MADVISE_CALLS: AtomicU64 = AtomicU64::new(0);
pub static MREMAP_CALLS: AtomicU64 = AtomicU64::new(0);
pub static MPROTECT_CALLS: AtomicU64 = AtomicU64::new(0);
/// Bytes currently mapped by the allocator (superslabs + huge blocks + metadata).
pub static MAPPED_BYTES: AtomicU64 = AtomicU64::new(0);

pub const PAGE: usize = 4096;

/// One anonymous private `MAP_NORESERVE` mapping of `len` bytes (at `at` with `MAP_FIXED`
/// in `flags`), counted; null on failure (errno set by mmap).
///
/// # Safety
/// With `MAP_FIXED`, `[at, at + len)` is a range of ours that nobody uses.
unsafe fn mmap_anon(at: *mut u8, len: usize, prot: i32, flags: i32) -> *mut u8 {
    MMAP_CALLS.fetch_add(1, Relaxed);
    let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE | flags;
    // SAFETY: an anonymous mapping touches no file; the caller vouches for a fixed range.
    let p = unsafe { libc::mmap(at as *mut libc::c_void, len, prot, flags, -1, 0) };
    if p == libc::MAP_FAILED {
        return ptr::null_mut();
    }
    p as *mut u8
}

/// Map `len` bytes of fresh, zeroed, read-write memory. Null on failure (errno set by mmap).
pub fn map(len: usize) -> *mut u8 {
    // SAFETY: no address hint, no MAP_FIXED.
    let p = unsafe { mmap_anon(ptr::null_mut(), len, libc::PROT_READ | libc::PROT_WRITE, 0) };
    if !p.is_null() {
        MAPPED_BYTES.fetch_add(len as u64, Relaxed);
    }
    p
}

/// Set once a plain mapping came back misaligned: stop trying the one-syscall route.
static PLAIN_MISALIGNED: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

/// Map `len` bytes aligned to `align` (a power of two >= PAGE).
///
/// Linux (6.7+) places anonymous mappings whose length is a multiple of 2 MiB on a
/// 2 MiB boundary, so a plain mmap usually is aligned: one syscall. Otherwise
/// over-map and trim (up to three).
pub fn map_aligned(len: usize, align: usize) -> *mut u8 {
    use core::sync::atomic::Ordering;
    if len % align == 0 && !PLAIN_MISALIGNED.load(Ordering::Relaxed) {
        let p = map(len);
        if p.is_null() || p as usize % align == 0 {
            return p;
        }
        unmap(p, len);
        PLAIN_MISALIGNED.store(true, Ordering::Relaxed);
    }
    let Some(span) = len.checked_add(align) else {
        return ptr::null_mut();
    };
    let raw = map(span);
    if raw.is_null() {
        return raw;
    }
    let start = raw as usize;
    let aligned = (start + align - 1) & !(align - 1);
    if aligned > start {
        unmap(raw, aligned - start);
    }
    let end = aligned + len;
    let raw_end = start + span;
    if raw_end > end {
        unmap(end as *mut u8, raw_end - end);
    }
    aligned as *mut u8
}

/// Return a mapping to the OS.
pub fn unmap(p: *mut u8, len: usize) {
    MUNMAP_CALLS.fetch_add(1, Relaxed);
    // SAFETY: callers pass a range they mapped through this module and no longer use.
    unsafe { libc::munmap(p as *mut libc::c_void, len) };
    MAPPED_BYTES.fetch_sub(len as u64, Relaxed);
}

/// Give the pages of a still-mapped range back (contents become zero or undefined).
pub fn decommit(p: *mut u8, len: usize, how: Decommit) {
    let advice = match how {
        Decommit::Off => return,
        Decommit::DontNeed => libc::MADV_DONTNEED,
        Decommit::Free => libc::MADV_FREE,
    };
    MADVISE_CALLS.fetch_add(1, Relaxed);
    // SAFETY: the range is a page-aligned part of one of our mappings, unused by anyone.
    unsafe { libc::madvise(p as *mut libc::c_void, len, advice) };
}

/// A coarse monotonic clock in milliseconds (vDSO: no syscall, no allocation).
pub fn now_ms() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: ts is a valid out-parameter.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC_COARSE, &mut ts) };
    ts.tv_sec as u64 * 1000 + ts.tv_nsec as u64 / 1_000_000
}

/// Current and peak resident set size in bytes, read without allocating.
pub fn rss() -> (u64, u64) {
    let mut buf = [0u8; 2048];
    let n = read_file(b"/proc/self/status\0", &mut buf);
    let text = &buf[..n];
    (status_kb(text, b"VmRSS:") * 1024, status_kb(text, b"VmHWM:") * 1024)
}

fn status_kb(text: &[u8], key: &[u8]) -> u64 {
    let mut i = 0;
    while i + key.len() <= text.len() {
        if &text[i..i + key.len()] == key && (i == 0 || text[i - 1] == b'\n') {
            let mut v = 0u64;
            for &b in &text[i + key.len()..] {
                match b {
                    b'0'..=b'9' => v = v * 10 + (b - b'0') as u64,
                    b' ' | b'\t' => continue,
                    _ => break,
                }
            }
            return v;
        }
        i += 1;
    }
    0
}

/// Read up to `buf.len()` bytes of a file (path NUL-terminated) with raw syscalls.
pub fn read_file(path: &[u8], buf: &mut [u8]) -> usize {
    // SAFETY: path is NUL-terminated; buf is writable for its length.
    unsafe {
        let fd = libc::open(path.as_ptr() as *const libc::c_char, libc::O_RDONLY | libc::O_CLOEXEC);
        if fd < 0 {
            return 0;
        }
        let mut got = 0usize;
        while got < buf.len() {
            let r = libc::read(fd, buf.as_mut_ptr().add(got) as *mut libc::c_void, buf.len() - got);
            if r <= 0 {
                break;
            }
            got += r as usize;
        }
        libc::close(fd);
        got
    }
}

/// Write all of `b` to `fd`.
pub fn write_fd(fd: i32, b: &[u8]) {
    let mut off = 0;
    while off < b.len() {
        // SAFETY: the slice is valid for reads of its length.
        let r = unsafe { libc::write(fd, b.as_ptr().add(off) as *const libc::c_void, b.len() - off) };
        if r <= 0 {
            break;
        }
        off += r as usize;
    }
}

/// Ask for transparent huge pages on a range of one of our mappings (THP box).
pub fn advise_hugepage(p: *mut u8, len: usize) {
    MADVISE_CALLS.fetch_add(1, Relaxed);
    // SAFETY: the range is one of our mappings; the advice changes no contents.
    unsafe { libc::madvise(p as *mut libc::c_void, len, libc::MADV_HUGEPAGE) };
}

/// Make a page-aligned part of one of our mappings inaccessible (hardened guard pages).
pub fn protect_none(p: *mut u8, len: usize) {
    // SAFETY: the range is part of a mapping of ours that nobody reads or writes.
    unsafe { protect(p, len, libc::PROT_NONE) };
}

/// One `mprotect`, counted; false when the kernel refuses.
///
/// # Safety
/// `[p, p + len)` is page-aligned, part of a mapping of ours, and nobody uses it in a way
/// the new protection forbids.
unsafe fn protect(p: *mut u8, len: usize, prot: i32) -> bool {
    MPROTECT_CALLS.fetch_add(1, Relaxed);
    // SAFETY: as the caller promises.
    unsafe { libc::mprotect(p as *mut libc::c_void, len, prot) == 0 }
}

/// Is resource limit `r` finite (or unreadable)? One `prlimit64`, not counted: it neither
/// maps nor frees anything.
fn rlimit_finite(r: libc::__rlimit_resource_t) -> bool {
    let mut rl = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: rl is a valid out-parameter.
    let e = unsafe { libc::getrlimit(r, &mut rl) };
    e != 0 || rl.rlim_cur != libc::RLIM_INFINITY
}

/// Reserve `len` bytes of address space that reads as zeros and cannot be written (the
/// SuperSlab arena): a private read-only mapping is charged no commit and holds no page
/// until read, and a read maps the shared zero page. Null on failure. Not counted in
/// `MAPPED_BYTES` (no memory can live there until `commit` makes a part writable).
pub fn reserve_readable(len: usize) -> *mut u8 {
    // SAFETY: no address hint, no MAP_FIXED.
    unsafe { mmap_anon(ptr::null_mut(), len, libc::PROT_READ, 0) }
}

/// Does the process have a finite address-space limit (`RLIMIT_AS`)? The arena's commits
/// do not grow the address space, so they would slip past such a limit.
pub fn address_space_limited() -> bool {
    rlimit_finite(libc::RLIMIT_AS)
}

/// Make part of a `reserve_readable` range read-write (fresh zero pages). False when the
/// kernel refuses (commit limit, too many mappings).
pub fn commit(p: *mut u8, len: usize) -> bool {
    // SAFETY: the range is part of a reservation of ours that nobody uses yet.
    let ok = unsafe { protect(p, len, libc::PROT_READ | libc::PROT_WRITE) };
    if ok {
        MAPPED_BYTES.fetch_add(len as u64, Relaxed);
    }
    ok
}

/// Give a committed part of a reservation back whole: its pages and its commit charge go,
/// and it reads as zeros, read-only (one mmap over it, which replaces it atomically: the
/// range is never unmapped, so no other mapping can land there and a read never faults).
/// Counted in `MAPPED_BYTES` by the caller.
pub fn uncommit(p: *mut u8, len: usize) {
    // SAFETY: the range is part of a reservation of ours that nobody uses any more;
    // MAP_FIXED over our own range replaces only it.
    if unsafe { mmap_anon(p, len, libc::PROT_READ, libc::MAP_FIXED) }.is_null() {
        // Out of mappings (max_map_count): at least drop the pages.
        decommit(p, len, Decommit::DontNeed);
    }
}

/// Is writable private memory limited for this process: a finite `RLIMIT_DATA`, or strict
/// overcommit (`vm.overcommit_memory = 2`, read once)? Then memory given back must stop
/// being writable to stop counting.
pub fn writable_limited() -> bool {
    use core::sync::atomic::{AtomicU8, Ordering};
    static STRICT: AtomicU8 = AtomicU8::new(0); // 0 unknown, 1 no, 2 yes
    let mut strict = STRICT.load(Ordering::Relaxed);
    if strict == 0 {
        let mut buf = [0u8; 8];
        let n = read_file(b"/proc/sys/vm/overcommit_memory\0", &mut buf);
        strict = if n > 0 && buf[0] == b'2' { 2 } else { 1 };
        STRICT.store(strict, Ordering::Relaxed);
    }
    strict == 2 || rlimit_finite(libc::RLIMIT_DATA)
}

/// Resize a mapping, letting the kernel move its pages (no copy). Null on failure.
pub fn remap_move(p: *mut u8, old: usize, new: usize) -> *mut u8 {
    MREMAP_CALLS.fetch_add(1, Relaxed);
    // SAFETY: (p, old) is one of our mappings, no longer referenced once this succeeds.
    let r = unsafe { libc::mremap(p as *mut libc::c_void, old, new, libc::MREMAP_MAYMOVE) };
    if r == libc::MAP_FAILED {
        return ptr::null_mut();
    }
    if new >= old {
        MAPPED_BYTES.fetch_add((new - old) as u64, Relaxed);
    } else {
        MAPPED_BYTES.fetch_sub((old - new) as u64, Relaxed);
    }
    r as *mut u8
}

/// Set errno to ENOMEM (for failures that made no syscall, e.g. an impossible size).
#[cold]
pub fn set_enomem() {
    // SAFETY: __errno_location returns this thread's errno slot.
    unsafe { *libc::__errno_location() = libc::ENOMEM };
}
