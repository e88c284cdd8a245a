//! Remote-batch box: cross-thread frees queued per owner, sent with one CAS.
//!
//! Switch: `HAKMEM_REMOTE_BATCH=N` (both profiles 32; 0 or 1 sends every block at once).
//! Acts at: `front::fastlane::remote_enqueue`. A thread freeing blocks of another heap
//! chains consecutive ones with the same owner in its thread block and pushes the chain
//! onto the owner's inbox when the owner changes, the queue reaches N, the thread
//! misses its FastLane, or it exits (snmalloc batches its remote messages the same way).
//! Saves N-1 contended CASes per N remote frees; costs up to N blocks held back per thread.
//! A double free is still caught when the block is the queue's head. Hits count batches sent.

use core::sync::atomic::AtomicU64;

pub static HITS: AtomicU64 = AtomicU64::new(0);
