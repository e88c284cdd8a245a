//! Counters and the exit report. Reading them walks every heap under the heap-pool
//! lock; printing uses a stack buffer and raw `write(2)`, never the heap.

use crate::boxes;
use crate::cache::warm_pool;
use crate::heap::REMOTE_FREES;
use crate::msg::StackBuf;
use crate::size_class::{BLOCK_SIZE, NCLASS};
use crate::{large, os, thread};
use core::fmt::Write;
use core::sync::atomic::Ordering::Relaxed;

/// Per-class counters.
#[derive(Clone, Copy, Default, Debug)]
#[repr(C)]
pub struct ClassStats {
    pub block_size: u64,
    pub allocs: u64,
    pub frees: u64,
    pub refills: u64,
    pub refill_blocks: u64,
    pub flushes: u64,
}

/// A snapshot of everything hakmem counts. `#[repr(C)]`: `hakmem.h` mirrors it.
#[derive(Clone, Copy, Debug)]
#[repr(C)]
pub struct Stats {
    pub classes: [ClassStats; NCLASS],
    pub large_allocs: u64,
    pub large_frees: u64,
    pub huge_allocs: u64,
    pub huge_frees: u64,
    pub remote_frees: u64,
    pub remote_drained: u64,
    pub heaps: u64,
    pub ss_mapped: u64,
    pub ss_unmapped: u64,
    pub ss_reused: u64,
    pub ss_in_pool: u64,
    pub mmap_calls: u64,
    pub munmap_calls: u64,
    pub madvise_calls: u64,
    pub mremap_calls: u64,
    pub mapped_bytes: u64,
    pub rss_bytes: u64,
    pub peak_rss_bytes: u64,
}

/// Take a snapshot.
pub fn snapshot() -> Stats {
    let mut s = Stats {
        classes: [ClassStats::default(); NCLASS],
        large_allocs: 0,
        large_frees: 0,
        huge_allocs: large::HUGE_ALLOCS.load(Relaxed),
        huge_frees: large::HUGE_FREES.load(Relaxed),
        remote_frees: REMOTE_FREES.load(Relaxed),
        remote_drained: 0,
        heaps: 0,
        ss_mapped: warm_pool::SS_MAPPED.load(Relaxed),
        ss_unmapped: warm_pool::SS_UNMAPPED.load(Relaxed),
        ss_reused: warm_pool::SS_REUSED.load(Relaxed),
        ss_in_pool: warm_pool::SS_IN_POOL.load(Relaxed),
        mmap_calls: os::MMAP_CALLS.load(Relaxed),
        munmap_calls: os::MUNMAP_CALLS.load(Relaxed),
        madvise_calls: os::MADVISE_CALLS.load(Relaxed),
        mremap_calls: os::MREMAP_CALLS.load(Relaxed),
        mapped_bytes: os::MAPPED_BYTES.load(Relaxed),
        rss_bytes: 0,
        peak_rss_bytes: 0,
    };
    for c in 0..NCLASS {
        s.classes[c].block_size = BLOCK_SIZE[c] as u64;
    }
    thread::for_each_heap(|h, tb| {
        s.heaps += 1;
        s.large_allocs += h.counters.large_allocs;
        s.large_frees += h.counters.large_frees;
        s.remote_drained += h.counters.remote_drained;
        s.remote_frees += h.counters.remote_sent;
        if let Some(tb) = tb {
            // SAFETY: a racy read of a counter, as below.
            s.remote_frees += unsafe { core::ptr::read_volatile(&tb.remote_frees) };
        }
        for c in 0..NCLASS {
            let k = &mut s.classes[c];
            // Every block a FastLane hands out came from a refill or a local free and
            // did not leave by a flush; so allocs = refilled + frees - flushed - still cached.
            k.frees += h.counters.frees[c];
            k.allocs += h.counters.refill_blocks[c] + h.counters.frees[c];
            k.allocs -= h.counters.flush_blocks[c].min(k.allocs);
            k.refills += h.counters.refills[c];
            k.refill_blocks += h.counters.refill_blocks[c];
            k.flushes += h.counters.flushes[c];
            if let Some(tb) = tb {
                // SAFETY: plain loads of counters another thread may be bumping; a torn
                // or stale value is acceptable for statistics, volatile keeps it a real load.
                unsafe {
                    let frees = core::ptr::read_volatile(&tb.frees[c]);
                    let room = core::ptr::read_volatile(&tb.room[c]);
                    let cached = (crate::front::fastlane::limit(c) as i64 - room as i64).max(0) as u64;
                    k.frees += frees;
                    k.allocs = (k.allocs + frees).saturating_sub(cached);
                }
            }
        }
    });
    let (rss, peak) = os::rss();
    s.rss_bytes = rss;
    s.peak_rss_bytes = peak;
    s
}

/// Where the exit report goes: a private copy of stderr taken at start-up, because
/// programs may close fd 2 in their own exit handlers (coreutils' close_stdout does),
/// and those run before ours.
static REPORT_FD: core::sync::atomic::AtomicI32 = core::sync::atomic::AtomicI32::new(2);

/// Keep a copy of stderr for the exit report (global init, when stats are on).
pub fn keep_stderr() {
    // SAFETY: fcntl(F_DUPFD_CLOEXEC) has no memory preconditions; -1 leaves fd 2 in use.
    let fd = unsafe { libc::fcntl(2, libc::F_DUPFD_CLOEXEC, 3) };
    if fd >= 0 {
        REPORT_FD.store(fd, Relaxed);
    }
}

/// Print the report to stderr.
pub fn print() {
    print_to(2)
}

fn print_to(fd: i32) {
    let s = snapshot();
    let mut b = StackBuf::<512>::new();
    let t = crate::config::tuning();
    let _ = writeln!(b, "hakmem: stats (profile {}, {} heaps)", t.profile.name(), s.heaps);
    b.flush_to(fd);
    let _ = writeln!(b, "hakmem: class  block      allocs       frees     refills   refilled     flushes");
    b.flush_to(fd);
    for (c, k) in s.classes.iter().enumerate() {
        if k.allocs == 0 && k.frees == 0 && k.refills == 0 {
            continue;
        }
        let _ = writeln!(
            b,
            "hakmem: C{:<4} {:>6} {:>11} {:>11} {:>11} {:>10} {:>11}",
            c, k.block_size, k.allocs, k.frees, k.refills, k.refill_blocks, k.flushes
        );
        b.flush_to(fd);
    }
    let _ = writeln!(b, "hakmem: large allocs {} frees {} | huge allocs {} frees {}",
        s.large_allocs, s.large_frees, s.huge_allocs, s.huge_frees);
    b.flush_to(fd);
    let _ = writeln!(b, "hakmem: remote frees {} drained {}", s.remote_frees, s.remote_drained);
    b.flush_to(fd);
    let _ = writeln!(b, "hakmem: superslabs mapped {} released {} reused {} in warm pool {}",
        s.ss_mapped, s.ss_unmapped, s.ss_reused, s.ss_in_pool);
    b.flush_to(fd);
    let _ = writeln!(b, "hakmem: syscalls mmap {} munmap {} madvise {} mremap {}",
        s.mmap_calls, s.munmap_calls, s.madvise_calls, s.mremap_calls);
    b.flush_to(fd);
    let _ = writeln!(b, "hakmem: memory mapped {} KiB, rss {} KiB, peak rss {} KiB",
        s.mapped_bytes / 1024, s.rss_bytes / 1024, s.peak_rss_bytes / 1024);
    b.flush_to(fd);
    for (name, hits) in boxes::HITS.iter() {
        let _ = writeln!(b, "hakmem: box {} hits {}", name, hits.load(Relaxed));
        b.flush_to(fd);
    }
}

/// atexit hook for `HAKMEM_STATS=1`.
pub extern "C" fn print_at_exit() {
    print_to(REPORT_FD.load(Relaxed));
}
