//! Per-thread fronts: the FastLane (every class's free list in thread-local storage)
//! and the C7 short path.
pub mod c7_ultra;
pub mod fastlane;

/// How the front reaches the calling thread's `ThreadBlock`.
///
/// The Rust crate uses `thread_local!` (`crate::thread::RustTls`); the preload library
/// supplies an initial-exec TLS block reached in two instructions, without
/// `__tls_get_addr`.
pub trait ThreadAccess {
    fn block() -> *mut fastlane::ThreadBlock;
}
