//! Hardened box: extra checks on every free.
//!
//! Switch: `HAKMEM_HARDEN=0|1` (both profiles 0).
//! Acts at: the slow free paths (`front::fastlane::free_slow`) and the FastLane flush:
//! a freed pointer must be a block start of its slab's class, and a block must not be
//! freed while already free in its slab.

use core::sync::atomic::AtomicU64;

pub static HITS: AtomicU64 = AtomicU64::new(0);
