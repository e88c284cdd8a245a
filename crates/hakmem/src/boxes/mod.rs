//! Boxes: every feature or experiment behind one `HAKMEM_*` switch, read once at start-up,
//! reversible, acting at one point, with a hit counter so an A/B can prove the switched
//! code ran (`hakmem: box NAME hits N` in the stats report).
//!
//! **The table below is the only list of switches.** A new box is one line here (index,
//! name, accepted values, speed and balanced defaults, meaning) plus its acting code, which
//! reads `tuning().get(sw::NAME)` / `tuning().on(sw::NAME)` and calls `boxes::hit(sw::NAME)`.
//! Parsing, defaults per profile, `hakmem config -v`, unknown-name detection and the hit
//! report all come from the table. Boxes with more than a switch and a counter have a file
//! here (`harden`, `mem_lean`, `release_policy`); docs/boxes.md records each verdict.

pub mod harden;
pub mod mem_lean;
pub mod purge;
pub mod release_policy;

use crate::config::{Kind, Switch, DECOMMIT_CHOICES, DENSITY_CHOICES, SIGNAL_CHOICES};
use crate::sync::{AtomicU64, Ordering::Relaxed};

macro_rules! switches {
    ($( $idx:ident = $name:literal, $kind:expr, speed $s:literal, balanced $b:literal, $help:literal; )*) => {
        /// Indices into `SWITCHES`, `Tuning::values` and the hit counters.
        #[allow(non_camel_case_types, clippy::upper_case_acronyms)]
        #[repr(usize)]
        enum Idx { $($idx,)* COUNT }
        /// Switch indices, by name.
        pub mod sw {
            $(pub const $idx: usize = super::Idx::$idx as usize;)*
        }
        /// Number of switches.
        pub const COUNT: usize = Idx::COUNT as usize;
        /// Every switch: name, accepted values, default per profile, meaning.
        pub const SWITCHES: [Switch; COUNT] = [
            $(Switch { name: $name, kind: $kind, speed: $s, balanced: $b, help: $help },)*
        ];
    };
}

switches! {
    SS_MEM_LEAN = "HAKMEM_SS_MEM_LEAN", Kind::Bool, speed 0, balanced 1,
        "memory-lean mode: cache empty SuperSlabs only up to the target, no prewarm";
    SS_MEM_LEAN_DECOMMIT = "HAKMEM_SS_MEM_LEAN_DECOMMIT", Kind::Choice(DECOMMIT_CHOICES), speed 0, balanced 0,
        "how empty SuperSlabs kept in lean mode give pages back: OFF keep, DONTNEED/FREE madvise";
    SS_MEM_LEAN_TARGET_MB = "HAKMEM_SS_MEM_LEAN_TARGET_MB", Kind::Uint { max: 1 << 20 }, speed 10, balanced 10,
        "lean mode: most MB of empty SuperSlabs kept mapped";
    SS_PURGE = "HAKMEM_SS_PURGE", Kind::Bool, speed 1, balanced 1,
        "demand-tracked purge: the warm pool keeps committed only the floor plus what the last two windows drew from it; other empty SuperSlabs are decommitted at once and stay mapped (0: the count cap of the lean and release-policy boxes)";
    SS_PURGE_FLOOR_MB = "HAKMEM_SS_PURGE_FLOOR_MB", Kind::Uint { max: 1 << 20 }, speed 48, balanced 0,
        "purge box: MB of empty SuperSlabs kept committed whatever the demand";
    SS_PURGE_WINDOW_MS = "HAKMEM_SS_PURGE_WINDOW_MS", Kind::Uint { max: 1 << 24 }, speed 1000, balanced 1000,
        "purge box: length of a demand window; the pool remembers the largest draw of this window and the previous one";
    SS_RELEASE_POLICY = "HAKMEM_SS_RELEASE_POLICY", Kind::Bool, speed 1, balanced 1,
        "release empty SuperSlabs with hysteresis (1) or as soon as the pool is over its cap (0)";
    SS_RELEASE_HYSTERESIS_MB = "HAKMEM_SS_RELEASE_HYSTERESIS_MB", Kind::Uint { max: 1 << 20 }, speed 8, balanced 4,
        "release policy: the pool may exceed its cap by this much before it is trimmed back to the cap";
    WARM_POOL_MB = "HAKMEM_WARM_POOL_MB", Kind::Uint { max: 1 << 20 }, speed 64, balanced 64,
        "MB of empty SuperSlabs kept for reuse when lean mode is off";
    SS_PREWARM = "HAKMEM_SS_PREWARM", Kind::Uint { max: 64 }, speed 4, balanced 0,
        "SuperSlabs mapped into the warm pool at start-up (lean mode suppresses it)";
    C7_ULTRA = "HAKMEM_C7_ULTRA", Kind::Bool, speed 0, balanced 0,
        "C7 (1 KiB class) deep lane: 4x the FastLane limit and refill batch for C7";
    HUGE_CACHE_MB = "HAKMEM_HUGE_CACHE_MB", Kind::Uint { max: 1 << 20 }, speed 64, balanced 32,
        "MB of freed huge mappings kept for reuse instead of unmapped at once";
    HARDEN = "HAKMEM_HARDEN", Kind::Bool, speed 0, balanced 0,
        "hardened mode: block-start and double-free checks on every free, keyed free-list links";
    STATS = "HAKMEM_STATS", Kind::Bool, speed 0, balanced 0,
        "print allocator statistics to stderr at exit";
    REMOTE_BATCH = "HAKMEM_REMOTE_BATCH", Kind::Uint { max: 4096 }, speed 32, balanced 32,
        "blocks a thread queues per owner before sending them with one CAS (0/1: send each)";
    REMOTE_PREFETCH = "HAKMEM_REMOTE_PREFETCH", Kind::Bool, speed 1, balanced 1,
        "a queued remote free names the block queued 8 before it (its second word), and the owner's inbox drain prefetches that block, so the drain's walk over blocks last touched by other cores overlaps its misses";
    REMOTE_SLAB_LISTS = "HAKMEM_REMOTE_SLAB_LISTS", Kind::Bool, speed 0, balanced 0,
        "a remote free of a small block goes onto its slab's own list with one CAS (mimalloc's per-page thread-free lists) instead of the per-owner remote queue; the first free into an empty list queues the slab on the owner's inbox, and the owner's drain takes the slab's list whole (off in hardened mode)";
    REMOTE_KEEP = "HAKMEM_REMOTE_KEEP", Kind::Bool, speed 0, balanced 0,
        "a thread keeps small blocks of other heaps that it frees on its own FastLane and reuses them (tcmalloc's way); they go back to their owners only when the lane flushes (off in hardened mode)";
    FASTLANE_KB = "HAKMEM_FASTLANE_KB", Kind::Uint { max: 1024 }, speed 64, balanced 32,
        "KiB each class's FastLane may hold before flushing half (16..512 blocks)";
    CARVE_KB = "HAKMEM_CARVE_KB", Kind::Uint { max: 1 << 20 }, speed 4, balanced 4,
        "KiB of fresh blocks one refill carves from a slab at most (at least one block; 0: the whole refill batch): carved blocks are written, so a larger carve leaves touched pages idle on a lane";
    CLASS_BORROW = "HAKMEM_CLASS_BORROW", Kind::Bool, speed 1, balanced 1,
        "a refill of a class with no freed block left takes the next class's freed blocks (at most 1/8 bigger, from 128 B up) before carving fresh ones or claiming a slab: a class's slack serves its neighbour";
    LANE_GROW_KB = "HAKMEM_LANE_GROW_KB", Kind::Uint { max: 1 << 20 }, speed 2048, balanced 1024,
        "KiB a thread's FastLanes may grow beyond their HAKMEM_FASTLANE_KB limits: a lane that overflows after a miss takes its base limit again (up to 8x) instead of flushing (0: off)";
    ARENA = "HAKMEM_ARENA", Kind::Bool, speed 1, balanced 1,
        "SuperSlabs are cut from one 16 GiB reservation of address space (read-only until used, no memory): a free tells a SuperSlab block by an xor and a shift against the arena's base instead of the region map's bounds test and byte; chunks past it are mapped singly and found through the map";
    FREE_CHECK = "HAKMEM_FREE_CHECK", Kind::Bool, speed 1, balanced 1,
        "default-mode free checks: block start (interior/misaligned pointers) and a lane mark that catches non-adjacent double frees";
    FINE_CLASSES = "HAKMEM_FINE_CLASSES", Kind::Bool, speed 1, balanced 1,
        "size classes below 1 KiB four per doubling (160 192 224 256 320 ...) instead of the seed's powers of two";
    CLASS_DENSITY = "HAKMEM_CLASS_DENSITY", Kind::Choice(DENSITY_CHOICES), speed 1, balanced 1,
        "with fine classes: size classes per doubling above 128 B, 4 (160 192 224 256 ...) or 8 (144 160 176 ...)";
    THP = "HAKMEM_THP", Kind::Bool, speed 0, balanced 0,
        "back fresh SuperSlabs and huge blocks of 2 MiB or more with transparent huge pages (madvise MADV_HUGEPAGE)";
    THP_AFTER_MB = "HAKMEM_THP_AFTER_MB", Kind::Uint { max: 1 << 20 }, speed 0, balanced 0,
        "once SuperSlabs hold this many MB, fresh SuperSlabs are backed with transparent huge pages (madvise MADV_HUGEPAGE): a large heap walks fewer TLB entries, a small one keeps 4 KiB pages and its RSS (0: off; HAKMEM_THP=1 advises every SuperSlab)";
    LANE_GUARD = "HAKMEM_LANE_GUARD", Kind::Bool, speed 0, balanced 0,
        "check every FastLane pop: a link overwritten after free that points outside hakmem's SuperSlabs aborts instead of being handed out";
    PROF = "HAKMEM_PROF", Kind::Bool, speed 0, balanced 0,
        "sampled heap profiling: record the call stack of about one allocation per HAKMEM_PROF_SAMPLE_KB allocated; leak report at exit; pprof dumps";
    PROF_SAMPLE_KB = "HAKMEM_PROF_SAMPLE_KB", Kind::Uint { max: 1 << 20 }, speed 512, balanced 512,
        "prof: mean KiB allocated between two samples (byte-based Poisson process; 0 counts as 1)";
    PROF_DUMP = "HAKMEM_PROF_DUMP", Kind::Path, speed 0, balanced 0,
        "prof: write the heap profile (pprof protobuf) to this file at exit and on the signal (%p = pid)";
    PROF_SIGNAL = "HAKMEM_PROF_SIGNAL", Kind::Choice(SIGNAL_CHOICES), speed 0, balanced 0,
        "prof: signal that writes the profile now (OFF, USR1, USR2, HUP, URG, WINCH)";
}

/// Hit counters, one per switch (`STATS` counts nothing).
pub static HITS: [AtomicU64; COUNT] = [const { AtomicU64::new(0) }; COUNT];

/// Count one run of box `i`'s acting code (slow paths only: a shared counter).
#[inline]
pub fn hit(i: usize) {
    HITS[i].fetch_add(1, Relaxed);
}

/// Hits of box `i` so far.
pub fn hits(i: usize) -> u64 {
    HITS[i].load(Relaxed)
}
