//! mixed lifetimes (larson / mstress-like): objects of mixed sizes and lifetimes, some passed
//! to other threads through a shared array, threads that come and go.
//!
//! `threads` lanes run side by side; each lane is a chain of short-lived threads, each making
//! `allocs_per_thread` mallocs and then exiting, the next one taking over its table. Per
//! malloc (sizes log-uniform in min..max): `short_pct`% are freed at once (short-lived);
//! `transfer_pct`% are swapped into a random slot of the shared array and the block found
//! there, made by any thread, perhaps one that has exited, is freed (transfer); the rest
//! replace a random slot of the lane's table (long-lived: they outlive the thread that made
//! them). Fixed work: the op count and every thread's seed are fixed, so each run makes the
//! same mallocs; which thread frees a transferred block depends on the interleaving.

use super::block::{alloc_stamped, free_checked, log_size};
use super::mt::{run_threads, share};
use super::profdump::Dumper;
use super::{Outcome, Xorshift32};
use anyhow::{ensure, Result};
use std::sync::atomic::{AtomicUsize, Ordering};

#[derive(Clone, Debug, serde::Serialize)]
pub struct MixedLifetimesParams {
    /// Lanes (threads alive at a time).
    pub threads: usize,
    /// Mallocs in total (split over the lanes).
    pub cycles: u64,
    /// Mallocs per thread before it exits and the next one takes over its table.
    pub allocs_per_thread: usize,
    /// Blocks in each lane's table.
    pub slots: usize,
    /// Slots of the shared transfer array.
    pub shared_slots: usize,
    pub min_size: usize,
    pub max_size: usize,
    /// Percent of mallocs freed at once.
    pub short_pct: u32,
    /// Percent of mallocs passed on through the shared array.
    pub transfer_pct: u32,
    pub seed: u32,
    /// Write the heap profile here once every lane's last thread has exited, before what they
    /// left (the tables, the shared array) is freed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prof_dump: Option<String>,
}

impl Default for MixedLifetimesParams {
    fn default() -> Self {
        MixedLifetimesParams {
            threads: 2,
            cycles: 4_000_000,
            allocs_per_thread: 50_000,
            slots: 1000,
            shared_slots: 1024,
            min_size: 16,
            max_size: 4096,
            short_pct: 50,
            transfer_pct: 10,
            seed: 1234567,
            prof_dump: None,
        }
    }
}

#[derive(Default, Clone, Copy)]
struct Counts {
    mallocs: u64,
    frees: u64,
    transfers: u64,
    transfer_frees: u64,
    threads: u64,
    corrupt: u64,
}

impl Counts {
    fn add(&mut self, o: &Counts) {
        self.mallocs += o.mallocs;
        self.frees += o.frees;
        self.transfers += o.transfers;
        self.transfer_frees += o.transfer_frees;
        self.threads += o.threads;
        self.corrupt += o.corrupt;
    }
}

/// One thread's life: `n` mallocs against the lane's `table` and the shared array.
fn live(p: &MixedLifetimesParams, seed: u32, n: u64, table: &mut [(usize, usize)], shared: &[AtomicUsize]) -> Counts {
    let mut c = Counts { threads: 1, ..Default::default() };
    let mut rng = Xorshift32::new(seed);
    for _ in 0..n {
        let r = rng.next();
        let size = log_size(r, p.min_size, p.max_size);
        let b = alloc_stamped(size);
        c.mallocs += 1;
        let d = rng.next();
        if d % 100 < p.short_pct {
            // SAFETY: b was made just above and is owned here.
            c.corrupt += !unsafe { free_checked(b, Some(size)) } as u64;
            c.frees += 1;
        } else if d % 100 < p.short_pct + p.transfer_pct {
            let old = shared[(d >> 8) as usize % shared.len()].swap(b, Ordering::AcqRel);
            c.transfers += 1;
            if old != 0 {
                // SAFETY: the swap made this thread the block's only owner; its maker stamped it.
                c.corrupt += !unsafe { free_checked(old, None) } as u64;
                c.transfer_frees += 1;
            }
        } else {
            let slot = &mut table[(d >> 8) as usize % table.len()];
            let (old, old_size) = std::mem::replace(slot, (b, size));
            // SAFETY: the table owns its blocks; this lane's thread is the only user.
            c.corrupt += !unsafe { free_checked(old, Some(old_size)) } as u64;
            c.frees += 1;
        }
    }
    c
}

pub fn run(p: &MixedLifetimesParams) -> Result<Outcome> {
    ensure!(p.threads >= 1 && p.slots >= 1 && p.shared_slots >= 1, "mixed-lifetimes needs threads, ws >= 1");
    ensure!(p.allocs_per_thread >= 1, "mixed-lifetimes needs allocs-per-thread >= 1");
    ensure!(p.min_size >= 8 && p.max_size >= p.min_size, "mixed-lifetimes needs 8 <= min-size <= max-size");
    ensure!(p.short_pct + p.transfer_pct <= 100, "short and transfer percentages add up to more than 100");
    let dumper = Dumper::for_param(&p.prof_dump)?;
    let shared: Vec<AtomicUsize> = (0..p.shared_slots).map(|_| AtomicUsize::new(0)).collect();
    let (lanes, seconds) = run_threads(p.threads, "mixed-lifetimes", |lane, start| {
        let mut total = Counts::default();
        let mut rng = Xorshift32::new(p.seed.wrapping_add(lane as u32 * 7919));
        let mut table: Vec<(usize, usize)> = (0..p.slots)
            .map(|_| {
                let size = log_size(rng.next(), p.min_size, p.max_size);
                (alloc_stamped(size), size)
            })
            .collect();
        let setup = p.slots as u64;
        let mut left = share(p.cycles, p.threads, lane);
        let mut generation = 0u32;
        start.wait();
        while left > 0 {
            let n = left.min(p.allocs_per_thread as u64);
            let seed = p.seed.wrapping_add(lane as u32 * 7919).wrapping_add((generation + 1).wrapping_mul(104_729));
            let (t, c) = std::thread::scope(|s| {
                let shared = &shared;
                std::thread::Builder::new()
                    .stack_size(256 << 10)
                    .spawn_scoped(s, move || {
                        let c = live(p, seed, n, &mut table, shared);
                        (table, c)
                    })
                    .expect("mixed-lifetimes: cannot start a thread")
                    .join()
                    .expect("mixed-lifetimes worker panicked")
            });
            table = t;
            total.add(&c);
            left -= n;
            generation += 1;
        }
        (total, table, setup)
    });
    // Every worker has exited: the live set is the tables and the shared array's blocks (each
    // stamped with its size in its first 8 bytes: min-size >= 8).
    let prof = dumper.as_ref().map(|d| {
        let (mut bytes, mut blocks) = (0u64, 0u64);
        for (_, table, _) in &lanes {
            bytes += table.iter().map(|&(_, size)| size as u64).sum::<u64>();
            blocks += table.len() as u64;
        }
        for s in &shared {
            let b = s.load(Ordering::Acquire);
            if b != 0 {
                // SAFETY: a live stamped block of at least 8 bytes, owned by the array.
                bytes += unsafe { (b as *const u64).read_unaligned() };
                blocks += 1;
            }
        }
        d.dump(bytes, blocks)
    });
    // Untimed: free what the last threads left in their tables and in the shared array.
    let mut sum = Counts::default();
    let (mut setup, mut end_frees) = (0u64, 0u64);
    for (c, table, s) in &lanes {
        sum.add(c);
        setup += s;
        for &(b, size) in table {
            // SAFETY: every thread of the lane has exited; the table's blocks are ours.
            sum.corrupt += !unsafe { free_checked(b, Some(size)) } as u64;
            end_frees += 1;
        }
    }
    for s in &shared {
        let b = s.swap(0, Ordering::AcqRel);
        if b != 0 {
            // SAFETY: every worker has exited; whatever is left in the array is ours.
            sum.corrupt += !unsafe { free_checked(b, None) } as u64;
            end_frees += 1;
        }
    }
    ensure!(sum.corrupt == 0, "mixed-lifetimes: {} blocks had damaged contents", sum.corrupt);
    ensure!(sum.mallocs == p.cycles, "mixed-lifetimes: {} mallocs, expected {}", sum.mallocs, p.cycles);
    let frees = sum.frees + sum.transfer_frees + end_frees;
    ensure!(sum.mallocs + setup == frees, "mixed-lifetimes: {} mallocs but {frees} frees", sum.mallocs + setup);
    Ok(Outcome::new(p.cycles, seconds)
        .check("mallocs", sum.mallocs + setup)
        .check("frees", frees)
        .check("transfers", sum.transfers)
        .check("transfer_frees", sum.transfer_frees)
        .check("threads", sum.threads)
        .with_prof(prof, false))
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn tiny_run_balances_and_churns_threads() {
        let p = MixedLifetimesParams { cycles: 30_001, allocs_per_thread: 4_000, slots: 50, ..Default::default() };
        let o = run(&p).unwrap();
        assert_eq!(o.ops, 30_001);
        assert_eq!(o.checks["mallocs"], 30_001 + 100);
        assert_eq!(o.checks["frees"], o.checks["mallocs"]);
        // Lane 0: 15_001 mallocs in 4 threads, lane 1: 15_000 in 4.
        assert_eq!(o.checks["threads"], 8);
        // About 10% go through the shared array.
        let t = o.checks["transfers"];
        assert!((2_000..4_000).contains(&t), "transfers {t}");
    }
    #[test]
    fn all_transfer_with_four_lanes() {
        let p = MixedLifetimesParams {
            threads: 4,
            cycles: 8_000,
            allocs_per_thread: 500,
            shared_slots: 16,
            short_pct: 0,
            transfer_pct: 100,
            ..Default::default()
        };
        let o = run(&p).unwrap();
        assert_eq!((o.checks["transfers"], o.checks["threads"]), (8_000, 16));
        assert_eq!(o.checks["transfer_frees"], 8_000 - 16);
    }
    #[test]
    fn rejects_bad_params() {
        assert!(run(&MixedLifetimesParams { short_pct: 95, ..Default::default() }).is_err());
        assert!(run(&MixedLifetimesParams { allocs_per_thread: 0, ..Default::default() }).is_err());
    }
}
