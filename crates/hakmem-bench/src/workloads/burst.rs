//! burst: how much of a burst of allocations the allocator gives back once it is freed.
//!
//! Allocates about `total_mb` MB as 512-byte and 128 KiB blocks interleaved (one large block,
//! then as many small ones as make the same bytes), writes every byte, frees everything, then
//! idles — sleeps, no allocator call — and samples RSS at each of `idle_ms` after the last free.
//! With `threads` > 0 the blocks are made by that many threads at once, each passing its
//! blocks to the next thread of a ring, which frees them (every free is remote); the threads
//! then exit and the main thread idles: the memory of exited threads.
//!
//! The bookkeeping (pointer tables) is allocated and written before the first sample, so
//! `rss_before_kb` includes it and the differences are the allocator's.

use super::Outcome;
use crate::probe::Status;
use anyhow::{ensure, Context, Result};
use std::time::{Duration, Instant};

/// The two block sizes, interleaved.
pub const SMALL: usize = 512;
pub const LARGE: usize = 128 << 10;

#[derive(Clone, Debug, serde::Serialize)]
pub struct BurstParams {
    /// Bytes allocated in all, in MB (2^20 bytes).
    pub total_mb: f64,
    /// Idle times after the last free at which RSS is sampled, in ms, ascending.
    pub idle_ms: Vec<u64>,
    /// 0: the main thread does everything; N: N threads in a ring, then they exit.
    pub threads: usize,
}

impl Default for BurstParams {
    fn default() -> Self {
        BurstParams { total_mb: 300.0, idle_ms: vec![0, 1000, 3000], threads: 0 }
    }
}

/// The memory key of the sample `ms` after the last free.
pub fn idle_key(ms: u64) -> String {
    format!("rss_idle_{ms}ms_kb")
}

/// Blocks in one group (one large block, then `LARGE / SMALL` small ones) and the groups that
/// make `total_mb` (at least one).
pub fn groups(total_mb: f64) -> usize {
    ((total_mb * (1 << 20) as f64 / (2 * LARGE) as f64).round() as usize).max(1)
}

/// Sizes of the blocks of `n` groups, in allocation order.
fn sizes(n: usize) -> impl Iterator<Item = usize> {
    (0..n).flat_map(|_| std::iter::once(LARGE).chain(std::iter::repeat_n(SMALL, LARGE / SMALL)))
}

const GROUP_BLOCKS: usize = 1 + LARGE / SMALL;

pub fn run(p: &BurstParams) -> Result<Outcome> {
    ensure!(p.total_mb > 0.0 && p.total_mb.is_finite(), "burst needs total-mb > 0");
    ensure!(p.idle_ms.windows(2).all(|w| w[0] <= w[1]), "burst: idle-ms must be ascending");
    ensure!(p.threads <= 4096, "burst: at most 4096 threads");
    let status = Status::open_self().context("cannot open /proc/self/status")?;
    let sample = || status.read().map_or(0, |r| r.rss_kb);
    let n = groups(p.total_mb);
    let threads = p.threads.max(1);
    // Every thread's share of the groups, and its pointer table, made and written now.
    let share: Vec<usize> = (0..threads).map(|t| n / threads + (t < n % threads) as usize).collect();
    let mut tables: Vec<Vec<usize>> = share.iter().map(|&g| vec![1usize; g * GROUP_BLOCKS]).collect();
    let before = sample();
    let t0 = Instant::now();
    let (full, last_free) = if p.threads == 0 {
        let blocks = &mut tables[0];
        make(blocks);
        let full = sample();
        release(blocks);
        (full, Instant::now())
    } else {
        ring(&mut tables)?
    };
    let seconds = t0.elapsed().as_secs_f64();
    let mut out = Outcome::new((n * GROUP_BLOCKS) as u64, seconds)
        .check("blocks", (n * GROUP_BLOCKS) as u64)
        .check("bytes", (n * 2 * LARGE) as u64)
        .check("threads", p.threads as u64)
        .mem("rss_before_kb", before)
        .mem("rss_full_kb", full);
    for &ms in &p.idle_ms {
        // Sleeping and reading a file kept open: no allocator call while idle.
        let at = last_free + Duration::from_millis(ms);
        if let Some(d) = at.checked_duration_since(Instant::now()) {
            std::thread::sleep(d);
        }
        out = out.mem(&idle_key(ms), sample());
    }
    drop(tables);
    Ok(out)
}

/// Allocates the blocks of `table` (its length is whole groups) and writes every byte.
fn make(table: &mut [usize]) {
    let groups = table.len() / GROUP_BLOCKS;
    for (slot, size) in table.iter_mut().zip(sizes(groups)) {
        // SAFETY: a fresh block of `size` bytes, written whole, owned by the table.
        unsafe {
            let b = libc::malloc(size) as *mut u8;
            if b.is_null() {
                super::random_mixed::oom(size);
            }
            std::ptr::write_bytes(b, (size >> 9) as u8 | 1, size);
            *slot = b as usize;
        }
    }
}

fn release(table: &mut [usize]) {
    for slot in table.iter_mut() {
        // SAFETY: every entry is a live block from `make`, freed once.
        unsafe { libc::free(*slot as *mut libc::c_void) };
        *slot = 0;
    }
}

/// Blocks handed to the next thread at a time.
const BATCH: usize = 64;

/// The threaded burst: thread i makes its blocks and sends them, batch by batch, to thread
/// i+1 (mod N); when every thread has made its blocks (RSS sampled then), each frees what
/// thread i-1 sent it and exits. Returns that RSS and the instant of the last free.
fn ring(tables: &mut [Vec<usize>]) -> Result<(u64, Instant)> {
    use std::sync::mpsc;
    use std::sync::{Barrier, Mutex};
    let n = tables.len();
    let (txs, rxs): (Vec<_>, Vec<_>) = (0..n).map(|_| mpsc::channel::<Vec<usize>>()).unzip();
    let made = Barrier::new(n);
    let full = Mutex::new(0u64);
    let ends = std::thread::scope(|s| -> Vec<Instant> {
        let mut hs = Vec::new();
        for ((i, table), rx) in tables.iter_mut().enumerate().zip(rxs) {
            let tx = txs[(i + 1) % n].clone();
            let (made, full) = (&made, &full);
            let h = std::thread::Builder::new().stack_size(256 << 10).spawn_scoped(s, move || {
                make(table);
                for chunk in table.chunks(BATCH) {
                    tx.send(chunk.to_vec()).expect("the ring's next thread is alive");
                }
                drop(tx);
                table.fill(0);
                if made.wait().is_leader() {
                    *full.lock().unwrap() = crate::probe::rss().map_or(0, |r| r.rss_kb);
                }
                // Ends when every sender (the previous thread, and the main thread's copy
                // dropped below) is gone.
                for batch in rx {
                    for &blk in &batch {
                        // SAFETY: a live block made by the previous thread and handed over.
                        unsafe { libc::free(blk as *mut libc::c_void) };
                    }
                }
                Instant::now()
            });
            // The threads already started would wait at the barrier for ever: end the process.
            let h = h.unwrap_or_else(|e| {
                eprintln!("hakmem-workload: burst: cannot start thread {i} of {n}: {e}");
                std::process::exit(1)
            });
            hs.push(h);
        }
        drop(txs);
        hs.into_iter().map(|h| h.join().expect("burst thread panicked")).collect()
    });
    let last = ends.into_iter().max().unwrap_or_else(Instant::now);
    let full = *full.lock().unwrap();
    Ok((full, last))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_arithmetic() {
        assert_eq!(GROUP_BLOCKS, 257);
        assert_eq!(groups(300.0), 1200);
        assert_eq!(groups(0.0001), 1);
        assert_eq!(sizes(2).filter(|&s| s == LARGE).count(), 2);
        assert_eq!(sizes(2).map(|s| s as u64).sum::<u64>(), 4 * LARGE as u64);
    }

    #[test]
    fn tiny_bursts_report_every_sample() {
        for threads in [0, 5] {
            let p = BurstParams { total_mb: 2.0, idle_ms: vec![0, 20], threads };
            let o = run(&p).unwrap();
            assert_eq!(o.checks["blocks"], 8 * 257, "{threads}");
            assert_eq!(o.ops, 8 * 257);
            for k in ["rss_before_kb", "rss_full_kb", "rss_idle_0ms_kb", "rss_idle_20ms_kb"] {
                assert!(o.memory[k] > 0, "{k} with {threads} threads: {:?}", o.memory);
            }
        }
        assert!(run(&BurstParams { idle_ms: vec![5, 1], ..Default::default() }).is_err());
    }
}
