//! Cross-thread frees: the thread's remote queue (remote-batch box). A thread freeing
//! blocks of another heap chains consecutive ones with the same owner and pushes the chain
//! onto the owner's inbox with one CAS when the owner changes, the queue reaches its cap,
//! the thread misses a lane, or it exits (snmalloc batches its messages the same way).
//! The only writer of `ThreadBlock::rq` (see `types::RemoteQueue`).

use crate::boxes::{self, sw};
use crate::heap;
use crate::lifecycle::heaps;
use crate::types::{bump, Block, Heap, RemoteQueue, SuperSlab, ThreadBlock, AHEAD};
use core::ptr;

/// Queue block `b` of heap `owner` (or send it at once when the thread has no queue).
///
/// # Safety
/// `tb` is the calling thread's block; `b` is a live block of `owner` being freed.
#[inline]
pub unsafe fn enqueue(tb: *mut ThreadBlock, owner: *mut Heap, b: *mut Block) {
    let rq = &mut (*tb).rq;
    // Without a heap this thread has no exit hook to flush a queue with: send directly.
    if rq.cap <= 1 || (*tb).heap.is_null() {
        heap::REMOTE_FREES.fetch_add(1, crate::sync::Ordering::Relaxed);
        (*b).next = ptr::null_mut();
        send(owner, b, b, 1);
        return;
    }
    if rq.owner != owner {
        flush(tb);
        let rq = &mut (*tb).rq;
        rq.owner = owner;
        rq.tail = b;
        (*b).next = ptr::null_mut();
        note_ahead(rq, b, 0);
        rq.head = b;
        rq.len = 1;
        return;
    }
    push_same_owner(tb, b);
}

/// Push onto the open queue, whose owner is `b`'s (the common remote free).
///
/// # Safety
/// As `enqueue`, with `(*tb).rq.owner` the owner of `b`.
#[inline(always)]
pub unsafe fn push_same_owner(tb: *mut ThreadBlock, b: *mut Block) {
    let rq = &mut (*tb).rq;
    // Every field read before the block is written: the compiler cannot tell the block
    // from the queue, and read them again after each store.
    let (head, len, cap) = (rq.head, rq.len, rq.cap);
    if head == b {
        crate::msg::fatal("free", "double free detected (block already queued for its owner)", b as usize);
    }
    (*b).next = head;
    note_ahead(rq, b, len);
    rq.head = b;
    let len = len.wrapping_add(1); // below cap (at most 4096): never wraps
    rq.len = len;
    if len >= cap {
        flush_full(tb);
    }
}

/// `flush` for a full queue, out of line: inlined, its empty-queue test merged into the
/// push's cap compare (two more instructions on every remote free).
///
/// # Safety
/// As `flush`.
#[inline(never)]
unsafe fn flush_full(tb: *mut ThreadBlock) {
    flush(tb)
}

/// Remote-prefetch box: `b`, about to be queued as block `len` (the queue's length before
/// it), names in its second word the block queued `AHEAD` before it, which lies `AHEAD`
/// links further down the chain.
///
/// # Safety
/// `b` is a block of at least 16 bytes that the caller is freeing.
#[inline(always)]
unsafe fn note_ahead(rq: &mut RemoteQueue, b: *mut Block, len: u32) {
    if rq.prefetch {
        let slot = &mut rq.ahead[len as usize % AHEAD];
        let hint = *slot;
        *slot = b;
        *(b as *mut *mut Block).add(1) = hint;
    }
}

/// Slab-lists box: free `b`, a small block of another heap `owner` in SuperSlab `ss`, onto
/// its slab's remote list; the free that finds the list empty queues the slab on the
/// owner's inbox (and reclaims the owner's heap if it has exited, as `send` does).
///
/// # Safety
/// `tb` is the calling thread's block; `b` is a live block start of a class slab of
/// `owner` (not this thread's heap) in the live SuperSlab `ss`. Out of line: inlined, it
/// made `free_other` save six registers on every remote free, queued or not.
#[inline(never)]
pub unsafe fn slab_free(tb: *mut ThreadBlock, ss: *mut SuperSlab, owner: *mut Heap, b: *mut Block) {
    // With the remote-prefetch box, the block names the one this thread freed AHEAD frees
    // before (most likely on a list the same drain takes), for the drain to prefetch.
    let rq = &mut (*tb).rq;
    let seq = rq.seq;
    rq.seq = seq.wrapping_add(1);
    note_ahead(rq, b, seq);
    if heap::slab_push(&*owner, ss, b) {
        heaps::reclaim_one(owner);
    }
    if !(*tb).heap.is_null() {
        bump(&(*(*tb).heap).shared.stats.remote_sent, 1);
    }
}

/// Send the queue to its owner's inbox.
///
/// # Safety
/// `tb` is the calling thread's block.
pub unsafe fn flush(tb: *mut ThreadBlock) {
    let rq = &mut (*tb).rq;
    if rq.len == 0 {
        return;
    }
    // Counted per batch, not per block: a shared counter must stay off per-free paths.
    boxes::hit(sw::REMOTE_BATCH);
    let (owner, head, tail, n) = (rq.owner, rq.head, rq.tail, rq.len as u64);
    rq.owner = ptr::null_mut();
    rq.head = ptr::null_mut();
    rq.tail = ptr::null_mut();
    rq.len = 0;
    if !(*tb).heap.is_null() {
        bump(&(*(*tb).heap).shared.stats.remote_sent, n);
    }
    send(owner, head, tail, n);
}

/// Push a chain onto `owner`'s inbox; when the owner has exited, reclaim its heap now, so
/// memory freed into it goes back without waiting for a new thread to adopt it.
///
/// # Safety
/// `head..=tail` is a chain of live blocks of `owner` that the caller is freeing.
unsafe fn send(owner: *mut Heap, head: *mut Block, tail: *mut Block, _n: u64) {
    if heap::remote_push(&*owner, head, tail) {
        heaps::reclaim_one(owner);
    }
}
