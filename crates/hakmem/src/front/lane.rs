//! The FastLanes: the only code that writes `Lanes` (see `types::Lanes` for the
//! invariants). A lane is a LIFO of free blocks of one class owned by the thread; `room`
//! counts down from the class's limit, so the free path tests "over the limit" with the
//! flags of one decrement. The malloc hit leaves `room` behind (it counts its pops in the
//! checked-malloc countdown only): `settle` makes it exact, and everything here that reads
//! it settles first ("Lazy room" in `types::Lanes`). Everything that changes a lane's
//! length goes through here:
//! pop_hit (malloc hit), pop (checked mallocs, refill), push_unchecked after the mark or
//! top test (free hit), install (refill), split (flush), put (a drained remote block),
//! reset (attach) and take_all (thread exit); so does everything that changes its limit
//! (grow, shrink: the lane-grow box), its refill count (note_miss) and the checked-malloc
//! countdown (take_turn, set_check).
//!
//! **The lane mark** (free-check box). Every block on a lane carries its thread's mark in
//! its second word (the thread block's address; blocks are at least 16 bytes): the free
//! path (`mark`), `put_if_room` and `install` (on the blocks it keeps) write it; `pop_hit`
//! clears it, and `install` clears it on the block it hands out. A free that finds the mark
//! on its block is probably a double free: `free_suspect` walks the lane and the slab's free
//! list to be sure (a program that happens to store that address there only pays a walk).
//! Like glibc's tcache key, it is one load and compare per free; because every lane block
//! is marked, it also covers freeing the lane's top twice (without the box, `is_top` does).

use crate::config::tuning;
use crate::size_class::{ClassIdx, NCLASS};
use crate::types::{Block, LaneCount, ThreadBlock};
use core::ptr;

/// Where the thread's lanes end: its thread block's address (see `types::Lanes`). Chains a
/// lane gives away (`split`, `take_all`) end there too.
#[inline(always)]
pub fn end(tb: *mut ThreadBlock) -> *mut Block {
    tb as *mut Block
}

/// The base FastLane limit of class `c` (blocks), frozen at start-up.
#[inline(always)]
pub fn base_limit(c: ClassIdx) -> u32 {
    tuning().lane_limits[c]
}

/// The calling thread's FastLane limit of class `c` (blocks): the base limit, grown by
/// the lane-grow box.
///
/// # Safety
/// `tb` is the calling thread's block.
#[inline(always)]
pub unsafe fn limit(tb: *mut ThreadBlock, c: ClassIdx) -> u32 {
    (*tb).lanes.limit[c] as u32
}

/// A lane grows to at most this many times its base limit.
const GROW_MAX: u32 = 8;

// `LaneCount::room` and the pops not yet counted are 16-bit: the pops are at most the limit
// + 1, and the lazy room is at least minus that; the largest base limit is 512 blocks
// (`size_class::fastlane_limit`) times 4 (the C7-ultra box), grown at most `GROW_MAX` times.
const _: () = assert!(512 * 4 * GROW_MAX + 2 <= i16::MAX as u32);

/// A refill of class `c`: its lane ran empty (see `grow`); one more refill counted.
///
/// # Safety
/// `tb` is the calling thread's block.
#[inline]
pub unsafe fn note_miss(tb: *mut ThreadBlock, c: ClassIdx) {
    let l = &mut (*tb).lanes;
    l.missed[c / 64] |= 1 << (c % 64);
    l.refills[c] = l.refills[c].saturating_add(1);
}

/// The thread's refills of class `c` so far (saturating at 255).
///
/// # Safety
/// `tb` is the calling thread's block.
#[inline]
pub unsafe fn refills(tb: *mut ThreadBlock, c: ClassIdx) -> u32 {
    (*tb).lanes.refills[c] as u32
}

/// Lane-grow box: lane `c` went over its limit. If it also ran empty since its last
/// overflow (a class going back and forth between the lane's two ends: a flush now means a
/// refill soon), take the base limit again, up to `GROW_MAX` times it and within the
/// thread's growth budget, instead of flushing. True when it grew (the caller does not
/// flush).
///
/// # Safety
/// `tb` is the calling thread's block; lane `c` is over its limit.
pub unsafe fn grow(tb: *mut ThreadBlock, c: ClassIdx) -> bool {
    let l = &mut (*tb).lanes;
    let bit = 1u64 << (c % 64);
    let missed = l.missed[c / 64] & bit != 0;
    l.missed[c / 64] &= !bit;
    if !missed {
        return false;
    }
    let base = base_limit(c);
    let lim = l.limit[c] as u32;
    let bytes = base as i64 * crate::size_class::BLOCK_SIZE[c] as i64;
    if lim + base > GROW_MAX * base || lim + base > u16::MAX as u32 || l.grow_left < bytes {
        return false;
    }
    l.limit[c] = (lim + base) as u16;
    l.count[c].room += base as i16;
    l.grow_left -= bytes;
    true
}

/// Give class `c`'s growth back (its lane keeps its blocks up to the base limit's worth
/// of room: the caller flushes what is over).
///
/// # Safety
/// `tb` is the calling thread's block.
pub unsafe fn shrink(tb: *mut ThreadBlock, c: ClassIdx) {
    let l = &mut (*tb).lanes;
    let base = base_limit(c);
    let extra = l.limit[c] as u32 - base;
    if extra == 0 {
        return;
    }
    l.grow_left += extra as i64 * crate::size_class::BLOCK_SIZE[c] as i64;
    l.limit[c] = base as u16;
    l.count[c].room -= extra as i16;
}

/// Count one class-`c` malloc against the checked-malloc countdown (`Lanes::check`):
/// false when it ran out, and this malloc must take `malloc_checked`.
///
/// # Safety
/// `tb` is the calling thread's block.
#[inline(always)]
pub unsafe fn take_turn(tb: *mut ThreadBlock, c: ClassIdx) -> bool {
    let k = &mut (*(*tb).lanes.count.as_mut_ptr().add(c)).check;
    *k -= 1;
    *k >= 0
}

/// Set class `c`'s checked-malloc countdown: the next `n` mallocs may take the hit path.
///
/// # Safety
/// `tb` is the calling thread's block.
#[inline]
pub unsafe fn set_check(tb: *mut ThreadBlock, c: ClassIdx, n: i32) {
    settle(tb, c);
    (*tb).lanes.count[c].check = n;
    (*tb).lanes.count[c].settled = n as i16;
}

/// The malloc hit decremented class `c`'s countdown but popped nothing (the countdown ran
/// out, or the lane was empty): the malloc still counts against the countdown, but not as
/// a pop (`settled - check` must count pops only).
///
/// # Safety
/// `tb` is the calling thread's block.
#[inline]
pub unsafe fn not_popped(tb: *mut ThreadBlock, c: ClassIdx) {
    let k = &mut (*tb).lanes.count[c];
    k.settled = k.settled.wrapping_sub(1);
}

/// Count one class-`c` malloc that pops through `pop` (which counts it in `room` itself)
/// against the countdown, as `take_turn` does for the hit: false when the countdown ran
/// out.
///
/// # Safety
/// `tb` is the calling thread's block.
#[inline]
pub unsafe fn count_turn(tb: *mut ThreadBlock, c: ClassIdx) -> bool {
    let k = &mut (*tb).lanes.count[c];
    k.check -= 1;
    k.settled = k.settled.wrapping_sub(1);
    k.check >= 0
}

/// Make class `c`'s `room` exact: add the malloc hits since it last was.
///
/// # Safety
/// `tb` is the calling thread's block.
#[inline(always)]
pub unsafe fn settle(tb: *mut ThreadBlock, c: ClassIdx) {
    let l = (*tb).lanes.count.as_mut_ptr().add(c);
    // A volatile read of `room`: the free hit's decrement of it then stays one
    // read-modify-write instruction (the compiler would otherwise keep the value in a
    // register for this cold use, and load, decrement and store it in three).
    let room = ptr::read_volatile(ptr::addr_of!((*l).room));
    let check = (*l).check as i16;
    (*l).room = room.wrapping_add((*l).settled.wrapping_sub(check));
    (*l).settled = check;
}

/// `refill::flush`'s check: settle lane `c` and say whether it is over its limit.
/// `push_unchecked` settles before it reports an overflow, so this is a no-op that returns
/// true on that path; it keeps `flush` right for any caller.
///
/// # Safety
/// `tb` is the calling thread's block.
pub unsafe fn settle_full(tb: *mut ThreadBlock, c: ClassIdx) -> bool {
    settle(tb, c);
    (*tb).lanes.count[c].room < 0
}

/// The countdown without the prof box: every malloc checked with the lane guard, none
/// otherwise (for 2^31 mallocs; then one checked malloc sets it again).
#[inline]
pub fn unsampled_check() -> i32 {
    if tuning().on(crate::boxes::sw::LANE_GUARD) {
        0
    } else {
        i32::MAX
    }
}

/// Pop a block from class `c`'s lane on the malloc hit path; null when the lane is empty.
/// Never runs with the lane guard on (its countdown sends every malloc to the checked path).
/// The caller decremented the countdown for it (`take_turn`), which is how `room` learns
/// of the pop.
///
/// # Safety
/// `tb` is the calling thread's block.
#[inline(always)]
pub unsafe fn pop_hit(tb: *mut ThreadBlock, c: ClassIdx) -> *mut u8 {
    let slot = (*tb).lanes.head.as_mut_ptr().add(c);
    let b = *slot;
    if b == end(tb) {
        return ptr::null_mut();
    }
    let next = (*b).next;
    *slot = next;
    // The next malloc of this class reads `next`'s link: start loading its line now, so
    // consecutive mallocs of blocks that left the cache do not wait for one miss after
    // another (rounds +8.5%). No test: the lane's last block links to the thread block
    // (`end`), which is in cache; null would have cost a page walk (random-mixed −2%).
    super::prefetch(next as usize);
    *mark_of(b as *mut u8) = 0;
    // No `room += 1`: the countdown's decrement counts this pop (lazy room, `settle`).
    b as *mut u8
}

/// Pop a block from class `c`'s lane off the hit path (checked mallocs, refill), with the
/// lane guard's test when it is on; null when the lane is empty.
///
/// # Safety
/// `tb` is the calling thread's block.
#[inline]
pub unsafe fn pop(tb: *mut ThreadBlock, c: ClassIdx) -> *mut u8 {
    let b = (*tb).lanes.head[c];
    if b != end(tb) && tuning().on(crate::boxes::sw::LANE_GUARD) && !guard_ok(tb, b) {
        guard_failed(b as usize);
        return ptr::null_mut();
    }
    let p = pop_hit(tb, c);
    if !p.is_null() {
        (*tb).lanes.count[c].room += 1;
    }
    p
}

/// The lane-guard box's test of a block about to be popped: inside a live SuperSlab
/// (checked before it is read) and carrying the thread's lane mark (every block on a
/// guarded lane does: the free path, `put_if_room` and `install` mark them).
///
/// # Safety
/// `tb` is the calling thread's block; `b` is the head of one of its lanes.
#[inline(always)]
unsafe fn guard_ok(tb: *mut ThreadBlock, b: *mut Block) -> bool {
    crate::backend::region::is_superslab(b as usize) && is_marked(tb, b as *mut u8)
}

/// The lane-guard box found a lane block outside every live SuperSlab: the link that led
/// to it was overwritten after free. Checked before the block is read.
#[cold]
#[inline(never)]
fn guard_failed(b: usize) {
    crate::msg::fatal("malloc", "corrupted free list (a freed block was written to)", b);
}

/// The mark word of a block (its second word).
#[inline(always)]
pub fn mark_of(p: *mut u8) -> *mut usize {
    (p as *mut usize).wrapping_add(1)
}

/// Does block `p` carry this thread's lane mark (it is probably on a lane already)?
///
/// # Safety
/// `p` is a block of at least 16 bytes.
#[inline(always)]
pub unsafe fn is_marked(tb: *mut ThreadBlock, p: *mut u8) -> bool {
    *mark_of(p) == tb as usize
}

/// Set the lane mark on `p` (the free-check box's push side).
///
/// # Safety
/// `p` is a block of at least 16 bytes owned by the caller.
#[inline(always)]
pub unsafe fn mark(tb: *mut ThreadBlock, p: *mut u8) {
    *mark_of(p) = tb as usize;
}

/// Is `p` on class `c`'s lane? (a walk, bounded by the limit: suspected double frees only)
///
/// # Safety
/// `tb` is the calling thread's block.
pub unsafe fn contains(tb: *mut ThreadBlock, c: ClassIdx, p: *mut u8) -> bool {
    let mut b = (*tb).lanes.head[c];
    let mut n = 0;
    while b != end(tb) && n <= limit(tb, c) + 1 {
        if b as *mut u8 == p {
            return true;
        }
        b = (*b).next;
        n += 1;
    }
    false
}

/// Is `p` the top of class `c`'s lane (freed just before)?
///
/// # Safety
/// `tb` is the calling thread's block.
#[inline(always)]
pub unsafe fn is_top(tb: *mut ThreadBlock, c: ClassIdx, p: *mut u8) -> bool {
    top(tb, c) as *mut u8 == p
}

/// The top of class `c`'s lane (null when it is empty).
///
/// # Safety
/// `tb` is the calling thread's block.
#[inline(always)]
pub unsafe fn top(tb: *mut ThreadBlock, c: ClassIdx) -> *mut Block {
    let b = *(*tb).lanes.head.as_ptr().add(c);
    if b == end(tb) {
        ptr::null_mut()
    } else {
        b
    }
}

/// Does class `c`'s lane hold less than half its limit?
///
/// # Safety
/// `tb` is the calling thread's block.
#[inline]
pub unsafe fn under_half(tb: *mut ThreadBlock, c: ClassIdx) -> bool {
    settle(tb, c);
    (*tb).lanes.count[c].room as i32 > (limit(tb, c) / 2) as i32
}

/// Push block `p` of class `c`, which the caller checked is not on the lane already (the
/// lane mark, or `is_top` without the free checks).
/// Returns true when the lane went over its limit (`room`, settled when its decrement went
/// below 0): the caller flushes.
///
/// # Safety
/// `tb` is the calling thread's block; `p` is a block of class `c` of its heap.
#[inline(always)]
pub unsafe fn push_unchecked(tb: *mut ThreadBlock, c: ClassIdx, p: *mut u8) -> bool {
    let slot = (*tb).lanes.head.as_mut_ptr().add(c);
    let b = p as *mut Block;
    (*b).next = *slot;
    *slot = b;
    let room = &mut (*(*tb).lanes.count.as_mut_ptr().add(c)).room;
    *room -= 1;
    if *room >= 0 {
        return false;
    }
    // Lazy room: the malloc hits since the last settle are not in `room` yet. Settled here,
    // inline (a call to `refill::flush` for this alone cost ~28 instructions, and it comes
    // once per `room` frees: random-mixed, every ~90 frees).
    settle(tb, c);
    (*(*tb).lanes.count.as_ptr().add(c)).room < 0
}

/// Put a block that came back through the inbox on its lane if the lane has room.
/// False: no room, the caller gives it to its slab.
///
/// # Safety
/// As `push`.
#[inline]
pub unsafe fn put_if_room(tb: *mut ThreadBlock, c: ClassIdx, b: *mut Block) -> bool {
    settle(tb, c);
    let l = &mut (*tb).lanes;
    if l.count[c].room <= 0 {
        return false;
    }
    if l.head[c] == b {
        crate::msg::fatal("free", "double free detected (block sent to its owner twice)", b as usize);
    }
    (*b).next = l.head[c];
    l.head[c] = b;
    l.count[c].room -= 1;
    mark(tb, b as *mut u8);
    true
}

/// Put the blocks of chain `b` (class `c`, null-terminated: a slab's remote list) onto the
/// lane while it has room; returns the rest of the chain and how many went on. A block
/// that already carries the lane mark and is on the lane was freed twice (a remote list
/// that went circular): abort, instead of linking it in again.
///
/// # Safety
/// `tb` is the calling thread's block; the chain's blocks are free blocks of class `c` of
/// its heap.
pub unsafe fn put_chain(tb: *mut ThreadBlock, c: ClassIdx, mut b: *mut Block) -> (*mut Block, i32) {
    let hint = (*tb).rq.prefetch;
    settle(tb, c);
    let l = &mut (*tb).lanes;
    let room = l.count[c].room as i32;
    let mut left = room;
    let mut head = l.head[c];
    while left > 0 && !b.is_null() {
        let next = (*b).next;
        if hint {
            // Remote-prefetch box: the block's second word names one freed AHEAD before.
            super::prefetch(*mark_of(b as *mut u8));
        }
        if is_marked(tb, b as *mut u8) {
            l.head[c] = head;
            l.count[c].room = left as i16;
            if contains(tb, c, b as *mut u8) {
                crate::msg::fatal("free", "double free detected (block freed twice by other threads)", b as usize);
            }
        }
        (*b).next = head;
        mark(tb, b as *mut u8);
        head = b;
        left -= 1;
        b = next;
    }
    l.head[c] = head;
    l.count[c].room = left as i16;
    (b, room - left)
}

/// Class-borrow box: lane `c` is empty; move up to `want` blocks (at most half of lane
/// `d`'s) from the top of lane `d` onto it and return the first, as a refill would. Null when
/// lane `d` has fewer than two blocks.
///
/// # Safety
/// `tb` is the calling thread's block, lane `c` is empty, and lane `d`'s blocks are at least
/// as big as class `c`'s.
pub unsafe fn borrow(tb: *mut ThreadBlock, c: ClassIdx, d: ClassIdx, want: u32) -> *mut u8 {
    settle(tb, d);
    let l = &mut (*tb).lanes;
    let len = l.limit[d] as i32 - l.count[d].room as i32;
    let k = (want as i32).min(len / 2);
    if k <= 0 {
        return ptr::null_mut();
    }
    let first = l.head[d];
    let mut last = first;
    for _ in 1..k {
        last = (*last).next;
    }
    l.head[d] = (*last).next;
    l.count[d].room += k as i16;
    (*last).next = ptr::null_mut();
    install(tb, c, first, k as u32)
}

/// Install a refilled chain of `n` blocks (the lane was empty) and return its first block
/// to the caller: the lane keeps the other `n - 1`.
///
/// # Safety
/// The lane of class `c` is empty; `head` is a chain of exactly `n >= 1` blocks.
pub unsafe fn install(tb: *mut ThreadBlock, c: ClassIdx, head: *mut Block, n: u32) -> *mut u8 {
    let l = &mut (*tb).lanes;
    debug_assert!(l.head[c] == end(tb));
    // The chain (null-terminated, from the heap or `borrow`) gets the lane mark on every
    // block it keeps and ends at the lane's end.
    let marking = tuning().on(crate::boxes::sw::FREE_CHECK);
    let mut last = head;
    let mut b = (*head).next;
    while !b.is_null() {
        if marking {
            mark(tb, b as *mut u8);
        }
        last = b;
        b = (*b).next;
    }
    (*last).next = end(tb);
    l.head[c] = (*head).next;
    l.count[c].room = (l.limit[c] as i32 - (n as i32 - 1)) as i16;
    l.count[c].settled = l.count[c].check as i16;
    *mark_of(head as *mut u8) = 0;
    head as *mut u8
}

/// The lane is over its limit: keep the most recently freed half (warm in cache) and
/// return the older half, a chain that ends at `end(tb)` (the heap's `give_chain` takes the
/// end it stops at: no walk here to re-terminate it).
///
/// # Safety
/// The lane holds more than `limit(c) / 2` blocks.
pub unsafe fn split(tb: *mut ThreadBlock, c: ClassIdx) -> *mut Block {
    let lim = limit(tb, c);
    let keep = lim / 2;
    let l = &mut (*tb).lanes;
    let mut last = l.head[c];
    for _ in 1..keep {
        last = (*last).next;
    }
    let rest = (*last).next;
    (*last).next = end(tb);
    l.count[c].room = (lim - keep) as i16;
    l.count[c].settled = l.count[c].check as i16;
    rest
}

/// A thread attaching a heap starts with empty lanes (full room in each) and the
/// checked-malloc countdown of a thread without the prof box (`prof_start` sets its own).
///
/// # Safety
/// `tb` is the calling thread's block and its lanes are empty.
pub unsafe fn reset(tb: *mut ThreadBlock) {
    let check = unsampled_check();
    let l = &mut (*tb).lanes;
    for c in 0..NCLASS {
        l.head[c] = end(tb);
        l.count[c] = LaneCount { room: base_limit(c) as i16, settled: check as i16, check };
        l.limit[c] = base_limit(c) as u16;
    }
    l.missed = [0; 2];
    l.refills = [0; NCLASS];
    l.grow_left = tuning().get(crate::boxes::sw::LANE_GROW_KB) as i64 * 1024;
}

/// Empty class `c`'s lane and return its chain, which ends at `end(tb)` (thread exit).
///
/// # Safety
/// `tb` is the calling thread's block.
pub unsafe fn take_all(tb: *mut ThreadBlock, c: ClassIdx) -> *mut Block {
    let l = &mut (*tb).lanes;
    l.count[c].room = l.limit[c] as i16;
    l.count[c].settled = l.count[c].check as i16;
    core::mem::replace(&mut l.head[c], end(tb))
}

/// Verify every lane's invariant (tests, debug builds).
///
/// # Safety
/// `tb` is the calling thread's block with a heap attached.
pub unsafe fn check_all(tb: *mut ThreadBlock) {
    for c in 0..NCLASS {
        (*tb).lanes.check(c, end(tb));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::size_class::BLOCK_SIZE;
    use crate::types::ThreadBlock;

    /// Lazy room: malloc hits leave `room` behind, yet the room left stays exact through
    /// hits, frees, settles and a real overflow; the free's early "below 0" settles
    /// without flushing, and a lane really over its limit (or near it) asks to flush.
    #[test]
    fn lazy_room_counts_hits_through_the_countdown() {
        #[repr(C, align(16))]
        struct B {
            _words: [usize; 2],
        }
        let mut tb = ThreadBlock::ZERO;
        let tb = &mut tb as *mut ThreadBlock;
        let c = NCLASS - 1; // the smallest limit: fewer blocks to push
        let mut blocks: Vec<B> = (0..2000).map(|_| B { _words: [0; 2] }).collect();
        let ptrs: Vec<*mut u8> = blocks.iter_mut().map(|b| b as *mut B as *mut u8).collect();
        // SAFETY: a thread block of this test's own; every block is 16 bytes, 16-aligned.
        unsafe {
            reset(tb);
            let lim = limit(tb, c) as i32;
            assert!(lim >= 16);
            let len = |tb: *mut ThreadBlock| lim - (*tb).lanes.room_left(c);
            // Install a chain of `n` blocks (`n - 1` stay on the lane), then take more
            // hits than a quarter of the limit: room stays, the room left follows.
            let hits = lim / 4 + 2;
            let n = hits as usize + 6;
            for i in 0..n - 1 {
                (*(ptrs[i] as *mut Block)).next = ptrs[i + 1] as *mut Block;
            }
            (*(ptrs[n - 1] as *mut Block)).next = ptr::null_mut();
            assert_eq!(install(tb, c, ptrs[0] as *mut Block, n as u32), ptrs[0]);
            assert_eq!(len(tb), n as i32 - 1);
            let room = (*tb).lanes.count[c].room;
            let mut out = Vec::new();
            for _ in 0..hits {
                assert!(take_turn(tb, c));
                out.push(pop_hit(tb, c));
            }
            assert_eq!((*tb).lanes.count[c].room, room, "the hit does not touch room");
            assert_eq!(len(tb), n as i32 - 1 - hits);
            (*tb).lanes.check(c, end(tb));
            // Free them back, then free more until the push says "over the limit": with the
            // hits uncounted, `room` goes below 0 early once; the push settles it there and
            // does not report it.
            let mut frees = out.into_iter().chain(ptrs[n..].iter().copied());
            let mut settles = 0;
            loop {
                let p = frees.next().unwrap();
                let settled_before = (*tb).lanes.count[c].settled;
                let over = push_unchecked(tb, c, p);
                if (*tb).lanes.count[c].settled != settled_before {
                    settles += 1;
                    assert_eq!((*tb).lanes.count[c].room as i32, lim - len(tb), "settled exactly");
                }
                if over {
                    break;
                }
                (*tb).lanes.check(c, end(tb));
            }
            assert_eq!(settles, 1, "one early settle: the hits");
            assert_eq!(len(tb), lim + 1, "over the limit, and only then");
            assert!(settle_full(tb, c), "flush agrees");
            let rest = split(tb, c);
            assert!(!rest.is_null());
            (*tb).lanes.check(c, end(tb));
            // A countdown change keeps the uncounted pops (set_check settles first).
            assert!(take_turn(tb, c));
            pop_hit(tb, c);
            let before = len(tb);
            set_check(tb, c, 5);
            assert_eq!(len(tb), before);
            (*tb).lanes.check(c, end(tb));
        }
    }

    /// A lane over its limit grows only after a miss, by its base limit, up to 8 times it
    /// and within the budget; shrink gives the growth back.
    #[test]
    fn grow_needs_a_miss_and_stops_at_eight_times_the_base() {
        let mut tb = ThreadBlock::ZERO;
        let tb = &mut tb as *mut ThreadBlock;
        let c = 40;
        // SAFETY: a thread block of this test's own; the lanes hold no blocks (grow and
        // shrink read and write only the counters).
        unsafe {
            reset(tb);
            let base = base_limit(c);
            let budget = (*tb).lanes.grow_left;
            assert!(budget > 0, "the box is on in the default tuning");
            assert!(!grow(tb, c), "no miss since the last overflow: flush");
            let mut grown = 0;
            for _ in 0..20 {
                note_miss(tb, c);
                if !grow(tb, c) {
                    break;
                }
                grown += 1;
                assert!(!grow(tb, c), "one growth per miss");
            }
            let bytes = base as i64 * BLOCK_SIZE[c] as i64;
            let want = (GROW_MAX as i64 - 1).min(budget / bytes);
            assert_eq!(grown, want, "grew {grown} times (base {base} blocks of {} B)", BLOCK_SIZE[c]);
            assert_eq!(limit(tb, c) as i64, base as i64 * (1 + want));
            assert_eq!((*tb).lanes.count[c].room as i64, base as i64 * (1 + want));
            assert_eq!((*tb).lanes.grow_left, budget - want * bytes);
            shrink(tb, c);
            assert_eq!(limit(tb, c), base);
            assert_eq!((*tb).lanes.count[c].room, base as i16);
            assert_eq!((*tb).lanes.grow_left, budget);
        }
    }
}
