//! Release-policy box (seed: `ss_release_policy_box`): when empty SuperSlabs go back
//! to the OS.
//!
//! Switches: `HAKMEM_SS_RELEASE_POLICY=0|1` (both profiles 1),
//! `HAKMEM_SS_RELEASE_HYSTERESIS_MB=N` (speed 8, balanced 4).
//! With the policy on, the pool may grow past its cap by the hysteresis before it is
//! trimmed, and is then trimmed back to the cap, so a workload oscillating around the
//! cap pays one munmap per hysteresis-worth of churn instead of one per SuperSlab.
//! Off: the pool is trimmed to its cap at every insert.

use super::{hit, mem_lean, sw};
use crate::config::tuning;
use crate::types::SS_SIZE;

/// How many SuperSlabs the pool keeps after an insert brought it to `count`.
pub fn keep_after_insert(count: usize) -> usize {
    let cap = mem_lean::pool_cap_bytes() / SS_SIZE;
    let t = tuning();
    if t.on(sw::SS_RELEASE_POLICY) {
        let high = cap + t.mb(sw::SS_RELEASE_HYSTERESIS_MB) / SS_SIZE;
        if count > high {
            hit(sw::SS_RELEASE_POLICY);
            cap
        } else {
            count
        }
    } else {
        count.min(cap)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn hysteresis_trims_only_past_the_high_mark() {
        // default tuning: lean, 10 MB target (5 SuperSlabs), 4 MB hysteresis (2 more)
        assert_eq!(super::keep_after_insert(5), 5);
        assert_eq!(super::keep_after_insert(7), 7);
        assert_eq!(super::keep_after_insert(8), 5);
    }
}
