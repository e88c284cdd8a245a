//! Boxes: every feature or experiment behind one `HAKMEM_*` switch (see `config::SWITCHES`),
//! read once at start-up, reversible, changing behaviour at one point. Each file names its
//! switch, its default per profile, where it acts, and its verdict (docs/boxes.md has the table).
//!
//! Each box counts how often its code ran (`hits`), so an A/B can prove the switched
//! code was on the measured path.

pub mod alloc_passdown;
pub mod c7_ultra;
pub mod fastlane_budget;
pub mod harden;
pub mod huge_cache;
pub mod mem_lean;
pub mod release_policy;
pub mod remote_batch;

use core::sync::atomic::AtomicU64;

/// Hit counters, by switch name, reported as `hakmem: box NAME hits N`.
pub static HITS: [(&str, &AtomicU64); 8] = [
    ("HAKMEM_SS_MEM_LEAN", &mem_lean::HITS),
    ("HAKMEM_SS_RELEASE_POLICY", &release_policy::HITS),
    ("HAKMEM_ALLOC_PASSDOWN_SSOT", &alloc_passdown::HITS),
    ("HAKMEM_C7_ULTRA", &c7_ultra::HITS),
    ("HAKMEM_HUGE_CACHE_MB", &huge_cache::HITS),
    ("HAKMEM_HARDEN", &harden::HITS),
    ("HAKMEM_REMOTE_BATCH", &remote_batch::HITS),
    ("HAKMEM_FASTLANE_KB", &fastlane_budget::HITS),
];
