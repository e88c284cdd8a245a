//! The workloads of the Rust-level allocator benchmark.
//!
//! Every `bench-*` binary sets its own `#[global_allocator]` and calls [`main`], so the
//! five contestants run exactly this code. Each workload is deterministic (a fixed-seed
//! generator, a fixed hasher) and returns a checksum that the runner compares across
//! allocators. `--scale F` multiplies the workload's size (the runner's `--scale` passes
//! it through) for quick trials.

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt::Write as _;
use std::hash::BuildHasherDefault;
use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicU64, Ordering::Acquire, Ordering::Relaxed, Ordering::Release};
use std::sync::{mpsc, Arc, Condvar, Mutex};
use std::thread;
use std::time::Instant;

/// splitmix64: small, fast, and the same sequence on every run.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }

    /// Log-uniform in `min..=max` (powers of two): as many sizes in 8..16 as in 16K..32K.
    pub fn log_uniform(&mut self, min: usize, max: usize) -> usize {
        let lo = min.trailing_zeros();
        let hi = max.trailing_zeros();
        let e = lo + self.below((hi - lo) as u64) as u32;
        let base = 1usize << e;
        base + self.below(base as u64 + 1) as usize
    }
}

/// One workload: `n` is its size at scale 1.
pub struct Workload {
    pub name: &'static str,
    pub about: &'static str,
    pub default_n: u64,
    pub run: fn(u64) -> u64,
}

pub const WORKLOADS: &[Workload] = &[
    Workload {
        name: "hashmap",
        about: "HashMap<String, Vec<u64>>: n inserts (keys from format!, values of 1..8 \
                u64), n lookups with freshly formatted keys, drop",
        default_n: 1_000_000,
        run: hashmap,
    },
    Workload {
        name: "btreemap",
        about: "BTreeMap<u64, u64>: n inserts of random keys, then n removes",
        default_n: 1_000_000,
        run: btreemap,
    },
    Workload {
        name: "strings",
        about: "n format! + to_uppercase, joined 16 at a time; the last 1024 joins kept",
        default_n: 3_000_000,
        run: strings,
    },
    Workload {
        name: "random-mixed",
        about: "the headline pattern through #[global_allocator]: 8192 slots, xorshift32 \
                (seed 1234567); each op drops a full slot's Box<[u8]> or allocates 16..1039 \
                bytes into an empty one and writes its first byte",
        default_n: 10_000_000,
        run: random_mixed,
    },
    Workload {
        name: "churn",
        about: "Vec of 4096 boxed byte slices, n random slot replacements, sizes 8 B..32 KiB \
                log-uniform (uninitialised but for the first and last byte)",
        default_n: 5_000_000,
        run: churn,
    },
    Workload {
        name: "channel",
        about: "n Vec<u8> of 8..256 bytes sent over a std mpsc sync_channel (in batches of \
                1024, at most 16 batches queued) to a second thread that drops them",
        default_n: 4_000_000,
        run: channel,
    },
    Workload {
        name: "taskpool",
        about: "4 workers pull n boxed closures from one Mutex<VecDeque> queue (at most \
                8192 queued by the submitter); each task drops its captured Vec (allocated \
                by the submitter) and builds a state (String + Vec<u64> + Box) owned by a \
                follow-up task that it queues, which drops it on whichever worker runs it",
        default_n: 1_000_000,
        run: taskpool,
    },
    Workload {
        name: "json",
        about: "serde_json: parse a generated ~10 MB document (nested objects, arrays, \
                strings, numbers) into serde_json::Value and drop it, n times",
        default_n: 8,
        run: json,
    },
];

pub fn find(name: &str) -> Option<&'static Workload> {
    WORKLOADS.iter().find(|w| w.name == name)
}

/// Entry point of every `bench-*` binary:
/// `bench-ALLOC WORKLOAD [--scale F]` prints one line
/// `alloc=… workload=… n=… checksum=… ms=…` (and `version=…` when given).
pub fn main(alloc: &str, version: Option<&str>) -> i32 {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = || {
        eprintln!("usage: bench-{alloc} WORKLOAD [--scale F]; workloads:");
        for w in WORKLOADS {
            eprintln!("  {:10} n={:<9} {}", w.name, w.default_n, w.about);
        }
        2
    };
    let Some(name) = args.first() else {
        return usage();
    };
    let Some(w) = find(name) else {
        return usage();
    };
    let mut scale = 1.0f64;
    let mut rest = args[1..].iter();
    while let Some(a) = rest.next() {
        match (a.as_str(), rest.next()) {
            ("--scale", Some(v)) => match v.parse() {
                Ok(s) if s > 0.0 => scale = s,
                _ => return usage(),
            },
            _ => return usage(),
        }
    }
    let n = ((w.default_n as f64 * scale).round() as u64).max(1);
    let start = Instant::now();
    let checksum = (w.run)(n);
    let ms = start.elapsed().as_secs_f64() * 1e3;
    let mut line = format!(
        "alloc={alloc} workload={} n={n} checksum={checksum} ms={ms:.1}",
        w.name
    );
    if let Some(v) = version {
        let _ = write!(line, " version={}", v.replace(' ', "_"));
    }
    println!("{line}");
    0
}

type FixedHashMap<K, V> = HashMap<K, V, BuildHasherDefault<DefaultHasher>>;

pub fn hashmap(n: u64) -> u64 {
    let key = |rng: &mut Rng| format!("key-{:016x}", rng.next_u64());
    let mut map: FixedHashMap<String, Vec<u64>> = HashMap::default();
    let mut rng = Rng::new(1);
    for i in 0..n {
        let value: Vec<u64> = (0..1 + i % 8).map(|j| i ^ j).collect();
        map.insert(key(&mut rng), value);
    }
    let mut rng = Rng::new(1);
    let mut sum = map.len() as u64;
    for _ in 0..n {
        if let Some(v) = map.get(&key(&mut rng)) {
            sum = sum.wrapping_add(v.len() as u64).wrapping_add(v[0]);
        }
    }
    drop(map);
    sum
}

pub fn btreemap(n: u64) -> u64 {
    let mut map = BTreeMap::new();
    let mut rng = Rng::new(2);
    for i in 0..n {
        map.insert(rng.next_u64(), i);
    }
    let mut rng = Rng::new(2);
    let mut sum = map.len() as u64;
    for _ in 0..n {
        if let Some(v) = map.remove(&rng.next_u64()) {
            sum = sum.wrapping_add(v);
        }
    }
    assert!(map.is_empty());
    sum
}

pub fn strings(n: u64) -> u64 {
    let mut rng = Rng::new(3);
    let mut parts: Vec<String> = Vec::new();
    let mut kept: VecDeque<String> = VecDeque::new();
    let mut sum = 0u64;
    for i in 0..n {
        let s = format!("item-{i}-{:x}-ok", rng.next_u64() >> (rng.below(48) + 8));
        parts.push(s.to_uppercase());
        if parts.len() == 16 {
            let joined = parts.join(",");
            sum = sum.wrapping_add(joined.len() as u64);
            parts.clear();
            kept.push_back(joined);
            if kept.len() > 1024 {
                kept.pop_front();
            }
        }
    }
    sum + kept.iter().map(|s| s.len() as u64).sum::<u64>()
}

/// random-mixed as `hakmem-workload` and the C program run it (8192 slots, xorshift32,
/// free a full slot or allocate `16 + (r & 1023)` bytes into an empty one), written again
/// for `#[global_allocator]`: a third program for the headline pattern, whose allocations
/// go through Rust's `alloc`/`dealloc` with their `Layout` instead of `LD_PRELOAD`'s malloc.
/// No warm-up: the runner times the whole process.
pub fn random_mixed(n: u64) -> u64 {
    const WS: usize = 8192;
    let mut x: u32 = 1_234_567;
    let mut slots: Vec<Option<Box<[MaybeUninit<u8>]>>> = (0..WS).map(|_| None).collect();
    let (mut mallocs, mut sum) = (0u64, 0u64);
    for _ in 0..n {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        let slot = &mut slots[x as usize % WS];
        match slot.take() {
            Some(old) => {
                // SAFETY: the first byte of every block is written before it is stored.
                sum = sum.wrapping_add(unsafe { old[0].assume_init() } as u64);
            }
            None => {
                let mut block = Box::<[u8]>::new_uninit_slice(16 + (x & 1023) as usize);
                block[0].write(x as u8);
                *slot = Some(block);
                mallocs += 1;
            }
        }
    }
    mallocs.wrapping_mul(31).wrapping_add(sum)
}

pub fn churn(n: u64) -> u64 {
    const SLOTS: usize = 4096;
    let mut rng = Rng::new(4);
    let mut slots: Vec<Option<Box<[MaybeUninit<u8>]>>> = (0..SLOTS).map(|_| None).collect();
    let mut sum = 0u64;
    for i in 0..n {
        let size = rng.log_uniform(8, 32 * 1024);
        let mut block = Box::<[u8]>::new_uninit_slice(size);
        block[0].write(i as u8);
        block[size - 1].write(i as u8);
        let slot = rng.below(SLOTS as u64) as usize;
        if let Some(old) = slots[slot].replace(block) {
            // SAFETY: the first byte of every block is written before it is stored.
            let first = unsafe { old[0].assume_init() };
            sum = sum.wrapping_add(old.len() as u64 + first as u64);
        }
    }
    sum
}

pub fn channel(n: u64) -> u64 {
    // Sent in batches of 1024: with one Vec<u8> (or 32) per channel message the run was
    // bimodal (0.2 s or 2-5 s for the same binary), the slow runs using about half a core,
    // most likely the receiver sleeping and being woken for nearly every message.
    const BATCH: u64 = 1024;
    let (tx, rx) = mpsc::sync_channel::<Vec<Vec<u8>>>(16);
    let consumer = thread::spawn(move || {
        let mut sum = 0u64;
        for batch in rx {
            for v in batch {
                sum = sum.wrapping_add(v.len() as u64 + v[v.len() - 1] as u64);
            }
        }
        sum
    });
    let mut rng = Rng::new(5);
    let mut i = 0;
    while i < n {
        let end = n.min(i + BATCH);
        let batch = (i..end)
            .map(|k| vec![k as u8; 8 + rng.below(249) as usize])
            .collect();
        tx.send(batch).expect("consumer alive");
        i = end;
    }
    drop(tx);
    consumer.join().expect("consumer panicked")
}

type Task = Box<dyn FnOnce(&Worker) -> u64 + Send>;

/// What a task leaves behind: a follow-up task owns it and drops it, on whichever worker
/// picks the follow-up up (another worker for most of them, as in a work-sharing async
/// runtime).
struct State {
    name: String,
    values: Vec<u64>,
    tag: Box<[u64; 4]>,
}

impl State {
    fn weight(&self) -> u64 {
        self.name.len() as u64 + self.values.len() as u64 + self.tag[0]
    }
}

struct Pool {
    /// Tasks, and whether the submitter is done.
    queue: Mutex<(VecDeque<Task>, bool)>,
    work: Condvar,
    space: Condvar,
}

struct Worker {
    id: usize,
    pool: Arc<Pool>,
}

impl Worker {
    /// Queue a follow-up task (never waits for room: at most one per submitted task).
    fn spawn(&self, task: Task) {
        self.pool.queue.lock().unwrap().0.push_back(task);
        self.pool.work.notify_one();
    }
}

const QUEUE_HIGH: usize = 8192;
/// Submitted tasks in flight: not finished, or their follow-up not yet run. The pool
/// shuts down when the submitter is done and this is zero.
static IN_FLIGHT: AtomicU64 = AtomicU64::new(0);
/// Follow-ups that ran on a worker other than the one that made their state.
pub static TASKPOOL_CROSS: AtomicU64 = AtomicU64::new(0);

pub fn taskpool(n: u64) -> u64 {
    const WORKERS: usize = 4;
    const BATCH: u64 = 256;
    let pool = Arc::new(Pool {
        queue: Mutex::new((VecDeque::new(), false)),
        work: Condvar::new(),
        space: Condvar::new(),
    });
    TASKPOOL_CROSS.store(0, Relaxed);
    IN_FLIGHT.store(0, Relaxed);
    let workers: Vec<_> = (0..WORKERS)
        .map(|id| {
            let worker = Worker {
                id,
                pool: Arc::clone(&pool),
            };
            thread::spawn(move || {
                let mut sum = 0u64;
                loop {
                    let task = {
                        let mut q = worker.pool.queue.lock().unwrap();
                        loop {
                            if let Some(t) = q.0.pop_front() {
                                if q.0.len() == QUEUE_HIGH / 2 {
                                    worker.pool.space.notify_one();
                                }
                                break Some(t);
                            }
                            if q.1 && IN_FLIGHT.load(Acquire) == 0 {
                                break None;
                            }
                            q = worker.pool.work.wait(q).unwrap();
                        }
                    };
                    let Some(task) = task else { break };
                    sum = sum.wrapping_add(task(&worker));
                }
                // Wake the others so they see the end too.
                worker.pool.work.notify_all();
                sum
            })
        })
        .collect();

    let mut rng = Rng::new(6);
    let mut i = 0u64;
    while i < n {
        let mut batch: Vec<Task> = Vec::with_capacity(BATCH as usize);
        for k in i..n.min(i + BATCH) {
            let payload: Vec<u32> = (0..4 + rng.below(60) as u32).collect();
            let extra = rng.below(256) as usize;
            batch.push(Box::new(move |w: &Worker| {
                let total: u64 = payload.iter().map(|&x| x as u64).sum();
                let state = State {
                    name: format!("task-{k}-on-{}", w.id),
                    values: vec![total; 8 + extra],
                    tag: Box::new([k, total, 0, 0]),
                };
                let ret = state.values.len() as u64 + total + k;
                let maker = w.id;
                w.spawn(Box::new(move |w: &Worker| {
                    if w.id != maker {
                        TASKPOOL_CROSS.fetch_add(1, Relaxed);
                    }
                    let weight = state.weight();
                    drop(state);
                    IN_FLIGHT.fetch_sub(1, Release);
                    weight
                }));
                ret
            }));
        }
        IN_FLIGHT.fetch_add(batch.len() as u64, Release);
        i = n.min(i + BATCH);
        let mut q = pool.queue.lock().unwrap();
        while q.0.len() >= QUEUE_HIGH {
            q = pool.space.wait(q).unwrap();
        }
        q.0.extend(batch);
        drop(q);
        pool.work.notify_all();
    }
    pool.queue.lock().unwrap().1 = true;
    pool.work.notify_all();
    let mut sum = 0u64;
    for h in workers {
        sum = sum.wrapping_add(h.join().expect("worker panicked"));
    }
    sum
}

/// A deterministic JSON document of at least `bytes` bytes: an array of records with
/// nested objects, arrays of numbers and strings (some with escapes).
pub fn json_document(bytes: usize) -> String {
    let mut rng = Rng::new(7);
    let mut doc = String::with_capacity(bytes + 4096);
    doc.push('[');
    let mut i = 0u64;
    while doc.len() < bytes {
        if i > 0 {
            doc.push(',');
        }
        let tags: Vec<String> = (0..rng.below(6))
            .map(|t| format!("\"tag{}-{t}\"", rng.below(1000)))
            .collect();
        let scores: Vec<String> = (0..rng.below(12))
            .map(|_| format!("{}.{}", rng.below(10_000), rng.below(100)))
            .collect();
        let _ = write!(
            doc,
            "{{\"id\":{i},\"name\":\"user \\\"{:x}\\\"\\n\",\"active\":{},\"tags\":[{}],\
             \"scores\":[{}],\"address\":{{\"street\":\"{} Main St\",\"zip\":\"{:05}\",\
             \"geo\":{{\"lat\":{}.{},\"lon\":-{}.{}}}}},\"history\":[",
            rng.next_u64(),
            rng.below(2) == 1,
            tags.join(","),
            scores.join(","),
            rng.below(9999),
            rng.below(100_000),
            rng.below(90),
            rng.below(1_000_000),
            rng.below(180),
            rng.below(1_000_000),
        );
        for h in 0..rng.below(4) {
            if h > 0 {
                doc.push(',');
            }
            let _ = write!(
                doc,
                "{{\"event\":\"e{}\",\"at\":{},\"meta\":{{\"k\":[{},{},null]}}}}",
                rng.below(50),
                1_700_000_000 + rng.below(1 << 24),
                rng.below(100),
                rng.below(2) == 0
            );
        }
        doc.push_str("]}");
        i += 1;
    }
    doc.push(']');
    doc
}

fn json_weight(v: &serde_json::Value) -> u64 {
    use serde_json::Value;
    match v {
        Value::Null => 1,
        Value::Bool(b) => 2 + *b as u64,
        Value::Number(n) => 3 + n.as_u64().unwrap_or(0) % 7,
        Value::String(s) => 4 + s.len() as u64,
        Value::Array(a) => 5 + a.iter().map(json_weight).sum::<u64>(),
        Value::Object(o) => {
            6 + o
                .iter()
                .map(|(k, v)| k.len() as u64 + json_weight(v))
                .sum::<u64>()
        }
    }
}

pub fn json(n: u64) -> u64 {
    let doc = json_document(10 << 20);
    let mut sum = doc.len() as u64;
    for _ in 0..n {
        let value: serde_json::Value = serde_json::from_str(&doc).expect("valid JSON");
        sum = sum.wrapping_add(json_weight(&value));
        drop(value);
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workloads_are_deterministic() {
        for w in WORKLOADS {
            let n = if w.name == "json" { 1 } else { 2000 };
            assert_eq!((w.run)(n), (w.run)(n), "{}", w.name);
        }
    }

    #[test]
    fn log_uniform_stays_in_range() {
        let mut rng = Rng::new(9);
        for _ in 0..100_000 {
            let s = rng.log_uniform(8, 32 * 1024);
            assert!((8..=32 * 1024).contains(&s));
        }
    }

    #[test]
    fn json_document_parses() {
        let doc = json_document(100_000);
        assert!(doc.len() >= 100_000);
        let v: serde_json::Value = serde_json::from_str(&doc).unwrap();
        assert!(v.as_array().unwrap().len() > 100);
    }
}
