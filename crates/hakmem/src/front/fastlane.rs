//! FastLane: the thread's free list per class, in thread-local storage.
//!
//! A malloc hit is: class lookup, load the head, load its next, store it back.
//! A free hit is: region-bit check, owner check, push. No atomics, no locks, no calls.
//! Everything else (refill, flush, remote frees, large and huge blocks, first use of a
//! thread) is out of line in `*_slow` functions.

use super::ThreadAccess;
use crate::boxes::{alloc_passdown, harden};
use crate::cache::unified;
use crate::config::tuning;
use crate::heap::{self, Heap};
use crate::size_class::{fastlane_limit, ClassIdx, NCLASS, SMALL_MAX};
use crate::superslab::{self, region, Block, SuperSlab, UnitKind, UC_FREE, UC_LARGE};
use crate::{large, msg, thread};
use core::ptr;
use core::sync::atomic::Ordering::Relaxed;

/// Per-thread state. Zero is a valid "thread has not allocated yet" state, so it can
/// live in `.tbss` and needs no constructor.
#[repr(C)]
pub struct ThreadBlock {
    /// FastLane heads, per class.
    pub fl: [*mut Block; NCLASS],
    /// Room left in each class's FastLane: `limit(c) - length`. Counting down lets the
    /// free path test "over the limit" with the flags of one decrement.
    pub room: [i32; NCLASS],
    /// The heap owned by this thread (null before first malloc and after exit).
    pub heap: *mut Heap,
    /// What the free fast path compares owners with: `heap`, or null in hardened mode
    /// so that every free takes the checked path at no cost to the normal one.
    pub fast_heap: *mut Heap,
    /// Frees pushed on the FastLane (allocations are derived: see `stats`).
    pub frees: [u64; NCLASS],
    /// Remote queue (remote-batch box): blocks freed here that belong to `rq_owner`,
    /// chained `rq_head..=rq_tail`, sent to its inbox with one CAS every `rq_len` = batch.
    pub rq_owner: *mut Heap,
    pub rq_head: *mut Block,
    pub rq_tail: *mut Block,
    pub rq_len: u32,
    /// Queue length that triggers a send (the box's N); 0 = no queue (box off, hardened).
    pub rq_cap: u32,
    /// Blocks this thread sent to other heaps.
    pub remote_frees: u64,
    /// Thread-exit destructor registered for this thread.
    pub key_set: bool,
}

impl ThreadBlock {
    pub const ZERO: ThreadBlock = ThreadBlock {
        fl: [ptr::null_mut(); NCLASS],
        room: [0; NCLASS],
        heap: ptr::null_mut(),
        fast_heap: ptr::null_mut(),
        frees: [0; NCLASS],
        rq_owner: ptr::null_mut(),
        rq_head: ptr::null_mut(),
        rq_tail: ptr::null_mut(),
        rq_len: 0,
        rq_cap: 0,
        remote_frees: 0,
        key_set: false,
    };
}

/// Flush threshold per class (FastLane length that triggers giving half back), set once
/// at start-up from the lane budget (`HAKMEM_FASTLANE_KB`) and the C7 ultra box.
static mut LIMITS: [u32; NCLASS] = {
    let mut t = [0u32; NCLASS];
    let mut c = 0;
    while c < NCLASS {
        t[c] = fastlane_limit(c, 64 * 1024);
        c += 1;
    }
    t
};

/// FastLane limit of class `c`.
#[inline]
pub fn limit(c: ClassIdx) -> u32 {
    // SAFETY: written only by `init_limits` during global init, before any heap exists.
    unsafe { (*core::ptr::addr_of!(LIMITS))[c] }
}

/// Compute the limits from the tuning (global init only).
///
/// # Safety
/// No other thread may be allocating.
pub unsafe fn init_limits(t: &crate::config::Tuning) {
    let l = &mut *core::ptr::addr_of_mut!(LIMITS);
    for (c, x) in l.iter_mut().enumerate() {
        *x = fastlane_limit(c, t.lane_kib * 1024);
    }
    super::c7_ultra::adjust_limits(l, t.c7_ultra);
}



// ---- malloc ------------------------------------------------------------------------------

/// Pop a block from class `c`'s lane (the hit path); null when the lane is empty.
#[inline(always)]
pub unsafe fn lane_pop(tb: *mut ThreadBlock, c: ClassIdx) -> *mut u8 {
    let slot = (*tb).fl.as_mut_ptr().add(c);
    let b = *slot;
    if !b.is_null() {
        *slot = (*b).next;
        *(*tb).room.as_mut_ptr().add(c) += 1;
    }
    b as *mut u8
}

/// malloc for sizes up to `SMALL_MAX` and everything else.
#[inline(always)]
pub unsafe fn malloc<T: ThreadAccess>(n: usize) -> *mut u8 {
    if n <= SMALL_MAX {
        let c = crate::size_class::class_of(n);
        let tb = T::block();
        let b = lane_pop(tb, c);
        if !b.is_null() {
            return b;
        }
        return malloc_miss::<T>(tb, c, n);
    }
    large::alloc::<T>(n, 0)
}

/// The FastLane for class `c` is empty: refill it from the heap in a batch.
#[cold]
#[inline(never)]
pub unsafe fn malloc_miss<T: ThreadAccess>(tb: *mut ThreadBlock, c: ClassIdx, n: usize) -> *mut u8 {
    // Pass-down box: with it on, the route computed at the entry (tb, c) is used as is;
    // off, it is derived again from the size, as the seed's code did.
    let (tb, c) = if tuning().passdown {
        alloc_passdown::HITS.fetch_add(1, Relaxed);
        (tb, c)
    } else {
        (T::block(), crate::size_class::class_of(n))
    };
    let h = thread::heap_for::<T>(tb);
    if h.is_null() {
        return thread::bootstrap_alloc(n);
    }
    // Blocks queued for other heaps should not wait longer than our own next miss.
    flush_remote(tb);
    unified::refill(tb, &mut *h, c)
}

/// Allocate from class `c` directly (aligned allocations pick their class themselves).
pub unsafe fn malloc_class<T: ThreadAccess>(c: ClassIdx) -> *mut u8 {
    let tb = T::block();
    let b = lane_pop(tb, c);
    if !b.is_null() {
        return b;
    }
    let h = thread::heap_for::<T>(tb);
    if h.is_null() {
        return thread::bootstrap_alloc(crate::size_class::BLOCK_SIZE[c] as usize);
    }
    unified::refill(tb, &mut *h, c)
}

// ---- free --------------------------------------------------------------------------------

#[inline(always)]
pub unsafe fn free<T: ThreadAccess>(p: *mut u8) {
    let a = p as usize;
    if !region::is_superslab(a) {
        return large::free_not_superslab(p);
    }
    let ss = superslab::ss_of(a);
    let tb = T::block();
    // One compare settles "a class slab of this thread's heap" (free units and large
    // spans carry NO_OWNER, which matches no thread).
    let rec = (*ss).units.as_ptr().add(superslab::unit_of(a));
    if (*rec).owner != (*tb).fast_heap {
        return free_other::<T>(tb, ss, (*rec).owner, p);
    }
    push_local(tb, (*rec).class as usize, p);
}

/// Not a block of this thread's heap. The common case, another small block for the
/// owner whose queue is open, is a push; everything else goes to `free_slow`.
#[inline(never)]
unsafe fn free_other<T: ThreadAccess>(tb: *mut ThreadBlock, ss: *mut SuperSlab, owner: *mut Heap, p: *mut u8) {
    let b = p as *mut Block;
    // rq_owner is a real heap only while a queue is open (never NO_OWNER), and an
    // equal head means a double free: free_slow reports it.
    if owner == (*tb).rq_owner && (*tb).rq_head != b {
        (*b).next = (*tb).rq_head;
        (*tb).rq_head = b;
        (*tb).remote_frees += 1;
        let n = (*tb).rq_len + 1;
        (*tb).rq_len = n;
        if n >= (*tb).rq_cap {
            flush_remote(tb);
        }
        return;
    }
    free_slow::<T>(tb, ss, p)
}

/// Push a block of this thread's heap on its FastLane; flush when over the limit.
#[inline(always)]
unsafe fn push_local(tb: *mut ThreadBlock, c: ClassIdx, p: *mut u8) {
    let slot = (*tb).fl.as_mut_ptr().add(c);
    let head = *slot;
    if head as *mut u8 == p {
        msg::fatal("free", "double free detected", p as usize);
    }
    let b = p as *mut Block;
    (*b).next = head;
    *slot = b;
    *(*tb).frees.as_mut_ptr().add(c) += 1;
    let room = (*tb).room.as_mut_ptr().add(c);
    *room -= 1;
    if *room < 0 {
        unified::flush(tb, &mut *(*tb).heap, c);
    }
}

/// A SuperSlab pointer that is not a local small block: remote, large, hardened,
/// a thread without a heap yet, or bad input.
#[cold]
#[inline(never)]
pub unsafe fn free_slow<T: ThreadAccess>(tb: *mut ThreadBlock, ss: *mut SuperSlab, p: *mut u8) {
    let a = p as usize;
    let owner = (*ss).owner.load(core::sync::atomic::Ordering::Acquire);
    if owner.is_null() {
        msg::fatal("free", "invalid pointer or double free (block of an empty SuperSlab)", a);
    }
    let uc = (*ss).units[superslab::unit_of(a)].class;
    if uc == UC_FREE {
        msg::fatal("free", "invalid pointer or double free (not inside a live slab)", a);
    }
    let mine = owner == (*tb).heap;
    // The common slow case, a small block of another heap, needs nothing more.
    if !mine && uc != UC_LARGE && !tuning().harden {
        return remote_enqueue(tb, owner, p as *mut Block);
    }
    let m = SuperSlab::meta_of(ss, a);
    if uc == UC_LARGE {
        if (*m).kind != UnitKind::Large || (*m).start != a {
            msg::fatal("free", "invalid pointer (not the start of a large block)", a);
        }
        if mine {
            heap::large_release(&mut *owner, ss, m);
        } else {
            remote_enqueue(tb, owner, p as *mut Block);
        }
        return;
    }
    if tuning().harden {
        harden::HITS.fetch_add(1, Relaxed);
        check_small_free(tb, ss, m, a);
    }
    if mine {
        // Only hardened mode gets here for a local small block: straight to its slab's
        // protected free list.
        // Counted as freed and flushed at once, so derived allocs stay exact.
        (*tb).frees[uc as usize] += 1;
        (*owner).counters.flush_blocks[uc as usize] += 1;
        heap::give_block(&mut *owner, p as *mut Block);
    } else {
        remote_enqueue(tb, owner, p as *mut Block);
    }
}

/// A block of another heap: queue it for its owner (remote-batch box), or send it now.
#[inline]
unsafe fn remote_enqueue(tb: *mut ThreadBlock, owner: *mut Heap, b: *mut Block) {
    let batch = (*tb).rq_cap;
    // Without a heap this thread has no exit hook to flush a queue with: send directly.
    if batch <= 1 || (*tb).heap.is_null() {
        heap::remote_free(owner, b);
        return;
    }
    (*tb).remote_frees += 1;
    if (*tb).rq_owner != owner {
        flush_remote(tb);
        (*tb).rq_owner = owner;
        (*tb).rq_tail = b;
        (*b).next = ptr::null_mut();
    } else {
        if (*tb).rq_head == b {
            msg::fatal("free", "double free detected (block already queued for its owner)", b as usize);
        }
        (*b).next = (*tb).rq_head;
    }
    (*tb).rq_head = b;
    (*tb).rq_len += 1;
    if (*tb).rq_len >= batch {
        flush_remote(tb);
    }
}

/// Send the remote queue to its owner's inbox.
pub unsafe fn flush_remote(tb: *mut ThreadBlock) {
    if (*tb).rq_len != 0 {
        // Counted per batch, not per block: a shared counter must stay off per-free paths.
        crate::boxes::remote_batch::HITS.fetch_add(1, Relaxed);
        heap::remote_push_chain((*tb).rq_owner, (*tb).rq_head, (*tb).rq_tail, (*tb).rq_len as u64);
        (*tb).rq_owner = ptr::null_mut();
        (*tb).rq_head = ptr::null_mut();
        (*tb).rq_tail = ptr::null_mut();
        (*tb).rq_len = 0;
    }
}

/// Hardened checks for a small block: it must start a carved block of its slab and must
/// not already be free in the slab or in this thread's FastLane.
#[cold]
unsafe fn check_small_free(tb: *mut ThreadBlock, ss: *mut SuperSlab, m: *mut superslab::SlabMeta, a: usize) {
    if !superslab::slab::is_block_start(&*m, a) {
        msg::fatal("free", "invalid pointer (not the start of a block)", a);
    }
    // The slab's free list belongs to the owner: only the owner may walk it.
    if (*m).kind == UnitKind::Slab && (*tb).heap == (*ss).owner.load(Relaxed) && superslab::slab::is_free(&*m, a) {
        msg::fatal("free", "double free detected", a);
    }
}

/// Usable size of a block we handed out (0 for a pointer we do not know).
pub unsafe fn usable_size(p: *mut u8) -> usize {
    let a = p as usize;
    if region::is_superslab(a) {
        let ss = superslab::ss_of(a);
        let uc = (*ss).units[superslab::unit_of(a)].class;
        if uc == UC_FREE || (*ss).owner.load(Relaxed).is_null() {
            return 0;
        }
        let m = SuperSlab::meta_of(ss, a);
        return (*m).block_size as usize;
    }
    large::usable_size_not_superslab(p)
}
