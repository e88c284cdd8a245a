//! thread churn: many short-lived threads that allocate and exit. Each thread leaves a share
//! of its blocks behind; the parent frees them after the thread is gone (free into the heap of
//! a dead thread).

use super::block::{check, stamp};
use super::{Outcome, Xorshift32};
use anyhow::{ensure, Result};
use std::time::Instant;

#[derive(Clone, Debug, serde::Serialize)]
pub struct ThreadChurnParams {
    /// Threads started in total.
    pub cycles: u64,
    /// Threads alive at a time.
    pub threads: usize,
    pub allocs_per_thread: usize,
    pub min_size: usize,
    pub max_size: usize,
    /// Percent of each thread's blocks left for the parent to free.
    pub leave_pct: u32,
    pub seed: u32,
}

impl Default for ThreadChurnParams {
    fn default() -> Self {
        ThreadChurnParams {
            cycles: 4000,
            threads: 2,
            allocs_per_thread: 1000,
            min_size: 16,
            max_size: 1024,
            leave_pct: 10,
            seed: 1234567,
        }
    }
}

pub fn run(p: &ThreadChurnParams) -> Result<Outcome> {
    ensure!(p.threads >= 1, "thread-churn needs threads >= 1");
    ensure!(p.min_size >= 8 && p.max_size >= p.min_size, "thread-churn needs 8 <= min-size <= max-size");
    ensure!(p.leave_pct <= 100, "leave-pct is a percentage");
    let span = (p.max_size - p.min_size + 1) as u32;
    let (mut started, mut mallocs, mut frees, mut bad) = (0u64, 0u64, 0u64, 0u64);
    let t0 = Instant::now();
    while started < p.cycles {
        let n = (p.cycles - started).min(p.threads as u64);
        let hs: Vec<_> = (0..n)
            .map(|j| {
                let seed = p.seed.wrapping_add((started + j) as u32 * 7919);
                let p = p.clone();
                std::thread::Builder::new().stack_size(256 << 10).spawn(move || {
                    let mut rng = Xorshift32::new(seed);
                    let mut left = Vec::with_capacity(p.allocs_per_thread);
                    let (mut frees, mut bad) = (0u64, 0u64);
                    let mut held: [usize; 16] = [0; 16];
                    for _ in 0..p.allocs_per_thread {
                        let r = rng.next();
                        let size = p.min_size + (r % span) as usize;
                        // SAFETY: fresh block, stamped; ownership stays here or goes to `left`.
                        unsafe {
                            let b = libc::malloc(size) as *mut u8;
                            if b.is_null() {
                                super::random_mixed::oom(size);
                            }
                            stamp(b, size);
                            if rng.next() % 100 < p.leave_pct {
                                left.push(b as usize);
                            } else {
                                // Keep a few alive briefly so frees are not all LIFO.
                                let h = &mut held[(r >> 20) as usize % 16];
                                if *h != 0 {
                                    bad += !check(*h as *const u8, None) as u64;
                                    libc::free(*h as *mut libc::c_void);
                                    frees += 1;
                                }
                                *h = b as usize;
                            }
                        }
                    }
                    for &h in held.iter().filter(|&&h| h != 0) {
                        unsafe {
                            bad += !check(h as *const u8, None) as u64;
                            libc::free(h as *mut libc::c_void);
                        }
                        frees += 1;
                    }
                    (left, frees, bad)
                })
            })
            .collect::<std::io::Result<_>>()?;
        for h in hs {
            let (left, f, b) = h.join().expect("thread-churn worker panicked");
            frees += f;
            bad += b;
            for &blk in &left {
                // SAFETY: the thread that made it has exited and handed it over.
                unsafe {
                    bad += !check(blk as *const u8, None) as u64;
                    libc::free(blk as *mut libc::c_void);
                }
                frees += 1;
            }
            mallocs += p.allocs_per_thread as u64;
        }
        started += n;
    }
    let seconds = t0.elapsed().as_secs_f64();
    ensure!(bad == 0, "thread-churn: {bad} blocks had damaged contents");
    ensure!(frees == mallocs, "thread-churn: {mallocs} mallocs but {frees} frees");
    Ok(Outcome::new(mallocs, seconds).check("threads", started))
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn tiny_run_frees_everything() {
        let p = ThreadChurnParams { cycles: 21, allocs_per_thread: 300, leave_pct: 50, ..Default::default() };
        let o = run(&p).unwrap();
        assert_eq!(o.checks["threads"], 21);
        assert_eq!(o.ops, 21 * 300);
    }
}
