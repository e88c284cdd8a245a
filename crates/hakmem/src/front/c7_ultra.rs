//! The C7 (1 KiB class) short path, behind `HAKMEM_C7_ULTRA` (see `boxes::c7_ultra`).
//!
//! Every class already has a headerless FastLane hit path, so C7's "own short path" is
//! a deeper lane: with the box on, C7 keeps four times as many blocks before flushing
//! and refills in batches four times larger, so more of its traffic stays on the hit
//! path. It costs nothing on the hit path itself: only refill and flush read limits.

use crate::size_class::NCLASS;

/// The box's single point of action: C7's lane limit at start-up.
pub fn adjust_limits(limits: &mut [u32; NCLASS], c7_ultra: bool) {
    if c7_ultra {
        limits[7] *= 4;
    }
}
