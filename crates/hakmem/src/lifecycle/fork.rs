//! `fork`: every global lock is taken in the prepare handler, in lock order (heap pool →
//! warm pool → huge registry), and the forking thread is marked as the *fork holder*, so
//! user atfork handlers that run after ours (or, in the child, before our child handler)
//! may allocate without deadlocking (`sync::SpinLock::lock`).
//!
//! In the child only the forking thread exists. Heaps of the other threads may have been
//! mid-operation, so they are orphaned (never adopted); blocks the child frees into them
//! stay in their inbox. The child's own heap carries on.

use super::heaps;
use crate::backend;
use crate::sync;

/// Register the handlers (global init).
pub fn register() {
    // SAFETY: the handlers are `extern "C"` functions of this library with no arguments.
    unsafe { libc::pthread_atfork(Some(prepare), Some(parent), Some(child)) };
}

extern "C" fn prepare() {
    heaps::HEAPS.raw_lock();
    backend::lock_for_fork();
    crate::prof::lock_for_fork();
    sync::set_fork_holder(true);
}

extern "C" fn parent() {
    sync::set_fork_holder(false);
    crate::prof::unlock_after_fork();
    backend::unlock_after_fork();
    heaps::HEAPS.raw_unlock();
}

extern "C" fn child() {
    sync::set_fork_holder(false);
    crate::prof::unlock_after_fork();
    backend::unlock_after_fork();
    heaps::HEAPS.raw_unlock();
    heaps::orphan_other_threads();
}
