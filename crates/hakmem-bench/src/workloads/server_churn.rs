//! server churn (larson-like): each thread keeps a table of blocks of random sizes and keeps
//! replacing them; a share of the replaced blocks is handed to the next thread, which frees
//! them (remote frees), as a server hands buffers between worker threads.

use super::block::{alloc_stamped, check, free_checked};
use super::mt::{run_threads, share};
use super::profdump::Dumper;
use super::{Outcome, Xorshift32};
use anyhow::{ensure, Result};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Barrier, Mutex};

#[derive(Clone, Debug, serde::Serialize)]
pub struct ServerChurnParams {
    pub threads: usize,
    /// Replacements in total (split over the threads).
    pub cycles: u64,
    /// Blocks each thread keeps.
    pub slots: usize,
    pub min_size: usize,
    pub max_size: usize,
    /// Percent of replaced blocks handed to another thread to free.
    pub remote_pct: u32,
    pub seed: u32,
    /// Write the heap profile here once every thread has sent and received everything, before
    /// the tables are freed (all threads wait while it is written).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prof_dump: Option<String>,
}

impl Default for ServerChurnParams {
    fn default() -> Self {
        ServerChurnParams {
            threads: 2,
            cycles: 4_000_000,
            slots: 1000,
            min_size: 8,
            max_size: 512,
            remote_pct: 10,
            seed: 1234567,
            prof_dump: None,
        }
    }
}

const BATCH: usize = 64;
const INBOX_CAP: usize = 64 * BATCH;

#[derive(Default, Clone, Copy)]
struct Counts {
    mallocs: u64,
    local_frees: u64,
    sent: u64,
    received: u64,
    corrupt: u64,
}

pub fn run(p: &ServerChurnParams) -> Result<Outcome> {
    ensure!(p.threads >= 1 && p.slots >= 1, "server-churn needs threads >= 1 and slots >= 1");
    ensure!(p.min_size >= 8 && p.max_size >= p.min_size, "server-churn needs 8 <= min-size <= max-size");
    ensure!(p.remote_pct <= 100, "remote-pct is a percentage");
    let t = p.threads;
    // Preallocated inboxes: the handoff itself never allocates on the timed path.
    let inboxes: Vec<Mutex<Vec<usize>>> = (0..t).map(|_| Mutex::new(Vec::with_capacity(INBOX_CAP))).collect();
    // Threads that have sent everything; the others keep draining their inbox until all have.
    let done = AtomicUsize::new(0);
    // The dump: the tables' bytes and blocks, and a barrier to hold every thread still.
    let dumper = Dumper::for_param(&p.prof_dump)?;
    let (held, held_blocks, quiet) = (AtomicU64::new(0), AtomicU64::new(0), Barrier::new(t));
    let prof = Mutex::new(None);
    let span = (p.max_size - p.min_size + 1) as u32;
    let (counts, seconds) = run_threads(t, "server-churn", |i, start| {
        let n_ops = share(p.cycles, t, i);
        let mut c = Counts::default();
        let mut rng = Xorshift32::new(p.seed.wrapping_add(i as u32 * 7919));
        let mut table: Vec<(usize, usize)> = Vec::with_capacity(p.slots);
        for _ in 0..p.slots {
            let size = p.min_size + (rng.next() % span) as usize;
            table.push((alloc_stamped(size), size));
            c.mallocs += 1;
        }
        let mut out = [0usize; BATCH];
        let mut n_out = 0;
        let mut spare: Vec<usize> = Vec::with_capacity(INBOX_CAP);
        let to = &inboxes[(i + 1) % t];
        let mine = &inboxes[i];
        start.wait();
        for k in 0..n_ops {
            let r = rng.next();
            let idx = r as usize % p.slots;
            let (old, old_size) = table[idx];
            // SAFETY: old is a live block of old_size bytes that this thread owns.
            if !unsafe { check(old as *const u8, Some(old_size)) } {
                c.corrupt += 1;
            }
            if rng.next() % 100 < p.remote_pct {
                out[n_out] = old;
                n_out += 1;
                if n_out == BATCH {
                    send(to, &out, mine, &mut spare, &mut c);
                    n_out = 0;
                }
            } else {
                unsafe { libc::free(old as *mut libc::c_void) };
                c.local_frees += 1;
            }
            let size = p.min_size + (r % span) as usize;
            table[idx] = (alloc_stamped(size), size);
            c.mallocs += 1;
            if k % BATCH as u64 == 0 {
                drain(mine, &mut spare, &mut c);
            }
        }
        send(to, &out[..n_out], mine, &mut spare, &mut c);
        done.fetch_add(1, Ordering::AcqRel);
        while done.load(Ordering::Acquire) < t {
            drain(mine, &mut spare, &mut c);
            std::thread::yield_now();
        }
        // Everyone has sent everything: each inbox holds its final share.
        drain(mine, &mut spare, &mut c);
        if let Some(d) = &dumper {
            // Nothing is in flight once every thread has drained: the tables are the live set.
            held.fetch_add(table.iter().map(|&(_, size)| size as u64).sum(), Ordering::Relaxed);
            held_blocks.fetch_add(table.len() as u64, Ordering::Relaxed);
            quiet.wait();
            if i == 0 {
                let pp = d.dump(held.load(Ordering::Relaxed), held_blocks.load(Ordering::Relaxed));
                *prof.lock().unwrap_or_else(|e| e.into_inner()) = Some(pp);
            }
            quiet.wait();
        }
        for &(b, size) in &table {
            // SAFETY: b is a live block of `size` bytes that this thread owns.
            c.corrupt += !unsafe { free_checked(b, Some(size)) } as u64;
            c.local_frees += 1;
        }
        c
    });
    let sum = counts.iter().fold(Counts::default(), |a, c| Counts {
        mallocs: a.mallocs + c.mallocs,
        local_frees: a.local_frees + c.local_frees,
        sent: a.sent + c.sent,
        received: a.received + c.received,
        corrupt: a.corrupt + c.corrupt,
    });
    ensure!(sum.corrupt == 0, "server-churn: {} blocks had damaged contents", sum.corrupt);
    ensure!(sum.sent == sum.received, "server-churn: sent {} blocks but {} were received", sum.sent, sum.received);
    ensure!(
        sum.mallocs == sum.local_frees + sum.received,
        "server-churn: {} mallocs but {} frees",
        sum.mallocs,
        sum.local_frees + sum.received
    );
    ensure!(sum.mallocs == p.cycles + (p.slots * t) as u64, "server-churn: op count mismatch");
    Ok(Outcome::new(p.cycles, seconds)
        .check("mallocs", sum.mallocs)
        .check("remote_frees", sum.received)
        .with_prof(prof.into_inner().unwrap_or_else(|e| e.into_inner()), true))
}

/// Hands blocks to the next thread. When its inbox is full, waits for it to drain, draining
/// our own inbox meanwhile so two threads waiting on each other still make progress.
fn send(to: &Mutex<Vec<usize>>, blocks: &[usize], mine: &Mutex<Vec<usize>>, spare: &mut Vec<usize>, c: &mut Counts) {
    if blocks.is_empty() {
        return;
    }
    loop {
        {
            let mut inbox = to.lock().unwrap_or_else(|e| e.into_inner());
            if inbox.len() + blocks.len() <= INBOX_CAP {
                inbox.extend_from_slice(blocks);
                c.sent += blocks.len() as u64;
                return;
            }
        }
        drain(mine, spare, c);
        std::thread::yield_now();
    }
}

fn drain(mine: &Mutex<Vec<usize>>, spare: &mut Vec<usize>, c: &mut Counts) {
    {
        let mut inbox = mine.lock().unwrap_or_else(|e| e.into_inner());
        if inbox.is_empty() {
            return;
        }
        // Swap buffers (both have INBOX_CAP capacity) so the lock is held for no work.
        std::mem::swap(&mut *inbox, spare);
    }
    for &b in spare.iter() {
        // SAFETY: the sender stamped the block and gave up ownership.
        c.corrupt += !unsafe { free_checked(b, None) } as u64;
    }
    c.received += spare.len() as u64;
    spare.clear();
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn tiny_run_balances() {
        let p = ServerChurnParams { cycles: 20_000, slots: 50, ..Default::default() };
        let o = run(&p).unwrap();
        assert_eq!(o.ops, 20_000);
        assert_eq!(o.checks["mallocs"], 20_000 + 100);
        // About remote_pct (10%) of the replaced blocks go to the other thread.
        let r = o.checks["remote_frees"];
        assert!(r > 1_000 && r < 3_000, "remote frees {r}");
    }
    #[test]
    fn one_thread_and_all_remote() {
        let p = ServerChurnParams { threads: 1, cycles: 5_000, slots: 10, remote_pct: 100, ..Default::default() };
        let o = run(&p).unwrap();
        assert_eq!(o.checks["remote_frees"], 5_000);
    }
    #[test]
    fn rejects_bad_params() {
        assert!(run(&ServerChurnParams { min_size: 4, ..Default::default() }).is_err());
        assert!(run(&ServerChurnParams { threads: 0, ..Default::default() }).is_err());
    }
}
