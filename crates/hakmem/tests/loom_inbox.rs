//! Model checking of the heap inbox (the lock-free stack other threads push freed blocks
//! onto) with loom: the very source file `src/heap/inbox.rs` is compiled here against
//! loom's atomics, and loom runs every interleaving of the threads below (bounded by its
//! preemption bound). Run with `make loom` (RUSTFLAGS="--cfg loom").
//!
//! Checked: no block pushed is lost or received twice, whatever the interleaving of chain
//! pushes and the owner's takes; and the abandonment hand-off (an owner that drains, marks
//! its heap abandoned and drains once more with an unconditional swap, racing a remote free
//! that pushes and then reclaims if it sees the heap abandoned) never strands a block: every
//! block is drained exactly once by the owner or the reclaimer, and the abandoned heap's
//! inbox is empty when both are done, with no adopter needed.
//!
//! The slab-lists box's protocol is checked the same way (`inbox::push_to_slab`,
//! `inbox::take_slab`): remote frees push onto a slab's own list and queue the slab's node on
//! the inbox when the list was empty; the owner drains the inbox, reads each node's link, then
//! takes the slab's list. No block is lost or taken twice, the node is never queued twice,
//! and the abandonment hand-off strands nothing.
#![cfg(loom)]

use loom::sync::atomic::{AtomicU8, Ordering};
use loom::sync::{Arc, Mutex};
use loom::thread;

mod sync {
    pub use loom::sync::atomic::{AtomicPtr, Ordering};
}

mod types {
    /// The inbox's view of a block: its first word links to the next.
    #[repr(C)]
    pub struct Block {
        pub next: *mut Block,
    }
}

#[path = "../src/heap/inbox.rs"]
#[allow(dead_code)]
mod inbox;

use types::Block;

/// A block whose address we can send between loom threads.
#[derive(Clone, Copy)]
struct P(*mut Block);
// SAFETY: the blocks are leaked boxes that outlive the model; ownership moves through the
// inbox exactly as in the allocator.
unsafe impl Send for P {}
unsafe impl Sync for P {}

fn blocks(n: usize) -> Vec<P> {
    (0..n).map(|_| P(Box::into_raw(Box::new(Block { next: std::ptr::null_mut() })))).collect()
}

/// Walk a taken chain into a list of addresses.
fn collect(mut b: *mut Block, out: &mut Vec<usize>) {
    while !b.is_null() {
        out.push(b as usize);
        // SAFETY: every block on a taken chain is one of ours, linked by push_chain.
        b = unsafe { (*b).next };
    }
}

fn chain(bs: &[P]) -> (*mut Block, *mut Block) {
    for w in bs.windows(2) {
        // SAFETY: our own blocks, not yet shared.
        unsafe { (*w[0].0).next = w[1].0 };
    }
    (bs[0].0, bs[bs.len() - 1].0)
}

#[test]
fn pushes_and_takes_lose_and_duplicate_nothing() {
    loom::model(|| {
        let inbox = Arc::new(sync::AtomicPtr::new(std::ptr::null_mut()));
        let all = blocks(3);
        let (a, b) = (vec![all[0], all[1]], vec![all[2]]);
        let producers: Vec<_> = [a, b]
            .into_iter()
            .map(|bs| {
                let inbox = inbox.clone();
                thread::spawn(move || {
                    let (h, t) = chain(&bs);
                    // SAFETY: a well-formed chain of blocks nobody else holds.
                    unsafe { inbox::push_chain(&inbox, h, t).unwrap() };
                })
            })
            .collect();
        let mut got = Vec::new();
        collect(inbox::take_all(&inbox), &mut got); // the owner, concurrently
        for p in producers {
            p.join().unwrap();
        }
        collect(inbox::take_all(&inbox), &mut got);
        got.sort();
        let mut want: Vec<usize> = all.iter().map(|p| p.0 as usize).collect();
        want.sort();
        assert_eq!(got, want, "every pushed block is taken exactly once");
    });
}

#[test]
fn a_block_freed_while_the_owner_leaves_is_never_stranded() {
    const ACTIVE: u8 = 0;
    const ABANDONED: u8 = 1;
    loom::model(|| {
        let inbox = Arc::new(sync::AtomicPtr::new(std::ptr::null_mut()));
        // The heap's state, with the orderings of `types::Heap::{set_state, state}`
        // (a release store, an acquire load).
        let state = Arc::new(AtomicU8::new(ACTIVE));
        let pool = Arc::new(Mutex::new(())); // the heap-pool lock: its holder owns abandoned heaps
        let drained = Arc::new(Mutex::new(Vec::new()));
        let b = blocks(1)[0];

        // The owner exits (`lifecycle::heaps::abandon`): a drain, then under the pool lock
        // the mark and a last drain with an unconditional swap.
        let owner = {
            let (inbox, state, pool, drained) = (inbox.clone(), state.clone(), pool.clone(), drained.clone());
            thread::spawn(move || {
                let mut d = Vec::new();
                collect(inbox::take_all(&inbox), &mut d);
                let _g = pool.lock().unwrap();
                state.store(ABANDONED, Ordering::Release);
                collect(inbox::take_all_now(&inbox), &mut d);
                drained.lock().unwrap().extend(d);
            })
        };
        // A remote free (`heap::remote_push`, then `heaps::reclaim_one` when the owner is
        // gone): push, read the state, drain under the pool lock if abandoned.
        let remote = {
            let (inbox, state, pool, drained) = (inbox.clone(), state.clone(), pool.clone(), drained.clone());
            thread::spawn(move || {
                // SAFETY: one block, ours to give.
                unsafe { inbox::push_chain(&inbox, b.0, b.0).unwrap() };
                if state.load(Ordering::Acquire) == ABANDONED {
                    let _g = pool.lock().unwrap();
                    let mut d = Vec::new();
                    collect(inbox::take_all(&inbox), &mut d);
                    drained.lock().unwrap().extend(d);
                }
            })
        };
        owner.join().unwrap();
        remote.join().unwrap();
        // Nobody adopts the heap: the block must already be drained, exactly once, and the
        // abandoned heap's inbox empty.
        assert!(inbox.load(Ordering::Relaxed).is_null(), "a block was stranded in an abandoned heap's inbox");
        assert_eq!(*drained.lock().unwrap(), vec![b.0 as usize], "the block is drained exactly once");
    });
}

#[test]
fn a_double_push_of_the_top_block_is_refused() {
    loom::model(|| {
        let inbox = sync::AtomicPtr::new(std::ptr::null_mut());
        let b = blocks(1)[0];
        // SAFETY: our block.
        unsafe {
            inbox::push_chain(&inbox, b.0, b.0).unwrap();
            assert_eq!(inbox::push_chain(&inbox, b.0, b.0), Err(inbox::AlreadyOnTop));
        }
    });
}

/// A slab's remote list and its node, as `types::SlabRemote` lays them out (the node is a
/// block-like word the inbox links through).
struct Slab {
    node: P,
    list: sync::AtomicPtr<Block>,
}

/// Drain `inbox` as `front::refill::drain_inbox_to_lanes` does with the slab-lists box: read
/// each entry's link first, then take the node's slab list. Every entry must be a node of
/// `slabs`, and no node may appear twice in one chain (a node queued again while queued
/// would make the chain repeat or loop: the walk is bounded).
fn drain_slabs(first: *mut Block, slabs: &[&Slab], out: &mut Vec<usize>) {
    let mut seen = Vec::new();
    let mut e = first;
    while !e.is_null() {
        assert!(!seen.contains(&(e as usize)), "a slab's node was queued twice");
        seen.push(e as usize);
        let slab = slabs.iter().find(|s| s.node.0 == e).expect("only slab nodes are queued");
        // SAFETY: the node is ours; its link was written by the push that queued it.
        let next = unsafe { (*e).next };
        collect(inbox::take_slab(&slab.list), out);
        e = next;
    }
}

fn new_slab() -> Arc<Slab> {
    Arc::new(Slab { node: blocks(1)[0], list: sync::AtomicPtr::new(std::ptr::null_mut()) })
}

#[test]
fn slab_list_frees_reach_the_owner_once_and_a_node_is_queued_once() {
    loom::model(|| {
        let inbox = Arc::new(sync::AtomicPtr::new(std::ptr::null_mut()));
        let (a, b) = (new_slab(), new_slab());
        let all = blocks(4);
        // Two threads free two blocks each, one into slab a, one into slab b: a node can be
        // queued again, on top of the other slab's, while a drain is at it.
        let work = [(a.clone(), vec![all[0], all[1]]), (b.clone(), vec![all[2], all[3]])];
        let freers: Vec<_> = work
            .into_iter()
            .map(|(slab, bs)| {
                let inbox = inbox.clone();
                thread::spawn(move || {
                    for p in bs {
                        // SAFETY: a block of the slab, ours to free.
                        unsafe { inbox::push_to_slab(&slab.list, p.0, &inbox, slab.node.0).unwrap() };
                    }
                })
            })
            .collect();
        let mut got = Vec::new();
        drain_slabs(inbox::take_all(&inbox), &[&a, &b], &mut got); // the owner, concurrently
        for f in freers {
            f.join().unwrap();
        }
        drain_slabs(inbox::take_all(&inbox), &[&a, &b], &mut got);
        for s in [&a, &b] {
            assert!(
                s.list.load(Ordering::Relaxed).is_null(),
                "a freed block was left on a slab list with no node queued"
            );
        }
        got.sort();
        let mut want: Vec<usize> = all.iter().map(|p| p.0 as usize).collect();
        want.sort();
        assert_eq!(got, want, "every freed block is taken exactly once");
    });
}

#[test]
fn a_slab_list_free_while_the_owner_leaves_is_never_stranded() {
    const ACTIVE: u8 = 0;
    const ABANDONED: u8 = 1;
    loom::model(|| {
        let inbox = Arc::new(sync::AtomicPtr::new(std::ptr::null_mut()));
        let slab = new_slab();
        let state = Arc::new(AtomicU8::new(ACTIVE));
        let pool = Arc::new(Mutex::new(()));
        let drained = Arc::new(Mutex::new(Vec::new()));
        let b = blocks(1)[0];

        // The owner exits: a drain, then under the pool lock the mark and a last drain with
        // an unconditional swap (`lifecycle::heaps::abandon`).
        let owner = {
            let (inbox, slab, state, pool, drained) =
                (inbox.clone(), slab.clone(), state.clone(), pool.clone(), drained.clone());
            thread::spawn(move || {
                let mut d = Vec::new();
                drain_slabs(inbox::take_all(&inbox), &[&slab], &mut d);
                let _g = pool.lock().unwrap();
                state.store(ABANDONED, Ordering::Release);
                drain_slabs(inbox::take_all_now(&inbox), &[&slab], &mut d);
                drained.lock().unwrap().extend(d);
            })
        };
        // A remote free (`heap::slab_push`, then `heaps::reclaim_one` when the push queued the
        // node and the owner is gone).
        let remote = {
            let (inbox, slab, state, pool, drained) =
                (inbox.clone(), slab.clone(), state.clone(), pool.clone(), drained.clone());
            thread::spawn(move || {
                // SAFETY: one block of the slab, ours to free.
                let queued = unsafe { inbox::push_to_slab(&slab.list, b.0, &inbox, slab.node.0).unwrap() };
                if queued && state.load(Ordering::Acquire) == ABANDONED {
                    let _g = pool.lock().unwrap();
                    let mut d = Vec::new();
                    drain_slabs(inbox::take_all(&inbox), &[&slab], &mut d);
                    drained.lock().unwrap().extend(d);
                }
            })
        };
        owner.join().unwrap();
        remote.join().unwrap();
        assert!(inbox.load(Ordering::Relaxed).is_null(), "a node was stranded in an abandoned heap's inbox");
        assert!(slab.list.load(Ordering::Relaxed).is_null(), "a block was stranded on an abandoned heap's slab list");
        assert_eq!(*drained.lock().unwrap(), vec![b.0 as usize], "the block is drained exactly once");
    });
}
