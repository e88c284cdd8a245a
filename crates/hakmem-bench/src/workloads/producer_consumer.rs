//! producer/consumer: one set of threads allocates, another frees. Every free is remote.

use super::block::{check, stamp};
use super::{Outcome, Xorshift32};
use anyhow::{ensure, Result};
use std::collections::VecDeque;
use std::sync::{Barrier, Condvar, Mutex};
use std::time::Instant;

#[derive(Clone, Debug, serde::Serialize)]
pub struct ProducerConsumerParams {
    pub producers: usize,
    pub consumers: usize,
    /// Blocks handed over in total.
    pub cycles: u64,
    pub min_size: usize,
    pub max_size: usize,
    pub seed: u32,
}

impl Default for ProducerConsumerParams {
    fn default() -> Self {
        ProducerConsumerParams {
            producers: 1,
            consumers: 1,
            cycles: 2_000_000,
            min_size: 16,
            max_size: 1024,
            seed: 1234567,
        }
    }
}

impl ProducerConsumerParams {
    /// Split a thread count between the two sides (at least one each).
    pub fn with_threads(mut self, threads: usize) -> Self {
        self.producers = (threads / 2).max(1);
        self.consumers = threads.saturating_sub(self.producers).max(1);
        self
    }
}

const BATCH: usize = 64;
const QUEUE_BATCHES: usize = 64;

#[derive(Clone, Copy)]
struct Batch {
    n: usize,
    blocks: [usize; BATCH],
}

struct Queue {
    q: VecDeque<Batch>,
    producers_left: usize,
}

pub fn run(p: &ProducerConsumerParams) -> Result<Outcome> {
    ensure!(p.producers >= 1 && p.consumers >= 1, "producer-consumer needs at least one producer and one consumer");
    ensure!(p.min_size >= 8 && p.max_size >= p.min_size, "producer-consumer needs 8 <= min-size <= max-size");
    // Preallocated: pushing a batch never allocates.
    let queue = Mutex::new(Queue { q: VecDeque::with_capacity(QUEUE_BATCHES), producers_left: p.producers });
    let not_empty = Condvar::new();
    let not_full = Condvar::new();
    let start = Barrier::new(p.producers + p.consumers + 1);
    let span = (p.max_size - p.min_size + 1) as u32;
    let mut t0 = Instant::now();
    let (made, freed, corrupt) = std::thread::scope(|s| {
        let mut prods = Vec::new();
        for i in 0..p.producers {
            let (queue, not_empty, not_full, start) = (&queue, &not_empty, &not_full, &start);
            let n = p.cycles / p.producers as u64 + if i == 0 { p.cycles % p.producers as u64 } else { 0 };
            prods.push(s.spawn(move || {
                let mut rng = Xorshift32::new(p.seed.wrapping_add(i as u32 * 7919));
                let mut b = Batch { n: 0, blocks: [0; BATCH] };
                start.wait();
                let mut made = 0u64;
                while made < n {
                    let size = p.min_size + (rng.next() % span) as usize;
                    // SAFETY: a fresh block of `size` bytes, stamped for the consumer to check.
                    unsafe {
                        let blk = libc::malloc(size) as *mut u8;
                        if blk.is_null() {
                            super::random_mixed::oom(size);
                        }
                        stamp(blk, size);
                        b.blocks[b.n] = blk as usize;
                    }
                    b.n += 1;
                    made += 1;
                    if b.n == BATCH || made == n {
                        let mut g = queue.lock().unwrap_or_else(|e| e.into_inner());
                        while g.q.len() >= QUEUE_BATCHES {
                            g = not_full.wait(g).unwrap_or_else(|e| e.into_inner());
                        }
                        g.q.push_back(b);
                        drop(g);
                        not_empty.notify_one();
                        b.n = 0;
                    }
                }
                let mut g = queue.lock().unwrap_or_else(|e| e.into_inner());
                g.producers_left -= 1;
                drop(g);
                not_empty.notify_all();
                made
            }));
        }
        let mut cons = Vec::new();
        for _ in 0..p.consumers {
            let (queue, not_empty, not_full, start) = (&queue, &not_empty, &not_full, &start);
            cons.push(s.spawn(move || {
                start.wait();
                let (mut freed, mut corrupt) = (0u64, 0u64);
                loop {
                    let mut g = queue.lock().unwrap_or_else(|e| e.into_inner());
                    let b = loop {
                        if let Some(b) = g.q.pop_front() {
                            break Some(b);
                        }
                        if g.producers_left == 0 {
                            break None;
                        }
                        g = not_empty.wait(g).unwrap_or_else(|e| e.into_inner());
                    };
                    drop(g);
                    let Some(b) = b else { break };
                    not_full.notify_one();
                    for &blk in &b.blocks[..b.n] {
                        // SAFETY: the producer stamped the block and gave up ownership.
                        unsafe {
                            if !check(blk as *const u8, None) {
                                corrupt += 1;
                            }
                            libc::free(blk as *mut libc::c_void);
                        }
                    }
                    freed += b.n as u64;
                }
                (freed, corrupt)
            }));
        }
        start.wait();
        t0 = Instant::now();
        let made: u64 = prods.into_iter().map(|h| h.join().expect("producer panicked")).sum();
        let (mut freed, mut corrupt) = (0, 0);
        for h in cons {
            let (f, c) = h.join().expect("consumer panicked");
            freed += f;
            corrupt += c;
        }
        (made, freed, corrupt)
    });
    let seconds = t0.elapsed().as_secs_f64();
    ensure!(corrupt == 0, "producer-consumer: {corrupt} blocks had damaged contents");
    ensure!(made == p.cycles, "producer-consumer: made {made} blocks, expected {}", p.cycles);
    ensure!(freed == made, "producer-consumer: made {made} blocks but freed {freed}");
    Ok(Outcome::new(p.cycles, seconds).check("remote_frees", freed))
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn tiny_run_frees_everything_remotely() {
        let p = ProducerConsumerParams { cycles: 10_007, ..Default::default() };
        let o = run(&p).unwrap();
        assert_eq!(o.ops, 10_007);
        assert_eq!(o.checks["remote_frees"], 10_007);
    }
    #[test]
    fn several_each_side() {
        let p = ProducerConsumerParams { cycles: 5_000, ..Default::default() }.with_threads(4);
        assert_eq!((p.producers, p.consumers), (2, 2));
        assert_eq!(run(&p).unwrap().checks["remote_frees"], 5_000);
        let one = ProducerConsumerParams::default().with_threads(1);
        assert_eq!((one.producers, one.consumers), (1, 1));
    }
}
