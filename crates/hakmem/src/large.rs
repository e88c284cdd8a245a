//! Blocks above the class sizes.
//!
//! - **Large** (32 KiB < n <= 1 MiB): a span of 64 KiB units inside one of the thread's
//!   SuperSlabs (`heap::large_alloc`), so they come and go without syscalls.
//! - **Huge** (> 1 MiB, or alignment > 64 KiB): their own mapping, recorded in a
//!   registry (an open-addressing table under a lock) so `free` can tell a huge block
//!   from a foreign pointer without reading memory that may not be ours. Freed huge
//!   mappings are kept in a small cache (the huge-cache box) before they are unmapped.

use crate::boxes::huge_cache;
use crate::config::tuning;
use crate::front::ThreadAccess;
use crate::heap::{self, LARGE_MAX};
use crate::os::{self, PAGE};
use crate::spinlock::SpinLock;
use crate::superslab::UNIT_SIZE;
use crate::{msg, thread};
use core::ptr;
use core::sync::atomic::{AtomicU64, Ordering::Relaxed};

pub static HUGE_ALLOCS: AtomicU64 = AtomicU64::new(0);
pub static HUGE_FREES: AtomicU64 = AtomicU64::new(0);
pub static HUGE_LIVE_BYTES: AtomicU64 = AtomicU64::new(0);

/// Allocate `n > SMALL_MAX` bytes (or any size with `align > 64 KiB`).
#[cold]
#[inline(never)]
pub unsafe fn alloc<T: ThreadAccess>(n: usize, align: usize) -> *mut u8 {
    if n <= LARGE_MAX && align <= UNIT_SIZE {
        let tb = T::block();
        let h = thread::heap_for::<T>(tb);
        if h.is_null() {
            return thread::bootstrap_alloc(n);
        }
        return heap::large_alloc(&mut *h, n);
    }
    huge_alloc(n, align, false)
}

// ---- the huge registry -------------------------------------------------------------------

#[derive(Clone, Copy)]
struct Entry {
    /// The pointer handed out; 0 = empty slot, 1 = deleted slot.
    ptr: usize,
    base: usize,
    len: usize,
}

const EMPTY: usize = 0;
const DELETED: usize = 1;
const STATIC_CAP: usize = 256;
const CACHE_SLOTS: usize = 16;

struct Huge {
    table: *mut Entry,
    cap: usize,
    used: usize, // live + deleted slots
    live: usize,
    cache: [(usize, usize); CACHE_SLOTS], // (base, len); len 0 = empty
    cache_bytes: usize,
}

// SAFETY: only touched under the lock.
unsafe impl Send for Huge {}

static mut STATIC_TABLE: [Entry; STATIC_CAP] = [Entry { ptr: EMPTY, base: 0, len: 0 }; STATIC_CAP];

static HUGE: SpinLock<Huge> = SpinLock::new(Huge {
    table: ptr::null_mut(),
    cap: 0,
    used: 0,
    live: 0,
    cache: [(0, 0); CACHE_SLOTS],
    cache_bytes: 0,
});

/// For fork: the registry's lock.
pub fn lock_for_fork() {
    HUGE.raw_lock();
}
pub fn unlock_after_fork() {
    HUGE.raw_unlock();
}

#[inline]
fn hash(p: usize, cap: usize) -> usize {
    ((p >> 12).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 20) & (cap - 1)
}

impl Huge {
    unsafe fn slots(&mut self) -> &mut [Entry] {
        if self.table.is_null() {
            self.table = ptr::addr_of_mut!(STATIC_TABLE) as *mut Entry;
            self.cap = STATIC_CAP;
        }
        core::slice::from_raw_parts_mut(self.table, self.cap)
    }

    unsafe fn find(&mut self, p: usize) -> Option<usize> {
        let cap = self.slots().len();
        let t = self.slots();
        let mut i = hash(p, cap);
        for _ in 0..cap {
            match t[i].ptr {
                EMPTY => return None,
                x if x == p => return Some(i),
                _ => i = (i + 1) & (cap - 1),
            }
        }
        None
    }

    /// Insert; false if the table could not grow.
    /// Make sure one more insert cannot need to grow the table (which can fail).
    unsafe fn reserve_one(&mut self) -> bool {
        (self.used + 1) * 4 <= self.slots().len() * 3 || self.grow()
    }

    unsafe fn insert(&mut self, e: Entry) -> bool {
        if !self.reserve_one() {
            return false;
        }
        let cap = self.cap;
        let t = self.table;
        let mut i = hash(e.ptr, cap);
        while (*t.add(i)).ptr > DELETED {
            i = (i + 1) & (cap - 1);
        }
        if (*t.add(i)).ptr == EMPTY {
            self.used += 1;
        }
        *t.add(i) = e;
        self.live += 1;
        true
    }

    unsafe fn grow(&mut self) -> bool {
        let old = self.slots().as_mut_ptr();
        let old_cap = self.cap;
        // Grow only when live entries fill it; otherwise rehashing drops the tombstones.
        let new_cap = if self.live * 2 >= old_cap { old_cap * 2 } else { old_cap };
        let bytes = new_cap * core::mem::size_of::<Entry>();
        let t = os::map(bytes) as *mut Entry;
        if t.is_null() {
            return false;
        }
        self.table = t;
        self.cap = new_cap;
        self.used = 0;
        self.live = 0;
        for i in 0..old_cap {
            let e = *old.add(i);
            if e.ptr > DELETED {
                self.insert(e);
            }
        }
        if old != ptr::addr_of_mut!(STATIC_TABLE) as *mut Entry {
            os::unmap(old as *mut u8, old_cap * core::mem::size_of::<Entry>());
        }
        true
    }

    unsafe fn remove(&mut self, i: usize) -> Entry {
        let t = self.slots();
        let e = t[i];
        t[i].ptr = DELETED;
        self.live -= 1;
        e
    }

    /// Take a cached mapping for `len` bytes aligned to `align`: the smallest one that
    /// fits, used as it is (its pages are resident: no fault, no syscall); else (page
    /// alignment only) the largest, which the caller grows with mremap so that only the
    /// new tail faults.
    fn cache_take(&mut self, len: usize, align: usize) -> Option<(usize, usize)> {
        let mut best: Option<usize> = None;
        for (i, &(b, l)) in self.cache.iter().enumerate() {
            if l >= len && b % align == 0 && best.is_none_or(|j| self.cache[j].1 > l) {
                best = Some(i);
            }
        }
        if best.is_none() && align <= PAGE {
            for (i, &(_, l)) in self.cache.iter().enumerate() {
                if l != 0 && best.is_none_or(|j| self.cache[j].1 < l) {
                    best = Some(i);
                }
            }
        }
        let i = best?;
        let e = self.cache[i];
        self.cache[i] = (0, 0);
        self.cache_bytes -= e.1;
        Some(e)
    }

    /// Keep a freed mapping if the cache has room; false means the caller unmaps it.
    fn cache_put(&mut self, base: usize, len: usize) -> bool {
        let cap = tuning().huge_cache_bytes;
        if self.cache_bytes + len > cap {
            return false;
        }
        match self.cache.iter().position(|e| e.1 == 0) {
            Some(i) => {
                self.cache[i] = (base, len);
                self.cache_bytes += len;
                true
            }
            None => false,
        }
    }
}

#[inline]
fn page_round(n: usize) -> Option<usize> {
    n.checked_add(PAGE - 1).map(|x| x & !(PAGE - 1))
}

/// Map (or reuse) a huge block. `zero`: the caller needs zeroed memory.
pub unsafe fn huge_alloc(n: usize, align: usize, zero: bool) -> *mut u8 {
    // A huge block may be a process's first allocation: read the configuration first.
    if !thread::ensure_init() {
        return thread::bootstrap_alloc(n);
    }
    let align = align.max(PAGE);
    let Some(len) = page_round(n.max(1)) else {
        os::set_enomem();
        return ptr::null_mut();
    };
    if len > isize::MAX as usize / 2 {
        os::set_enomem();
        return ptr::null_mut();
    }
    let mut cached = HUGE.lock().cache_take(len, align);
    if let Some((b, l)) = cached {
        if l < len {
            // Grow a resident mapping rather than fault in a whole fresh one.
            let q = os::remap_move(b as *mut u8, l, len);
            cached = if q.is_null() {
                os::unmap(b as *mut u8, l);
                None
            } else {
                Some((q as usize, len))
            };
        }
    }
    let (base, len, fresh) = match cached {
        Some((b, l)) => {
            huge_cache::HITS.fetch_add(1, Relaxed);
            (b, l, false)
        }
        None => {
            let map = || if align <= PAGE { os::map(len) } else { os::map_aligned(len, align) };
            let mut p = map();
            if p.is_null() {
                // Give back every cached SuperSlab and mapping, then try once more.
                crate::cache::warm_pool::release_all_cached();
                p = map();
                if p.is_null() {
                    return p;
                }
            }
            (p as usize, len, true)
        }
    };
    if !HUGE.lock().insert(Entry { ptr: base, base, len }) {
        os::unmap(base as *mut u8, len);
        os::set_enomem();
        return ptr::null_mut();
    }
    HUGE_ALLOCS.fetch_add(1, Relaxed);
    HUGE_LIVE_BYTES.fetch_add(len as u64, Relaxed);
    if zero && !fresh {
        ptr::write_bytes(base as *mut u8, 0, n);
    }
    base as *mut u8
}

/// Unmap every cached huge mapping (memory pressure).
pub fn release_cache() {
    let mut out = [(0usize, 0usize); CACHE_SLOTS];
    {
        let mut g = HUGE.lock();
        for (i, e) in g.cache.iter_mut().enumerate() {
            out[i] = *e;
            *e = (0, 0);
        }
        g.cache_bytes = 0;
    }
    for (b, l) in out {
        if l != 0 {
            os::unmap(b as *mut u8, l);
        }
    }
}

/// Usable size of a huge block, if `p` is one.
pub unsafe fn huge_size(p: usize) -> Option<usize> {
    let mut g = HUGE.lock();
    let i = g.find(p)?;
    Some((*g.table.add(i)).len)
}

/// Free a huge block; false if `p` is not one.
pub unsafe fn huge_free(p: usize) -> bool {
    let e = {
        let mut g = HUGE.lock();
        let Some(i) = g.find(p) else {
            return false;
        };
        let e = g.remove(i);
        if g.cache_put(e.base, e.len) {
            HUGE_FREES.fetch_add(1, Relaxed);
            HUGE_LIVE_BYTES.fetch_sub(e.len as u64, Relaxed);
            return true;
        }
        e
    };
    HUGE_FREES.fetch_add(1, Relaxed);
    HUGE_LIVE_BYTES.fetch_sub(e.len as u64, Relaxed);
    os::unmap(e.base as *mut u8, e.len);
    true
}

/// Resize a huge block in place or by moving its pages (no copy). None if `p` is not a
/// huge block or the kernel refused; the caller then allocates, copies and frees.
pub unsafe fn huge_realloc(p: usize, n: usize) -> Option<*mut u8> {
    let new_len = page_round(n)?;
    let mut g = HUGE.lock();
    let i = g.find(p)?;
    let e = *g.table.add(i);
    if new_len <= e.len && new_len >= e.len / 2 {
        return Some(p as *mut u8);
    }
    // Room for the moved entry first: once mremap has moved the pages, recording them
    // must not fail, or the program's data would be lost. (Growing rehashes: find again.)
    if !g.reserve_one() {
        return None;
    }
    let i = g.find(p)?;
    // realloc owes only fundamental alignment, so even an over-aligned block may move.
    let q = os::remap_move(e.base as *mut u8, e.len, new_len);
    if q.is_null() {
        return None;
    }
    g.remove(i);
    let recorded = g.insert(Entry { ptr: q as usize, base: q as usize, len: new_len });
    debug_assert!(recorded, "reserve_one guaranteed room");
    if new_len >= e.len {
        HUGE_LIVE_BYTES.fetch_add((new_len - e.len) as u64, Relaxed);
    } else {
        HUGE_LIVE_BYTES.fetch_sub((e.len - new_len) as u64, Relaxed);
    }
    Some(q)
}

// ---- pointers outside SuperSlabs -----------------------------------------------------

/// free() of a pointer that is not in a SuperSlab: null, bootstrap, huge, or bad input.
#[cold]
#[inline(never)]
pub unsafe fn free_not_superslab(p: *mut u8) {
    if p.is_null() || thread::bootstrap_contains(p) {
        return;
    }
    if !huge_free(p as usize) {
        msg::fatal("free", "invalid pointer (not allocated by hakmem)", p as usize);
    }
}

/// malloc_usable_size() of a pointer outside SuperSlabs (0 if unknown).
pub unsafe fn usable_size_not_superslab(p: *mut u8) -> usize {
    if p.is_null() {
        return 0;
    }
    if thread::bootstrap_contains(p) {
        return thread::bootstrap_size(p);
    }
    huge_size(p as usize).unwrap_or(0)
}
