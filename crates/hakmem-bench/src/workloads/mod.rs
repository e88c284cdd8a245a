//! Workloads. Every one calls `libc::malloc/free/realloc` directly, so the allocator is
//! whatever LD_PRELOAD put in front of libc, and none keeps per-op Rust allocations on its
//! timed path.

pub mod block;
pub mod burst;
pub mod false_sharing;
pub mod fit;
pub mod large_blocks;
pub mod mixed_lifetimes;
pub mod mt;
pub mod producer_consumer;
pub mod profdump;
pub mod random_mixed;
pub mod realloc_growth;
pub mod rounds;
pub mod server_churn;
pub mod thread_churn;

use std::collections::BTreeMap;

/// Every workload, by the name used on the command line.
pub const NAMES: &[&str] = &[
    "random-mixed",
    "random-mixed-c",
    "server-churn",
    "producer-consumer",
    "false-sharing",
    "realloc-growth",
    "large-blocks",
    "thread-churn",
    "mpmc",
    "mixed-lifetimes",
    "rounds",
    "cache-thrash",
];

/// The multi-threaded workloads, the group `-w mt` selects (`hakmem bench -w mt`).
pub const MT_NAMES: &[&str] = &[
    "mpmc",
    "producer-consumer",
    "server-churn",
    "mixed-lifetimes",
    "rounds",
    "cache-thrash",
    "false-sharing",
    "thread-churn",
];

/// The groups `-w` accepts besides single names: `all` and `mt`.
pub fn group(name: &str) -> Option<&'static [&'static str]> {
    match name {
        "all" => Some(NAMES),
        "mt" => Some(MT_NAMES),
        _ => None,
    }
}

/// The workloads of the memory section (`hakmem bench --memory`): they measure RSS, not speed,
/// and are not part of `all`.
pub const MEMORY_NAMES: &[&str] = &["burst", "fit"];

/// What a workload reports: ops done in the timed part, its duration, the counters its
/// invariant checks were computed from, the memory workloads' samples (RSS in KiB, bytes),
/// and the heap profile it wrote when asked to (`--prof-dump`).
#[derive(Clone, Debug, serde::Serialize)]
pub struct Outcome {
    pub ops: u64,
    pub seconds: f64,
    pub checks: BTreeMap<String, u64>,
    pub memory: BTreeMap<String, u64>,
    pub prof: Option<profdump::ProfPoint>,
}

impl Outcome {
    pub fn new(ops: u64, seconds: f64) -> Self {
        Outcome { ops, seconds, checks: BTreeMap::new(), memory: BTreeMap::new(), prof: None }
    }
    /// Attaches the dump's report; when it was written inside the timed part (`timed`), its
    /// duration is taken off `seconds`.
    pub fn with_prof(mut self, prof: Option<profdump::ProfPoint>, timed: bool) -> Self {
        if let (Some(p), true) = (&prof, timed) {
            self.seconds = (self.seconds - p.seconds).max(0.0);
        }
        self.prof = prof;
        self
    }
    pub fn check(mut self, k: &str, v: u64) -> Self {
        self.checks.insert(k.to_string(), v);
        self
    }
    pub fn mem(mut self, k: &str, v: u64) -> Self {
        self.memory.insert(k.to_string(), v);
        self
    }
}

/// Parameter overrides from the command line; `None` keeps the workload's default.
/// Options that a workload does not have are rejected by `run_named`.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct Overrides {
    /// Main op count (random-mixed: timed ops; others: see each workload's doc).
    #[arg(long)]
    pub cycles: Option<u64>,
    /// Threads (server-churn, false-sharing, cache-thrash, rounds, thread-churn, mixed-lifetimes: alive at a
    /// time; producer-consumer: split between the sides; mpmc: producer/consumer pairs).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Working set: slots (random-mixed, large-blocks), blocks per thread (server-churn,
    /// mixed-lifetimes), blocks per round (rounds).
    #[arg(long)]
    pub ws: Option<usize>,
    #[arg(long)]
    pub seed: Option<u32>,
    #[arg(long)]
    pub min_size: Option<usize>,
    #[arg(long)]
    pub max_size: Option<usize>,
    /// random-mixed: size = min-size + (r & mask).
    #[arg(long, value_parser = parse_u32_maybe_hex)]
    pub max_extra_mask: Option<u32>,
    /// server-churn: percent of blocks freed by another thread; thread-churn: percent left to the
    /// parent; mixed-lifetimes: percent passed on through the shared array.
    #[arg(long)]
    pub remote_pct: Option<u32>,
    /// false-sharing object size.
    #[arg(long)]
    pub size: Option<usize>,
    #[arg(long)]
    pub writes_per_object: Option<u64>,
    /// realloc-growth: objects growing at once.
    #[arg(long)]
    pub live: Option<usize>,
    /// thread-churn, mixed-lifetimes: mallocs per thread before it exits.
    #[arg(long)]
    pub allocs_per_thread: Option<usize>,
    /// producer-consumer, mpmc: queue capacity in batches of 32 blocks.
    #[arg(long)]
    pub queue_batches: Option<usize>,
    /// burst: MB allocated in all; fit: live requested MB aimed at (MB = 2^20 bytes).
    #[arg(long)]
    pub total_mb: Option<f64>,
    /// burst: RSS samples after the last free, ms (comma list, ascending).
    #[arg(long, value_delimiter = ',')]
    pub idle_ms: Option<Vec<u64>>,
    /// Write hakmem's heap profile here at the workload's largest live set, with the exact live
    /// bytes in the JSON line (`prof`); needs libhakmem.so preloaded and HAKMEM_PROF=1.
    /// random-mixed, realloc-growth, large-blocks, server-churn, mixed-lifetimes, rounds.
    #[arg(long, value_name = "PATH")]
    pub prof_dump: Option<String>,
}

fn parse_u32_maybe_hex(s: &str) -> Result<u32, String> {
    let r = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => u32::from_str_radix(h, 16),
        None => s.parse(),
    };
    r.map_err(|e| format!("{s}: {e}"))
}

macro_rules! take {
    ($o:expr, $used:expr, $field:ident => $dst:expr) => {
        if let Some(v) = $o.$field {
            $dst = v;
            $used.push(stringify!($field));
        }
    };
}

/// `--prof-dump`, for a workload that has it.
fn take_dump(o: &Overrides, used: &mut Vec<&str>) -> Option<String> {
    if o.prof_dump.is_some() {
        used.push("prof_dump");
    }
    o.prof_dump.clone()
}

/// A workload with its effective parameters, validated and ready to run.
#[derive(Clone, Debug)]
pub enum Prepared {
    RandomMixed(random_mixed::RandomMixedParams),
    ServerChurn(server_churn::ServerChurnParams),
    ProducerConsumer(producer_consumer::ProducerConsumerParams),
    FalseSharing(false_sharing::FalseSharingParams),
    ReallocGrowth(realloc_growth::ReallocGrowthParams),
    LargeBlocks(large_blocks::LargeBlocksParams),
    ThreadChurn(thread_churn::ThreadChurnParams),
    MixedLifetimes(mixed_lifetimes::MixedLifetimesParams),
    Rounds(rounds::RoundsParams),
    Burst(burst::BurstParams),
    Fit(fit::FitParams),
}

impl Prepared {
    pub fn params_json(&self) -> serde_json::Value {
        let v = match self {
            Prepared::RandomMixed(p) => serde_json::to_value(p),
            Prepared::ServerChurn(p) => serde_json::to_value(p),
            Prepared::ProducerConsumer(p) => serde_json::to_value(p),
            Prepared::FalseSharing(p) => serde_json::to_value(p),
            Prepared::ReallocGrowth(p) => serde_json::to_value(p),
            Prepared::LargeBlocks(p) => serde_json::to_value(p),
            Prepared::ThreadChurn(p) => serde_json::to_value(p),
            Prepared::MixedLifetimes(p) => serde_json::to_value(p),
            Prepared::Rounds(p) => serde_json::to_value(p),
            Prepared::Burst(p) => serde_json::to_value(p),
            Prepared::Fit(p) => serde_json::to_value(p),
        };
        v.unwrap_or(serde_json::Value::Null)
    }

    pub fn run(&self) -> anyhow::Result<Outcome> {
        match self {
            Prepared::RandomMixed(p) => {
                let dumper = profdump::Dumper::for_param(&p.prof_dump)?;
                let r = random_mixed::run_with(p, dumper.as_ref());
                Ok(Outcome::new(r.ops, r.seconds)
                    .check("mallocs", r.mallocs)
                    .check("frees", r.frees)
                    .check("freed_at_end", r.freed_at_end)
                    .with_prof(r.prof, true))
            }
            Prepared::ServerChurn(p) => server_churn::run(p),
            Prepared::ProducerConsumer(p) => producer_consumer::run(p),
            Prepared::FalseSharing(p) => false_sharing::run(p),
            Prepared::ReallocGrowth(p) => realloc_growth::run(p),
            Prepared::LargeBlocks(p) => large_blocks::run(p),
            Prepared::ThreadChurn(p) => thread_churn::run(p),
            Prepared::MixedLifetimes(p) => mixed_lifetimes::run(p),
            Prepared::Rounds(p) => rounds::run(p),
            Prepared::Burst(p) => burst::run(p),
            Prepared::Fit(p) => fit::run(p),
        }
    }
}

/// Parses workload options given as command-line words (`--cycles 1000 --ws 64`).
pub fn parse_overrides(args: &[String]) -> anyhow::Result<Overrides> {
    use clap::Parser;
    #[derive(Parser)]
    #[command(name = "workload options", no_binary_name = true)]
    struct W {
        #[command(flatten)]
        o: Overrides,
    }
    W::try_parse_from(args).map(|w| w.o).map_err(|e| anyhow::anyhow!("{}", e.to_string().trim()))
}

/// Resolves a workload name and overrides into validated parameters. Options the workload
/// does not have are an error, so a typo never silently measures the defaults.
pub fn prepare(name: &str, o: &Overrides) -> anyhow::Result<Prepared> {
    let mut used: Vec<&str> = Vec::new();
    let prepared = match name {
        // random-mixed-c (a C program, see `cprog`) takes random-mixed's options.
        "random-mixed" | "random-mixed-c" => {
            let mut p = random_mixed::RandomMixedParams::default();
            take!(o, used, cycles => p.cycles);
            take!(o, used, ws => p.ws);
            take!(o, used, seed => p.seed);
            take!(o, used, min_size => p.min_size);
            take!(o, used, max_extra_mask => p.max_extra_mask);
            if name == "random-mixed" {
                // The C program has no --prof-dump.
                p.prof_dump = take_dump(o, &mut used);
            }
            anyhow::ensure!(p.ws > 0, "random-mixed needs ws > 0");
            Prepared::RandomMixed(p)
        }
        "server-churn" => {
            let mut p = server_churn::ServerChurnParams::default();
            take!(o, used, cycles => p.cycles);
            take!(o, used, threads => p.threads);
            take!(o, used, ws => p.slots);
            take!(o, used, seed => p.seed);
            take!(o, used, min_size => p.min_size);
            take!(o, used, max_size => p.max_size);
            take!(o, used, remote_pct => p.remote_pct);
            p.prof_dump = take_dump(o, &mut used);
            Prepared::ServerChurn(p)
        }
        "producer-consumer" | "mpmc" => {
            let mpmc = name == "mpmc";
            let mut p = if mpmc {
                producer_consumer::ProducerConsumerParams::mpmc()
            } else {
                producer_consumer::ProducerConsumerParams::default()
            };
            if let Some(t) = o.threads {
                p = if mpmc { p.with_pairs(t) } else { p.with_threads(t) };
                used.push("threads");
            }
            take!(o, used, cycles => p.cycles);
            take!(o, used, seed => p.seed);
            take!(o, used, min_size => p.min_size);
            take!(o, used, max_size => p.max_size);
            take!(o, used, queue_batches => p.queue_batches);
            Prepared::ProducerConsumer(p)
        }
        "false-sharing" | "cache-thrash" => {
            let mut p = if name == "cache-thrash" {
                false_sharing::FalseSharingParams::cache_thrash()
            } else {
                false_sharing::FalseSharingParams::default()
            };
            take!(o, used, cycles => p.cycles);
            take!(o, used, threads => p.threads);
            take!(o, used, size => p.size);
            take!(o, used, writes_per_object => p.writes_per_object);
            Prepared::FalseSharing(p)
        }
        "realloc-growth" => {
            let mut p = realloc_growth::ReallocGrowthParams::default();
            take!(o, used, cycles => p.cycles);
            take!(o, used, live => p.live);
            take!(o, used, seed => p.seed);
            p.prof_dump = take_dump(o, &mut used);
            Prepared::ReallocGrowth(p)
        }
        "large-blocks" => {
            let mut p = large_blocks::LargeBlocksParams::default();
            take!(o, used, cycles => p.cycles);
            take!(o, used, ws => p.ws);
            take!(o, used, seed => p.seed);
            take!(o, used, min_size => p.min_size);
            take!(o, used, max_size => p.max_size);
            p.prof_dump = take_dump(o, &mut used);
            Prepared::LargeBlocks(p)
        }
        "thread-churn" => {
            let mut p = thread_churn::ThreadChurnParams::default();
            take!(o, used, cycles => p.cycles);
            take!(o, used, threads => p.threads);
            take!(o, used, seed => p.seed);
            take!(o, used, min_size => p.min_size);
            take!(o, used, max_size => p.max_size);
            take!(o, used, remote_pct => p.leave_pct);
            take!(o, used, allocs_per_thread => p.allocs_per_thread);
            Prepared::ThreadChurn(p)
        }
        "mixed-lifetimes" => {
            let mut p = mixed_lifetimes::MixedLifetimesParams::default();
            take!(o, used, cycles => p.cycles);
            take!(o, used, threads => p.threads);
            take!(o, used, ws => p.slots);
            take!(o, used, seed => p.seed);
            take!(o, used, min_size => p.min_size);
            take!(o, used, max_size => p.max_size);
            take!(o, used, remote_pct => p.transfer_pct);
            take!(o, used, allocs_per_thread => p.allocs_per_thread);
            p.prof_dump = take_dump(o, &mut used);
            Prepared::MixedLifetimes(p)
        }
        "rounds" => {
            let mut p = rounds::RoundsParams::default();
            take!(o, used, cycles => p.cycles);
            take!(o, used, threads => p.threads);
            take!(o, used, ws => p.blocks_per_round);
            take!(o, used, seed => p.seed);
            take!(o, used, min_size => p.min_size);
            take!(o, used, max_size => p.max_size);
            p.prof_dump = take_dump(o, &mut used);
            Prepared::Rounds(p)
        }
        "burst" => {
            let mut p = burst::BurstParams::default();
            take!(o, used, total_mb => p.total_mb);
            take!(o, used, threads => p.threads);
            if let Some(v) = &o.idle_ms {
                p.idle_ms = v.clone();
                used.push("idle_ms");
            }
            Prepared::Burst(p)
        }
        "fit" => {
            let (mut min, mut max, mut total) = (16, 1024, fit::DEFAULT_TOTAL_MB);
            take!(o, used, min_size => min);
            take!(o, used, max_size => max);
            take!(o, used, total_mb => total);
            anyhow::ensure!(min >= 1 && max >= min, "fit needs 1 <= min-size <= max-size");
            let mut p = fit::FitParams::for_total(min, max, total);
            take!(o, used, cycles => p.blocks);
            take!(o, used, seed => p.seed);
            Prepared::Fit(p)
        }
        _ => anyhow::bail!("unknown workload '{name}' (known: {}, {})", NAMES.join(", "), MEMORY_NAMES.join(", ")),
    };
    check_unused(name, o, &used)?;
    Ok(prepared)
}

/// Runs a workload by name with overrides; returns the outcome and the effective parameters.
pub fn run_named(name: &str, o: &Overrides) -> anyhow::Result<(Outcome, serde_json::Value)> {
    anyhow::ensure!(crate::cprog::find(name).is_none(), "{name} is a C program: run its own binary");
    let p = prepare(name, o)?;
    Ok((p.run()?, p.params_json()))
}

/// The workloads that take `--prof-dump` (`hakmem bench --prof-accuracy` runs them).
pub const PROF_NAMES: &[&str] =
    &["random-mixed", "realloc-growth", "large-blocks", "server-churn", "mixed-lifetimes", "rounds"];

/// Whether a workload takes `--threads`.
pub fn takes_threads(name: &str) -> bool {
    MT_NAMES.contains(&name) || name == "burst"
}

fn check_unused(name: &str, o: &Overrides, used: &[&str]) -> anyhow::Result<()> {
    let given: Vec<&str> = [
        ("cycles", o.cycles.is_some()),
        ("threads", o.threads.is_some()),
        ("ws", o.ws.is_some()),
        ("seed", o.seed.is_some()),
        ("min_size", o.min_size.is_some()),
        ("max_size", o.max_size.is_some()),
        ("max_extra_mask", o.max_extra_mask.is_some()),
        ("remote_pct", o.remote_pct.is_some()),
        ("size", o.size.is_some()),
        ("writes_per_object", o.writes_per_object.is_some()),
        ("live", o.live.is_some()),
        ("allocs_per_thread", o.allocs_per_thread.is_some()),
        ("queue_batches", o.queue_batches.is_some()),
        ("total_mb", o.total_mb.is_some()),
        ("idle_ms", o.idle_ms.is_some()),
        ("prof_dump", o.prof_dump.is_some()),
    ]
    .into_iter()
    .filter(|&(k, g)| g && !used.contains(&k))
    .map(|(k, _)| k)
    .collect();
    anyhow::ensure!(
        given.is_empty(),
        "workload {name} has no option {}",
        given.iter().map(|k| format!("--{}", k.replace('_', "-"))).collect::<Vec<_>>().join(", ")
    );
    Ok(())
}

/// xorshift32 (`x ^= x << 13; x ^= x >> 17; x ^= x << 5`), the generator the random-mixed protocol specifies.
#[derive(Clone, Copy, Debug)]
pub struct Xorshift32(u32);

impl Xorshift32 {
    /// A zero seed would stick at zero forever, so it is replaced by 1.
    pub fn new(seed: u32) -> Self {
        Xorshift32(if seed == 0 { 1 } else { seed })
    }
    #[inline(always)]
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> u32 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.0 = x;
        x
    }
}

/// One sentence per workload for reports: what it does and what one op is.
pub fn describe(name: &str) -> &'static str {
    match name {
        "random-mixed" => "8192 slots, xorshift32; each op frees a full slot or mallocs 16..1039 bytes into an empty one (single thread). One op = one malloc or one free.",
        "random-mixed-c" => "random-mixed written again in C (the same slots, generator, sizes and protocol; built by the tool with cc -O2): a second, independent program for the headline pattern. One op = one malloc or one free.",
        "server-churn" => "larson-like: each thread keeps a table of 8..512-byte blocks and replaces them at random; 10% of replaced blocks are freed by the next thread. One op = one replacement (a free plus a malloc).",
        "producer-consumer" => "one thread mallocs 16..1024-byte blocks and hands them in batches of 32 through a bounded queue (16 batches) to another that frees them: every free is remote; the producer can never run more than 512 blocks ahead. One op = one block handed over; the share of time each side waited on the queue is reported as blocked P/C. A waiting side spins and yields while the threads fit the cores (it parks only when they do not, and under callgrind), so the rate is the slower side's, not the scheduler's wake-up latency.",
        "false-sharing" => "cache-scratch: the main thread allocates one 8-byte object per worker and hands them out; each worker frees it, then allocates 8-byte objects and increments them 1000 times each. One op = one write; a slow row means the allocator put two threads' objects on one cache line.",
        "realloc-growth" => "four objects at a time grown by realloc, strings by 1..64 bytes up to 16 KiB, vectors by doubling up to 256 KiB, contents checked. One op = one realloc.",
        "large-blocks" => "64 KiB..8 MiB blocks (log-uniform), every page touched and checked, 4 live at a time. One op = one malloc (with its free).",
        "thread-churn" => "threads started two at a time; each mallocs 1000 blocks of 16..1024 bytes, frees 90% itself and leaves 10% for the parent to free after it exits. One op = one malloc.",
        "mpmc" => "xmalloc-test-like: 2 producer threads malloc blocks of 16 B..8 KiB (log-uniform) and hand them in batches of 32 through one bounded queue (16 batches) to 2 consumer threads that free them: every free is remote, four threads on the machine (`--threads N`: N pairs). One op = one block handed over; blocked P/C as for producer-consumer.",
        "mixed-lifetimes" => "larson/mstress-like: 2 lanes of short-lived threads (50 000 mallocs each, then the next thread of the lane takes over its table); of blocks of 16 B..4 KiB (log-uniform), 50% are freed at once, 10% swapped into a shared 1024-slot array (freeing what another thread left there), 40% replace a slot of a 1000-block table that outlives its thread. One op = one malloc.",
        "rounds" => "alloc-test-like: each thread, round after round, mallocs 2000 blocks of 16 B..4 KiB (log-uniform), then frees them all in a fixed scrambled order. One op = one malloc (with its free).",
        "cache-thrash" => "Hoard's cache-thrash: each thread mallocs one 8-byte object, increments it 10 times, frees it, again and again (no object comes from another thread, unlike false-sharing). One op = one write; a slow row means the allocator put two threads' objects on one cache line.",
        "burst" => "300 MB of 512-byte and 128 KiB blocks interleaved, every byte written, all freed; then idle (no allocator call) with RSS sampled after the last free. With --threads N, N threads make the blocks and pass them around a ring to be freed, then exit. One op = one malloc.",
        "fit" => "blocks of uniformly random size in [min-size, max-size], ~160 MB requested, every byte written; a random half freed and allocated again with new sizes; RSS over the live requested bytes. One op = one malloc.",
        _ => "",
    }
}

/// The default `--cycles` of a workload (the instruction-count mode runs a tenth of it).
pub fn default_cycles(name: &str) -> Option<u64> {
    Some(match name {
        "random-mixed" | "random-mixed-c" => random_mixed::RandomMixedParams::default().cycles,
        "server-churn" => server_churn::ServerChurnParams::default().cycles,
        "producer-consumer" => producer_consumer::ProducerConsumerParams::default().cycles,
        "false-sharing" => false_sharing::FalseSharingParams::default().cycles,
        "realloc-growth" => realloc_growth::ReallocGrowthParams::default().cycles,
        "large-blocks" => large_blocks::LargeBlocksParams::default().cycles,
        "thread-churn" => thread_churn::ThreadChurnParams::default().cycles,
        "mpmc" => producer_consumer::ProducerConsumerParams::mpmc().cycles,
        "mixed-lifetimes" => mixed_lifetimes::MixedLifetimesParams::default().cycles,
        "rounds" => rounds::RoundsParams::default().cycles,
        "cache-thrash" => false_sharing::FalseSharingParams::cache_thrash().cycles,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prepare_validates_options() {
        let o = parse_overrides(&["--cycles".into(), "5".into(), "--max-extra-mask".into(), "0x1f".into()]).unwrap();
        match prepare("random-mixed", &o).unwrap() {
            Prepared::RandomMixed(p) => {
                assert_eq!((p.cycles, p.max_extra_mask, p.ws), (5, 0x1f, 8192))
            }
            other => panic!("{other:?}"),
        }
        let e = prepare("realloc-growth", &parse_overrides(&["--threads".into(), "2".into()]).unwrap()).unwrap_err();
        assert!(e.to_string().contains("no option --threads"), "{e}");
        assert!(parse_overrides(&["--bogus".into(), "1".into()]).is_err());
        assert!(prepare("nope", &Overrides::default()).is_err());
        for n in NAMES.iter().chain(MEMORY_NAMES) {
            assert!(prepare(n, &Overrides::default()).is_ok(), "{n}");
            assert_eq!(default_cycles(n).is_some(), NAMES.contains(n), "{n}");
            let t = Overrides { threads: Some(2), ..Default::default() };
            assert_eq!(prepare(n, &t).is_ok(), takes_threads(n), "{n}");
        }
    }

    #[test]
    fn memory_workload_options() {
        let w = |a: &[&str]| parse_overrides(&a.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
        match prepare("fit", &w(&["--min-size", "1024", "--max-size", "1024", "--total-mb", "2"])).unwrap() {
            Prepared::Fit(p) => assert_eq!((p.blocks, p.min_size, p.max_size), (2048, 1024, 1024)),
            other => panic!("{other:?}"),
        }
        match prepare("fit", &w(&["--cycles", "77", "--total-mb", "2"])).unwrap() {
            Prepared::Fit(p) => assert_eq!(p.blocks, 77, "--cycles counts blocks and wins"),
            other => panic!("{other:?}"),
        }
        assert!(prepare("fit", &w(&["--min-size", "9", "--max-size", "8"])).is_err());
        match prepare("burst", &w(&["--idle-ms", "0,250", "--threads", "32", "--total-mb", "1.5"])).unwrap() {
            Prepared::Burst(p) => assert_eq!((p.idle_ms, p.threads, p.total_mb), (vec![0, 250], 32, 1.5)),
            other => panic!("{other:?}"),
        }
        assert!(prepare("burst", &w(&["--min-size", "9"])).is_err());
        assert!(prepare("random-mixed", &w(&["--idle-ms", "1"])).is_err());
    }

    #[test]
    fn xorshift_known_values() {
        // First outputs for seed 1, computed by hand from the three shifts.
        let mut r = Xorshift32::new(1);
        assert_eq!(r.next(), 270369);
        assert_eq!(r.next(), 67634689);
    }
}
