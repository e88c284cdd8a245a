//! The warm pool: empty SuperSlab-sized chunks (2 MiB, aligned) kept mapped for reuse by
//! any heap, so a heap that needs a SuperSlab usually gets one without a syscall. How much
//! it keeps committed and when it gives memory back are decided by the purge box (or, with
//! it off, the memory-lean and release-policy boxes).
//!
//! Two lists: **warm** chunks are committed (their pages still resident), linked through
//! the last word of their header unit (`LINK`, past the `SuperSlab` struct); **cold** chunks
//! are decommitted whole but still mapped (purge box only), kept in a fixed array so no
//! page of theirs is touched. A take prefers warm, then cold (pages fault in on use), then
//! maps fresh chunks. The `heap` layer writes the header when it takes a chunk. Pooled
//! chunks are `POOLED` in the region map (not live; a free into one is reported as a likely
//! double free), unmapped ones `NONE`.
//!
//! Owner: this module, under `POOL`'s lock. Lock order: heap pool → warm pool → huge.
//! Invariants: `count` = length of the warm list; `cold[..ncold]` are distinct chunks on
//! no other list; `ncold == 0` while the purge box is off.

use super::os::{self, Decommit};
use crate::boxes::purge::{self, Demand};
use crate::boxes::{mem_lean, release_policy};
use crate::sync::{AtomicU64, Ordering::Relaxed, SpinLock};
use crate::types::{SS_SIZE, UNIT_SIZE};

/// Where a pooled chunk keeps its link: the last word of its header unit.
const LINK: usize = UNIT_SIZE - 8;

/// Decommitted chunks the pool keeps mapped (1 GiB of address space); past it, unmapped.
const COLD_MAX: usize = 512;

pub struct Pool {
    head: usize,
    count: usize,
    cold: [usize; COLD_MAX],
    ncold: usize,
    demand: Demand,
    /// Chunks decommitted since the last take.
    streak: usize,
}

pub static POOL: SpinLock<Pool> =
    SpinLock::new(Pool { head: 0, count: 0, cold: [0; COLD_MAX], ncold: 0, demand: Demand::NEW, streak: 0 });

/// Decommits in a row, with no take between them, that say memory is flowing back with
/// nobody asking for it (one alone may be a working set one chunk over its last draw).
const STREAK: usize = 2;

pub static SS_MAPPED: AtomicU64 = AtomicU64::new(0);
pub static SS_UNMAPPED: AtomicU64 = AtomicU64::new(0);
pub static SS_REUSED: AtomicU64 = AtomicU64::new(0);
/// Warm (committed) chunks in the pool now.
pub static SS_IN_POOL: AtomicU64 = AtomicU64::new(0);
/// Cold (decommitted, still mapped) chunks in the pool now.
pub static SS_COLD: AtomicU64 = AtomicU64::new(0);

/// Chunks mapped per mmap when the pool is empty: the spare ones wait in the pool.
/// Untouched, they cost address space, not memory, and a program that needs a few
/// SuperSlabs makes one syscall: random-mixed's 2.7 MB live set spread over 72 classes
/// takes three (two mmaps with a batch of two, 2.0e-7 syscalls/op over its 10 M ops; the
/// budget is 1.25e-7).
const MAP_BATCH: usize = 4;

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
        self.publish();
    }

    fn pop(&mut self) -> usize {
        let c = self.head;
        if c != 0 {
            // SAFETY: pooled chunks are mapped and their link word is ours.
            self.head = unsafe { *link(c) };
            self.count -= 1;
            self.publish();
        }
        c
    }

    /// Keep a decommitted chunk; false when the cold list is full (the caller unmaps it).
    fn push_cold(&mut self, chunk: usize) -> bool {
        if self.ncold == COLD_MAX {
            return false;
        }
        self.cold[self.ncold] = chunk;
        self.ncold += 1;
        self.publish();
        true
    }

    fn pop_cold(&mut self) -> usize {
        if self.ncold == 0 {
            return 0;
        }
        self.ncold -= 1;
        self.publish();
        self.cold[self.ncold]
    }

    /// Chunks pooled, warm and cold.
    fn total(&self) -> usize {
        self.count + self.ncold
    }

    fn publish(&self) {
        SS_IN_POOL.store(self.count as u64, Relaxed);
        SS_COLD.store(self.ncold as u64, Relaxed);
    }
}

/// Up to `n` adjacent brand-new chunks in one call, from the arena when it has room, else
/// mapped: `(first, count)`, `(0, 0)` on failure.
fn map_batch(n: usize) -> (usize, usize) {
    let (mut p, mut got) = super::arena::take(n);
    if got == 0 {
        p = os::map_aligned(n * SS_SIZE, SS_SIZE) as usize;
        if p == 0 {
            return (0, 0);
        }
        got = n;
    }
    let held = SS_MAPPED.fetch_add(got as u64, Relaxed).saturating_sub(SS_UNMAPPED.load(Relaxed));
    // One advice for the batch; the kernel backs each aligned 2 MiB chunk with a huge page
    // when it can (fewer TLB misses, more RSS per touched chunk). The THP box advises every
    // batch; the THP-after box only once the heap is large, where a touched chunk is likely
    // to be used whole (a chunk of the arena keeps the advice when given back and taken
    // again).
    let t = crate::config::tuning();
    let thp = if t.on(crate::boxes::sw::THP) {
        Some(crate::boxes::sw::THP)
    } else if thp_after(t, held) {
        Some(crate::boxes::sw::THP_AFTER_MB)
    } else {
        None
    };
    if let Some(why) = thp {
        crate::boxes::hit(why);
        os::advise_hugepage(p as *mut u8, got * SS_SIZE);
    }
    (p, got)
}

/// THP-after box: does a heap that holds `held` chunks (before this take) get huge pages?
fn thp_after(t: &crate::config::Tuning, held: u64) -> bool {
    let mb = t.get(crate::boxes::sw::THP_AFTER_MB);
    mb != 0 && held * (SS_SIZE as u64 >> 20) >= mb as u64
}

/// Take an empty chunk: from the pool if it has one, else fresh from the OS (a batch,
/// the others pooled). 0 when the OS refuses; `backend::acquire_chunk` retries.
pub fn acquire() -> usize {
    let purging = purge::on();
    let c = {
        let mut pool = POOL.lock();
        if purging {
            let n = pool.total();
            pool.demand.roll(os::now_ms(), n);
        }
        let mut c = pool.pop();
        if c == 0 {
            c = pool.pop_cold();
        }
        if c != 0 && purging {
            let n = pool.total();
            pool.demand.on_take(n);
        }
        pool.streak = 0;
        c
    };
    if c != 0 {
        SS_REUSED.fetch_add(1, Relaxed);
        return c;
    }
    let (mut first, mut got) = map_batch(MAP_BATCH);
    if got == 0 {
        // Short of address space: one at a time.
        (first, got) = map_batch(1);
        if got == 0 {
            return 0;
        }
    }
    let mut pool = POOL.lock();
    for i in 1..got {
        let spare = first + i * SS_SIZE;
        // Untouched, a fresh chunk holds no pages: with the purge box it is cold already.
        if !(purging && pool.push_cold(spare)) {
            // SAFETY: part of the fresh mapping, known to nobody else.
            unsafe { pool.push(spare) };
        }
    }
    first
}

/// Take an empty chunk back (its owner already cleared its region bit). The purge box (or,
/// with it off, the lean and release-policy boxes) decides whether it stays committed, is
/// decommitted, or the pool is trimmed back to its cap. True when the purge box
/// decommitted it and the ones before it, with no take between (`STREAK`): memory is
/// flowing back that nobody asks for, and the caller may give back more.
///
/// # Safety
/// `chunk` came from `acquire`, is empty, and nobody references it any more.
pub unsafe fn release(chunk: usize) -> bool {
    if purge::on() {
        return release_purging(chunk);
    }
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
    false
}

/// The purge box's release: keep the chunk warm while the pool holds fewer warm chunks
/// than the demand asks, else decommit it now and keep it cold.
///
/// # Safety
/// As `release`.
unsafe fn release_purging(chunk: usize) -> bool {
    {
        let mut pool = POOL.lock();
        let n = pool.total();
        pool.demand.roll(os::now_ms(), n);
        if pool.count < pool.demand.keep() {
            pool.push(chunk);
            let n = pool.total();
            pool.demand.on_release(n);
            return false;
        }
    }
    // Outside the lock: nobody else can reach the chunk until it is pushed.
    os::decommit(chunk as *mut u8, SS_SIZE, Decommit::DontNeed);
    purge::decommitted();
    let mut pool = POOL.lock();
    pool.streak += 1;
    let flowing = pool.streak >= STREAK;
    if pool.push_cold(chunk) {
        let n = pool.total();
        pool.demand.on_release(n);
        return flowing;
    }
    drop(pool);
    unmap_chunk(chunk);
    flowing
}

/// Unmap every pooled chunk (memory pressure, `trim`); returns the bytes given back.
pub fn release_all() -> usize {
    let (victims, n, cold, ncold) = {
        let mut pool = POOL.lock();
        let v = (pool.head, pool.count, pool.cold, pool.ncold);
        pool.head = 0;
        pool.count = 0;
        pool.ncold = 0;
        pool.publish();
        v
    };
    // SAFETY: the pool owned these and nobody else can reach them now.
    unsafe { unmap_list(victims) };
    for &c in &cold[..ncold] {
        unmap_chunk(c);
    }
    (n + ncold) * SS_SIZE
}

/// # Safety
/// `list` is a chain of chunks linked through `LINK` that nobody else references.
unsafe fn unmap_list(mut list: usize) {
    while list != 0 {
        let next = *link(list);
        unmap_chunk(list);
        list = next;
    }
}

/// Give a pooled chunk back to the OS: its region byte back to `NONE` first (the address
/// range may come back as anything), then the munmap (the arena's chunks: their pages
/// dropped, the range kept, see `arena`), counted.
fn unmap_chunk(c: usize) {
    super::region::mark(c, super::region::NONE);
    if super::arena::contains(c) {
        // SAFETY: a pooled chunk of the arena that nobody references any more.
        unsafe { super::arena::give(c) };
    } else {
        os::unmap(c as *mut u8, SS_SIZE);
    }
    SS_UNMAPPED.fetch_add(1, Relaxed);
}

/// Map `n` chunks into the pool ahead of need (the prewarm box), in one call.
pub fn prewarm(n: usize) {
    if n == 0 {
        return;
    }
    let (first, got) = map_batch(n);
    let mut pool = POOL.lock();
    for i in 0..got {
        // SAFETY: part of the fresh mapping, known to nobody else.
        unsafe { pool.push(first + i * SS_SIZE) };
    }
}

/// Chunks in the pool now, warm and cold.
#[cfg(test)]
pub fn pooled() -> usize {
    POOL.lock().total()
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
