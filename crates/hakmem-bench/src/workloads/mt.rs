//! What the multi-threaded workloads share: splitting fixed work over threads, starting them
//! together and timing them, and a bounded queue whose waits are measured.
//!
//! Waiting spins briefly (crossbeam's `Backoff`: a few spins, then `sched_yield`). When the
//! workload's threads fit the machine's cores, a waiter keeps spinning and yielding and never
//! parks: a parked thread needs a futex wake-up that takes tens of microseconds on a loaded
//! VM, and with parking the two sides of a queue took turns (each parked while the other ran),
//! so producer-consumer measured the scheduler's wake-up latency (CV 40%, blocked 46% / 74%
//! of the time) instead of the slower side's rate. With more threads than cores, or under
//! callgrind (`WORKLOAD_WAIT=park`, set by the instruction runs: a spinning thread
//! there only adds instructions while the other thread waits for its time slice), a waiter
//! parks on a condition variable after the spin, so it does not hold a core another thread
//! needs.

use crate::probe::{OsCalls, OsCallsProbe};
use crossbeam_queue::ArrayQueue;
use crossbeam_utils::Backoff;
use std::sync::atomic::{fence, AtomicBool, AtomicUsize, Ordering};
use std::sync::{Barrier, Condvar, Mutex};
use std::time::Instant;

/// Thread `i`'s share of `total` units of work over `parts` threads (the first takes the
/// remainder), so the shares always add up to `total`.
pub fn share(total: u64, parts: usize, i: usize) -> u64 {
    let parts = parts.max(1) as u64;
    total / parts + if i == 0 { total % parts } else { 0 }
}

/// The common start line of `run_threads`: each thread calls `wait` once, when its untimed
/// set-up is done.
pub struct Start<'a>(&'a Barrier);

impl Start<'_> {
    pub fn wait(&self) {
        self.0.wait();
    }
}

/// Whether a `Gate` waiter parks after its spin (see the module docs); set by `run_threads`.
/// Process-wide: the workload binary runs one workload per process, and runs that overlap in
/// one process (unit tests) only change how each other's waiters wait, never what they wait
/// for.
static PARK: AtomicBool = AtomicBool::new(true);

/// Whether waiters of a run of `threads` threads park: when the threads do not fit the cores,
/// or when `WORKLOAD_WAIT` says `park` (`spin` forces spinning).
pub fn waiters_park(threads: usize) -> bool {
    match std::env::var("WORKLOAD_WAIT").as_deref() {
        Ok("park") => true,
        Ok("spin") => false,
        _ => threads > std::thread::available_parallelism().map_or(1, |n| n.get()),
    }
}

/// The allocator's mmap, munmap and madvise calls between the start line of the last
/// `run_threads` and the moment its last thread finished its work (before any thread exits),
/// when the allocator counts them (`probe::OsCallsProbe`): the steady state's OS calls, without
/// start-up or the trims of exiting threads.
static TIMED_OS_CALLS: Mutex<Option<OsCalls>> = Mutex::new(None);

/// Waits on its barrier when dropped.
struct WaitOnDrop<'a>(&'a Barrier);

impl Drop for WaitOnDrop<'_> {
    fn drop(&mut self) {
        self.0.wait();
    }
}

/// Takes what the last `run_threads` counted (see `TIMED_OS_CALLS`).
pub fn take_timed_os_calls() -> Option<OsCalls> {
    TIMED_OS_CALLS.lock().unwrap_or_else(|e| e.into_inner()).take()
}

/// Runs `f(i, start)` on `n` scoped threads; every `f` must call `start.wait()` exactly once.
/// Returns the results in thread order and the seconds from the moment all threads passed
/// the start line to the last join.
pub fn run_threads<T: Send>(n: usize, what: &str, f: impl Fn(usize, &Start) -> T + Sync) -> (Vec<T>, f64) {
    PARK.store(waiters_park(n), Ordering::Relaxed);
    let probe = OsCallsProbe::lookup();
    let barrier = Barrier::new(n + 1);
    // Every worker passes it when its work is done, before it returns and its thread exits.
    let done = Barrier::new(n + 1);
    let mut t0 = Instant::now();
    let results = std::thread::scope(|s| {
        let hs: Vec<_> = (0..n)
            .map(|i| {
                let (f, start, done) = (&f, Start(&barrier), &done);
                s.spawn(move || {
                    // Passed on return and while unwinding, so a worker's panic is reported
                    // by the join below instead of leaving the others at the barrier.
                    let _done = WaitOnDrop(done);
                    f(i, &start)
                })
            })
            .collect();
        barrier.wait();
        t0 = Instant::now();
        let before = probe.read();
        done.wait();
        let timed = before.zip(probe.read()).map(|(a, b)| b.since(&a));
        *TIMED_OS_CALLS.lock().unwrap_or_else(|e| e.into_inner()) = timed;
        hs.into_iter().map(|h| h.join().unwrap_or_else(|_| panic!("{what} worker panicked"))).collect()
    });
    (results, t0.elapsed().as_secs_f64())
}

/// A place to wait for a condition another thread makes true: spin, yield, then park.
/// The thread that changes the condition calls `notify`, which costs a fence and a load
/// while nobody is parked.
#[derive(Default)]
pub struct Gate {
    lock: Mutex<()>,
    cv: Condvar,
    parked: AtomicUsize,
}

impl Gate {
    /// Waits until `ready()` holds; returns the nanoseconds spent waiting.
    pub fn wait_until(&self, ready: impl Fn() -> bool) -> u64 {
        let t = Instant::now();
        let backoff = Backoff::new();
        let park = PARK.load(Ordering::Relaxed);
        while !ready() {
            if !backoff.is_completed() || !park {
                backoff.snooze();
                continue;
            }
            let mut g = self.lock.lock().unwrap_or_else(|e| e.into_inner());
            self.parked.fetch_add(1, Ordering::SeqCst);
            // Pairs with the fence in `notify`: either it sees us parked, or we see its change.
            fence(Ordering::SeqCst);
            while !ready() {
                g = self.cv.wait(g).unwrap_or_else(|e| e.into_inner());
            }
            self.parked.fetch_sub(1, Ordering::SeqCst);
            break;
        }
        t.elapsed().as_nanos() as u64
    }

    /// Wakes the parked waiters when `ready()` holds for them (call after changing what they
    /// wait for).
    pub fn notify_if(&self, ready: impl Fn() -> bool) {
        fence(Ordering::SeqCst);
        if self.parked.load(Ordering::SeqCst) > 0 && ready() {
            drop(self.lock.lock().unwrap_or_else(|e| e.into_inner()));
            self.cv.notify_all();
        }
    }
}

/// Time one side of a queue spent waiting.
#[derive(Clone, Copy, Debug, Default)]
pub struct Blocked {
    pub ns: u64,
    /// How many pushes or pops had to wait.
    pub waits: u64,
}

impl Blocked {
    fn add(&mut self, ns: u64) {
        self.ns += ns;
        self.waits += 1;
    }
    pub fn sum(v: impl IntoIterator<Item = Blocked>) -> Blocked {
        v.into_iter().fold(Blocked::default(), |a, b| Blocked { ns: a.ns + b.ns, waits: a.waits + b.waits })
    }
    /// Per mille of `threads` threads' wall time `seconds` spent waiting, at most 1000 (a
    /// worker may pass the start line a moment before the main thread starts the clock).
    pub fn permille(&self, threads: usize, seconds: f64) -> u64 {
        let total = threads as f64 * seconds * 1e9;
        if total > 0.0 {
            ((self.ns as f64 * 1000.0 / total).round() as u64).min(1000)
        } else {
            0
        }
    }
}

/// A fixed-capacity multi-producer multi-consumer queue (no allocation after `new`): a full
/// queue blocks the producers, an empty one the consumers, until `producers` have called
/// `producer_done`. Waits are measured.
///
/// With hysteresis: a producer that found the queue full waits until it is at most half full,
/// a consumer that found it empty until it is at least half full (or the producers are done),
/// so when one side is faster the two hand over half a queue per wake-up, not one entry.
pub struct BoundedQueue<T> {
    q: ArrayQueue<T>,
    /// Producers resume at or below this length, consumers at or above it (at least 1).
    half: usize,
    not_full: Gate,
    not_empty: Gate,
    producers_left: AtomicUsize,
}

impl<T> BoundedQueue<T> {
    pub fn new(capacity: usize, producers: usize) -> Self {
        let capacity = capacity.max(1);
        BoundedQueue {
            q: ArrayQueue::new(capacity),
            half: capacity / 2,
            not_full: Gate::default(),
            not_empty: Gate::default(),
            producers_left: AtomicUsize::new(producers),
        }
    }

    fn room(&self) -> bool {
        self.q.len() <= self.half
    }

    fn enough(&self) -> bool {
        self.q.len() >= self.half.max(1) || self.producers_left.load(Ordering::SeqCst) == 0
    }

    /// Pushes `v`, waiting while the queue is full.
    pub fn push(&self, mut v: T, blocked: &mut Blocked) {
        loop {
            match self.q.push(v) {
                Ok(()) => break,
                Err(back) => {
                    v = back;
                    blocked.add(self.not_full.wait_until(|| self.room()));
                }
            }
        }
        self.not_empty.notify_if(|| self.enough());
    }

    /// Pops, waiting while the queue is empty; `None` once it is empty and every producer is done.
    pub fn pop(&self, blocked: &mut Blocked) -> Option<T> {
        loop {
            if let Some(v) = self.q.pop() {
                self.not_full.notify_if(|| self.room());
                return Some(v);
            }
            if self.producers_left.load(Ordering::SeqCst) == 0 {
                // Everything pushed before the last `producer_done` is visible now.
                return self.q.pop();
            }
            blocked.add(self.not_empty.wait_until(|| self.enough()));
        }
    }

    /// One producer will push no more.
    pub fn producer_done(&self) {
        self.producers_left.fetch_sub(1, Ordering::SeqCst);
        self.not_empty.notify_if(|| true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_add_up() {
        assert_eq!((0..3).map(|i| share(10, 3, i)).collect::<Vec<_>>(), [4, 3, 3]);
        assert_eq!(share(5, 0, 0), 5);
    }

    #[test]
    fn queue_delivers_everything_once_through_a_tiny_capacity() {
        // Three producers, two consumers, capacity 2: both sides block often; every value
        // arrives exactly once and the consumers end once the producers are done.
        let q = BoundedQueue::new(2, 3);
        let (got, _) = run_threads(5, "queue test", |i, start| {
            start.wait();
            let mut b = Blocked::default();
            if i < 3 {
                for k in 0..2000u64 {
                    q.push(i as u64 * 10_000 + k, &mut b);
                }
                q.producer_done();
                Vec::new()
            } else {
                let mut v = Vec::new();
                while let Some(x) = q.pop(&mut b) {
                    v.push(x);
                }
                v
            }
        });
        let mut all: Vec<u64> = got.into_iter().flatten().collect();
        all.sort_unstable();
        let want: Vec<u64> = (0..3).flat_map(|i| (0..2000).map(move |k| i * 10_000 + k)).collect();
        assert_eq!(all, want);
    }

    #[test]
    fn a_worker_that_panics_is_reported_not_hung() {
        let r = std::panic::catch_unwind(|| {
            run_threads(3, "panic test", |i, start| {
                start.wait();
                assert!(i != 1, "worker 1 fails");
                i
            })
        });
        assert!(r.is_err());
    }

    #[test]
    fn blocked_share() {
        let b = Blocked::sum([Blocked { ns: 250_000_000, waits: 1 }, Blocked { ns: 250_000_000, waits: 2 }]);
        assert_eq!((b.waits, b.permille(2, 1.0)), (3, 250));
        assert_eq!(b.permille(1, 0.0), 0);
        assert_eq!(b.permille(1, 0.1), 1000);
    }
}
