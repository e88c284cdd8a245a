//! The front: everything a thread does without sharing. Its FastLanes (one free list
//! per class in thread-local storage), its remote queue, the malloc and free hit paths,
//! and the batch moves to and from its heap. Uses `lifecycle`, `heap` and `backend`
//! below it; nothing below calls back up.

pub mod fastlane;
pub mod lane;
pub mod refill;
pub mod remote;
pub mod thread;

use crate::types::ThreadBlock;

use core::cell::UnsafeCell;

/// Ask the CPU to start loading the cache line at `addr`. Any address will do: a prefetch is
/// a hint that never faults and changes no state the program can see (a no-op off x86-64).
#[inline(always)]
pub fn prefetch(addr: usize) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: PREFETCHT0 needs only SSE, which every x86-64 CPU has; it reads nothing the
    // program sees and never faults, whatever the address.
    unsafe {
        core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(addr as *const i8)
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = addr;
}

/// How the front reaches the calling thread's `ThreadBlock`.
///
/// The Rust crate uses `thread_local!` ([`RustTls`]); the preload library supplies an
/// initial-exec TLS block reached in two instructions, without `__tls_get_addr`.
pub trait ThreadAccess {
    /// The calling thread's block (zeroed before its first use).
    fn block() -> *mut ThreadBlock;
}

std::thread_local! {
    static TB: UnsafeCell<ThreadBlock> = const { UnsafeCell::new(ThreadBlock::ZERO) };
}

/// `thread_local!` access, for `#[global_allocator]` use (fast in executables; in a
/// dlopen'ed cdylib it goes through `__tls_get_addr`, which is what makes dlopen work).
pub struct RustTls;

impl ThreadAccess for RustTls {
    #[inline(always)]
    fn block() -> *mut ThreadBlock {
        TB.with(|t| t.get())
    }
}
