//! false sharing (Hoard's cache-scratch): the main thread allocates one small object per worker
//! back to back and hands them out; each worker frees its object, then repeatedly allocates
//! small objects and writes them hard. An allocator that gives a thread memory on a cache line
//! another thread is writing makes the writes crawl.

use super::Outcome;
use anyhow::{ensure, Result};
use std::sync::Barrier;
use std::time::Instant;

#[derive(Clone, Debug, serde::Serialize)]
pub struct FalseSharingParams {
    pub threads: usize,
    /// Writes in total (split over the threads).
    pub cycles: u64,
    /// Object size in bytes (small, so several share a cache line).
    pub size: usize,
    /// Writes to each object before it is freed.
    pub writes_per_object: u64,
}

impl Default for FalseSharingParams {
    fn default() -> Self {
        FalseSharingParams {
            threads: 2,
            cycles: 200_000_000,
            size: 8,
            writes_per_object: 1000,
        }
    }
}

pub fn run(p: &FalseSharingParams) -> Result<Outcome> {
    ensure!(p.threads >= 1, "false-sharing needs threads >= 1");
    ensure!(
        p.size >= 8,
        "false-sharing needs size >= 8 (the object holds a u64 counter)"
    );
    ensure!(p.writes_per_object >= 1, "writes-per-object must be >= 1");
    // Objects allocated back to back by one thread: likely neighbours on one cache line.
    let seeds: Vec<usize> = (0..p.threads)
        .map(|_| unsafe {
            let b = libc::malloc(p.size) as *mut u64;
            if b.is_null() {
                super::random_mixed::oom(p.size);
            }
            b.write(0);
            b as usize
        })
        .collect();
    let start = Barrier::new(p.threads + 1);
    let mut t0 = Instant::now();
    let results: Vec<(u64, u64, u64)> = std::thread::scope(|s| {
        let hs: Vec<_> = seeds
            .iter()
            .enumerate()
            .map(|(i, &seed_obj)| {
                let start = &start;
                let writes = p.cycles / p.threads as u64
                    + if i == 0 {
                        p.cycles % p.threads as u64
                    } else {
                        0
                    };
                s.spawn(move || {
                    start.wait();
                    // Free the object the main thread made: the allocator may hand its place
                    // (on a line shared with another thread's object) right back to us.
                    unsafe { libc::free(seed_obj as *mut libc::c_void) };
                    let (mut done, mut objects, mut bad) = (0u64, 0u64, 0u64);
                    while done < writes {
                        let n = p.writes_per_object.min(writes - done);
                        // SAFETY: a fresh block of at least 8 bytes, used only by this thread.
                        unsafe {
                            let o = libc::malloc(p.size) as *mut u64;
                            if o.is_null() {
                                super::random_mixed::oom(p.size);
                            }
                            o.write_volatile(0);
                            for _ in 0..n {
                                o.write_volatile(o.read_volatile() + 1);
                            }
                            if o.read_volatile() != n {
                                bad += 1;
                            }
                            libc::free(o as *mut libc::c_void);
                        }
                        done += n;
                        objects += 1;
                    }
                    (done, objects, bad)
                })
            })
            .collect();
        start.wait();
        t0 = Instant::now();
        hs.into_iter()
            .map(|h| h.join().expect("false-sharing worker panicked"))
            .collect()
    });
    let seconds = t0.elapsed().as_secs_f64();
    let writes: u64 = results.iter().map(|r| r.0).sum();
    let objects: u64 = results.iter().map(|r| r.1).sum();
    let bad: u64 = results.iter().map(|r| r.2).sum();
    ensure!(bad == 0, "false-sharing: {bad} objects lost writes");
    ensure!(
        writes == p.cycles,
        "false-sharing: {writes} writes, expected {}",
        p.cycles
    );
    Ok(Outcome::new(p.cycles, seconds).check("objects", objects))
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn tiny_run_counts_writes_and_objects() {
        let p = FalseSharingParams {
            cycles: 100_001,
            writes_per_object: 100,
            ..Default::default()
        };
        let o = run(&p).unwrap();
        assert_eq!(o.ops, 100_001);
        // Thread 0 does 50_001 writes (501 objects, the last one short), thread 1 does 50_000 (500).
        assert_eq!(o.checks["objects"], 1001);
    }
}
