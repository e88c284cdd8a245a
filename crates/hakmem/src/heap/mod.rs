//! The heap layer: a heap is the backing store one thread allocates from. It owns
//! SuperSlabs, keeps a list of partial slabs per class and a list of SuperSlabs with free
//! units, serves large spans, and has an inbox where other threads drop the blocks they
//! free. It hands blocks to the front in batches and takes them back one by one; it
//! never touches a thread's lanes (the front decides where drained blocks go).
//!
//! Uses only `backend` below it. Every function here runs as the heap's owner (see
//! `types::HeapLocal`) except `remote_push`, which any thread may call.

pub mod inbox;
pub mod large;
pub mod slab;
pub mod superslab;

use crate::boxes::harden;
use crate::size_class::{slab_units, ClassIdx, NCLASS};
use crate::sync::{AtomicU64, Ordering};
use crate::types::{bump, ss_of, Block, Heap, HeapLocal, HeapState, SlabMeta, SlabRemote, SuperSlab, UnitKind};
use core::ptr;

// ---- partial-slab lists ----------------------------------------------------------------

/// # Safety
/// `m` is a live slab of the heap whose owner state is `l`, on no partial list.
unsafe fn partial_push(l: &mut HeapLocal, m: *mut SlabMeta) {
    let c = (*m).class as usize;
    (*m).prev = ptr::null_mut();
    (*m).next = l.partial[c];
    if !l.partial[c].is_null() {
        (*l.partial[c]).prev = m;
    }
    l.partial[c] = m;
    (*m).in_partial = true;
}

/// # Safety
/// `m` is on `l`'s partial list of its class.
unsafe fn partial_remove(l: &mut HeapLocal, m: *mut SlabMeta) {
    let c = (*m).class as usize;
    if !(*m).prev.is_null() {
        (*(*m).prev).next = (*m).next;
    } else {
        l.partial[c] = (*m).next;
    }
    if !(*m).next.is_null() {
        (*(*m).next).prev = (*m).prev;
    }
    (*m).next = ptr::null_mut();
    (*m).prev = ptr::null_mut();
    (*m).in_partial = false;
}

// ---- SuperSlabs with free units --------------------------------------------------------

/// # Safety
/// `ss` is a SuperSlab of `l`'s heap, on no list.
unsafe fn avail_push(l: &mut HeapLocal, ss: *mut SuperSlab) {
    (*ss).prev = ptr::null_mut();
    (*ss).next = l.avail;
    if !l.avail.is_null() {
        (*l.avail).prev = ss;
    }
    l.avail = ss;
    (*ss).in_avail = true;
}

/// # Safety
/// `ss` is on `l`'s avail list.
unsafe fn avail_remove(l: &mut HeapLocal, ss: *mut SuperSlab) {
    if !(*ss).prev.is_null() {
        (*(*ss).prev).next = (*ss).next;
    } else {
        l.avail = (*ss).next;
    }
    if !(*ss).next.is_null() {
        (*(*ss).next).prev = (*ss).prev;
    }
    (*ss).next = ptr::null_mut();
    (*ss).prev = ptr::null_mut();
    (*ss).in_avail = false;
}

/// Claim `k` contiguous units from this heap's SuperSlabs, taking a new SuperSlab if
/// none has room. Null when the OS refuses memory.
///
/// # Safety
/// The caller owns `l`'s heap.
pub(crate) unsafe fn claim_units(l: &mut HeapLocal, k: usize, kind: UnitKind, uclass: u8) -> *mut SlabMeta {
    let mut ss = l.avail;
    while !ss.is_null() {
        if let Some(first) = superslab::find_units((*ss).free_units, k) {
            return claim_in(l, ss, first, k, kind, uclass);
        }
        ss = (*ss).next;
    }
    let ss = if !l.spare.is_null() {
        core::mem::replace(&mut l.spare, ptr::null_mut())
    } else {
        let s = superslab::acquire(l.me);
        if s.is_null() {
            return ptr::null_mut();
        }
        l.purging = false;
        s
    };
    avail_push(l, ss);
    claim_in(l, ss, 1, k, kind, uclass)
}

/// # Safety
/// Units `[first, first + k)` of `ss`, a SuperSlab of `l`'s heap, are free.
unsafe fn claim_in(
    l: &mut HeapLocal,
    ss: *mut SuperSlab,
    first: usize,
    k: usize,
    kind: UnitKind,
    uclass: u8,
) -> *mut SlabMeta {
    let m = superslab::claim_units(ss, first, k, kind, uclass);
    if (*ss).free_units == 0 {
        avail_remove(l, ss);
    }
    m
}

/// Return the units of the slab/span `m` (in `ss`) to the SuperSlab; an emptied
/// SuperSlab becomes the heap's spare or goes back to the backend.
///
/// # Safety
/// The caller owns `l`'s heap.
pub(crate) unsafe fn release_units(l: &mut HeapLocal, ss: *mut SuperSlab, m: *mut SlabMeta) {
    let first = (*m).head as usize;
    let k = (*m).units as usize;
    let empty = superslab::release_units(ss, first);
    if !(*ss).in_avail {
        avail_push(l, ss);
    }
    if empty {
        avail_remove(l, ss);
        if l.spare.is_null() && !l.purging && !l.abandoned {
            l.spare = ss;
        } else if superslab::retire(ss) {
            enter_purging(l);
        }
    } else if l.purging {
        superslab::decommit_units(ss, first, k);
    }
}

/// The backend decommitted SuperSlabs this heap retired: memory is flowing back with
/// nobody asking for it. Give the spare back too and decommit units as they come free
/// until the heap takes a SuperSlab again.
///
/// # Safety
/// The caller owns `l`'s heap.
unsafe fn enter_purging(l: &mut HeapLocal) {
    l.purging = true;
    retire_spare(l);
}

/// Hand the heap's spare SuperSlab (if any) back to the backend.
///
/// # Safety
/// The caller owns `l`'s heap.
unsafe fn retire_spare(l: &mut HeapLocal) {
    if !l.spare.is_null() {
        let s = core::mem::replace(&mut l.spare, ptr::null_mut());
        superslab::retire(s);
    }
}

// ---- class slabs -----------------------------------------------------------------------

/// Take up to `want` blocks of class `c` as a chain; (null, 0) when out of memory.
///
/// # Safety
/// The caller owns `h`.
pub unsafe fn take_batch(h: &Heap, c: ClassIdx, want: u32) -> (*mut Block, u32) {
    let l = h.local();
    let m = l.partial[c];
    if (m.is_null() || (*m).free_count == 0) && crate::config::tuning().on(crate::boxes::sw::CLASS_BORROW) {
        // Class-borrow box: no freed block of class `c` left, so the next class's freed
        // blocks (already touched) serve before fresh ones are carved or a slab claimed.
        let d = c + 1;
        if crate::size_class::borrows_from_next(c) && !l.partial[d].is_null() && (*l.partial[d]).free_count > 0 {
            crate::boxes::hit(crate::boxes::sw::CLASS_BORROW);
            return take_from(h, l, l.partial[d], want);
        }
    }
    take_batch_own(h, c, want)
}

/// `take_batch` from class `c`'s own slabs only (no borrowing): blocks aligned as the class's.
///
/// # Safety
/// The caller owns `h`.
pub unsafe fn take_batch_own(h: &Heap, c: ClassIdx, want: u32) -> (*mut Block, u32) {
    let l = h.local();
    let mut m = l.partial[c];
    if m.is_null() {
        m = claim_units(l, slab_units(c), UnitKind::Slab, c as u8);
        if m.is_null() {
            return (ptr::null_mut(), 0);
        }
        slab::init(&mut *m, c);
        partial_push(l, m);
    }
    take_from(h, l, m, want)
}

/// Take up to `want` blocks from the partial slab `m` (off the partial list once it has no
/// room), counted as a refill of its class.
///
/// # Safety
/// The caller owns `h`, whose owner state is `l`; `m` is on its partial list.
unsafe fn take_from(h: &Heap, l: &mut HeapLocal, m: *mut SlabMeta, want: u32) -> (*mut Block, u32) {
    let r = slab::take(&mut *m, want);
    if !slab::has_room(&*m) {
        partial_remove(l, m);
    }
    let st = &h.shared.stats;
    let c = (*m).class as usize;
    bump(&st.refills[c], 1);
    bump(&st.refill_blocks[c], r.1 as u64);
    r
}

/// Does class `c` have freed blocks on its first partial slab (a refill would not carve)?
///
/// # Safety
/// The caller owns `h`.
pub unsafe fn has_freed(h: &Heap, c: ClassIdx) -> bool {
    let m = h.local().partial[c];
    !m.is_null() && (*m).free_count > 0
}

/// Give a chain of blocks of this heap (linked through `next`, ending at `end`: null, or a
/// thread's lane end for a chain taken off a lane) back to
/// their slabs; returns how many. Each is counted as flushed from its slab's class (a lane
/// may hold the next class's blocks: the class-borrow box).
///
/// # Safety
/// The caller owns `h`; every block is out of its slab (counted `used`).
pub unsafe fn give_chain(h: &Heap, c: ClassIdx, mut b: *mut Block, end: *mut Block) -> u64 {
    let l = h.local();
    let mut n = 0;
    let st = &h.shared.stats;
    let mut own = 0;
    while b != end {
        let next = (*b).next;
        let ss = ss_of(b as usize);
        let m = superslab::meta_of(ss, b as usize);
        let mc = (*m).class as usize;
        give_to(l, ss, m, b);
        if mc != c {
            bump(&st.flush_blocks[mc], 1);
        } else {
            own += 1;
        }
        b = next;
        n += 1;
    }
    bump(&st.flush_blocks[c], own);
    n
}

/// Give block `b` back to its slab `m` in SuperSlab `ss` (both already looked up).
///
/// # Safety
/// `b` is a block of slab `m` in `ss`, all of `l`'s heap; `b` is out of the slab.
#[inline]
unsafe fn give_to(l: &mut HeapLocal, ss: *mut SuperSlab, m: *mut SlabMeta, b: *mut Block) {
    // A block given back to a slab with nothing out (or to no slab at all) was freed twice.
    if (*m).used == 0 || (*m).kind != UnitKind::Slab {
        crate::msg::fatal("free", "double free detected (block already back in its slab)", b as usize);
    }
    if harden::on() && slab::is_free(&*m, b as usize) {
        crate::msg::fatal("free", "double free detected", b as usize);
    }
    let used = slab::give(&mut *m, b);
    if !(*m).in_partial {
        partial_push(l, m);
    }
    if used == 0 {
        // Keep an empty slab if it is the class's only partial one: a class that
        // oscillates around one slab's worth of blocks should not re-carve each time.
        let c = (*m).class as usize;
        if l.partial[c] == m && (*m).next.is_null() && !l.abandoned {
            return;
        }
        partial_remove(l, m);
        release_units(l, ss, m);
    }
}

// ---- the inbox -------------------------------------------------------------------------

/// Blocks sent to another heap's inbox by threads that have no heap of their own
/// (threads with a heap count in their heap's `remote_sent`).
pub static REMOTE_FREES: AtomicU64 = AtomicU64::new(0);

/// Push the chain `head..=tail` (all of `owner`) onto its inbox with one CAS. Any thread.
/// Returns true when the owner has exited: nobody will drain the inbox, so the caller
/// reclaims the heap now (`lifecycle::heaps::reclaim_one`).
///
/// The state is read after the push. `abandon` marks the heap abandoned before its last
/// drain (a swap of the inbox), so either that drain takes this chain or this read sees
/// the mark: a chain is never stranded.
///
/// # Safety
/// The blocks are live blocks of `owner` that the caller is freeing.
pub unsafe fn remote_push(owner: &Heap, head: *mut Block, tail: *mut Block) -> bool {
    if inbox::push_chain(&owner.shared.inbox, head, tail).is_err() {
        crate::msg::fatal("free", "double free detected (block already sent to its owner)", head as usize);
    }
    owner.state() == HeapState::Abandoned
}

/// Slab-lists box: the remote list of the slab holding address `p` of SuperSlab `ss`.
/// Any thread freeing a live block at `p` may call it: a slab's `head` is written only
/// while none of its blocks is live, like its unit records.
///
/// # Safety
/// `p` lies in a live class slab of `ss`.
#[inline]
pub unsafe fn slab_remote(ss: *mut SuperSlab, p: usize) -> *mut SlabRemote {
    let head = (*ss).slabs[crate::types::unit_of(p)].head as usize;
    ptr::addr_of_mut!((*ss).remote[head])
}

/// Slab-lists box: push block `b` of `owner`'s SuperSlab `ss` onto its slab's remote list
/// (any thread). Returns true when this free queued the slab on the inbox of an owner that
/// has exited: the caller reclaims the heap now, as after `remote_push` (the same
/// handshake: the state is read after the push that queued the node).
///
/// # Safety
/// `b` is a live block start of a class slab of `owner` in `ss`, being freed.
#[inline]
pub unsafe fn slab_push(owner: &Heap, ss: *mut SuperSlab, b: *mut Block) -> bool {
    let r = slab_remote(ss, b as usize);
    match inbox::push_to_slab(&(*r).list, b, &owner.shared.inbox, ptr::addr_of_mut!((*r).node)) {
        Ok(queued) => queued && owner.state() == HeapState::Abandoned,
        Err(_) => {
            crate::msg::fatal("free", "double free detected (block already on its slab's remote list)", b as usize)
        }
    }
}

/// Is this inbox entry a slab's node (slab-lists box), not a block? Nodes lie in the
/// SuperSlab header's unit, where no block does.
#[inline(always)]
pub fn is_slab_node(b: *mut Block) -> bool {
    // `unit_of(b) == 0`, as a mask test: the drain computes the unit's record address from
    // the same bits, and sharing that value cost its loop a register and 4 instructions.
    b as usize & (crate::types::SS_MASK & !(crate::types::UNIT_SIZE - 1)) == 0
}

/// Take the remote list of the slab whose node `node` was just taken off the inbox (its
/// link already read): the slab's meta and its blocks (null-terminated, possibly empty).
///
/// # Safety
/// The caller owns the node's heap, `node` came from its inbox, and the node's link was read.
pub unsafe fn take_slab_list(node: *mut Block) -> (*mut SlabMeta, *mut Block) {
    let ss = ss_of(node as usize);
    let i = (node as usize - ptr::addr_of!((*ss).remote) as usize) / core::mem::size_of::<SlabRemote>();
    let b = inbox::take_slab(&(*ss).remote[i].list);
    crate::boxes::hit(crate::boxes::sw::REMOTE_SLAB_LISTS); // per slab list taken, not per block
    (ptr::addr_of_mut!((*ss).slabs[i]), b)
}

/// Give a chain taken off a slab's remote list (the rest the lanes had no room for) back
/// to the slab, as `give_chain` does (counted per block's class; a list made circular by a
/// block freed twice ends in `give_to`'s "double free" abort, not in an endless walk), and
/// count it drained.
///
/// # Safety
/// The caller owns `h`; `b` is a null-terminated chain of blocks of one class slab of `h`.
pub unsafe fn give_slab_chain(h: &Heap, b: *mut Block) {
    let c = (*superslab::meta_of(ss_of(b as usize), b as usize)).class as usize;
    let n = give_chain(h, c, b, ptr::null_mut());
    bump(&h.shared.stats.remote_drained, n);
}

/// Take the inbox's blocks (owner): the front decides where each goes.
pub fn take_inbox(h: &Heap) -> *mut Block {
    inbox::take_all(&h.shared.inbox)
}

/// A block from the inbox goes back where it came from: its slab, or its large span.
///
/// # Safety
/// The caller owns `h` and `b` came from `h`'s inbox.
pub unsafe fn return_drained(h: &Heap, b: *mut Block) {
    if is_slab_node(b) {
        let (_, chain) = take_slab_list(b);
        if !chain.is_null() {
            give_slab_chain(h, chain);
        }
        return;
    }
    let l = h.local();
    let ss = ss_of(b as usize);
    let m = superslab::meta_of(ss, b as usize);
    if (*m).kind == UnitKind::Large {
        large::release_in(l, ss, m);
        bump(&h.shared.stats.large_frees, 1);
    } else {
        bump(&h.shared.stats.flush_blocks[(*m).class as usize], 1);
        give_to(l, ss, m, b);
    }
    bump(&h.shared.stats.remote_drained, 1);
}

/// Free every block other threads have sent us, back to slabs and spans.
///
/// # Safety
/// The caller owns `h`.
pub unsafe fn drain_inbox(h: &Heap) {
    drain_chain(h, take_inbox(h));
}

/// `drain_inbox` for a heap just marked abandoned: an unconditional swap, so every push is
/// either drained here or sees the mark (see `remote_push`).
///
/// # Safety
/// The caller owns `h`.
pub unsafe fn drain_inbox_final(h: &Heap) {
    drain_chain(h, inbox::take_all_now(&h.shared.inbox));
}

/// # Safety
/// The caller owns `h`; `b` is a chain taken from its inbox.
unsafe fn drain_chain(h: &Heap, mut b: *mut Block) {
    while !b.is_null() {
        let next = (*b).next;
        // Inbox links are plain (any thread pushes): hardened, check one before following it.
        if harden::on() && !next.is_null() && !is_handed_out(h, next as usize) {
            crate::msg::fatal("free", "double free or corrupted inbox (a block freed twice by other threads, or written after its remote free)", b as usize);
        }
        return_drained(h, b);
        b = next;
    }
}

/// Is `p` a block `h` handed out: a carved block start or a large span of a SuperSlab of `h`?
unsafe fn is_handed_out(h: &Heap, p: usize) -> bool {
    if !crate::backend::region::is_superslab(p) || !ptr::eq((*ss_of(p)).owner.load(Ordering::Relaxed), h) {
        return false;
    }
    let m = &*superslab::meta_of(ss_of(p), p);
    match m.kind {
        UnitKind::Slab => slab::is_block_start(m, p),
        UnitKind::Large => m.start == p,
        _ => false,
    }
}

/// Drop every empty slab this heap holds (thread exit, reclaim, trim) and hand its spare
/// SuperSlab back to the backend, so an idle heap does not pin memory.
///
/// # Safety
/// The caller owns `h`.
pub unsafe fn trim(h: &Heap) {
    let l = h.local();
    for c in 0..NCLASS {
        let mut m = l.partial[c];
        while !m.is_null() {
            let next = (*m).next;
            if (*m).used == 0 {
                partial_remove(l, m);
                release_units(l, ss_of((*m).start), m);
            }
            m = next;
        }
    }
    retire_spare(l);
}

/// Verify the heap's invariants (lists ⇔ flags, slab counts); abort with a `hakmem:` line
/// if one fails. Walks every partial slab and SuperSlab: tests and debug builds only.
///
/// # Safety
/// The caller owns `h`.
pub unsafe fn check(h: &Heap) {
    let l = h.local();
    for c in 0..NCLASS {
        let mut prev: *mut SlabMeta = ptr::null_mut();
        let mut m = l.partial[c];
        while !m.is_null() {
            if !(*m).in_partial || (*m).class as usize != c || (*m).prev != prev || (*m).kind != UnitKind::Slab {
                crate::msg::fatal("check", "partial list and slab flags disagree", (*m).start);
            }
            (*m).check();
            prev = m;
            m = (*m).next;
        }
    }
    let mut ss = l.avail;
    while !ss.is_null() {
        if !(*ss).in_avail || (*ss).free_units == 0 || (*ss).owner.load(Ordering::Relaxed) != l.me {
            crate::msg::fatal("check", "avail list and SuperSlab state disagree", ss as usize);
        }
        ss = (*ss).next;
    }
}

/// A new heap's owner state (memory from `lifecycle` is zeroed; `me` is the heap itself).
pub fn init_local(l: &mut HeapLocal, me: *mut Heap) {
    l.partial = [ptr::null_mut(); NCLASS];
    l.avail = ptr::null_mut();
    l.spare = ptr::null_mut();
    l.me = me;
    l.purging = false;
    l.abandoned = false;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{unit_of, UNIT_SIZE};

    /// A fresh heap in its own zeroed mapping (heaps live forever; the test leaks it).
    fn new_heap() -> &'static Heap {
        let p = crate::backend::os::map(core::mem::size_of::<Heap>()) as *mut Heap;
        assert!(!p.is_null());
        // SAFETY: fresh zeroed memory, ours alone.
        unsafe {
            init_local((*p).local(), p);
            &*p
        }
    }

    fn chain_len(mut b: *mut Block) -> u32 {
        let mut n = 0;
        while !b.is_null() {
            n += 1;
            // SAFETY: a chain handed out by take_batch.
            b = unsafe { (*b).next };
        }
        n
    }

    #[test]
    fn batches_go_out_and_come_back_with_the_invariants_kept() {
        let h = new_heap();
        // SAFETY: this thread owns the test heap.
        unsafe {
            let (a, n) = take_batch(h, 3, 40);
            assert_eq!((n, chain_len(a)), (40, 40));
            let (b, m) = take_batch(h, 3, 40);
            assert_eq!(m, 40);
            check(h);
            let slab = superslab::meta_of(ss_of(a as usize), a as usize);
            assert_eq!((*slab).used, 80);
            assert_eq!(give_chain(h, 3, a, ptr::null_mut()), 40);
            check(h);
            assert_eq!(((*slab).used, (*slab).free_count), (40, 40));
            // The next batch comes from the free list before carving more.
            let (c, k) = take_batch(h, 3, 10);
            assert_eq!(k, 10);
            assert_eq!((*slab).carved, 80, "reused freed blocks, carved nothing new");
            give_chain(h, 3, c, ptr::null_mut());
            give_chain(h, 3, b, ptr::null_mut());
            check(h);
            // The only partial slab of a class stays when it empties; trim drops it.
            assert_eq!((*slab).used, 0);
            assert!(!h.local().partial[3].is_null());
            trim(h);
            assert!(h.local().partial[3].is_null());
            assert!(h.local().spare.is_null() && h.local().avail.is_null());
            check(h);
        }
    }

    #[test]
    fn large_spans_take_units_and_give_them_back() {
        let h = new_heap();
        // SAFETY: this thread owns the test heap.
        unsafe {
            let p = large::alloc(h, 200 * 1024);
            assert!(!p.is_null());
            assert_eq!(p as usize % UNIT_SIZE, 0);
            let ss = ss_of(p as usize);
            let m = superslab::meta_of(ss, p as usize);
            assert_eq!(((*m).kind, (*m).units), (UnitKind::Large, 4));
            let q = large::alloc(h, crate::types::LARGE_MAX);
            assert!(!q.is_null());
            assert_eq!(ss_of(q as usize), ss, "15 + 4 units fit one SuperSlab");
            large::release(h, ss, m);
            assert_eq!((*ss).slabs[unit_of(p as usize)].kind, UnitKind::Free);
            large::release(h, ss, superslab::meta_of(ss, q as usize));
            check(h);
            assert_eq!(h.local().spare, ss, "an emptied SuperSlab becomes the spare");
            trim(h);
        }
    }

    #[test]
    fn a_block_given_back_twice_is_caught_by_the_slab_count() {
        // (the check runs in give_to; here only the count it relies on)
        let h = new_heap();
        // SAFETY: this thread owns the test heap.
        unsafe {
            let (a, n) = take_batch(h, 0, 1);
            assert_eq!(n, 1);
            let m = superslab::meta_of(ss_of(a as usize), a as usize);
            assert_eq!((*m).used, 1);
            (*a).next = ptr::null_mut();
            give_chain(h, 0, a, ptr::null_mut());
            assert_eq!((*m).used, 0, "a second give would find used == 0 and abort");
            trim(h);
        }
    }
}
