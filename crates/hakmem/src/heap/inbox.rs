//! A heap's inbox: a lock-free stack of blocks that other threads freed, many producers,
//! one consumer (the heap's owner). Producers push a whole chain with one CAS; the owner
//! takes everything with one swap. The blocks' first word is the link.
//!
//! This file depends only on `crate::sync` and `crate::types::Block`, so the model
//! checker test (`tests/loom_inbox.rs`, run with `RUSTFLAGS="--cfg loom"`) compiles this
//! very file against loom's atomics and explores every interleaving of pushes and takes.

use crate::sync::{AtomicPtr, Ordering};
use crate::types::Block;

/// A push found `head` already on top of the inbox: the same block was freed twice.
#[derive(Debug, PartialEq, Eq)]
pub struct AlreadyOnTop;

/// Push the chain `head..=tail` (linked through `next`) onto `inbox` with one CAS; returns
/// what was on top before (null: the stack was empty).
///
/// # Safety
/// The chain is well formed, its blocks belong to the inbox's heap, and nobody else
/// touches them until the owner takes them.
pub unsafe fn push_chain(
    inbox: &AtomicPtr<Block>,
    head: *mut Block,
    tail: *mut Block,
) -> Result<*mut Block, AlreadyOnTop> {
    let mut cur = inbox.load(Ordering::Relaxed);
    loop {
        if cur == head {
            return Err(AlreadyOnTop);
        }
        (*tail).next = cur;
        // Release publishes the chain to the taker; acquire makes a state written before
        // a taker's swap that this CAS follows visible to the pusher (see `take_all_now`).
        match inbox.compare_exchange_weak(cur, head, Ordering::AcqRel, Ordering::Relaxed) {
            Ok(_) => return Ok(cur),
            Err(h) => cur = h,
        }
    }
}

/// Take every block pushed so far (the owner, or the heap-pool lock holder for an
/// abandoned heap); null when empty.
pub fn take_all(inbox: &AtomicPtr<Block>) -> *mut Block {
    if inbox.load(Ordering::Relaxed).is_null() {
        return core::ptr::null_mut();
    }
    inbox.swap(core::ptr::null_mut(), Ordering::Acquire)
}

/// Take every block pushed so far with an unconditional swap (no empty check). Whatever
/// the taker wrote before this call is visible to every pusher whose CAS comes after the
/// swap, and every push before it is taken: the handshake `lifecycle::heaps::abandon`
/// relies on (its state mark, then this).
pub fn take_all_now(inbox: &AtomicPtr<Block>) -> *mut Block {
    inbox.swap(core::ptr::null_mut(), Ordering::AcqRel)
}

// ---- per-slab remote lists (slab-lists box) ---------------------------------------------
//
// With the slab-lists box a remote free pushes its block onto the block's slab's own list
// (mimalloc's per-page thread-free list), not onto a per-owner queue. The owner learns of a
// slab with pending frees through its inbox: the free that finds the slab's list empty
// pushes the slab's node (a word in the SuperSlab header, linked like a block) onto the
// inbox. So a slab's node is on the inbox at most once, exactly while its list is not
// empty and no drain has taken it: the drain takes the node off the inbox first, reads its
// link, and only then empties the list; a free that finds the list empty after that queues
// the node again.

/// Push block `b` onto a slab's remote list `list`; when the list was empty, queue the
/// slab's `node` on the owner's `inbox`. Returns whether the node was queued (the caller
/// then checks the owner's state, as after `push_chain`).
///
/// # Safety
/// `b` is a live block of the slab being freed, `node` the slab's node, and `list` / `inbox`
/// the slab's list and its owner heap's inbox.
pub unsafe fn push_to_slab(
    list: &AtomicPtr<Block>,
    b: *mut Block,
    inbox: &AtomicPtr<Block>,
    node: *mut Block,
) -> Result<bool, AlreadyOnTop> {
    // The list is a stack like the inbox, pushed the same way: the acquire of the CAS orders
    // this push after a take that emptied the list, so the taker's read of the node's link
    // (before its take) is done before this thread writes the link again (below).
    if !push_chain(list, b, b)?.is_null() {
        return Ok(false); // the node is queued already, or being drained before its take
    }
    push_chain(inbox, node, node).map(|_| true)
}

/// Take a slab's whole remote list (the owner, after taking the slab's node off its inbox
/// and reading the node's link); null when empty.
pub fn take_slab(list: &AtomicPtr<Block>) -> *mut Block {
    list.swap(core::ptr::null_mut(), Ordering::AcqRel)
}
