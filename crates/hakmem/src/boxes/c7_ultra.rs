//! C7 ultra box: the 1 KiB class's own short path.
//!
//! Switch: `HAKMEM_C7_ULTRA=0|1` (both profiles 0 until its A/B says otherwise).
//! Acts at: `front::c7_ultra`, consulted at malloc entry: sizes 769..=1024 go straight
//! to class C7 with one range check instead of the size-class table load.
//! Verdict: see docs/ab-log.md.

use core::sync::atomic::AtomicU64;

pub static HITS: AtomicU64 = AtomicU64::new(0);
