//! false sharing (Hoard's cache-scratch) and cache-thrash. cache-scratch: the main thread
//! allocates one small object per worker back to back and hands them out; each worker frees
//! its object, then repeatedly allocates small objects and writes them hard. An allocator that
//! gives a thread memory on a cache line another thread is writing makes the writes crawl
//! (passive false sharing: the allocator reuses the main thread's neighbouring objects).
//! cache-thrash is the same loop without the handed-out objects: each thread only mallocs one
//! small object, writes it, frees it, so any shared line is the allocator's own doing (active
//! false sharing).

use super::mt::{run_threads, share};
use super::Outcome;
use anyhow::{ensure, Result};

#[derive(Clone, Debug, serde::Serialize)]
pub struct FalseSharingParams {
    pub threads: usize,
    /// Writes in total (split over the threads).
    pub cycles: u64,
    /// Object size in bytes (small, so several share a cache line).
    pub size: usize,
    /// Writes to each object before it is freed.
    pub writes_per_object: u64,
    /// cache-scratch: the main thread allocates each worker's first object (false: cache-thrash).
    pub handout: bool,
}

impl Default for FalseSharingParams {
    fn default() -> Self {
        FalseSharingParams { threads: 2, cycles: 200_000_000, size: 8, writes_per_object: 1000, handout: true }
    }
}

impl FalseSharingParams {
    /// cache-thrash: no handed-out objects, and a malloc/free every 10 writes.
    pub fn cache_thrash() -> Self {
        FalseSharingParams { cycles: 200_000_000, writes_per_object: 10, handout: false, ..Default::default() }
    }
}

fn malloc_small(size: usize) -> *mut u64 {
    // SAFETY: plain malloc; the callers write at most `size` >= 8 bytes.
    let b = unsafe { libc::malloc(size) } as *mut u64;
    if b.is_null() {
        super::random_mixed::oom(size);
    }
    b
}

pub fn run(p: &FalseSharingParams) -> Result<Outcome> {
    ensure!(p.threads >= 1, "false-sharing needs threads >= 1");
    ensure!(p.size >= 8, "false-sharing needs size >= 8 (the object holds a u64 counter)");
    ensure!(p.writes_per_object >= 1, "writes-per-object must be >= 1");
    // Objects allocated back to back by one thread: likely neighbours on one cache line.
    let seeds: Vec<usize> = (0..p.threads)
        .map(|_| {
            if !p.handout {
                return 0;
            }
            let b = malloc_small(p.size);
            // SAFETY: a fresh block of at least 8 bytes.
            unsafe { b.write(0) };
            b as usize
        })
        .collect();
    let (results, seconds) = run_threads(p.threads, "false-sharing", |i, start| {
        let writes = share(p.cycles, p.threads, i);
        start.wait();
        if seeds[i] != 0 {
            // Free the object the main thread made: the allocator may hand its place
            // (on a line shared with another thread's object) right back to us.
            unsafe { libc::free(seeds[i] as *mut libc::c_void) };
        }
        let (mut done, mut objects, mut bad) = (0u64, 0u64, 0u64);
        while done < writes {
            let n = p.writes_per_object.min(writes - done);
            let o = malloc_small(p.size);
            // SAFETY: a fresh block of at least 8 bytes, used only by this thread.
            unsafe {
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
    });
    let writes: u64 = results.iter().map(|r| r.0).sum();
    let objects: u64 = results.iter().map(|r| r.1).sum();
    let bad: u64 = results.iter().map(|r| r.2).sum();
    ensure!(bad == 0, "false-sharing: {bad} objects lost writes");
    ensure!(writes == p.cycles, "false-sharing: {writes} writes, expected {}", p.cycles);
    Ok(Outcome::new(p.cycles, seconds)
        .check("objects", objects)
        .check("mallocs", objects + seeds.len() as u64 * p.handout as u64))
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn tiny_run_counts_writes_and_objects() {
        let p = FalseSharingParams { cycles: 100_001, writes_per_object: 100, ..Default::default() };
        let o = run(&p).unwrap();
        assert_eq!(o.ops, 100_001);
        // Thread 0 does 50_001 writes (501 objects, the last one short), thread 1 does 50_000 (500).
        assert_eq!(o.checks["objects"], 1001);
        assert_eq!(o.checks["mallocs"], 1003);
    }
    #[test]
    fn cache_thrash_has_no_handed_out_objects() {
        let p = FalseSharingParams { cycles: 40_000, threads: 4, ..FalseSharingParams::cache_thrash() };
        let o = run(&p).unwrap();
        assert_eq!((o.ops, o.checks["objects"], o.checks["mallocs"]), (40_000, 4000, 4000));
    }
}
