//! The warm pool: empty SuperSlab-sized chunks (2 MiB, aligned) kept mapped for reuse by
//! any heap, so a heap that needs a SuperSlab usually gets one without a syscall. How much
//! it keeps and when it gives memory back are decided by the memory-lean and
//! release-policy boxes.
//!
//! The pool knows chunks, not SuperSlab headers: it links them through the last word of
//! their header unit (`LINK`, past the `SuperSlab` struct), and the `heap` layer writes
//! the header when it takes a chunk. Pooled chunks are not marked in the region bitmap.
//!
//! Owner: this module, under `POOL`'s lock. Lock order: heap pool → warm pool → huge.

use super::os;
use crate::boxes::{mem_lean, release_policy};
use crate::sync::{AtomicU64, Ordering::Relaxed, SpinLock};
use crate::types::{SS_SIZE, UNIT_SIZE};

/// Where a pooled chunk keeps its link: the last word of its header unit.
const LINK: usize = UNIT_SIZE - 8;

pub struct Pool {
    head: usize,
    count: usize,
}

pub static POOL: SpinLock<Pool> = SpinLock::new(Pool { head: 0, count: 0 });

pub static SS_MAPPED: AtomicU64 = AtomicU64::new(0);
pub static SS_UNMAPPED: AtomicU64 = AtomicU64::new(0);
pub static SS_REUSED: AtomicU64 = AtomicU64::new(0);
pub static SS_IN_POOL: AtomicU64 = AtomicU64::new(0);

/// Chunks mapped per mmap when the pool is empty: the spare ones wait in the pool.
/// Untouched, they cost address space, not memory, and a program that needs a second
/// SuperSlab (random-mixed's 2.7 MB live set does) makes one syscall instead of two.
const MAP_BATCH: usize = 2;

/// # Safety
/// `chunk` is a pooled (or about to be pooled) chunk.
unsafe fn link(chunk: usize) -> *mut usize {
    (chunk + LINK) as *mut usize
}

impl Pool {
    /// # Safety
    /// `chunk` is a mapped chunk no one else uses.
    unsafe fn push(&mut self, chunk: usize) {
        *link(chunk) = self.head;
        self.head = chunk;
        self.count += 1;
        SS_IN_POOL.store(self.count as u64, Relaxed);
    }

    fn pop(&mut self) -> usize {
        let c = self.head;
        if c != 0 {
            // SAFETY: pooled chunks are mapped and their link word is ours.
            self.head = unsafe { *link(c) };
            self.count -= 1;
            SS_IN_POOL.store(self.count as u64, Relaxed);
        }
        c
    }
}

/// Map `n` adjacent brand-new chunks in one call; returns the first (0 on failure).
fn map_batch(n: usize) -> usize {
    let p = os::map_aligned(n * SS_SIZE, SS_SIZE);
    if p.is_null() {
        return 0;
    }
    SS_MAPPED.fetch_add(n as u64, Relaxed);
    if crate::config::tuning().on(crate::boxes::sw::THP) {
        // THP box: one advice for the batch; the kernel backs each aligned 2 MiB chunk with
        // a huge page when it can (fewer TLB misses, more RSS per touched chunk).
        crate::boxes::hit(crate::boxes::sw::THP);
        os::advise_hugepage(p, n * SS_SIZE);
    }
    p as usize
}

/// Take an empty chunk: from the pool if it has one, else fresh from the OS (a batch,
/// the others pooled). 0 when the OS refuses; `backend::acquire_chunk` retries.
pub fn acquire() -> usize {
    let c = POOL.lock().pop();
    if c != 0 {
        SS_REUSED.fetch_add(1, Relaxed);
        return c;
    }
    let first = map_batch(MAP_BATCH);
    if first == 0 {
        // Short of address space: one at a time.
        return map_batch(1);
    }
    let mut pool = POOL.lock();
    for i in 1..MAP_BATCH {
        // SAFETY: part of the fresh mapping, known to nobody else.
        unsafe { pool.push(first + i * SS_SIZE) };
    }
    first
}

/// Take an empty chunk back (its owner already cleared its region bit). The lean and
/// release-policy boxes decide whether it stays mapped, is decommitted, or the pool is
/// trimmed back to its cap.
///
/// # Safety
/// `chunk` came from `acquire`, is empty, and nobody references it any more.
pub unsafe fn release(chunk: usize) {
    mem_lean::on_pool_entry(chunk);
    let mut victims = 0usize;
    {
        let mut pool = POOL.lock();
        pool.push(chunk);
        let keep = release_policy::keep_after_insert(pool.count);
        while pool.count > keep {
            let v = pool.pop();
            *link(v) = victims;
            victims = v;
        }
    }
    // Unmap outside the lock: munmap is slow and nobody can reach the victims now.
    unmap_list(victims);
}

/// Unmap every pooled chunk (memory pressure, `trim`); returns the bytes given back.
pub fn release_all() -> usize {
    let (victims, n) = {
        let mut pool = POOL.lock();
        let v = (pool.head, pool.count);
        pool.head = 0;
        pool.count = 0;
        SS_IN_POOL.store(0, Relaxed);
        v
    };
    // SAFETY: the pool owned these and nobody else can reach them now.
    unsafe { unmap_list(victims) };
    n * SS_SIZE
}

/// # Safety
/// `list` is a chain of chunks linked through `LINK` that nobody else references.
unsafe fn unmap_list(mut list: usize) {
    while list != 0 {
        let next = *link(list);
        os::unmap(list as *mut u8, SS_SIZE);
        SS_UNMAPPED.fetch_add(1, Relaxed);
        list = next;
    }
}

/// Map `n` chunks into the pool ahead of need (the prewarm box), in one call.
pub fn prewarm(n: usize) {
    if n == 0 {
        return;
    }
    let first = map_batch(n);
    if first == 0 {
        return;
    }
    let mut pool = POOL.lock();
    for i in 0..n {
        // SAFETY: part of the fresh mapping, known to nobody else.
        unsafe { pool.push(first + i * SS_SIZE) };
    }
}

/// Chunks in the pool now.
#[cfg(test)]
pub fn pooled() -> usize {
    POOL.lock().count
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acquire_release_reuses_and_release_all_unmaps() {
        let a = acquire();
        assert_ne!(a, 0);
        assert_eq!(a % SS_SIZE, 0, "chunks are aligned");
        // SAFETY: a is ours and empty.
        unsafe { release(a) };
        assert!(pooled() >= 1);
        let b = acquire();
        assert_ne!(b, 0);
        // SAFETY: b is ours and empty.
        unsafe { release(b) };
        let before = SS_UNMAPPED.load(Relaxed);
        let freed = release_all();
        assert_eq!(pooled(), 0);
        assert_eq!(SS_UNMAPPED.load(Relaxed) - before, (freed / SS_SIZE) as u64);
    }
}
