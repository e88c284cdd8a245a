//! Purge box: how many empty SuperSlabs the warm pool keeps committed.
//!
//! Switches: `HAKMEM_SS_PURGE=0|1` (both profiles 1), `HAKMEM_SS_PURGE_FLOOR_MB=N` (speed 48,
//! balanced 0), `HAKMEM_SS_PURGE_WINDOW_MS=N` (1000).
//! Acts at: `warm_pool::release` (keep the chunk committed, or decommit it now).
//!
//! The rule is demand, not a count cap: the pool remembers the largest *draw* (the most
//! chunks taken from it below its latest high mark) in the current window and in the one
//! before, and keeps that many committed, plus the floor. A working set that swings by k
//! SuperSlabs keeps k warm and makes no syscall in steady state; a burst that is freed
//! and not taken again (no draw) is decommitted as it comes back, so the memory is given
//! back within the free itself, with no clock, no background thread and no idle call. Chunks
//! over the keep are decommitted whole (`MADV_DONTNEED`) but stay mapped (the pool's cold
//! list), so reusing one costs page faults, not an mmap.
//! With the switch off, the lean and release-policy boxes' count cap applies.

use super::{hit, sw};
use crate::config::tuning;
use crate::types::SS_SIZE;

/// Is the purge box on?
#[inline]
pub fn on() -> bool {
    tuning().on(sw::SS_PURGE)
}

/// Window length in milliseconds.
pub fn window_ms() -> u64 {
    tuning().get(sw::SS_PURGE_WINDOW_MS) as u64
}

/// The demand record of the pool (owned by the warm pool, under its lock).
#[derive(Clone, Copy, Debug, Default)]
pub struct Demand {
    /// Start of the current window (ms, monotonic).
    start: u64,
    /// Highest number of pooled chunks since the window began or since the last draw.
    high: usize,
    /// Largest draw of this window and of the previous one.
    draw: usize,
    draw_prev: usize,
}

impl Demand {
    pub const NEW: Demand = Demand { start: 0, high: 0, draw: 0, draw_prev: 0 };

    /// Begin a new window when the current one is over (`now` in ms).
    pub fn roll(&mut self, now: u64, pooled: usize) {
        let w = window_ms();
        if now.wrapping_sub(self.start) >= w {
            // Two or more windows without any pool operation: the old draw is stale too.
            self.draw_prev = if now.wrapping_sub(self.start) >= 2 * w { 0 } else { self.draw };
            self.draw = 0;
            self.high = pooled;
            self.start = now;
        }
    }

    /// The pool now holds `pooled` chunks after a release.
    pub fn on_release(&mut self, pooled: usize) {
        self.high = self.high.max(pooled);
    }

    /// The pool now holds `pooled` chunks after a take.
    pub fn on_take(&mut self, pooled: usize) {
        self.draw = self.draw.max(self.high.saturating_sub(pooled));
    }

    /// How many chunks to keep committed.
    pub fn keep(&self) -> usize {
        tuning().mb(sw::SS_PURGE_FLOOR_MB) / SS_SIZE + self.draw.max(self.draw_prev)
    }
}

/// Count one chunk decommitted by the box.
pub fn decommitted() {
    hit(sw::SS_PURGE);
}

#[cfg(test)]
mod tests {
    use super::Demand;

    #[test]
    fn a_burst_that_is_not_taken_again_keeps_nothing() {
        // default tuning: balanced, floor 0, window 1000 ms
        let mut d = Demand::NEW;
        d.roll(5000, 0);
        for n in 1..=150 {
            d.on_release(n);
            assert_eq!(d.keep(), 0, "no draw yet: every released chunk is decommitted");
        }
    }

    #[test]
    fn a_swinging_working_set_keeps_its_swing_for_two_windows() {
        let mut d = Demand::NEW;
        d.roll(5000, 0);
        // The pool fills to 6, then 4 are taken back, twice.
        for _ in 0..2 {
            for n in 3..=6 {
                d.on_release(n);
            }
            for n in (2..=5).rev() {
                d.on_take(n);
            }
        }
        assert_eq!(d.keep(), 4);
        d.roll(6000, 2); // next window: remembered
        assert_eq!(d.keep(), 4);
        d.roll(7000, 2); // after a window without a draw: forgotten
        assert_eq!(d.keep(), 0);
        d.on_take(1);
        assert_eq!(d.keep(), 1);
        d.roll(9500, 1); // more than two windows idle: forgotten
        assert_eq!(d.keep(), 0);
    }
}
