//! producer/consumer and mpmc: one set of threads allocates, another frees; every free is
//! remote. Blocks travel in batches through one bounded queue (`mt::BoundedQueue`), so the
//! producers can never run more than the queue's capacity ahead of the consumers: the number
//! of blocks in flight, and with it what the allocator is asked to do, does not depend on how
//! the scheduler happens to run the threads. The time each side spent waiting on the queue is
//! reported beside the rate (`producer_blocked_permille`, `consumer_blocked_permille`).

use super::block::{alloc_stamped, free_checked, log_size};
use super::mt::{run_threads, share, Blocked, BoundedQueue};
use super::{Outcome, Xorshift32};
use anyhow::{ensure, Result};

#[derive(Clone, Debug, serde::Serialize)]
pub struct ProducerConsumerParams {
    pub producers: usize,
    pub consumers: usize,
    /// Blocks handed over in total.
    pub cycles: u64,
    pub min_size: usize,
    pub max_size: usize,
    /// Sizes drawn log-uniformly (`block::log_size`) instead of uniformly.
    pub log_sizes: bool,
    /// Capacity of the queue, in batches of `BATCH` blocks.
    pub queue_batches: usize,
    pub seed: u32,
}

impl Default for ProducerConsumerParams {
    fn default() -> Self {
        ProducerConsumerParams {
            producers: 1,
            consumers: 1,
            // 10 M: at 2 M a run of the fastest allocators lasted 30 ms, short enough for one
            // scheduling hiccup on a shared machine to move its rate by 20% (CVs of 18-29%).
            // The instruction counts run a tenth of it, 1 M.
            cycles: 10_000_000,
            min_size: 16,
            max_size: 1024,
            log_sizes: false,
            queue_batches: 16,
            seed: 1234567,
        }
    }
}

impl ProducerConsumerParams {
    /// mpmc (xmalloc-test-like): `--threads N` producer/consumer pairs, 2 by default (four
    /// threads: more than this machine's two cores), mixed sizes 16 B..8 KiB.
    pub fn mpmc() -> Self {
        ProducerConsumerParams { max_size: 8192, log_sizes: true, ..Default::default() }.with_pairs(2)
    }

    /// Split a thread count between the two sides (at least one each).
    pub fn with_threads(mut self, threads: usize) -> Self {
        self.producers = (threads / 2).max(1);
        self.consumers = threads.saturating_sub(self.producers).max(1);
        self
    }

    /// `pairs` producers and as many consumers.
    pub fn with_pairs(mut self, pairs: usize) -> Self {
        self.producers = pairs;
        self.consumers = pairs;
        self
    }
}

/// Blocks per queue entry.
pub const BATCH: usize = 32;

struct Batch {
    n: usize,
    blocks: [usize; BATCH],
}

/// What one thread did.
#[derive(Default)]
struct Side {
    made: u64,
    freed: u64,
    corrupt: u64,
    blocked: Blocked,
}

pub fn run(p: &ProducerConsumerParams) -> Result<Outcome> {
    ensure!(p.producers >= 1 && p.consumers >= 1, "producer-consumer needs at least one producer and one consumer");
    ensure!(p.min_size >= 8 && p.max_size >= p.min_size, "producer-consumer needs 8 <= min-size <= max-size");
    ensure!(p.queue_batches >= 1, "producer-consumer needs queue-batches >= 1");
    let queue: BoundedQueue<Batch> = BoundedQueue::new(p.queue_batches, p.producers);
    let span = (p.max_size - p.min_size + 1) as u32;
    let (sides, seconds) = run_threads(p.producers + p.consumers, "producer-consumer", |i, start| {
        let mut me = Side::default();
        if i < p.producers {
            let n = share(p.cycles, p.producers, i);
            let mut rng = Xorshift32::new(p.seed.wrapping_add(i as u32 * 7919));
            let mut b = Batch { n: 0, blocks: [0; BATCH] };
            start.wait();
            while me.made < n {
                let r = rng.next();
                let size =
                    if p.log_sizes { log_size(r, p.min_size, p.max_size) } else { p.min_size + (r % span) as usize };
                b.blocks[b.n] = alloc_stamped(size);
                b.n += 1;
                me.made += 1;
                if b.n == BATCH || me.made == n {
                    queue.push(std::mem::replace(&mut b, Batch { n: 0, blocks: [0; BATCH] }), &mut me.blocked);
                }
            }
            queue.producer_done();
        } else {
            start.wait();
            while let Some(b) = queue.pop(&mut me.blocked) {
                for &blk in &b.blocks[..b.n] {
                    // SAFETY: the producer stamped the block and gave up ownership.
                    me.corrupt += !unsafe { free_checked(blk, None) } as u64;
                }
                me.freed += b.n as u64;
            }
        }
        me
    });
    let (prod, cons) = sides.split_at(p.producers);
    let made: u64 = prod.iter().map(|s| s.made).sum();
    let freed: u64 = cons.iter().map(|s| s.freed).sum();
    let corrupt: u64 = cons.iter().map(|s| s.corrupt).sum();
    ensure!(corrupt == 0, "producer-consumer: {corrupt} blocks had damaged contents");
    ensure!(made == p.cycles, "producer-consumer: made {made} blocks, expected {}", p.cycles);
    ensure!(freed == made, "producer-consumer: made {made} blocks but freed {freed}");
    let pb = Blocked::sum(prod.iter().map(|s| s.blocked));
    let cb = Blocked::sum(cons.iter().map(|s| s.blocked));
    Ok(Outcome::new(p.cycles, seconds)
        .check("mallocs", made)
        .check("remote_frees", freed)
        .check("producer_blocked_ns", pb.ns)
        .check("consumer_blocked_ns", cb.ns)
        .check("producer_waits", pb.waits)
        .check("consumer_waits", cb.waits)
        .check("producer_blocked_permille", pb.permille(p.producers, seconds))
        .check("consumer_blocked_permille", cb.permille(p.consumers, seconds)))
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
        assert!(o.checks["producer_blocked_permille"] <= 1000 && o.checks["consumer_blocked_permille"] <= 1000);
    }
    #[test]
    fn several_each_side() {
        let p = ProducerConsumerParams { cycles: 5_000, ..Default::default() }.with_threads(4);
        assert_eq!((p.producers, p.consumers), (2, 2));
        assert_eq!(run(&p).unwrap().checks["remote_frees"], 5_000);
        let one = ProducerConsumerParams::default().with_threads(1);
        assert_eq!((one.producers, one.consumers), (1, 1));
    }
    #[test]
    fn mpmc_more_threads_than_cores_and_a_one_batch_queue() {
        // Four pairs (eight threads) through a queue of one batch: the producers must wait.
        let p =
            ProducerConsumerParams { cycles: 20_000, queue_batches: 1, ..ProducerConsumerParams::mpmc() }.with_pairs(4);
        let o = run(&p).unwrap();
        assert_eq!((o.checks["mallocs"], o.checks["remote_frees"]), (20_000, 20_000));
        assert!(o.checks["producer_waits"] + o.checks["consumer_waits"] > 0, "{:?}", o.checks);
    }
}
