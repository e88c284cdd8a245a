//! hakmem-soak-worker: runs random-mixed in this one process until a duration or an op count
//! is reached (or SIGINT/SIGTERM), and records one row per epoch: ops, ops/s, RSS and the
//! allocator's own OS-call counts. Launched by `hakmem soak` with the allocator preloaded.
//!
//! Each row is written to `--out` and flushed before the next epoch starts (one write(2) on an
//! unbuffered file), and echoed on stdout for the parent's progress display; so an interrupted
//! soak keeps every finished epoch.
//!
//! Usage: hakmem-soak-worker [--out FILE] [--duration-s S] [--epoch-s E] [--ops N]
//!        [--ws N] [--min-size N] [--max-extra-mask N] [--seed N] [--meta KEY=VALUE]...
//! `--epoch-s 0` records one epoch at the end (the multi-process mode).

use anyhow::{bail, Context, Result};
use hakmem_bench::probe::{OsCallsProbe, Status};
use hakmem_bench::soak::{self, Epoch};
use hakmem_bench::workloads::random_mixed::{RandomMixed, RandomMixedParams};
use std::collections::BTreeMap;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_sig: libc::c_int) {
    STOP.store(true, Ordering::Relaxed);
}

struct Opts {
    out: Option<String>,
    duration: Option<Duration>,
    epoch: Duration,
    ops: Option<u64>,
    params: RandomMixedParams,
    meta: BTreeMap<String, String>,
}

fn parse_args() -> Result<Opts> {
    let mut o = Opts {
        out: None,
        duration: None,
        epoch: Duration::from_secs(10),
        ops: None,
        params: RandomMixedParams::default(),
        meta: BTreeMap::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let val = it.next().with_context(|| format!("{flag} needs a value"))?;
        let secs = |v: &str| -> Result<Duration> {
            let s: f64 = v.parse().with_context(|| format!("{flag}: bad seconds {v:?}"))?;
            if !s.is_finite() || s < 0.0 {
                bail!("{flag}: seconds must be >= 0");
            }
            Ok(Duration::from_secs_f64(s))
        };
        let num = |v: &str| -> Result<u64> { v.parse().with_context(|| format!("{flag}: bad number {v:?}")) };
        match flag.as_str() {
            "--out" => o.out = Some(val),
            "--duration-s" => o.duration = Some(secs(&val)?),
            "--epoch-s" => o.epoch = secs(&val)?,
            "--ops" => o.ops = Some(num(&val)?),
            "--ws" => o.params.ws = num(&val)? as usize,
            "--min-size" => o.params.min_size = num(&val)? as usize,
            "--max-extra-mask" => o.params.max_extra_mask = num(&val)? as u32,
            "--seed" => o.params.seed = num(&val)? as u32,
            "--meta" => {
                let (k, v) = val.split_once('=').with_context(|| format!("--meta wants KEY=VALUE, got {val:?}"))?;
                o.meta.insert(k.to_string(), v.to_string());
            }
            _ => bail!("unknown flag {flag}"),
        }
    }
    if o.duration.is_none() && o.ops.is_none() {
        bail!("give --duration-s or --ops");
    }
    if o.duration == Some(Duration::ZERO) || o.ops == Some(0) {
        bail!("duration and ops must be > 0");
    }
    if o.params.ws == 0 {
        bail!("--ws must be > 0");
    }
    Ok(o)
}

fn main() {
    match run() {
        Ok(()) => {}
        Err(e) => {
            eprintln!("hakmem-soak-worker: {e:#}");
            std::process::exit(2);
        }
    }
}

fn run() -> Result<()> {
    let mut o = parse_args()?;
    hakmem_bench::probe::on_stop_signals(on_signal);
    let os = OsCallsProbe::lookup();
    let status = Status::open_self().context("cannot open /proc/self/status")?;
    o.meta.insert("os_calls".into(), if os.available() { "hakmem_os_calls" } else { "unknown" }.into());
    o.meta.insert("ws".into(), o.params.ws.to_string());
    o.meta.insert("seed".into(), o.params.seed.to_string());
    o.meta.insert(
        "sizes".into(),
        format!("{}..{}", o.params.min_size, o.params.min_size + o.params.max_extra_mask as usize),
    );
    o.meta.insert("pid".into(), std::process::id().to_string());

    let mut file = match &o.out {
        Some(p) => {
            let mut f = std::fs::File::create(p).with_context(|| format!("cannot create {p}"))?;
            let head = format!("{}{}\n", soak::format_meta(&o.meta), soak::EPOCH_COLUMNS);
            f.write_all(head.as_bytes())?;
            Some(f)
        }
        None => None,
    };
    let stdout = std::io::stdout();
    {
        let mut so = stdout.lock();
        let _ = writeln!(so, "{}", soak::EPOCH_COLUMNS);
        let _ = so.flush();
    }

    let mut rm = RandomMixed::new(&o.params);
    // Sized once so that formatting a row does not allocate during the soak.
    let mut buf: Vec<u8> = Vec::with_capacity(256);
    const CHUNK: u64 = 1 << 16;
    let start = Instant::now();
    let deadline = o.duration.map(|d| start + d);
    let single_epoch = o.epoch.is_zero();
    let mut epoch_start = start;
    let mut next_epoch = if single_epoch { None } else { Some(start + o.epoch) };
    let mut epoch_ops = 0u64;
    let mut total_ops = 0u64;
    let mut epoch_no = 0u64;
    let reason;

    let mut emit =
        |now: Instant, ops: u64, epoch_no: u64, epoch_start: Instant, file: &mut Option<std::fs::File>| -> Result<()> {
            let calls = os.read();
            let mem = status.read();
            let e = Epoch {
                epoch: epoch_no,
                t_s: (now - start).as_secs_f64(),
                ops,
                ops_per_s: ops as f64 / (now - epoch_start).as_secs_f64().max(1e-9),
                rss_bytes: mem.map_or(0, |m| m.rss_kb * 1024),
                peak_rss_bytes: mem.map(|m| m.peak_kb * 1024),
                mmap: calls.map(|c| c.mmap),
                munmap: calls.map(|c| c.munmap),
                madvise: calls.map(|c| c.madvise),
            };
            soak::format_epoch_row(&e, &mut buf);
            if let Some(f) = file {
                f.write_all(&buf).context("cannot write the CSV")?;
            }
            // The parent may be gone; the file is what counts.
            let mut so = stdout.lock();
            let _ = so.write_all(&buf);
            let _ = so.flush();
            Ok(())
        };

    loop {
        if STOP.load(Ordering::Relaxed) {
            // The unfinished epoch is dropped: every row covers a whole epoch.
            reason = "interrupted";
            break;
        }
        let n = match o.ops {
            Some(limit) => CHUNK.min(limit - total_ops),
            None => CHUNK,
        };
        rm.run_ops(n);
        epoch_ops += n;
        total_ops += n;
        let now = Instant::now();
        let ops_done = o.ops.is_some_and(|l| total_ops >= l);
        let time_done = deadline.is_some_and(|d| now >= d);
        if ops_done || time_done {
            // A final short epoch is kept only if it is at least half an epoch long, so
            // every row measures a comparable span (the single-epoch mode keeps it always).
            let len = now - epoch_start;
            if single_epoch || len * 2 >= o.epoch {
                emit(now, epoch_ops, epoch_no, epoch_start, &mut file)?;
                epoch_no += 1;
            }
            reason = if ops_done { "ops" } else { "duration" };
            break;
        }
        if let Some(t) = next_epoch {
            if now >= t {
                emit(now, epoch_ops, epoch_no, epoch_start, &mut file)?;
                epoch_no += 1;
                epoch_ops = 0;
                epoch_start = now;
                // Schedule from the boundary, not from `now`, so epochs do not creep.
                let mut nt = t + o.epoch;
                while nt <= now {
                    nt += o.epoch;
                }
                next_epoch = Some(nt);
            }
        }
    }
    let live = rm.live();
    let t_free = Instant::now();
    rm.free_all();
    let free_s = t_free.elapsed().as_secs_f64();
    let after = status.read().map_or(0, |m| m.rss_kb * 1024);
    let tail = format!(
        "# end reason={reason} epochs={epoch_no} ops={total_ops} live_at_end={live} free_all_s={free_s:.6} rss_after_free_bytes={after}\n"
    );
    if let Some(f) = &mut file {
        f.write_all(tail.as_bytes())?;
    }
    let mut so = stdout.lock();
    let _ = so.write_all(tail.as_bytes());
    let _ = so.flush();
    Ok(())
}
