//! A heap: the backing store one thread allocates from. It owns SuperSlabs, keeps a
//! list of partial slabs per class, and has an inbox where other threads drop the
//! blocks they free (lock-free, many producers, one consumer: the owner).
//!
//! Heaps are never unmapped. When a thread exits its heap is abandoned whole and the
//! next new thread adopts it, SuperSlabs, partial slabs, inbox and all, so thread
//! churn neither leaks memory nor strands blocks.

use crate::cache::warm_pool;
use crate::front::fastlane::ThreadBlock;
use crate::size_class::{ClassIdx, NCLASS};
use crate::superslab::{self, slab, Block, SlabMeta, SuperSlab, UnitKind, UC_LARGE, UNIT_SIZE};
use core::ptr;
use core::sync::atomic::{AtomicPtr, AtomicU64, Ordering};

#[repr(C)]
pub struct Heap {
    /// Slabs with a block to give, per class (doubly linked through SlabMeta).
    pub partial: [*mut SlabMeta; NCLASS],
    /// SuperSlabs with at least one free unit.
    pub avail: *mut SuperSlab,
    /// One empty SuperSlab kept back from the warm pool, so a heap that empties and
    /// refills its last SuperSlab does not bounce it through the global pool.
    pub spare: *mut SuperSlab,
    /// Blocks freed by other threads.
    pub inbox: AtomicPtr<Block>,
    /// Owner's thread block (stats read its counters); null when abandoned.
    pub tb: *mut ThreadBlock,
    pub state: HeapState,
    /// Links: abandoned-heap stack, and the list of every heap.
    pub next_free: *mut Heap,
    pub next_all: *mut Heap,
    /// pthread_self() of the owning thread (fork tells survivors from the rest).
    pub owner_thread: usize,
    pub counters: HeapCounters,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum HeapState {
    Active,
    Abandoned,
    /// Owned by a thread that does not exist in this process (fork child): never adopted.
    Orphaned,
}

/// Per-heap counters (owner writes, stats reads racily: fine for statistics).
#[repr(C)]
pub struct HeapCounters {
    /// Frees folded in from exited threads' blocks.
    pub frees: [u64; NCLASS],
    pub refills: [u64; NCLASS],
    pub refill_blocks: [u64; NCLASS],
    pub flushes: [u64; NCLASS],
    /// Blocks moved from a FastLane back to slabs (flushes and thread exit).
    pub flush_blocks: [u64; NCLASS],
    pub remote_drained: u64,
    /// Blocks this heap's threads sent to other heaps (folded from the thread block).
    pub remote_sent: u64,
    pub large_allocs: u64,
    pub large_frees: u64,
}

/// Blocks sent to another heap's inbox by threads that have no heap of their own
/// (threads with a heap count in their thread block).
pub static REMOTE_FREES: AtomicU64 = AtomicU64::new(0);

impl Heap {
    /// Reset a heap's backing state for first use (memory from `thread::new_heap` is zeroed).
    pub fn init(h: &mut Heap) {
        h.partial = [ptr::null_mut(); NCLASS];
        h.avail = ptr::null_mut();
        h.spare = ptr::null_mut();
        h.inbox = AtomicPtr::new(ptr::null_mut());
        h.tb = ptr::null_mut();
        h.state = HeapState::Active;
        h.next_free = ptr::null_mut();
        h.owner_thread = 0;
    }
}

// ---- partial-slab lists ----------------------------------------------------------------

unsafe fn partial_push(h: &mut Heap, m: *mut SlabMeta) {
    let c = (*m).class as usize;
    (*m).prev = ptr::null_mut();
    (*m).next = h.partial[c];
    if !h.partial[c].is_null() {
        (*h.partial[c]).prev = m;
    }
    h.partial[c] = m;
    (*m).in_partial = true;
}

unsafe fn partial_remove(h: &mut Heap, m: *mut SlabMeta) {
    let c = (*m).class as usize;
    if !(*m).prev.is_null() {
        (*(*m).prev).next = (*m).next;
    } else {
        h.partial[c] = (*m).next;
    }
    if !(*m).next.is_null() {
        (*(*m).next).prev = (*m).prev;
    }
    (*m).next = ptr::null_mut();
    (*m).prev = ptr::null_mut();
    (*m).in_partial = false;
}

// ---- SuperSlabs with free units --------------------------------------------------------

unsafe fn avail_push(h: &mut Heap, ss: *mut SuperSlab) {
    (*ss).prev = ptr::null_mut();
    (*ss).next = h.avail;
    if !h.avail.is_null() {
        (*h.avail).prev = ss;
    }
    h.avail = ss;
    (*ss).in_avail = true;
}

unsafe fn avail_remove(h: &mut Heap, ss: *mut SuperSlab) {
    if !(*ss).prev.is_null() {
        (*(*ss).prev).next = (*ss).next;
    } else {
        h.avail = (*ss).next;
    }
    if !(*ss).next.is_null() {
        (*(*ss).next).prev = (*ss).prev;
    }
    (*ss).next = ptr::null_mut();
    (*ss).prev = ptr::null_mut();
    (*ss).in_avail = false;
}

/// Claim `k` contiguous units from this heap's SuperSlabs, taking a new SuperSlab if
/// none has room. Returns null when the OS refuses memory.
unsafe fn claim_units(h: &mut Heap, k: usize, kind: UnitKind, uclass: u8) -> *mut SlabMeta {
    let mut ss = h.avail;
    while !ss.is_null() {
        if let Some(first) = (*ss).find_units(k) {
            return claim_in(h, ss, first, k, kind, uclass);
        }
        ss = (*ss).next;
    }
    let ss = if !h.spare.is_null() {
        let s = h.spare;
        h.spare = ptr::null_mut();
        s
    } else {
        let s = warm_pool::acquire(h);
        if s.is_null() {
            return ptr::null_mut();
        }
        s
    };
    avail_push(h, ss);
    claim_in(h, ss, 1, k, kind, uclass)
}

unsafe fn claim_in(h: &mut Heap, ss: *mut SuperSlab, first: usize, k: usize, kind: UnitKind, uclass: u8) -> *mut SlabMeta {
    let m = SuperSlab::claim_units(ss, first, k, kind, uclass);
    if (*ss).free_units == 0 {
        avail_remove(h, ss);
    }
    m
}

/// Return the units of the slab/span `m` (in `ss`) to the SuperSlab; an emptied
/// SuperSlab becomes the heap's spare or goes to the warm pool.
unsafe fn release_units(h: &mut Heap, ss: *mut SuperSlab, m: *mut SlabMeta) {
    let first = (*m).head as usize;
    let empty = SuperSlab::release_units(ss, first);
    if !(*ss).in_avail {
        avail_push(h, ss);
    }
    if empty {
        avail_remove(h, ss);
        if h.spare.is_null() {
            h.spare = ss;
        } else {
            warm_pool::release(ss);
        }
    }
}

// ---- class slabs -----------------------------------------------------------------------

/// Take up to `want` blocks of class `c` as a chain; (null, 0) when out of memory.
pub unsafe fn take_batch(h: &mut Heap, c: ClassIdx, want: u32) -> (*mut Block, u32) {
    let mut m = h.partial[c];
    if m.is_null() {
        let k = crate::size_class::slab_units(c);
        m = claim_units(h, k, UnitKind::Slab, c as u8);
        if m.is_null() {
            return (ptr::null_mut(), 0);
        }
        slab::init(&mut *m, c);
        partial_push(h, m);
    }
    let r = slab::take(&mut *m, want);
    if !slab::has_room(&*m) {
        partial_remove(h, m);
    }
    r
}

/// Give one block (known to be in a slab of this heap) back to its slab.
pub unsafe fn give_block(h: &mut Heap, b: *mut Block) {
    let ss = superslab::ss_of(b as usize);
    give_to(h, ss, SuperSlab::meta_of(ss, b as usize), b)
}

/// Give block `b` back to its slab `m` in SuperSlab `ss` (both already looked up).
#[inline]
unsafe fn give_to(h: &mut Heap, ss: *mut SuperSlab, m: *mut SlabMeta, b: *mut Block) {
    // A block given back to a slab with nothing out (or to no slab at all) was freed twice.
    if (*m).used == 0 || (*m).kind != UnitKind::Slab {
        crate::msg::fatal("free", "double free detected (block already back in its slab)", b as usize);
    }
    if crate::boxes::harden::on() && slab::is_free(&*m, b as usize) {
        crate::msg::fatal("free", "double free detected", b as usize);
    }
    let used = slab::give(&mut *m, b);
    if !(*m).in_partial {
        partial_push(h, m);
    }
    if used == 0 {
        // Keep an empty slab if it is the class's only partial one: a class that
        // oscillates around one slab's worth of blocks should not re-carve each time.
        let c = (*m).class as usize;
        if h.partial[c] == m && (*m).next.is_null() {
            return;
        }
        partial_remove(h, m);
        release_units(h, ss, m);
    }
}

/// Free every block other threads have sent us.
#[cold]
pub unsafe fn drain_inbox(h: &mut Heap) {
    let mut b = h.inbox.swap(ptr::null_mut(), Ordering::Acquire);
    while !b.is_null() {
        let next = (*b).next;
        return_drained(h, b);
        b = next;
    }
}

/// A block from the inbox goes back where it came from: its slab, or its large span.
#[inline]
unsafe fn return_drained(h: &mut Heap, b: *mut Block) {
    let ss = superslab::ss_of(b as usize);
    let m = SuperSlab::meta_of(ss, b as usize);
    if (*m).kind == UnitKind::Large {
        large_release(h, ss, m);
    } else {
        give_to(h, ss, m, b);
    }
    h.counters.remote_drained += 1;
}

/// Drain the inbox for a thread that is refilling: small blocks go straight onto its
/// FastLanes while they have room (a block freed remotely is reused without visiting its
/// slab), the rest back to their slabs. Not in hardened mode, whose checks live on the
/// slab path.
#[cold]
pub unsafe fn drain_inbox_to_lanes(h: &mut Heap, tb: *mut crate::front::fastlane::ThreadBlock) {
    if crate::boxes::harden::on() {
        return drain_inbox(h);
    }
    let mut b = h.inbox.swap(ptr::null_mut(), Ordering::Acquire);
    while !b.is_null() {
        let next = (*b).next;
        let ss = superslab::ss_of(b as usize);
        let c = (*ss).units[superslab::unit_of(b as usize)].class as usize;
        if c < NCLASS && (*tb).room[c] > 0 {
            if (*tb).fl[c] == b {
                crate::msg::fatal("free", "double free detected (block sent to its owner twice)", b as usize);
            }
            (*b).next = (*tb).fl[c];
            (*tb).fl[c] = b;
            (*tb).room[c] -= 1;
            // It entered the lane from the heap side, like a refilled block (keeps the
            // derived allocation count exact).
            h.counters.refill_blocks[c] += 1;
            h.counters.remote_drained += 1;
        } else {
            return_drained(h, b);
        }
        b = next;
    }
}

/// Send one block to its owner heap's inbox (a non-owner thread without a remote queue).
pub unsafe fn remote_free(owner: *mut Heap, b: *mut Block) {
    REMOTE_FREES.fetch_add(1, Ordering::Relaxed);
    remote_push_chain(owner, b, b, 1);
}

/// Push the chain `head..=tail` (`n` blocks, all of `owner`) onto its inbox with one CAS.
pub unsafe fn remote_push_chain(owner: *mut Heap, head: *mut Block, tail: *mut Block, n: u64) {
    let inbox = &(*owner).inbox;
    let mut cur = inbox.load(Ordering::Relaxed);
    loop {
        if cur == head {
            crate::msg::fatal("free", "double free detected (block already sent to its owner)", head as usize);
        }
        (*tail).next = cur;
        match inbox.compare_exchange_weak(cur, head, Ordering::Release, Ordering::Relaxed) {
            Ok(_) => break,
            Err(h) => cur = h,
        }
    }
    // The owner has exited: nobody drains this inbox until a thread adopts the heap.
    // Every so often, reclaim such blocks from here instead.
    if core::ptr::read_volatile(&(*owner).state) == HeapState::Abandoned {
        let before = TO_ABANDONED.fetch_add(n, Ordering::Relaxed);
        if before / RECLAIM_EVERY != (before + n) / RECLAIM_EVERY {
            crate::thread::reclaim_abandoned();
        }
    }
}

/// Remote frees into abandoned heaps between two reclaims.
const RECLAIM_EVERY: u64 = 1024;
static TO_ABANDONED: AtomicU64 = AtomicU64::new(0);

// ---- large spans (32 KiB < size <= LARGE_MAX) ------------------------------------------

/// Largest block served as a span of units inside a SuperSlab.
pub const LARGE_MAX: usize = 1024 * 1024;

/// Units a large block of `n` bytes needs.
#[inline]
pub fn large_units(n: usize) -> usize {
    n.div_ceil(UNIT_SIZE)
}

/// Allocate a large span; its block starts at the span's first byte (64 KiB aligned).
pub unsafe fn large_alloc(h: &mut Heap, n: usize) -> *mut u8 {
    let k = large_units(n);
    let m = claim_units(h, k, UnitKind::Large, UC_LARGE);
    if m.is_null() {
        return ptr::null_mut();
    }
    (*m).used = 1;
    (*m).block_size = (k * UNIT_SIZE) as u32;
    (*m).capacity = 1;
    (*m).carved = 1;
    h.counters.large_allocs += 1;
    (*m).start as *mut u8
}

/// Free a large span owned by this heap.
pub unsafe fn large_release(h: &mut Heap, ss: *mut SuperSlab, m: *mut SlabMeta) {
    h.counters.large_frees += 1;
    release_units(h, ss, m);
}

/// Drop every empty slab this heap holds (used at thread exit so an idle abandoned
/// heap does not pin memory) and hand its spare SuperSlab to the warm pool.
pub unsafe fn trim(h: &mut Heap) {
    for c in 0..NCLASS {
        let mut m = h.partial[c];
        while !m.is_null() {
            let next = (*m).next;
            if (*m).used == 0 {
                partial_remove(h, m);
                release_units(h, superslab::ss_of((*m).start), m);
            }
            m = next;
        }
    }
    if !h.spare.is_null() {
        warm_pool::release(h.spare);
        h.spare = ptr::null_mut();
    }
}
