//! Huge blocks (above `LARGE_MAX`, or aligned beyond a unit): their own mapping each,
//! recorded in a registry (an open-addressing table under a lock) so `free` can tell a
//! huge block from a foreign pointer without reading memory that may not be ours. Freed
//! huge mappings are kept in a small cache (the huge-cache box) before they are unmapped.
//!
//! Owner: this module, under `HUGE`'s lock (the last in the lock order). The registry
//! table starts in `.bss` and grows into its own mappings; deleted slots are tombstones
//! (`DELETED`) until a rehash drops them.

use super::os::{self, PAGE};
use crate::boxes;
use crate::config::tuning;
use crate::sync::{AtomicU64, Ordering::Relaxed, SpinLock};
use core::ptr;

pub static HUGE_ALLOCS: AtomicU64 = AtomicU64::new(0);
pub static HUGE_FREES: AtomicU64 = AtomicU64::new(0);
pub static HUGE_LIVE_BYTES: AtomicU64 = AtomicU64::new(0);

/// One live huge block: the pointer handed out (also its mapping's base) and its length.
#[derive(Clone, Copy)]
struct Entry {
    /// 0 = empty slot, 1 = deleted slot, else the block's address.
    ptr: usize,
    len: usize,
}

const EMPTY: usize = 0;
const DELETED: usize = 1;
const STATIC_CAP: usize = 256;
const CACHE_SLOTS: usize = 16;

/// Invariants: `live` slots hold a block, `used - live` are tombstones, `used * 4 <= cap * 3`
/// after every insert; `cache_bytes` is the sum of the cached lengths (`len == 0`: empty).
pub struct Huge {
    table: *mut Entry,
    cap: usize,
    used: usize,
    live: usize,
    cache: [(usize, usize); CACHE_SLOTS],
    cache_bytes: usize,
}

// SAFETY: only touched under the lock.
unsafe impl Send for Huge {}

static mut STATIC_TABLE: [Entry; STATIC_CAP] = [Entry { ptr: EMPTY, len: 0 }; STATIC_CAP];

pub static HUGE: SpinLock<Huge> = SpinLock::new(Huge {
    table: ptr::null_mut(),
    cap: 0,
    used: 0,
    live: 0,
    cache: [(0, 0); CACHE_SLOTS],
    cache_bytes: 0,
});

#[inline]
fn hash(p: usize, cap: usize) -> usize {
    ((p >> 12).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 20) & (cap - 1)
}

impl Huge {
    /// # Safety
    /// Called under the lock.
    unsafe fn slots(&mut self) -> &mut [Entry] {
        if self.table.is_null() {
            self.table = ptr::addr_of_mut!(STATIC_TABLE) as *mut Entry;
            self.cap = STATIC_CAP;
        }
        core::slice::from_raw_parts_mut(self.table, self.cap)
    }

    /// # Safety
    /// Called under the lock.
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

    /// Make sure one more insert cannot need to grow the table (which can fail).
    /// # Safety
    /// Called under the lock.
    unsafe fn reserve_one(&mut self) -> bool {
        (self.used + 1) * 4 <= self.slots().len() * 3 || self.grow()
    }

    /// # Safety
    /// Called under the lock.
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

    /// # Safety
    /// Called under the lock.
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

    /// # Safety
    /// Called under the lock, `i` a live slot.
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
        let cap = tuning().mb(crate::boxes::sw::HUGE_CACHE_MB);
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

/// Hardened mode maps one more page after every huge block and makes it inaccessible, so
/// a write past the block's page-rounded end faults; such mappings are not cached or
/// moved by `realloc`.
#[inline]
fn guard() -> usize {
    if crate::boxes::harden::on() {
        PAGE
    } else {
        0
    }
}

#[inline]
fn page_round(n: usize) -> Option<usize> {
    n.checked_add(PAGE - 1).map(|x| x & !(PAGE - 1))
}

/// Map (or reuse) a huge block of `n` bytes aligned to `align`. `zero`: the caller needs
/// zeroed memory. Null when the OS refuses (errno set); `backend::huge_alloc` retries.
pub fn alloc(n: usize, align: usize, zero: bool) -> *mut u8 {
    let align = align.max(PAGE);
    let Some(len) = page_round(n.max(1)) else {
        os::set_enomem();
        return ptr::null_mut();
    };
    if len > isize::MAX as usize / 2 {
        os::set_enomem();
        return ptr::null_mut();
    }
    let mut cached = if guard() == 0 { HUGE.lock().cache_take(len, align) } else { None };
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
            boxes::hit(boxes::sw::HUGE_CACHE_MB);
            (b, l, false)
        }
        None => {
            let g = guard();
            let p = if align <= PAGE { os::map(len + g) } else { os::map_aligned(len + g, align) };
            if p.is_null() {
                return p;
            }
            if g != 0 {
                os::protect_none((p as usize + len) as *mut u8, g);
            }
            if len >= crate::types::SS_SIZE && crate::config::tuning().on(boxes::sw::THP) {
                // THP box: a huge block of 2 MiB or more gets huge pages too (the kernel backs
                // the aligned 2 MiB ranges inside it).
                boxes::hit(boxes::sw::THP);
                os::advise_hugepage(p, len);
            }
            (p as usize, len, true)
        }
    };
    // SAFETY: under the lock.
    if !unsafe { HUGE.lock().insert(Entry { ptr: base, len }) } {
        os::unmap(base as *mut u8, len + guard());
        os::set_enomem();
        return ptr::null_mut();
    }
    HUGE_ALLOCS.fetch_add(1, Relaxed);
    HUGE_LIVE_BYTES.fetch_add(len as u64, Relaxed);
    if zero && !fresh {
        // SAFETY: [base, base + n) is inside the mapping we just recorded.
        unsafe { ptr::write_bytes(base as *mut u8, 0, n) };
    }
    base as *mut u8
}

/// Unmap every cached huge mapping; returns the bytes given back.
pub fn release_cache() -> usize {
    let mut out = [(0usize, 0usize); CACHE_SLOTS];
    {
        let mut g = HUGE.lock();
        for (i, e) in g.cache.iter_mut().enumerate() {
            out[i] = *e;
            *e = (0, 0);
        }
        g.cache_bytes = 0;
    }
    let mut bytes = 0;
    for (b, l) in out {
        if l != 0 {
            os::unmap(b as *mut u8, l);
            bytes += l;
        }
    }
    bytes
}

/// Usable size of a huge block, if `p` is one.
pub fn size(p: usize) -> Option<usize> {
    let mut g = HUGE.lock();
    // SAFETY: under the lock.
    unsafe {
        let i = g.find(p)?;
        Some((*g.table.add(i)).len)
    }
}

/// Free a huge block; false if `p` is not one.
pub fn free(p: usize) -> bool {
    let e = {
        let mut g = HUGE.lock();
        // SAFETY: under the lock.
        let Some(i) = (unsafe { g.find(p) }) else {
            return false;
        };
        // SAFETY: under the lock; i is a live slot.
        let e = unsafe { g.remove(i) };
        HUGE_FREES.fetch_add(1, Relaxed);
        HUGE_LIVE_BYTES.fetch_sub(e.len as u64, Relaxed);
        if guard() == 0 && g.cache_put(e.ptr, e.len) {
            return true;
        }
        e
    };
    os::unmap(e.ptr as *mut u8, e.len + guard());
    true
}

/// Resize a huge block in place or by moving its pages (no copy). None if `p` is not a
/// huge block or the kernel refused; the caller then allocates, copies and frees.
pub fn realloc(p: usize, n: usize) -> Option<*mut u8> {
    if guard() != 0 {
        return None; // the guard page would have to move too: allocate, copy, free
    }
    let new_len = page_round(n)?;
    let mut g = HUGE.lock();
    // SAFETY: everything below runs under the lock.
    unsafe {
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
        let q = os::remap_move(e.ptr as *mut u8, e.len, new_len);
        if q.is_null() {
            return None;
        }
        g.remove(i);
        let recorded = g.insert(Entry { ptr: q as usize, len: new_len });
        debug_assert!(recorded, "reserve_one guaranteed room");
        if new_len >= e.len {
            HUGE_LIVE_BYTES.fetch_add((new_len - e.len) as u64, Relaxed);
        } else {
            HUGE_LIVE_BYTES.fetch_sub((e.len - new_len) as u64, Relaxed);
        }
        Some(q)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_grows_rehashes_and_forgets() {
        // More live blocks than the static table holds: the table must grow and still
        // find every one; frees leave tombstones that later inserts reuse.
        let mut v = [0usize; 400];
        for x in v.iter_mut() {
            *x = alloc(PAGE * 2, 0, false) as usize;
            assert_ne!(*x, 0);
        }
        // (a cached mapping may be reused as it is: at least the size asked for)
        for &x in v.iter() {
            assert!(size(x).unwrap() >= PAGE * 2);
        }
        for &x in v.iter().step_by(2) {
            assert!(free(x));
            assert!(!free(x), "a second free of a huge block is refused");
            assert_eq!(size(x), None);
        }
        for &x in v.iter().skip(1).step_by(2) {
            assert!(size(x).unwrap() >= PAGE * 2, "tombstones must not hide live entries");
            assert!(free(x));
        }
    }

    #[test]
    fn realloc_moves_and_keeps_the_record() {
        let p = alloc(3 * PAGE, 0, false) as usize;
        // SAFETY: p is a fresh 3-page block.
        unsafe { *(p as *mut u64) = 77 };
        let q = realloc(p, 300 * PAGE).expect("mremap") as usize;
        assert_eq!(size(q), Some(300 * PAGE));
        // SAFETY: q is the moved block.
        assert_eq!(unsafe { *(q as *const u64) }, 77);
        if q != p {
            assert_eq!(size(p), None);
        }
        assert!(free(q));
    }
}
