//! The backend: where memory comes from and goes back to. It knows chunks and mappings,
//! never blocks, slabs or heaps.
//!
//! - `os`: the only module that calls mmap / munmap / madvise / mremap (each call counted);
//! - `arena`: the reservation SuperSlab chunks are cut from (an xor and a shift tell a
//!   pointer that may be in a SuperSlab);
//! - `region`: one byte per 2 MiB of address space, set for live SuperSlabs;
//! - `warm_pool`: empty 2 MiB chunks kept for reuse, capped by the lean / release boxes;
//! - `huge`: blocks with their own mapping, their registry and the huge cache.
//!
//! Out of memory is handled here, once: when a mapping fails, [`release_all_cached`] gives
//! back every pooled chunk and cached huge mapping and the mapping is tried once more.

pub mod arena;
pub mod huge;
pub mod os;
pub mod region;
pub mod warm_pool;

/// Give back every cached chunk and huge mapping now; returns the bytes released.
pub fn release_all_cached() -> usize {
    warm_pool::release_all() + huge::release_cache()
}

/// An empty, 2 MiB-aligned chunk for a new SuperSlab; 0 when the OS refuses even after
/// the caches were released.
pub fn acquire_chunk() -> usize {
    let c = warm_pool::acquire();
    if c != 0 {
        return c;
    }
    release_all_cached();
    warm_pool::acquire()
}

/// A huge block (see `huge::alloc`), retried once after releasing the caches.
pub fn huge_alloc(n: usize, align: usize, zero: bool) -> *mut u8 {
    let p = huge::alloc(n, align, zero);
    if !p.is_null() {
        return p;
    }
    release_all_cached();
    huge::alloc(n, align, zero)
}

/// `fork` prepare: take the backend's locks in lock order (after the heap pool's).
pub fn lock_for_fork() {
    warm_pool::POOL.raw_lock();
    huge::HUGE.raw_lock();
    arena::lock_for_fork();
}

/// `fork` parent and child: release what `lock_for_fork` took.
pub fn unlock_after_fork() {
    arena::unlock_after_fork();
    huge::HUGE.raw_unlock();
    warm_pool::POOL.raw_unlock();
}
