//! rounds (alloc-test-like): every thread, round after round, mallocs a large number of
//! mixed-size blocks (log-uniform in min..max, each stamped), then frees them all in a
//! scrambled order (a fixed permutation per thread), so each round empties what the last one
//! filled. Fixed work: the op count and every thread's seed are fixed.

use super::block::{alloc_stamped, free_checked, log_size};
use super::mt::{run_threads, share};
use super::profdump::Dumper;
use super::{Outcome, Xorshift32};
use anyhow::{ensure, Result};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Barrier, Mutex};

#[derive(Clone, Debug, serde::Serialize)]
pub struct RoundsParams {
    pub threads: usize,
    /// Mallocs in total (split over the threads).
    pub cycles: u64,
    /// Blocks each thread mallocs per round (the last round may be shorter).
    pub blocks_per_round: usize,
    pub min_size: usize,
    pub max_size: usize,
    pub seed: u32,
    /// Write the heap profile here in the last round every thread makes in full, once all
    /// threads have made its blocks and before they free them (all threads wait while it is
    /// written).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prof_dump: Option<String>,
}

impl Default for RoundsParams {
    fn default() -> Self {
        RoundsParams {
            threads: 2,
            cycles: 8_000_000,
            blocks_per_round: 2000,
            min_size: 16,
            max_size: 4096,
            seed: 1234567,
            prof_dump: None,
        }
    }
}

pub fn run(p: &RoundsParams) -> Result<Outcome> {
    ensure!(p.threads >= 1 && p.blocks_per_round >= 1, "rounds needs threads >= 1 and ws >= 1");
    ensure!(p.min_size >= 8 && p.max_size >= p.min_size, "rounds needs 8 <= min-size <= max-size");
    let dumper = Dumper::for_param(&p.prof_dump)?;
    // The round of the dump: the last one that is full for every thread (thread 0 takes the
    // remainder of the split, so the others make the fewest full rounds).
    let full_rounds = p.cycles / p.threads as u64 / p.blocks_per_round as u64;
    ensure!(
        dumper.is_none() || full_rounds >= 1,
        "rounds: --prof-dump needs a full round per thread (cycles >= threads x ws)"
    );
    let dump_round = dumper.as_ref().map(|_| full_rounds - 1);
    let (held, held_blocks, quiet) = (AtomicU64::new(0), AtomicU64::new(0), Barrier::new(p.threads));
    let prof = Mutex::new(None);
    let (counts, seconds) = run_threads(p.threads, "rounds", |i, start| {
        let mut rng = Xorshift32::new(p.seed.wrapping_add(i as u32 * 7919));
        let ws = p.blocks_per_round;
        // Untimed: the block table and the free order (Fisher-Yates), allocated once.
        let mut blocks: Vec<(usize, usize)> = Vec::with_capacity(ws);
        let mut order: Vec<u32> = (0..ws as u32).collect();
        for k in (1..ws).rev() {
            order.swap(k, rng.next() as usize % (k + 1));
        }
        let mut left = share(p.cycles, p.threads, i);
        let (mut mallocs, mut frees, mut rounds, mut corrupt) = (0u64, 0u64, 0u64, 0u64);
        start.wait();
        while left > 0 {
            let n = left.min(ws as u64) as usize;
            for _ in 0..n {
                let size = log_size(rng.next(), p.min_size, p.max_size);
                blocks.push((alloc_stamped(size), size));
            }
            if let (Some(d), true) = (&dumper, dump_round == Some(rounds)) {
                held.fetch_add(blocks.iter().map(|&(_, size)| size as u64).sum(), Ordering::Relaxed);
                held_blocks.fetch_add(blocks.len() as u64, Ordering::Relaxed);
                quiet.wait();
                if i == 0 {
                    let pp = d.dump(held.load(Ordering::Relaxed), held_blocks.load(Ordering::Relaxed));
                    *prof.lock().unwrap_or_else(|e| e.into_inner()) = Some(pp);
                }
                quiet.wait();
            }
            for &k in order.iter().filter(|&&k| (k as usize) < n) {
                let (b, size) = blocks[k as usize];
                // SAFETY: made in this round by this thread, freed once (order is a permutation).
                corrupt += !unsafe { free_checked(b, Some(size)) } as u64;
                frees += 1;
            }
            blocks.clear();
            mallocs += n as u64;
            left -= n as u64;
            rounds += 1;
        }
        (mallocs, frees, rounds, corrupt)
    });
    let mallocs: u64 = counts.iter().map(|c| c.0).sum();
    let frees: u64 = counts.iter().map(|c| c.1).sum();
    let rounds: u64 = counts.iter().map(|c| c.2).sum();
    let corrupt: u64 = counts.iter().map(|c| c.3).sum();
    ensure!(corrupt == 0, "rounds: {corrupt} blocks had damaged contents");
    ensure!(mallocs == p.cycles && frees == mallocs, "rounds: {mallocs} mallocs, {frees} frees, expected {}", p.cycles);
    Ok(Outcome::new(p.cycles, seconds)
        .check("mallocs", mallocs)
        .check("frees", frees)
        .check("rounds", rounds)
        .with_prof(prof.into_inner().unwrap_or_else(|e| e.into_inner()), true))
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn tiny_run_counts_rounds() {
        let p = RoundsParams { cycles: 10_001, blocks_per_round: 1000, ..Default::default() };
        let o = run(&p).unwrap();
        assert_eq!((o.ops, o.checks["mallocs"], o.checks["frees"]), (10_001, 10_001, 10_001));
        // Thread 0: 5001 blocks in 6 rounds (the last of one block), thread 1: 5000 in 5.
        assert_eq!(o.checks["rounds"], 11);
    }
    #[test]
    fn more_threads_than_cores() {
        let p = RoundsParams { threads: 8, cycles: 16_000, blocks_per_round: 300, ..Default::default() };
        assert_eq!(run(&p).unwrap().checks["frees"], 16_000);
    }
}
