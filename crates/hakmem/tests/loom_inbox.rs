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
