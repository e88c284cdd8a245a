//! Synchronisation primitives of the allocator: the atomics every layer uses (one place,
//! so a model checker could swap them) and a tiny spin lock for the rare global paths
//! (heap pool, warm pool, huge registry). The lock never allocates.
//!
//! **Fork.** `lifecycle::fork` takes every lock in its `pthread_atfork` prepare handler
//! and records the forking thread as the *fork holder*. User atfork handlers may run
//! after ours (prepare handlers run in reverse order of registration, child handlers in
//! order) and may allocate; glibc's own malloc has the same problem and solves it by
//! doing its fork work inside `fork()` itself. Here, the fork holder may enter any lock
//! while it holds them all for the fork: it is the only thread that can run, no critical
//! section of its own is open (prepare ran outside the allocator), so re-entering is safe.

pub use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering};

use core::cell::UnsafeCell;

/// `pthread_self()` of the thread holding every lock across a `fork`, or 0.
static FORK_HOLDER: AtomicUsize = AtomicUsize::new(0);

/// The calling thread's id (`pthread_self`, which never allocates).
#[inline]
pub fn thread_id() -> usize {
    // SAFETY: pthread_self has no preconditions.
    unsafe { libc::pthread_self() as usize }
}

/// Mark the calling thread as the fork holder (it holds every lock), or clear the mark.
pub fn set_fork_holder(on: bool) {
    FORK_HOLDER.store(if on { thread_id() } else { 0 }, Ordering::Release);
}

/// A test-and-test-and-set lock.
pub struct SpinLock<T> {
    locked: AtomicBool,
    value: UnsafeCell<T>,
}

// SAFETY: access to `value` is serialised by `locked` (or by the fork holder being the only
// thread that runs, see the module docs).
unsafe impl<T: Send> Sync for SpinLock<T> {}
// SAFETY: as above; the lock owns its value.
unsafe impl<T: Send> Send for SpinLock<T> {}

/// Access to a locked value; unlocks on drop unless it re-entered a fork-held lock.
pub struct Guard<'a, T> {
    lock: &'a SpinLock<T>,
    release: bool,
}

impl<T> SpinLock<T> {
    pub const fn new(v: T) -> Self {
        SpinLock { locked: AtomicBool::new(false), value: UnsafeCell::new(v) }
    }

    pub fn lock(&self) -> Guard<'_, T> {
        if self.locked.load(Ordering::Relaxed) {
            let holder = FORK_HOLDER.load(Ordering::Acquire);
            if holder != 0 && holder == thread_id() {
                // The forking thread re-enters a lock it holds for the fork.
                return Guard { lock: self, release: false };
            }
        }
        self.raw_lock();
        Guard { lock: self, release: true }
    }

    /// Take the lock if it is free now (a signal handler's way: never waits).
    pub fn try_lock(&self) -> Option<Guard<'_, T>> {
        if self.locked.compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed).is_ok() {
            Some(Guard { lock: self, release: true })
        } else {
            None
        }
    }

    /// Take the lock without a guard (atfork prepare); pair with `raw_unlock`.
    pub fn raw_lock(&self) {
        let mut spins = 0u32;
        loop {
            if !self.locked.load(Ordering::Relaxed)
                && self.locked.compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed).is_ok()
            {
                return;
            }
            spins += 1;
            if spins < 64 {
                core::hint::spin_loop();
            } else {
                // SAFETY: sched_yield has no preconditions; it lets the holder run on a busy core.
                unsafe { libc::sched_yield() };
            }
        }
    }

    /// Release a lock taken with `raw_lock` (or, in a fork child, reset it).
    pub fn raw_unlock(&self) {
        self.locked.store(false, Ordering::Release);
    }
}

impl<T> core::ops::Deref for Guard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard proves we hold the lock (or are the fork holder, alone).
        unsafe { &*self.lock.value.get() }
    }
}

impl<T> core::ops::DerefMut for Guard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as for Deref; one guard is live per critical section.
        unsafe { &mut *self.lock.value.get() }
    }
}

impl<T> Drop for Guard<'_, T> {
    fn drop(&mut self) {
        if self.release {
            self.lock.raw_unlock();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_excludes_and_fork_holder_reenters() {
        let l = SpinLock::new(5u32);
        {
            let mut g = l.lock();
            *g += 1;
        }
        assert_eq!(*l.lock(), 6);
        l.raw_lock();
        set_fork_holder(true);
        {
            let mut g = l.lock(); // would spin forever without the fork-holder rule
            *g += 1;
        }
        assert!(l.locked.load(Ordering::Relaxed), "re-entry must not release the fork lock");
        set_fork_holder(false);
        l.raw_unlock();
        assert_eq!(*l.lock(), 7);
    }
}
