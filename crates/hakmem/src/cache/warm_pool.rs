//! The warm pool: empty SuperSlabs kept mapped for reuse by any thread, so a heap
//! that needs a SuperSlab usually gets one without a syscall. How much it keeps and
//! when it gives memory back to the OS are decided by the memory-lean and
//! release-policy boxes (see `boxes::mem_lean`, `boxes::release_policy`).

use crate::boxes::{mem_lean, release_policy};
use crate::heap::Heap;
use crate::os;
use crate::spinlock::SpinLock;
use crate::superslab::{region, SuperSlab, SS_SIZE};
use core::ptr;
use core::sync::atomic::{AtomicU64, Ordering::Relaxed};

pub struct Pool {
    head: *mut SuperSlab,
    count: usize,
}

// SAFETY: the raw pointers are only touched under the pool's lock.
unsafe impl Send for Pool {}

pub static POOL: SpinLock<Pool> = SpinLock::new(Pool { head: ptr::null_mut(), count: 0 });

pub static SS_MAPPED: AtomicU64 = AtomicU64::new(0);
pub static SS_UNMAPPED: AtomicU64 = AtomicU64::new(0);
pub static SS_REUSED: AtomicU64 = AtomicU64::new(0);
pub static SS_IN_POOL: AtomicU64 = AtomicU64::new(0);

/// SuperSlabs mapped per mmap when the pool is empty: the spare ones wait in the pool.
/// Untouched, they cost address space, not memory, and a program that needs a second
/// SuperSlab (random-mixed's 2.7 MB live set does) makes one syscall instead of two.
const MAP_BATCH: usize = 2;

/// Map `n` adjacent brand-new SuperSlabs (not yet owned) in one call; returns the first.
fn map_batch(n: usize) -> *mut SuperSlab {
    let p = os::map_aligned(n * SS_SIZE, SS_SIZE);
    if p.is_null() {
        return ptr::null_mut();
    }
    for i in 0..n {
        SS_MAPPED.fetch_add(1, Relaxed);
        region::mark(p as usize + i * SS_SIZE, true);
    }
    p as *mut SuperSlab
}

/// Map a brand-new SuperSlab; a batch's others go to the pool.
fn map_new() -> *mut SuperSlab {
    let first = map_batch(MAP_BATCH);
    if first.is_null() {
        // Short of address space: one at a time.
        return map_batch(1);
    }
    for i in 1..MAP_BATCH {
        // SAFETY: part of the fresh mapping, known to nobody else.
        unsafe { push_fresh((first as usize + i * SS_SIZE) as *mut SuperSlab) };
    }
    first
}

/// Put a fresh (zeroed) SuperSlab in the pool with a header marking every unit free.
unsafe fn push_fresh(s: *mut SuperSlab) {
    SuperSlab::init(s, ptr::null_mut());
    let mut pool = POOL.lock();
    (*s).next = pool.head;
    pool.head = s;
    pool.count += 1;
    SS_IN_POOL.store(pool.count as u64, Relaxed);
}

/// Memory is short: unmap every pooled SuperSlab and every cached huge mapping.
/// Called when an mmap failed, before the one retry.
pub fn release_all_cached() {
    let mut victims = {
        let mut pool = POOL.lock();
        let v = pool.head;
        pool.head = ptr::null_mut();
        pool.count = 0;
        SS_IN_POOL.store(0, Relaxed);
        v
    };
    // SAFETY: the pool owned these and nobody else can reach them now.
    unsafe {
        while !victims.is_null() {
            let next = (*victims).next;
            unmap(victims);
            victims = next;
        }
    }
    crate::large::release_cache();
}

/// Get an empty SuperSlab for heap `h`: from the pool if it has one, else from the OS.
pub unsafe fn acquire(h: *mut Heap) -> *mut SuperSlab {
    let ss = {
        let mut pool = POOL.lock();
        let s = pool.head;
        if !s.is_null() {
            pool.head = (*s).next;
            pool.count -= 1;
            SS_IN_POOL.store(pool.count as u64, Relaxed);
        }
        s
    };
    let ss = if ss.is_null() {
        let mut s = map_new();
        if s.is_null() {
            // Out of address space or memory: give back what we cache and try once more.
            release_all_cached();
            s = map_new();
            if s.is_null() {
                return s;
            }
        }
        s
    } else {
        SS_REUSED.fetch_add(1, Relaxed);
        ss
    };
    SuperSlab::init(ss, h);
    ss
}

/// Take an empty SuperSlab back. The lean and release-policy boxes decide whether it
/// stays mapped, is decommitted, or the pool is trimmed back to its cap.
pub unsafe fn release(ss: *mut SuperSlab) {
    (*ss).owner.store(ptr::null_mut(), core::sync::atomic::Ordering::Release);
    mem_lean::on_pool_entry(ss);
    let mut victims: *mut SuperSlab = ptr::null_mut();
    {
        let mut pool = POOL.lock();
        (*ss).next = pool.head;
        pool.head = ss;
        pool.count += 1;
        let keep = release_policy::keep_after_insert(pool.count);
        while pool.count > keep {
            let v = pool.head;
            pool.head = (*v).next;
            pool.count -= 1;
            (*v).next = victims;
            victims = v;
        }
        SS_IN_POOL.store(pool.count as u64, Relaxed);
    }
    // Unmap outside the lock: munmap is slow and nobody can reach the victims now.
    while !victims.is_null() {
        let next = (*victims).next;
        unmap(victims);
        victims = next;
    }
}

unsafe fn unmap(ss: *mut SuperSlab) {
    region::mark(ss as usize, false);
    os::unmap(ss as *mut u8, SS_SIZE);
    SS_UNMAPPED.fetch_add(1, Relaxed);
}

/// Map `n` SuperSlabs into the pool ahead of need (the prewarm box), in one call.
pub fn prewarm(n: usize) {
    if n == 0 {
        return;
    }
    let first = map_batch(n);
    for i in 0..if first.is_null() { 0 } else { n } {
        // SAFETY: part of the fresh mapping, known to nobody else.
        unsafe { push_fresh((first as usize + i * SS_SIZE) as *mut SuperSlab) };
    }
}
