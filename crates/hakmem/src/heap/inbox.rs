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

/// Push the chain `head..=tail` (linked through `next`) onto `inbox` with one CAS.
///
/// # Safety
/// The chain is well formed, its blocks belong to the inbox's heap, and nobody else
/// touches them until the owner takes them.
pub unsafe fn push_chain(inbox: &AtomicPtr<Block>, head: *mut Block, tail: *mut Block) -> Result<(), AlreadyOnTop> {
    let mut cur = inbox.load(Ordering::Relaxed);
    loop {
        if cur == head {
            return Err(AlreadyOnTop);
        }
        (*tail).next = cur;
        // Release publishes the chain to the taker; acquire makes a state written before
        // a taker's swap that this CAS follows visible to the pusher (see `take_all_now`).
        match inbox.compare_exchange_weak(cur, head, Ordering::AcqRel, Ordering::Relaxed) {
            Ok(_) => return Ok(()),
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
