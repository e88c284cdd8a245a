//! The malloc and free paths of the front.
//!
//! A malloc hit is: class lookup, TLS block, pop. A free hit is: region bit, unit record,
//! owner compare, push. No atomics, no locks, no calls. Everything else (refill, flush,
//! remote frees, large and huge blocks, first use of a thread, bad input) is out of line.

use super::{lane, refill, remote, thread, ThreadAccess};
use crate::backend::{self, arena, huge, region};
use crate::boxes::{self, sw};
use crate::config::tuning;
use crate::heap::{self, large, slab, superslab};
use crate::lifecycle::{self, bootstrap};
use crate::msg;
use crate::prof;
use crate::size_class::{class_coarse, class_direct, ClassIdx, BLOCK_SIZE, DIRECT_MAX, NCLASS, SMALL_MAX};
use crate::sync::Ordering;
use crate::types::{
    ss_of, unit_of, Block, Heap, SuperSlab, ThreadBlock, UnitKind, UnitRec, LARGE_MAX, NO_OWNER, UC_FREE, UC_LARGE,
    UNIT_SIZE,
};

// ---- malloc ------------------------------------------------------------------------------

/// An aligned allocation of `n` bytes popped a block (`p`) that is not `align`-aligned: a
/// block of the next class that the class-borrow box put on class `c`'s lane. Put it back
/// and take a block of `c`'s own slab (aligned as the class's are).
///
/// # Safety
/// As `malloc`; `p` was just allocated from class `c` by this thread.
#[cold]
#[inline(never)]
pub unsafe fn realign<T: ThreadAccess>(p: *mut u8, c: ClassIdx, n: usize, align: usize) -> *mut u8 {
    free::<T>(p);
    let h = (*T::block()).heap;
    if h.is_null() {
        // Not from a lane (start-up): a huge mapping is aligned as asked.
        return alloc_huge::<T>(n, align, false);
    }
    let (b, _) = heap::take_batch_own(&*h, c, 1);
    if b.is_null() {
        return core::ptr::null_mut();
    }
    *lane::mark_of(b as *mut u8) = 0; // handed out: no lane mark
    b as *mut u8
}

/// malloc for any size.
///
/// # Safety
/// `T` reaches the calling thread's block.
#[inline(always)]
pub unsafe fn malloc<T: ThreadAccess>(n: usize) -> *mut u8 {
    // Up to 1 KiB the class table is indexed by `n` itself (`size_class::Lookup`): the
    // size test and the lookup are 4 instructions, where rounding `n` to 16 bytes first
    // took 6.
    if n <= DIRECT_MAX {
        return malloc_class::<T>(class_direct(n), n);
    }
    malloc_above_direct::<T>(n)
}

/// malloc of more than `DIRECT_MAX` bytes: a class through the table's 16-byte half, or a
/// large or huge block. Out of line, so the small sizes' hit stays short; its own copy of
/// the hit path costs these sizes a jump and a compare.
///
/// # Safety
/// As `malloc`.
#[inline(never)]
unsafe fn malloc_above_direct<T: ThreadAccess>(n: usize) -> *mut u8 {
    if n <= SMALL_MAX {
        return malloc_class::<T>(class_coarse(n), n);
    }
    alloc_large::<T>(n, 0)
}

/// Allocate `n` requested bytes from class `c` (malloc, and aligned allocations that
/// picked their class): the hit is the checked-malloc countdown (see `types::Lanes`) and a
/// pop. `n` is only for the prof box's sample.
///
/// # Safety
/// As `malloc`; `n <= BLOCK_SIZE[c]`.
#[inline(always)]
pub unsafe fn malloc_class<T: ThreadAccess>(c: ClassIdx, n: usize) -> *mut u8 {
    let tb = T::block();
    if !lane::take_turn(tb, c) {
        // A call, not a tail jump: with frame pointers on (.cargo/config.toml, for the prof
        // box's stack walk) it gives the compiler a block to sink the frame set-up into, so
        // the hit path keeps no frame.
        return not_tail(malloc_checked(n, c, tb));
    }
    let b = lane::pop_hit(tb, c);
    if !b.is_null() {
        return b;
    }
    malloc_empty(tb, c)
}

/// The malloc hit found lane `c` empty: its countdown decrement popped nothing.
///
/// # Safety
/// As `malloc_miss`.
#[cold]
#[inline(never)]
unsafe fn malloc_empty(tb: *mut ThreadBlock, c: ClassIdx) -> *mut u8 {
    lane::not_popped(tb, c);
    malloc_miss(tb, c)
}

/// The FastLane for class `c` is empty: refill it from the heap in a batch.
///
/// # Safety
/// `tb` is the calling thread's block and lane `c` is empty.
#[cold]
#[inline(never)]
unsafe fn malloc_miss(tb: *mut ThreadBlock, c: ClassIdx) -> *mut u8 {
    let h = thread::heap_for(tb);
    if h.is_null() {
        return bootstrap::alloc(BLOCK_SIZE[c] as usize);
    }
    // Blocks queued for other heaps should not wait longer than our own next miss.
    remote::flush(tb);
    refill::refill(tb, &*h, c)
}

/// A malloc whose class's checked-malloc countdown ran out (see `types::Lanes`): the
/// first mallocs of a thread without a heap, every malloc with the lane guard, the prof
/// box's sampled allocation, or once per 2^31 mallocs otherwise. Sets the countdown
/// again, then allocates as the hit would (with the lane guard's test on the pop) or
/// serves the sample. Takes its arguments in the order that leaves the hit path's
/// registers alone (`n` arrives in the first one).
///
/// # Safety
/// `tb` is the calling thread's block.
#[cold]
#[inline(never)]
unsafe fn malloc_checked(n: usize, c: ClassIdx, tb: *mut ThreadBlock) -> *mut u8 {
    // The hit's decrement that sent us here popped nothing.
    lane::not_popped(tb, c);
    let t = tuning();
    if t.on(sw::LANE_GUARD) && !t.on(sw::PROF) && !(*tb).heap.is_null() {
        // The lane guard's every malloc: the guarded pop, the countdown kept at 0.
        lane::set_check(tb, c, 0);
        let b = lane::pop(tb, c);
        if !b.is_null() {
            return b;
        }
        return malloc_miss(tb, c);
    }
    malloc_checked_slow(tb, c, n)
}

/// The rest of `malloc_checked`: a thread without a heap, the prof box, the countdown's
/// wrap-around.
///
/// # Safety
/// As `malloc_checked`.
#[cold]
#[inline(never)]
unsafe fn malloc_checked_slow(tb: *mut ThreadBlock, c: ClassIdx, n: usize) -> *mut u8 {
    let attaching = (*tb).heap.is_null();
    let h = thread::heap_for(tb);
    if h.is_null() {
        // No heap yet: check the next malloc too (attach sets every countdown).
        lane::set_check(tb, c, 0);
        return bootstrap::alloc(BLOCK_SIZE[c] as usize);
    }
    // Attach just set every countdown: this malloc counts against the new one as a hit
    // would, and is checked only if that runs out too.
    if !attaching || !lane::count_turn(tb, c) {
        if tuning().on(sw::PROF) {
            if prof_count(tb, c) {
                // Sampled with the class size's probability (the countdown counts blocks
                // of the class), recorded at the requested size: the estimate is of
                // requested bytes.
                let p = prof_span(&*h, n.max(1), BLOCK_SIZE[c] as usize);
                if !p.is_null() {
                    return p;
                }
            }
        } else {
            lane::set_check(tb, c, lane::unsampled_check());
        }
    }
    let b = lane::pop(tb, c);
    if !b.is_null() {
        return b;
    }
    malloc_miss(tb, c)
}

/// Return `v` through `black_box`: a call whose result goes through it is not in tail
/// position, so the compiler keeps it a call (and the frame set-up with it). The cost, a
/// store and a load, is on the cold path only.
#[inline(always)]
fn not_tail<V>(v: V) -> V {
    core::hint::black_box(v)
}

// ---- the prof box's sampling (see `types::ProfThread` for the countdown's invariant) ----

/// Allocations of class `c` that pass before the next sampled one (a fresh draw).
fn prof_draw(rng: &mut u64, c: ClassIdx) -> i32 {
    prof::allocs_before(prof::draw_bytes(rng), BLOCK_SIZE[c] as usize).min(i32::MAX as i64) as i32
}

/// Start a thread's countdowns (attach, after `lane::reset`; or a thread without a heap
/// making its first large or huge allocation).
///
/// # Safety
/// `tb` is the calling thread's block.
pub unsafe fn prof_start(tb: *mut ThreadBlock) {
    let s = &mut (*tb).prof;
    if s.rng == 0 {
        s.rng = prof::seed(tb as usize);
    }
    // Without a heap the lanes are not set up (null heads, not `lane::end`): their
    // countdowns stay 0, so the first small malloc attaches, and attach starts them.
    if !tuning().on(sw::LANE_GUARD) && !(*tb).heap.is_null() {
        for c in 0..NCLASS {
            lane::set_check(tb, c, prof_draw(&mut s.rng, c));
        }
    }
    s.bytes_left = prof::draw_bytes(&mut s.rng) as i64;
}

/// Count a checked class-`c` malloc with the prof box on: true when it is the sampled
/// allocation. Without the lane guard it always is (the countdown that ran out was the
/// sampling countdown), and it sets the countdown again; with the guard (countdown kept
/// at 0) the block size counts against the byte countdown.
///
/// # Safety
/// `tb` is the calling thread's block, with a heap.
unsafe fn prof_count(tb: *mut ThreadBlock, c: ClassIdx) -> bool {
    let s = &mut (*tb).prof;
    if !tuning().on(sw::LANE_GUARD) {
        let k = prof_draw(&mut s.rng, c);
        lane::set_check(tb, c, k);
        return true;
    }
    lane::set_check(tb, c, 0);
    prof_take_bytes(tb, BLOCK_SIZE[c] as usize)
}

/// A sampled allocation of `n` bytes served as a large span (its free never takes the
/// hit path: spans have no owner in their unit record), recorded with probability size `prob`.
///
/// # Safety
/// The caller owns `h`; `n <= LARGE_MAX`.
unsafe fn prof_span(h: &Heap, n: usize, prob: usize) -> *mut u8 {
    let p = large::alloc(h, n);
    if !p.is_null() {
        (*superslab::meta_of(ss_of(p as usize), p as usize)).sampled = true;
        prof::record(p, n, prob);
    }
    p
}

/// realloc's view of a block the prof box sampled: `Some(size)` of the block it stands for
/// (a small sample: its class block, although it lives in a 64 KiB span; a large one: its
/// span, `usable`), `None` for every other block. realloc keeps a sampled block in place
/// exactly when it would keep that block, so a sample is redrawn when, and only when, an
/// unsampled block would be allocated again; else blocks grown in place a little at a time
/// would lose their samples at their next realloc and never get new ones.
///
/// # Safety
/// `p` is a block start inside a live SuperSlab; `usable` its usable size.
pub unsafe fn sample_stands_for(p: *mut u8, usable: usize) -> Option<usize> {
    if !prof::on() {
        return None;
    }
    let a = p as usize;
    let ss = ss_of(a);
    if (*superslab::unit_rec(ss, unit_of(a))).class != UC_LARGE || !(*superslab::meta_of(ss, a)).sampled {
        return None;
    }
    let prob = prof::sampled_prob(a)?;
    Some(if prob <= SMALL_MAX { prob } else { usable })
}

/// A huge block was resized or moved by realloc from `p` to `q` (now `n` bytes): its old
/// sample goes, and, as for any allocation, `n` bytes count against the byte countdown.
///
/// # Safety
/// As `malloc`.
pub unsafe fn prof_huge_realloc<T: ThreadAccess>(p: *mut u8, q: *mut u8, n: usize) {
    if !tuning().on(sw::PROF) {
        return;
    }
    prof::forget(p as usize);
    if prof_take_bytes(T::block(), n) {
        prof::record(q, n, n);
    }
}

/// Count `n` bytes of a large or huge allocation against the calling thread's byte
/// countdown; true when this allocation is sampled.
///
/// # Safety
/// `tb` is the calling thread's block.
unsafe fn prof_take_bytes(tb: *mut ThreadBlock, n: usize) -> bool {
    if (*tb).prof.rng == 0 {
        // No heap yet (lanes empty): start the countdowns now.
        prof_start(tb);
    }
    let s = &mut (*tb).prof;
    s.bytes_left -= n.min(i64::MAX as usize / 2) as i64;
    if s.bytes_left > 0 {
        return false;
    }
    s.bytes_left = prof::draw_bytes(&mut s.rng) as i64;
    true
}

/// A block above the class sizes: a large span of the thread's heap when it fits
/// (`n <= LARGE_MAX`, alignment up to a unit), else a huge mapping.
///
/// # Safety
/// As `malloc`.
#[cold]
#[inline(never)]
pub unsafe fn alloc_large<T: ThreadAccess>(n: usize, align: usize) -> *mut u8 {
    if n <= LARGE_MAX && align <= UNIT_SIZE {
        let tb = T::block();
        let h = thread::heap_for(tb);
        if h.is_null() {
            return bootstrap::alloc(n);
        }
        if tuning().on(sw::PROF) && prof_take_bytes(tb, n) {
            return prof_span(&*h, n, n);
        }
        return large::alloc(&*h, n);
    }
    alloc_huge::<T>(n, align, false)
}

/// A huge mapping (reading the configuration first: it may be the process's first call).
///
/// # Safety
/// As `malloc`.
pub unsafe fn alloc_huge<T: ThreadAccess>(n: usize, align: usize, zero: bool) -> *mut u8 {
    if !lifecycle::ensure_init() {
        return bootstrap::alloc(n);
    }
    let p = backend::huge_alloc(n, align, zero);
    if tuning().on(sw::PROF) && !p.is_null() && prof_take_bytes(T::block(), n) {
        prof::record(p, n, n);
    }
    p
}

// ---- free --------------------------------------------------------------------------------

/// free for any pointer.
///
/// # Safety
/// As `malloc`; `p` is anything (bad input ends in a `hakmem:` line and abort).
#[inline(always)]
pub unsafe fn free<T: ThreadAccess>(p: *mut u8) {
    // Arena box: the unit's record is in the arena's table, found with a subtract, a shift
    // and a bound that is also the window test (every record of the window can be read, and
    // one without a live SuperSlab fails the tests below: `backend::arena`). Outside the
    // arena, the region map decides (`free_not_superslab`).
    match arena::rec_in_window(p as usize) {
        // One read of the record (a copy: its fields are loaded with constant offsets).
        Some(rec) => free_with_rec::<T>(p, *rec),
        None => free_not_superslab::<T>(p),
    }
}

/// The free of a pointer whose unit record `rec` was read (from the arena's table, or from
/// a live SuperSlab's header).
///
/// # Safety
/// As `free`; `rec` is the record of `p`'s unit, read just now.
#[inline(always)]
unsafe fn free_with_rec<T: ThreadAccess>(p: *mut u8, rec: UnitRec) {
    let a = p as usize;
    let tb = T::block();
    // Free-check box: the pointer must start a block (one multiply, `UnitRec::starts_block`).
    // Tested before the owner compare, so remote frees are checked here too; units that are
    // not class slabs (and every unit with the box off) pass any address on to the owner's
    // slow checks; an arena chunk without a SuperSlab (all zeros) passes none.
    if !rec.starts_block(a) {
        // A call that does not return (not a tail jump): with frame pointers on
        // (.cargo/config.toml, for the prof box's stack walk) it gives the compiler a block
        // to sink the frame set-up into, so the hit path keeps no frame.
        not_a_block_start(a);
    }
    // One compare settles "a class slab of this thread's heap" (free units and large
    // spans carry NO_OWNER, which matches no thread).
    if rec.owner != (*tb).fast_heap {
        return free_other(p, tb, rec.owner);
    }
    let c = rec.class as usize;
    // Free-check box (with it off, `fast_heap` is null and local frees reach
    // `free_unchecked` through `free_other`): a block carrying this thread's lane mark is
    // probably free already. Every block on a lane carries the mark (`lane` module docs),
    // so this also catches freeing the lane's top twice.
    if lane::is_marked(tb, p) {
        return free_suspect(p, tb, c);
    }
    lane::mark(tb, p);
    if lane::push_unchecked(tb, c, p) {
        refill::flush(tb, &*(*tb).heap, c);
    }
}

/// The local free with the free-check box off: only the lane's top is compared (a block
/// freed twice in a row).
///
/// # Safety
/// `tb` is the calling thread's block; `p` is a block of class `c` of its heap.
#[inline(never)]
unsafe fn free_unchecked(p: *mut u8, tb: *mut ThreadBlock, c: ClassIdx) {
    if lane::is_top(tb, c, p) {
        return freed_twice(p as usize);
    }
    if lane::push_unchecked(tb, c, p) {
        refill::flush(tb, &*(*tb).heap, c);
    }
}

/// The lane's top freed again (free-check box off). Not `-> !`, so its caller reaches it
/// with a tail jump and needs no stack frame (it returns only for the impossible `a == 0`).
#[cold]
#[inline(never)]
fn freed_twice(a: usize) {
    if a != 0 {
        msg::fatal("free", "double free detected", a);
    }
}

/// The pointer freed is inside a class slab but not at a block start.
#[cold]
#[inline(never)]
fn not_a_block_start(a: usize) -> ! {
    // In the arena, chunks without a live SuperSlab read as zeros and fail the test too.
    match region::state(a) {
        region::LIVE => msg::fatal("free", "invalid pointer (not the start of a block)", a),
        region::POOLED => given_back(a),
        _ => msg::fatal("free", "invalid pointer (not allocated by hakmem)", a),
    }
}

/// A free into a SuperSlab that went back to the warm pool.
#[cold]
fn given_back(a: usize) -> ! {
    msg::fatal("free", "double free or invalid pointer (its SuperSlab was given back)", a)
}

/// A local block carries the lane mark: a double free unless the program stored that
/// value there itself. Walk the lane and the slab's free list to decide.
///
/// # Safety
/// `tb` is the calling thread's block; `p` is a block start of class `c` of its heap.
#[cold]
#[inline(never)]
unsafe fn free_suspect(p: *mut u8, tb: *mut ThreadBlock, c: ClassIdx) {
    if is_free_here(tb, c, p) {
        msg::fatal("free", "double free detected", p as usize);
    }
    lane::mark(tb, p);
    // Not on the lane (just walked), so not its top either.
    if lane::push_unchecked(tb, c, p) {
        refill::flush(tb, &*(*tb).heap, c);
    }
}

/// Is the local block `p` of class `c` already free: on the thread's lane, or back on its
/// slab's free list? (walks: suspected double frees only)
///
/// # Safety
/// As `free_suspect`.
unsafe fn is_free_here(tb: *mut ThreadBlock, c: ClassIdx, p: *mut u8) -> bool {
    if lane::contains(tb, c, p) {
        return true;
    }
    // Class-borrow box: a freed block of class `c` may wait on the previous class's lane.
    if c > 0
        && tuning().on(sw::CLASS_BORROW)
        && crate::size_class::borrows_from_next(c - 1)
        && lane::contains(tb, c - 1, p)
    {
        return true;
    }
    let m = superslab::meta_of(ss_of(p as usize), p as usize);
    slab::on_free_list(&*m, p as usize)
}

/// Not a block of this thread's heap as the hit path sees it (`fast_heap`). The common
/// remote free (a block for the owner whose queue is open) is tested first; everything
/// else goes to `free_other_slow`.
///
/// # Safety
/// `tb` is the calling thread's block; `p` lies in the live SuperSlab `ss`, whose unit
/// record names `owner`.
#[inline(never)]
unsafe fn free_other(p: *mut u8, tb: *mut ThreadBlock, owner: *mut Heap) {
    let ss = ss_of(p as usize);
    // The common remote free first: another heap's small block for the queue that is open
    // (`rq.owner` is a heap only while a queue is open, never this thread's heap). The hit
    // path has run the block-start test.
    if owner == (*tb).rq.owner {
        return remote::push_same_owner(tb, p as *mut Block);
    }
    // Slab-lists box: another heap's small block (a class slab's owner is never
    // `NO_OWNER`) goes onto its slab's remote list.
    if (*tb).rq.slab_lists && owner != NO_OWNER && owner != (*tb).heap {
        return remote::slab_free(tb, ss, owner, p as *mut Block);
    }
    free_other_slow(tb, ss, owner, p)
}

/// The rest of `free_other`: a small block of another owner (kept by the remote-keep box,
/// or queued), large spans, hardened mode and bad input (`free_slow`).
///
/// # Safety
/// As `free_other`.
#[inline(never)]
unsafe fn free_other_slow(tb: *mut ThreadBlock, ss: *mut SuperSlab, owner: *mut Heap, p: *mut u8) {
    let a = p as usize;
    let rec = *superslab::unit_rec(ss, unit_of(a));
    // The hit path has run the block-start test (class slabs; other units pass it).
    if owner == (*tb).heap && !(*tb).heap.is_null() && !tuning().on(sw::HARDEN) {
        // A class block of this thread's heap that the hit path sent here: the free-check
        // box is off (`fast_heap` is null), so only the lane's top is compared.
        return free_unchecked(p, tb, rec.class as usize);
    }
    if tuning().on(sw::REMOTE_KEEP) && (rec.class as usize) < NCLASS && owner != (*tb).heap && !(*tb).heap.is_null() {
        // Remote-keep box: another heap's small block stays on this thread's lane, to be
        // handed out here again, while the lane is less than half full: a thread that
        // frees what it does not allocate (a consumer) stops keeping at half a lane and
        // sends the rest home at once; the flush that takes kept blocks off a lane sends
        // them home too.
        let c = rec.class as usize;
        if !lane::is_marked(tb, p) {
            if lane::under_half(tb, c) {
                if lane::top(tb, c).is_null() {
                    boxes::hit(sw::REMOTE_KEEP); // per kept block that starts a lane, not per free
                }
                lane::mark(tb, p);
                lane::push_unchecked(tb, c, p);
                return;
            }
        } else if lane::contains(tb, c, p) {
            msg::fatal("free", "double free detected", a);
        }
        // Marked but not on the lane: it left it for its owner (or the program stored our
        // mark there). Its owner's side decides, as without the box.
    }
    // rq.owner is a real heap only while a queue is open (never NO_OWNER).
    if owner == (*tb).rq.owner {
        return remote::push_same_owner(tb, p as *mut Block);
    }
    free_slow(tb, ss, p)
}

/// A SuperSlab pointer that is not a local small block: remote, large, hardened,
/// a thread without a heap yet, or bad input.
///
/// # Safety
/// `tb` is the calling thread's block; `p` lies in the live SuperSlab `ss`.
#[cold]
#[inline(never)]
unsafe fn free_slow(tb: *mut ThreadBlock, ss: *mut SuperSlab, p: *mut u8) {
    let a = p as usize;
    let owner = (*ss).owner.load(Ordering::Acquire);
    let uc = (*superslab::unit_rec(ss, unit_of(a))).class;
    if owner.is_null() || uc == UC_FREE {
        msg::fatal("free", "invalid pointer or double free (not inside a live slab)", a);
    }
    let mine = owner == (*tb).heap;
    let hardened = tuning().on(sw::HARDEN);
    // The common slow case, a small block of another heap, needs nothing more.
    if !mine && uc != UC_LARGE && !hardened {
        return remote::enqueue(tb, owner, p as *mut Block);
    }
    let m = superslab::meta_of(ss, a);
    if uc == UC_LARGE {
        if (*m).kind != UnitKind::Large || (*m).start != a {
            msg::fatal("free", "invalid pointer (not the start of a large block)", a);
        }
        if (*m).sampled {
            prof::forget(a);
        }
        if mine {
            large::release(&*owner, ss, m);
        } else {
            remote::enqueue(tb, owner, p as *mut Block);
        }
        return;
    }
    // Hardened, small block.
    boxes::hit(sw::HARDEN);
    if !slab::is_block_start(&*m, a) {
        msg::fatal("free", "invalid pointer (not the start of a block)", a);
    }
    if mine {
        // Straight to its slab's protected free list (the bitmap catches a double free).
        (*p.cast::<Block>()).next = core::ptr::null_mut();
        heap::give_chain(&*owner, uc as usize, p as *mut Block, core::ptr::null_mut());
    } else {
        remote::enqueue(tb, owner, p as *mut Block);
    }
}

/// free() of a pointer outside the arena: a SuperSlab block mapped outside it (the arena
/// box off or its span used up), null, bootstrap, huge, or bad input.
///
/// # Safety
/// As `free`.
#[cold]
#[inline(never)]
unsafe fn free_not_superslab<T: ThreadAccess>(p: *mut u8) {
    if region::is_superslab(p as usize) {
        return free_with_rec::<T>(p, *superslab::rec_of(p as usize));
    }
    if p.is_null() || bootstrap::contains(p) {
        return;
    }
    if tuning().on(sw::PROF) {
        prof::forget(p as usize);
    }
    if !huge::free(p as usize) {
        if region::state(p as usize) == region::POOLED {
            given_back(p as usize);
        }
        msg::fatal("free", "invalid pointer (not allocated by hakmem)", p as usize);
    }
}

/// realloc's check of its old block: a small block of this thread's heap that is already
/// free (on the lane or its slab's list) must not be resized, which would hand it out
/// again. Aborts like `free` would.
///
/// # Safety
/// As `malloc`; `p` is inside a live SuperSlab.
pub unsafe fn check_realloc<T: ThreadAccess>(p: *mut u8) {
    let a = p as usize;
    let ss = ss_of(a);
    let rec = *superslab::unit_rec(ss, unit_of(a));
    let c = rec.class as usize;
    if c >= NCLASS {
        return;
    }
    if !rec.starts_block(a) {
        msg::fatal("realloc", "invalid pointer (not the start of a block)", a);
    }
    let tb = T::block();
    if rec.owner != (*tb).heap || (*tb).heap.is_null() {
        return; // another thread's block: its free state is its owner's to read
    }
    let freed = if crate::boxes::harden::on() {
        slab::is_free(&*superslab::meta_of(ss, a), a)
    } else {
        lane::is_marked(tb, p) && is_free_here(tb, c, p)
    };
    if freed {
        msg::fatal("realloc", "use of a freed block (double free)", a);
    }
}

/// Usable size of a block we handed out (0 for a pointer we do not know).
///
/// # Safety
/// `p` is anything.
pub unsafe fn usable_size(p: *mut u8) -> usize {
    let a = p as usize;
    if region::is_superslab(a) {
        let ss = ss_of(a);
        let uc = (*superslab::unit_rec(ss, unit_of(a))).class;
        if uc == UC_FREE || (*ss).owner.load(Ordering::Relaxed).is_null() {
            return 0;
        }
        return (*superslab::meta_of(ss, a)).block_size as usize;
    }
    if p.is_null() {
        return 0;
    }
    if bootstrap::contains(p) {
        return bootstrap::size(p);
    }
    huge::size(a).unwrap_or(0)
}

/// Verify the calling thread's lanes and heap (tests, fuzzing, debug builds).
///
/// # Safety
/// As `malloc`.
pub unsafe fn check<T: ThreadAccess>() {
    let tb = T::block();
    if (*tb).heap.is_null() {
        return;
    }
    lane::check_all(tb);
    heap::check(&*(*tb).heap);
}
