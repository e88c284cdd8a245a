//! A thread's attachment to a heap: on its first allocation the front gets a heap from
//! the lifecycle layer and sets up its lanes and queue; at thread exit (a pthread key
//! destructor) it gives back what its lanes and queue hold and abandons the heap.

use super::{lane, refill, remote};
use crate::boxes::sw;
use crate::config::tuning;
use crate::lifecycle::{self, heaps};
use crate::sync::{AtomicU32, Ordering};
use crate::types::{Heap, ThreadBlock};
use core::ptr;

/// The pthread key whose destructor runs `thread_exit` (+1; 0 = not created yet).
static KEY: AtomicU32 = AtomicU32::new(0);

/// The calling thread's heap, attaching one on first use. Null while hakmem is
/// initialising on this thread (use the bootstrap arena) or when out of memory.
///
/// # Safety
/// `tb` is the calling thread's block.
#[inline(always)]
pub unsafe fn heap_for(tb: *mut ThreadBlock) -> *mut Heap {
    let h = (*tb).heap;
    if !h.is_null() {
        return h;
    }
    attach(tb)
}

/// # Safety
/// `tb` is the calling thread's block and has no heap.
#[cold]
#[inline(never)]
unsafe fn attach(tb: *mut ThreadBlock) -> *mut Heap {
    if !lifecycle::ensure_init() {
        return ptr::null_mut();
    }
    let h = heaps::adopt_or_create();
    if h.is_null() {
        return h;
    }
    lane::reset(tb);
    let hardened = tuning().on(sw::HARDEN);
    (*tb).heap = h;
    // After the heap is set: with a heap, prof_start starts the lanes' countdowns too.
    if tuning().on(sw::PROF) {
        super::fastlane::prof_start(tb);
    }
    // Hardened mode diverts every local free off the hit path (to free_slow's checks), and
    // so does the free-check box when it is off (to free_unchecked, from free_other_slow):
    // the hit path itself has no flag to test.
    (*tb).fast_heap = if hardened || !tuning().on(sw::FREE_CHECK) { ptr::null_mut() } else { h };
    // Hardened mode checks every remote free in free_slow: no queue to bypass it.
    (*tb).rq.cap = if hardened { 0 } else { tuning().get(sw::REMOTE_BATCH) };
    (*tb).rq.prefetch = tuning().on(sw::REMOTE_PREFETCH);
    (*tb).rq.slab_lists = tuning().on(sw::REMOTE_SLAB_LISTS) && !hardened;
    let key = exit_key();
    if key != 0 && !(*tb).key_set {
        libc::pthread_setspecific(key - 1, tb as *const libc::c_void);
        (*tb).key_set = true;
    }
    h
}

/// The thread-exit key, created on first use (0 if pthread refused one).
fn exit_key() -> u32 {
    let k = KEY.load(Ordering::Acquire);
    if k != 0 {
        return k;
    }
    let _g = heaps::HEAPS.lock(); // one creator
    let k = KEY.load(Ordering::Acquire);
    if k != 0 {
        return k;
    }
    let mut key: libc::pthread_key_t = 0;
    // SAFETY: thread_exit matches the destructor signature; key is a valid out pointer.
    if unsafe { libc::pthread_key_create(&mut key, Some(thread_exit)) } != 0 {
        return 0;
    }
    KEY.store(key + 1, Ordering::Release);
    key + 1
}

/// pthread key destructor: give the thread's cached blocks back and abandon its heap.
unsafe extern "C" fn thread_exit(arg: *mut libc::c_void) {
    let tb = arg as *mut ThreadBlock;
    (*tb).key_set = false;
    detach(tb);
}

/// Detach the heap from the calling thread (thread exit).
///
/// # Safety
/// `tb` is the calling thread's block; the thread makes no further allocation through it
/// (one that does attaches a heap again).
pub unsafe fn detach(tb: *mut ThreadBlock) {
    let h = (*tb).heap;
    if h.is_null() {
        return;
    }
    // Lanes first: with the remote-keep box they hold other heaps' blocks, which go home
    // through the remote queue, flushed next.
    refill::flush_all(tb, &*h);
    remote::flush(tb);
    (*tb).heap = ptr::null_mut();
    (*tb).fast_heap = ptr::null_mut();
    heaps::abandon(h);
}
