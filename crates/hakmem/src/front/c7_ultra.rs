//! The C7 (1 KiB class) short path, behind `HAKMEM_C7_ULTRA` (see `boxes::c7_ultra`).
//!
//! Every class already has a headerless FastLane hit path, so C7's "own short path" is
//! a deeper lane: with the box on, C7 keeps four times as many blocks before flushing
//! and refills in batches four times larger, so more of its traffic stays on the hit
//! path. It costs nothing on the hit path itself: only refill and flush read it.

use super::fastlane::LIMIT;
use crate::config::tuning;
use crate::size_class::ClassIdx;

/// FastLane limit of class `c`.
#[inline]
pub fn limit(c: ClassIdx) -> u32 {
    if c == 7 && tuning().c7_ultra {
        LIMIT[7] * 4
    } else {
        LIMIT[c]
    }
}
