//! Every structure the layers share, with its owner and its invariants written beside
//! its fields: the map of the allocator (the role mimalloc's `types.h` plays). The code
//! that changes each structure lives in the layer that owns it; this file has only the
//! shapes, the constants of the address-space geometry, and the `check` functions that
//! verify the invariants (run at refill, flush and drain in debug builds, and from
//! `hakmem::check_thread` in tests and the fuzz harness).
//!
//! | structure | only writer | read by other threads |
//! |---|---|---|
//! | [`ThreadBlock`] ([`Lanes`], [`RemoteQueue`]) | its thread, through `front::lane` / `front::remote` | never |
//! | [`HeapShared`] (inbox, state, counters) | any thread, atomics only | yes |
//! | [`HeapLocal`] (partial lists, SuperSlab lists) | the heap's owner: its thread, or the heap-pool lock holder while abandoned | never |
//! | [`SuperSlab`] header, [`SlabMeta`] | the owning heap's owner (`heap` layer) | `units[u]` by a thread freeing a live block of unit `u` |
//! | [`SlabRemote`] (slab-lists box) | `list`: any thread freeing into the slab (CAS) and the owner (swap); `node`: whoever queues it or drains it (`heap::inbox`) | yes |
//! | warm pool, huge registry, region bits | `backend`, under its locks / atomics | yes |
//!
//! Lock order (never take an earlier one while holding a later one): heap pool
//! (`lifecycle`) → warm pool (`backend::warm_pool`) → huge registry (`backend::huge`).
//! During `fork` the forking thread holds all three and may re-enter them (see
//! `sync::SpinLock`).

use crate::size_class::NCLASS;
use crate::sync::{AtomicPtr, AtomicU64, AtomicU8, Ordering::Relaxed};
use core::cell::UnsafeCell;
use core::ptr;

// ---- address-space geometry -------------------------------------------------------------

/// A SuperSlab is `2^SS_SHIFT` bytes, aligned to its size.
pub const SS_SHIFT: usize = 21;
pub const SS_SIZE: usize = 1 << SS_SHIFT;
pub const SS_MASK: usize = SS_SIZE - 1;
/// SuperSlabs are carved into units of `2^UNIT_SHIFT` bytes; unit 0 is the header.
pub const UNIT_SHIFT: usize = 16;
pub const UNIT_SIZE: usize = 1 << UNIT_SHIFT;
pub const UNITS: usize = SS_SIZE / UNIT_SIZE;
/// Units 1..32 are usable; unit 0 is the header.
pub const USABLE_UNITS_MASK: u32 = !1u32;
/// The SuperSlab header starts one page into its chunk: the chunk's first page is a
/// guard page in hardened mode (`PROT_NONE`, so a block overflowing the end of the chunk
/// before it faults instead of overwriting this header), and unused otherwise.
pub const HEADER_OFF: usize = 4096;
/// Largest block served as a span of units inside a SuperSlab (15 units, so two fit in
/// one SuperSlab and a 1 MiB block is a huge mapping of ~1 MiB, not half a SuperSlab
/// wasted). Above it: huge mappings.
pub const LARGE_MAX: usize = 15 * UNIT_SIZE;

/// `UnitRec::class` of a unit that belongs to no slab.
pub const UC_FREE: u8 = 0xFF;
/// `UnitRec::class` of a unit inside a large span.
pub const UC_LARGE: u8 = 0xFE;

// ---- blocks -------------------------------------------------------------------------------

/// A free block: its first word links to the next free block of the same list.
///
/// In a FastLane and in a remote queue or inbox the link is a plain pointer; in a slab
/// free list it is stored through `boxes::harden::encode` (identity unless hardened).
#[repr(C)]
pub struct Block {
    pub next: *mut Block,
}

// ---- front: the thread block ----------------------------------------------------------------

/// The FastLanes of a thread: per class, a LIFO of free blocks (`head`), the room left
/// (`room`, see below) and the checked-malloc countdown (`check`). Counting down lets the
/// free path test "over the limit", and the malloc hit "time for a checked allocation",
/// with the flags of one decrement. Two arrays rather than one array of (head, room, check)
/// triples: an 8-byte stride fits x86 addressing modes, so the class index needs no extra
/// scaling on the hit paths.
///
/// **Lazy room.** The malloc hit does not count its pop in `room`: it decrements `check`
/// only, and `settled` keeps the value `check` had when `room` was last made exact, so
/// the pops since are `settled - check` and the room left is `room + settled - check`
/// (`Lanes::room_left`). `room` alone is therefore never more than the room left, and the
/// free hit's "went below 0" may be early: `lane::push_unchecked` then settles (`lane::settle`,
/// inline, off the hit) and reports an overflow only if the lane really is over its limit.
/// Everything else that reads or sets `room` settles first or sets `settled = check` with
/// it; every other change of `check` goes through `lane::set_check`, `lane::count_turn` or
/// `lane::not_popped`, which keep `settled - check` equal to the pops not yet counted.
///
/// A lane ends at the thread block's own address (`front::lane::end`), not at null: an empty
/// lane's head is that address, so the malloc hit prefetches the next head without a test
/// (the thread block is in cache; null would cost a page walk). The all-zero state (no heap
/// yet) has null heads, which no pop reads: the countdown of 0 sends the first malloc of
/// each class to `malloc_checked`, which attaches the heap (`lane::reset`) before popping.
///
/// Invariants (`Lanes::check`): `room_left(c) == limit[c] - length(head[c])` (the thread's limit),
/// `0 <= length <= limit` except transiently inside `lane::push_unchecked` (it may reach
/// `limit + 1`, then it flushes); every block on lane `c` is a block of class `c` counted
/// `used` by its slab, of the thread's own heap or, with the remote-keep box, of another
/// heap (a block this thread freed and kept; `refill::give_back` sends it home).
///
/// `check` (`front::fastlane`, "checked mallocs"): how many more class-`c` mallocs may take
/// the hit path; the malloc after them (the decrement that goes below 0) takes
/// `malloc_checked`, which sets it again: `i32::MAX` normally, 0 with the lane guard (every
/// pop checked), the allocations that pass before the next sample with the prof box. 0 in
/// a thread that has no heap yet, so its first malloc of each class is checked.
///
/// `limit[c]` (lane-grow box, `lane::grow`): the thread's limit for class `c`, from the
/// class's base limit (`tuning().lane_limits`) up to 8 times it; `grow_left` the growth
/// budget left in bytes (sum over classes of (limit − base) × block size ≤ the box's
/// budget); bit `c` of `missed` is set by a refill of class `c` and cleared by its next
/// overflow, which grows the lane only if it was set.
///
/// `refills[c]`: the thread's refills of class `c` so far, saturating at `u8::MAX`: the
/// refill batch starts small and doubles with each (`refill::batch`), so a short-lived
/// thread does not carve, and give back at exit, a long-lived thread's batches.
#[repr(C)]
pub struct Lanes {
    pub head: [*mut Block; NCLASS],
    pub count: [LaneCount; NCLASS],
    pub limit: [u16; NCLASS],
    pub refills: [u8; NCLASS],
    pub missed: [u64; 2],
    pub grow_left: i64,
}

/// A lane's counters (see `Lanes`), 8 bytes, so the hit paths index them with the class as
/// they index `head`. `room` and `settled` are 16 bits: a lane holds at most 8 times 2048
/// blocks (`lane::grow`), and the pops not yet counted are at most its limit + 1 (a settle
/// comes at the latest when the frees since the last one have used up the room it found),
/// so both fit; `settled` keeps the low 16 bits of `check`, and `settled - check` is taken
/// in 16 bits. Kept inside the 8 bytes because the thread block is static TLS, which a
/// `dlopen` of the library must find room for.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct LaneCount {
    pub room: i16,
    pub settled: i16,
    pub check: i32,
}

impl Lanes {
    pub const EMPTY: Lanes = Lanes {
        head: [ptr::null_mut(); NCLASS],
        count: [LaneCount { room: 0, settled: 0, check: 0 }; NCLASS],
        limit: [0; NCLASS],
        refills: [0; NCLASS],
        missed: [0; 2],
        grow_left: 0,
    };

    /// The room lane `c` has left: `room` with the malloc hits since it was last made exact
    /// (see "Lazy room" above). Reads only: statistics may call it.
    #[inline]
    pub fn room_left(&self, c: usize) -> i32 {
        let k = &self.count[c];
        k.room as i32 + k.settled.wrapping_sub(k.check as i16) as i32
    }

    /// Verify lane `c`'s invariant (its blocks end at `end`); abort with a `hakmem:` line if
    /// it fails.
    ///
    /// # Safety
    /// The lanes belong to the calling thread and their blocks are readable.
    pub unsafe fn check(&self, c: usize, end: *mut Block) {
        let limit = self.limit[c] as u32;
        let mut n = 0i64;
        let mut b = self.head[c];
        while b != end {
            n += 1;
            if n > limit as i64 + 1 {
                crate::msg::fatal("check", "FastLane longer than its limit (cycle?)", self.head[c] as usize);
            }
            b = (*b).next;
        }
        if self.room_left(c) as i64 != limit as i64 - n {
            crate::msg::fatal("check", "FastLane room does not match its length", self.head[c] as usize);
        }
    }
}

/// The remote queue: blocks this thread freed that belong to `owner`, chained
/// `head..=tail`, sent to the owner's inbox in one CAS when `len` reaches `cap`
/// (remote-batch box), the owner changes, the thread misses a lane, or exits.
///
/// Invariants: `len == 0` ⇔ `owner`, `head`, `tail` are null; otherwise `owner` is a
/// real heap (never `NO_OWNER`) and the chain holds exactly `len` blocks of it.
#[repr(C)]
pub struct RemoteQueue {
    pub owner: *mut Heap,
    pub head: *mut Block,
    pub tail: *mut Block,
    pub len: u32,
    /// Queue length that triggers a send; 0 = no queue (box off, or hardened mode).
    pub cap: u32,
    /// Remote-prefetch box on (set at attach): each queued block's second word names the
    /// block queued `AHEAD` before it (`ahead`), the one `AHEAD` further down the chain,
    /// so the owner's drain can prefetch that far ahead instead of missing on every link.
    pub prefetch: bool,
    /// Slab-lists box on and not hardened (set at attach): small blocks of other heaps go
    /// onto their slabs' remote lists (`front::remote::slab_free`), not into this queue.
    pub slab_lists: bool,
    /// Slab-lists box with the remote-prefetch box: remote frees counted, to pick their
    /// `ahead` slot (the queue's `len` stays 0 for small blocks).
    pub seq: u32,
    /// The last `AHEAD` blocks queued, by `len % AHEAD`. Only hints: an entry may name a
    /// block sent long ago, so the drain prefetches it and never reads it.
    pub ahead: [*mut Block; AHEAD],
}

/// How far ahead in a queued chain each block's prefetch hint points (a power of two).
pub const AHEAD: usize = 8;

/// Per-thread state. All zero is the valid "thread has not allocated yet" state, so it
/// lives in `.tbss` (preload) or a const `thread_local!` and needs no constructor.
///
/// Owner: its thread, only. No other thread reads it (statistics read heaps instead).
#[repr(C)]
pub struct ThreadBlock {
    pub lanes: Lanes,
    /// The heap attached to this thread (null before the first allocation and after exit).
    pub heap: *mut Heap,
    /// What the free fast path compares a unit's owner with: `heap`, or null in hardened
    /// mode (every free takes the checked path) and with the free-check box off (local
    /// frees take the unchecked one), at no cost to the fast path.
    pub fast_heap: *mut Heap,
    pub rq: RemoteQueue,
    /// The thread-exit destructor is registered for this thread.
    pub key_set: bool,
    /// The prof box's countdowns (untouched while the box is off).
    pub prof: ProfThread,
}

/// The prof box's per-thread sampling state (`front::fastlane`, box on only).
///
/// Class sizes are counted in allocations on the checked-malloc countdown
/// (`Lanes::check`), which then needs no state here: it is set to the allocations that
/// pass before the next sampled one, so the checked malloc it leads to *is* the sample.
/// With the lane guard, whose countdown is always 0 (every malloc checked), class sizes
/// count their block size against `bytes_left` instead, as large and huge blocks always do.
#[repr(C)]
pub struct ProfThread {
    /// Bytes of large and huge allocations (and, with the lane guard, class blocks) left
    /// before the next sampled one.
    pub bytes_left: i64,
    /// xorshift state; 0 = not seeded yet.
    pub rng: u64,
}

impl ThreadBlock {
    pub const ZERO: ThreadBlock = ThreadBlock {
        lanes: Lanes::EMPTY,
        heap: ptr::null_mut(),
        fast_heap: ptr::null_mut(),
        rq: RemoteQueue {
            owner: ptr::null_mut(),
            head: ptr::null_mut(),
            tail: ptr::null_mut(),
            len: 0,
            cap: 0,
            prefetch: false,
            slab_lists: false,
            seq: 0,
            ahead: [ptr::null_mut(); AHEAD],
        },
        key_set: false,
        prof: ProfThread { bytes_left: 0, rng: 0 },
    };
}

// ---- heap -----------------------------------------------------------------------------------

/// A heap's life. Stored in `HeapShared::state` (an atomic: remote freers read it).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
pub enum HeapState {
    Active = 0,
    Abandoned = 1,
    /// Owned by a thread that does not exist in this process (fork child): never adopted.
    Orphaned = 2,
}

/// Counters a heap's owner bumps and statistics read from any thread. The owner is the
/// only writer, so it bumps with a relaxed load and store (plain `mov`s, no lock prefix).
#[repr(C)]
pub struct HeapStats {
    pub refills: [AtomicU64; NCLASS],
    pub refill_blocks: [AtomicU64; NCLASS],
    pub flushes: [AtomicU64; NCLASS],
    /// Blocks moved from a FastLane back to slabs (flushes, hardened frees, thread exit).
    pub flush_blocks: [AtomicU64; NCLASS],
    pub remote_drained: AtomicU64,
    /// Blocks this heap's threads sent to other heaps.
    pub remote_sent: AtomicU64,
    pub large_allocs: AtomicU64,
    pub large_frees: AtomicU64,
}

/// Bump a counter that has one writer (see `HeapStats`).
#[inline]
pub fn bump(c: &AtomicU64, n: u64) {
    c.store(c.load(Relaxed).wrapping_add(n), Relaxed);
}

/// The part of a heap any thread may touch: atomics only.
#[repr(C)]
pub struct HeapShared {
    /// Blocks freed by other threads (lock-free MPSC stack, `heap::inbox`).
    pub inbox: AtomicPtr<Block>,
    /// A `HeapState`.
    pub state: AtomicU8,
    pub stats: HeapStats,
}

/// The part of a heap only its owner touches.
///
/// Invariants (`heap::check`): `partial[c]` is a doubly linked list of exactly the slabs
/// of class `c` with `in_partial` set, each with a block to give or empty-and-kept;
/// `avail` lists exactly the SuperSlabs with `in_avail` set, each with a free unit and
/// owned by this heap; `spare` is an empty SuperSlab of this heap on neither list, or null.
#[repr(C)]
pub struct HeapLocal {
    pub partial: [*mut SlabMeta; NCLASS],
    pub avail: *mut SuperSlab,
    /// One empty SuperSlab kept back from the warm pool, so a heap that empties and
    /// refills its last SuperSlab does not bounce it through the global pool.
    pub spare: *mut SuperSlab,
    /// This heap (what its SuperSlabs record as owner).
    pub me: *mut Heap,
    /// The purge box decommitted a SuperSlab this heap gave back (no demand for it): until
    /// the heap takes a new one, it keeps no spare and decommits units as they come free.
    pub purging: bool,
    /// The heap is abandoned (set and cleared by `lifecycle::heaps` under the pool lock):
    /// it keeps no empty slab and no spare, so whatever comes back to it goes on down.
    pub abandoned: bool,
}

/// A heap: the backing store one thread allocates from.
///
/// Heaps live forever (in `.bss` or 64 KiB mappings made by `lifecycle`); at thread exit a
/// heap is abandoned whole and adopted by the next new thread. Links (`next_free`,
/// `next_all`) and `owner_thread` belong to the heap pool (`lifecycle`, under its lock).
#[repr(C)]
pub struct Heap {
    pub shared: HeapShared,
    local: UnsafeCell<HeapLocal>,
    pub next_free: UnsafeCell<*mut Heap>,
    pub next_all: *mut Heap,
    /// `pthread_self()` of the owning thread, written under the heap-pool lock.
    pub owner_thread: UnsafeCell<usize>,
}

impl Heap {
    /// The owner's part.
    ///
    /// # Safety
    /// The caller is the heap's owner (its thread, or the heap-pool lock holder while the
    /// heap is abandoned) and holds no other reference to it.
    #[allow(clippy::mut_from_ref)]
    #[inline(always)]
    pub unsafe fn local(&self) -> &mut HeapLocal {
        &mut *self.local.get()
    }

    pub fn state(&self) -> HeapState {
        match self.shared.state.load(crate::sync::Ordering::Acquire) {
            0 => HeapState::Active,
            1 => HeapState::Abandoned,
            _ => HeapState::Orphaned,
        }
    }

    pub fn set_state(&self, s: HeapState) {
        self.shared.state.store(s as u8, crate::sync::Ordering::Release);
    }
}

// ---- SuperSlab --------------------------------------------------------------------------------

/// What a unit holds.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
pub enum UnitKind {
    Free = 0,
    /// First unit of a class slab (its `SlabMeta` is live).
    Slab = 1,
    /// First unit of a large span.
    Large = 2,
    /// A later unit of a multi-unit slab or span; `head` names the first.
    Tail = 3,
}

/// Per-slab (or per-span) metadata, in the SuperSlab header. Owner: the heap's owner.
///
/// Invariants (`SlabMeta::check`), for a `Slab`: `used + free_count == carved <= capacity`;
/// `free` lists exactly `free_count` blocks, each a block start of this slab;
/// `in_partial` ⇔ on the heap's partial list of `class` (then `free_count > 0 ||
/// carved < capacity`, or `used == 0` for the one empty slab a class may keep).
/// For a `Large` span: `used == carved == capacity == 1` while live.
#[repr(C)]
pub struct SlabMeta {
    /// Blocks given back to this slab (by FastLane flushes and remote frees).
    pub free: *mut Block,
    pub free_count: u32,
    /// Blocks out of the slab: in a FastLane, a remote queue, an inbox, or with the program.
    pub used: u32,
    pub capacity: u32,
    pub carved: u32,
    /// Address of the first block.
    pub start: usize,
    pub block_size: u32,
    pub class: u8,
    pub kind: UnitKind,
    pub units: u8,
    pub head: u8,
    pub in_partial: bool,
    /// A large span holding a sampled allocation (prof box): its free drops the sample.
    pub sampled: bool,
    /// Links in the owner heap's partial list for this class.
    pub next: *mut SlabMeta,
    pub prev: *mut SlabMeta,
}

impl SlabMeta {
    pub const EMPTY: SlabMeta = SlabMeta {
        free: ptr::null_mut(),
        free_count: 0,
        used: 0,
        capacity: 0,
        carved: 0,
        start: 0,
        block_size: 0,
        class: 0,
        kind: UnitKind::Free,
        units: 0,
        head: 0,
        in_partial: false,
        sampled: false,
        next: ptr::null_mut(),
        prev: ptr::null_mut(),
    };

    /// Verify a live slab's counts and free list; abort with a `hakmem:` line if one fails.
    ///
    /// # Safety
    /// The caller owns the slab's heap.
    pub unsafe fn check(&self) {
        let at = self.start;
        if self.kind != UnitKind::Slab {
            return;
        }
        if self.used as u64 + self.free_count as u64 != self.carved as u64 || self.carved > self.capacity {
            crate::msg::fatal("check", "slab counts broken (used + free != carved <= capacity)", at);
        }
        let mut n = 0u32;
        let mut b = self.free;
        while !b.is_null() {
            if !crate::heap::slab::is_block_start(self, b as usize) {
                crate::msg::fatal("check", "slab free list holds a foreign block", b as usize);
            }
            n += 1;
            if n > self.free_count {
                break;
            }
            b = crate::heap::slab::next_of(self, b);
        }
        if n != self.free_count {
            crate::msg::fatal("check", "slab free list length differs from free_count", at);
        }
    }
}

/// `UnitRec::owner` of a unit that is not a class slab: equal to no thread's
/// `fast_heap` (which is a heap or null), so the free fast path's one compare also
/// rejects free units and large spans.
pub const NO_OWNER: *mut Heap = ptr::dangling_mut();

/// What the free fast path reads about a unit: one 32-byte record.
///
/// Invariant: `owner != NO_OWNER` ⇔ `class < NCLASS` ⇔ the unit is part of a live class
/// slab of heap `owner`; then `mul` and `start` make `starts_block` true exactly at the
/// slab's block starts (`block_start_test`). Written only by the owner while no block of
/// the unit is live in anyone's hands, so a thread freeing a live block reads a stable
/// record. An all-zero record (a chunk of the arena without a SuperSlab) fails
/// `starts_block`.
#[repr(C, align(32))]
#[derive(Clone, Copy)]
pub struct UnitRec {
    pub owner: *mut Heap,
    /// The block-start test's multiplier, `size_class::DIV[class]`; 0 (`PASS`) when not a
    /// class slab, or with the free-check box off.
    pub mul: u64,
    /// The block-start test's offset: `first * mul + START_SLACK` (wrapping), `first` the
    /// address of the slab's first block; `START_SLACK` with `PASS`.
    pub start: u64,
    /// Class of the unit's slab, or `UC_FREE` / `UC_LARGE`.
    pub class: u8,
}

/// `starts_block(a)` is `a * mul - start >= START_MIN` (wrapping). With `mul = ceil(2^64 /
/// size)` = `size * mul - 2^64 = e`, `0 <= e < size`, and `first` the slab's first block:
/// - at a block start, `a = first + k * size`, `a * mul - first * mul = k * e`, below the
///   slab's bytes (`< 2^18`), so subtracting `START_SLACK` too lands in
///   `[2^64 - START_SLACK, 2^64)`, at or above `START_MIN`;
/// - elsewhere in the slab, `a = first + k * size + r` with `0 < r < size`, the product is
///   `r * mul + k * e`, between `mul >= 2^49` (sizes are at most 32 KiB) and
///   `2^64 - mul + e + k * e` (no wrap), so after subtracting `START_SLACK` it is below
///   `START_MIN`;
/// - `PASS` (`mul = 0`, `start = START_SLACK`) gives exactly `START_MIN`: every address
///   passes; an all-zero record gives 0: none does.
///
/// Against a multiplier applied to the offset in the slab, this takes the address itself
/// (no offset to form) and compares with a constant (no second use of the multiplier): 5
/// instructions on the free hit instead of 6. The constant is `2^31 - 1` rather than `2^31`
/// so that `START_MIN - 1`, which the compiler compares with, is a sign-extended 32-bit
/// immediate (`-2^31`).
pub const START_SLACK: u64 = (1 << 31) - 1;
/// See `START_SLACK`.
pub const START_MIN: u64 = START_SLACK.wrapping_neg();

impl UnitRec {
    pub const FREE: UnitRec = UnitRec { owner: NO_OWNER, mul: 0, start: START_SLACK, class: UC_FREE };

    /// The record of a unit of a class slab of `owner` whose first block is at `first`;
    /// `check` false (free-check box off) makes every address pass, as `FREE` does.
    pub fn class_slab(owner: *mut Heap, class: u8, first: usize, check: bool) -> UnitRec {
        let mul = if check { crate::size_class::DIV[class as usize] } else { 0 };
        UnitRec { owner, mul, start: (first as u64).wrapping_mul(mul).wrapping_add(START_SLACK), class }
    }

    /// Does address `a`, inside this unit, start a block? One multiply, one subtract, one
    /// compare (see `START_SLACK`).
    #[inline(always)]
    pub fn starts_block(&self, a: usize) -> bool {
        (a as u64).wrapping_mul(self.mul).wrapping_sub(self.start) >= START_MIN
    }
}

/// A slab's remote-free list (slab-lists box, `heap::inbox::push_to_slab`): blocks other
/// threads freed into the slab, and the node that tells the owner about them. One per unit
/// of a SuperSlab, used at a slab's head unit.
///
/// Invariants: `list` is non-null ⇔ the node is on its owner's inbox, or a drain has taken
/// the node off the inbox and not yet swapped `list`, or the free that made `list`
/// non-null is about to queue it. Blocks on `list` count as `used` in their slab, so a slab
/// with a non-empty list is never released; a released slab's list is null, ready for the
/// next slab at this unit. `node` lies in the SuperSlab's header unit, where no block lies:
/// a drain tells a node from a block by `unit_of(p) == 0`.
#[repr(C)]
pub struct SlabRemote {
    /// Word 0: the node's inbox link, written by the thread that queues it.
    pub node: Block,
    /// Word 1: the node itself, for the remote-prefetch box's drain, which prefetches every
    /// inbox entry's second word (set at SuperSlab init, never changed).
    pub hint: *mut Block,
    /// The blocks, linked through their first word; null when empty.
    pub list: AtomicPtr<Block>,
    _pad: usize,
}

impl SlabRemote {
    /// Initialise the entry at `s` (SuperSlab init: the header is not yet published).
    ///
    /// # Safety
    /// `s` is an entry of a SuperSlab header nobody else uses yet.
    pub unsafe fn init(s: *mut SlabRemote) {
        ptr::write(
            s,
            SlabRemote {
                node: Block { next: ptr::null_mut() },
                hint: s as *mut Block,
                list: AtomicPtr::new(ptr::null_mut()),
                _pad: 0,
            },
        );
    }
}

/// The header at the start of every SuperSlab (2 MiB, aligned), in unit 0.
///
/// Invariants: the region bit (`backend::region`) is set ⇔ the SuperSlab is owned by a
/// heap (`owner` non-null, header initialised); in the warm pool neither holds.
/// `free_units` has bit `u` set ⇔ `units[u] == UnitRec::FREE` and `slabs[u].kind == Free`
/// (bit 0, the header, is never set). `in_avail` ⇔ on the owner's `avail` list ⇔
/// `free_units != 0` and the SuperSlab is not the heap's `spare`.
#[repr(C, align(64))]
pub struct SuperSlab {
    pub units: [UnitRec; UNITS],
    /// The owning heap; null once given back to the warm pool.
    pub owner: AtomicPtr<Heap>,
    pub free_units: u32,
    pub in_avail: bool,
    /// Links in the owner heap's `avail` list.
    pub next: *mut SuperSlab,
    pub prev: *mut SuperSlab,
    pub slabs: [SlabMeta; UNITS],
    /// Slab-lists box: each slab's remote-free list, by its head unit (see [`SlabRemote`]).
    pub remote: [SlabRemote; UNITS],
    /// Hardened mode only (`heap::slab`): per slab head unit, bit `i` set ⇔ block `i` is on
    /// the slab's free list. Untouched (no RSS) unless hardened.
    pub free_bits: [[u64; 64]; UNITS],
}

const _: () = assert!(HEADER_OFF + core::mem::size_of::<SuperSlab>() <= UNIT_SIZE - 64);
const _: () = assert!(core::mem::size_of::<UnitRec>() == 32);
const _: () = assert!(NCLASS < UC_LARGE as usize);
const _: () = assert!(LARGE_MAX < (UNITS - 1) * UNIT_SIZE);

/// Header of the SuperSlab containing an address (no check that it is one).
#[inline(always)]
pub fn ss_of(p: usize) -> *mut SuperSlab {
    ((p & !SS_MASK) + HEADER_OFF) as *mut SuperSlab
}

/// The 2 MiB chunk a SuperSlab header lives in.
#[inline(always)]
pub fn chunk_of(ss: *mut SuperSlab) -> usize {
    ss as usize - HEADER_OFF
}

/// Unit index of an address within its SuperSlab.
#[inline(always)]
pub fn unit_of(p: usize) -> usize {
    (p >> UNIT_SHIFT) & (UNITS - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The block-start test holds exactly at block starts, for every class, in every unit
    /// of a slab, at arena-like and low addresses; `PASS` passes everything and an
    /// all-zero record nothing.
    #[test]
    fn block_start_test_matches_division() {
        use crate::size_class::{slab_units, BLOCK_SIZE};
        let owner = 0x1000 as *mut Heap;
        for chunk in [0x4000_0000_0000usize, 0x7f12_3440_0000, 0x20_0000] {
            for (c, &bs) in BLOCK_SIZE.iter().enumerate() {
                let bs = bs as usize;
                let first = chunk + 3 * UNIT_SIZE;
                let rec = UnitRec::class_slab(owner, c as u8, first, true);
                let end = first + slab_units(c) * UNIT_SIZE;
                for a in (first..end).filter(|a| (a - first) % 7 == 0 || (a - first) % bs <= 1 || a % 16 == 0) {
                    assert_eq!(rec.starts_block(a), (a - first) % bs == 0, "class {c} first {first:#x} a {a:#x}");
                }
                let pass = UnitRec::class_slab(owner, c as u8, first, false);
                assert!(pass.starts_block(first + 1) && pass.starts_block(first + bs));
            }
        }
        let zero = UnitRec { owner: ptr::null_mut(), mul: 0, start: 0, class: 0 };
        for a in [0usize, 16, 0x4000_0000_0000, 0x4000_0001_0010, usize::MAX] {
            assert!(UnitRec::FREE.starts_block(a), "{a:#x}");
            assert!(!zero.starts_block(a), "{a:#x}");
        }
    }

    #[test]
    fn address_arithmetic_finds_header_and_unit() {
        let base = 0x7f00_0000_0000usize; // 2 MiB aligned
        assert_eq!(ss_of(base + 5 * UNIT_SIZE + 123) as usize, base + HEADER_OFF);
        assert_eq!(chunk_of(ss_of(base + 77)), base);
        assert_eq!(unit_of(base + 5 * UNIT_SIZE + 123), 5);
        assert_eq!(unit_of(base + SS_SIZE - 1), 31);
        assert_eq!(ss_of(base + SS_SIZE) as usize, base + SS_SIZE + HEADER_OFF);
    }

    #[test]
    fn lane_check_counts_the_list() {
        let mut blocks = [Block { next: ptr::null_mut() }, Block { next: ptr::null_mut() }];
        let second = &mut blocks[1] as *mut Block;
        blocks[0].next = second;
        let mut lanes = Lanes::EMPTY;
        lanes.head[3] = &mut blocks[0];
        lanes.count[3].room = 30;
        lanes.limit[3] = 32;
        // SAFETY: the blocks are local and readable.
        unsafe { lanes.check(3, ptr::null_mut()) };
    }
}
