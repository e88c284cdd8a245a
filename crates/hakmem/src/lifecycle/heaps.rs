//! The heap pool: every heap ever made, and the stack of abandoned heaps waiting for a new
//! thread. Heaps are never freed: an exited thread's heap is abandoned whole (after the
//! front flushed its lanes) and adopted by the next new thread, so thread churn neither
//! leaks memory nor strands blocks.
//!
//! Owner: this module, under `HEAPS` (first in the lock order). While a heap is abandoned,
//! whoever holds `HEAPS` is its owner (that is how `reclaim_abandoned` may drain it).

use crate::backend::os;
use crate::heap;
use crate::sync::{thread_id, SpinLock};
use crate::types::{Heap, HeapState};
use core::cell::UnsafeCell;
use core::ptr;

pub struct HeapPool {
    /// Abandoned heaps ready for adoption, linked through `next_free`.
    free: *mut Heap,
    /// Every heap ever made, linked through `next_all`.
    all: *mut Heap,
    /// Bump region for new heaps.
    cur: usize,
    end: usize,
}

// SAFETY: only touched under the lock.
unsafe impl Send for HeapPool {}

pub static HEAPS: SpinLock<HeapPool> =
    SpinLock::new(HeapPool { free: ptr::null_mut(), all: ptr::null_mut(), cur: 0, end: 0 });

const HEAP_CHUNK: usize = 64 * 1024;
const FIRST: usize = 16 * 1024;

/// The first heaps come from `.bss`, so a single-threaded program makes no syscall for
/// them (later ones come from 64 KiB mappings).
#[repr(C, align(64))]
struct FirstHeaps(UnsafeCell<[u8; FIRST]>);
// SAFETY: carved out under the HEAPS lock only.
unsafe impl Sync for FirstHeaps {}
static FIRST_HEAPS: FirstHeaps = FirstHeaps(UnsafeCell::new([0; FIRST]));

/// A heap for the calling thread: an abandoned one if any (with everything it holds),
/// else a new one. Null when the OS refuses memory.
pub fn adopt_or_create() -> *mut Heap {
    reclaim_abandoned();
    let mut pool = HEAPS.lock();
    let h = pool.free;
    // SAFETY: heaps on the pool's lists are valid forever; the lock makes us their owner.
    unsafe {
        if !h.is_null() {
            pool.free = *(*h).next_free.get();
            *(*h).next_free.get() = ptr::null_mut();
        } else {
            let sz = core::mem::size_of::<Heap>().next_multiple_of(64);
            if pool.end == 0 {
                pool.cur = FIRST_HEAPS.0.get() as usize;
                pool.end = pool.cur + FIRST;
            }
            if pool.cur + sz > pool.end {
                let chunk = os::map(HEAP_CHUNK);
                if chunk.is_null() {
                    return ptr::null_mut();
                }
                pool.cur = chunk as usize;
                pool.end = chunk as usize + HEAP_CHUNK;
            }
            let h = pool.cur as *mut Heap;
            pool.cur += sz;
            // Fresh mmap and .bss memory is zeroed: atomics at 0, counters at 0.
            heap::init_local((*h).local(), h);
            (*h).next_all = pool.all;
            pool.all = h;
            *(*h).owner_thread.get() = thread_id();
            (*h).local().abandoned = false;
            (*h).set_state(HeapState::Active);
            return h;
        }
        *(*h).owner_thread.get() = thread_id();
        (*h).local().abandoned = false;
        (*h).set_state(HeapState::Active);
    }
    h
}

/// The thread owning `h` has exited (the front already gave back its lanes and queue):
/// drain the inbox, drop empty slabs, and put the heap up for adoption.
///
/// # Safety
/// The caller owns `h` and will not touch it again.
pub unsafe fn abandon(h: *mut Heap) {
    heap::drain_inbox(&*h);
    let mut pool = HEAPS.lock();
    (*h).local().abandoned = true;
    (*h).set_state(HeapState::Abandoned);
    *(*h).next_free.get() = pool.free;
    pool.free = h;
    // Marked first, drained second (see `heap::remote_push`): a block pushed before the
    // mark is taken here, one pushed after it is reclaimed by its sender.
    heap::drain_inbox_final(&*h);
    heap::trim(&*h);
    drop(pool);
}

/// A block was sent to the abandoned heap `h`: drain it now (under the pool lock, which
/// makes us its owner while it is abandoned). An abandoned heap keeps no empty slab or
/// spare (`HeapLocal::abandoned`), so every slab and SuperSlab the drain empties goes back
/// to the backend at once. Nothing if a thread adopted it meanwhile (the adopter drains
/// its inbox).
pub fn reclaim_one(h: *mut Heap) {
    let _pool = HEAPS.lock();
    // SAFETY: heaps live forever; abandoned ones belong to whoever holds the lock.
    unsafe {
        if (*h).state() == HeapState::Abandoned {
            heap::drain_inbox(&*h);
        }
    }
}

/// Drain the inboxes of abandoned heaps: blocks other threads freed after the owner
/// exited go back to their slabs, and emptied SuperSlabs to the backend. Holding the pool
/// lock makes us the heaps' owner.
pub fn reclaim_abandoned() {
    let pool = HEAPS.lock();
    let mut h = pool.free;
    while !h.is_null() {
        // SAFETY: heaps on the free list belong to no thread; the lock keeps it so.
        unsafe {
            if !(*h).shared.inbox.load(crate::sync::Ordering::Relaxed).is_null() {
                heap::drain_inbox(&*h);
                heap::trim(&*h);
            }
            h = *(*h).next_free.get();
        }
    }
}

/// Visit every heap under the pool lock (statistics read their shared counters).
pub fn for_each_heap(mut f: impl FnMut(&Heap)) {
    let pool = HEAPS.lock();
    let mut h = pool.all;
    while !h.is_null() {
        // SAFETY: heaps are never freed; `f` sees only the shared (atomic) part.
        unsafe {
            f(&*h);
            h = (*h).next_all;
        }
    }
}

/// Fork child: heaps of threads that do not exist here are never adopted.
pub fn orphan_other_threads() {
    let me = thread_id();
    let pool = HEAPS.lock();
    let mut h = pool.all;
    while !h.is_null() {
        // SAFETY: single-threaded now; heaps are never freed.
        unsafe {
            if (*h).state() == HeapState::Active && *(*h).owner_thread.get() != me {
                (*h).set_state(HeapState::Orphaned);
            }
            h = (*h).next_all;
        }
    }
}
