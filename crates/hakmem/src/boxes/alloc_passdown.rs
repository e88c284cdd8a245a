//! Alloc pass-down box (seed: `alloc_passdown_ssot_env_box`, Phase 60).
//!
//! Switch: `HAKMEM_ALLOC_PASSDOWN_SSOT=0|1` (both profiles 0).
//! Acts at: `front::fastlane::malloc_miss`. On, the route computed at malloc's entry
//! (class, thread block, heap) is passed down into the refill. Off, the refill path
//! derives them again from the request size (as the seed's code did before Phase 60).
//! Verdict: see docs/ab-log.md.

use core::sync::atomic::AtomicU64;

pub static HITS: AtomicU64 = AtomicU64::new(0);
