//! FastLane-budget box: how many bytes each class's lane may hold.
//!
//! Switch: `HAKMEM_FASTLANE_KB=N` (speed 64, balanced 32).
//! Acts at: `front::fastlane::init_limits` (the limit table built at start-up); refills
//! count as hits while the budget differs from the 64 KiB baseline.
//! A/B on random-mixed (docs/ab-log.md): 32 vs 64 KiB is −1.5% ops/s and +1.2%
//! instructions (NO-GO for speed) for −1.6% peak RSS, so only balanced, whose job is
//! memory, takes it.

use core::sync::atomic::AtomicU64;

pub static HITS: AtomicU64 = AtomicU64::new(0);
