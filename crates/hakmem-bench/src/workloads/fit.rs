//! fit: how much memory the allocator needs per byte asked for, in one size range.
//!
//! Allocates `blocks` blocks of uniformly random size in [min_size, max_size] (by default as
//! many as make `total_mb` MB on average), writes every byte, frees a random half (each block
//! with probability 1/2) and allocates those slots again with new random sizes, written whole.
//! Then RSS is read: the overhead is (RSS − RSS before the workload) / live requested bytes − 1
//! ([`overhead`]). The pointer and size tables are made and written before the first RSS
//! sample, so they are not counted.

use super::{Outcome, Xorshift32};
use crate::probe::Status;
use anyhow::{ensure, Context, Result};
use std::time::Instant;

#[derive(Clone, Debug, serde::Serialize)]
pub struct FitParams {
    pub blocks: u64,
    pub min_size: usize,
    pub max_size: usize,
    pub seed: u32,
}

impl Default for FitParams {
    fn default() -> Self {
        FitParams::for_total(16, 1024, DEFAULT_TOTAL_MB)
    }
}

/// Live requested bytes aimed at by default, in MB (2^20 bytes).
pub const DEFAULT_TOTAL_MB: f64 = 160.0;

impl FitParams {
    /// As many blocks as make `total_mb` MB at the mean size of the range (at least 1).
    pub fn for_total(min_size: usize, max_size: usize, total_mb: f64) -> FitParams {
        let mean = (min_size + max_size.max(min_size)) as f64 / 2.0;
        let blocks = (total_mb * (1 << 20) as f64 / mean.max(1.0)).round().max(1.0) as u64;
        FitParams { blocks, min_size, max_size, seed: 1234567 }
    }
}

/// (RSS − baseline) / live requested bytes − 1: the share of memory beyond what was asked
/// for (0.12 = 12%). RSS in KiB, live bytes in bytes; NaN when nothing is live.
pub fn overhead(baseline_kb: u64, rss_kb: u64, live_bytes: u64) -> f64 {
    if live_bytes == 0 {
        return f64::NAN;
    }
    (rss_kb as f64 - baseline_kb as f64) * 1024.0 / live_bytes as f64 - 1.0
}

pub fn run(p: &FitParams) -> Result<Outcome> {
    ensure!(p.min_size >= 1 && p.max_size >= p.min_size, "fit needs 1 <= min-size <= max-size");
    ensure!(p.blocks >= 1, "fit needs at least one block");
    let status = Status::open_self().context("cannot open /proc/self/status")?;
    let n = usize::try_from(p.blocks)?;
    let span = (p.max_size - p.min_size + 1) as u64;
    let mut rng = Xorshift32::new(p.seed);
    let mut size = || {
        let r = ((rng.next() as u64) << 32) | rng.next() as u64;
        p.min_size + (r % span) as usize
    };
    // Tables first, every page written, so the baseline holds them.
    let mut blocks = vec![1usize; n];
    let mut sizes = vec![1usize; n];
    let baseline = status.read().map_or(0, |r| r.rss_kb);
    let t0 = Instant::now();
    for (b, s) in blocks.iter_mut().zip(sizes.iter_mut()) {
        *s = size();
        *b = alloc(*s);
    }
    let mut coin = Xorshift32::new(p.seed ^ 0x9E37_79B9);
    let mut replaced = 0u64;
    for (b, s) in blocks.iter_mut().zip(sizes.iter_mut()) {
        if coin.next() & 1 == 1 {
            // SAFETY: a live block from `alloc`, freed once and replaced.
            unsafe { libc::free(*b as *mut libc::c_void) };
            *s = size();
            *b = alloc(*s);
            replaced += 1;
        }
    }
    let seconds = t0.elapsed().as_secs_f64();
    let rss = status.read().map_or(0, |r| r.rss_kb);
    let live: u64 = sizes.iter().map(|&s| s as u64).sum();
    for &b in &blocks {
        // SAFETY: every entry is a live block.
        unsafe { libc::free(b as *mut libc::c_void) };
    }
    Ok(Outcome::new(p.blocks + replaced, seconds)
        .check("blocks", p.blocks)
        .check("replaced", replaced)
        .mem("baseline_rss_kb", baseline)
        .mem("rss_kb", rss)
        .mem("live_bytes", live))
}

/// A block of `size` bytes, every byte written.
fn alloc(size: usize) -> usize {
    // SAFETY: a fresh block of `size` bytes, written whole.
    unsafe {
        let b = libc::malloc(size) as *mut u8;
        if b.is_null() {
            super::random_mixed::oom(size);
        }
        std::ptr::write_bytes(b, size as u8 | 1, size);
        b as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overhead_of_synthetic_numbers() {
        // 1 MiB asked, 1.25 MiB more resident than before: 25%.
        assert!((overhead(1000, 1000 + 1280, 1 << 20) - 0.25).abs() < 1e-12);
        // Exactly what was asked: 0; less (pages not resident): negative.
        assert_eq!(overhead(0, 1024, 1 << 20), 0.0);
        assert!((overhead(500, 500 + 512, 1 << 20) + 0.5).abs() < 1e-12);
        assert!(overhead(10, 20, 0).is_nan());
    }

    #[test]
    fn block_counts_follow_the_range() {
        assert_eq!(FitParams::for_total(16, 1024, 160.0).blocks, 322_639);
        assert_eq!(FitParams::for_total(1024, 1024, 1.0).blocks, 1024);
        assert_eq!(FitParams::for_total(16, 16, 0.0).blocks, 1);
    }

    #[test]
    fn tiny_fit_reports_its_samples() {
        let p = FitParams { blocks: 2000, min_size: 16, max_size: 64, seed: 7 };
        let o = run(&p).unwrap();
        assert_eq!(o.checks["blocks"], 2000);
        let r = o.checks["replaced"];
        assert!(r > 800 && r < 1200, "about half replaced: {r}");
        assert_eq!(o.ops, 2000 + r);
        let live = o.memory["live_bytes"];
        assert!((2000 * 16..=2000 * 64).contains(&live), "{live}");
        assert!(o.memory["baseline_rss_kb"] > 0 && o.memory["rss_kb"] > 0);
    }
}
