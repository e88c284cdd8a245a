//! The statistics observer: it reads the counters every layer keeps (heaps' shared
//! counters under the heap-pool lock, the backend's atomics) and prints the report with
//! a stack buffer and raw `write(2)`, never the heap. Nothing in the allocator calls into
//! it except `lifecycle` arming the exit report.

use crate::backend::{huge, os, warm_pool};
use crate::boxes;
use crate::heap::REMOTE_FREES;
use crate::lifecycle::heaps;
use crate::msg::StackBuf;
use crate::size_class::{BLOCK_SIZE, NCLASS};
use crate::sync::Ordering::Relaxed;
use core::fmt::Write;

/// serde implements `Serialize` for arrays of up to 32 elements: longer ones go out as
/// sequences, like slices.
#[cfg(feature = "serde")]
fn ser_array<S: serde::Serializer, T: serde::Serialize, const N: usize>(v: &[T; N], s: S) -> Result<S::Ok, S::Error> {
    serde::Serialize::serialize(&v[..], s)
}

/// Per-class counters (heap side: what moved between heaps and threads' lanes).
#[derive(Clone, Copy, Default, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[repr(C)]
pub struct ClassStats {
    /// Block size of the class in bytes.
    pub block_size: u64,
    /// FastLane refills (batches taken from the heap).
    pub refills: u64,
    /// Blocks moved by refills.
    pub refill_blocks: u64,
    /// FastLane flushes (half a lane given back).
    pub flushes: u64,
    /// Blocks given back to slabs (flushes, thread exit, remote frees drained to slabs,
    /// hardened frees).
    pub flush_blocks: u64,
    /// Blocks out of their slabs now: `refill_blocks - flush_blocks` (with the program,
    /// in a FastLane, or on their way back from another thread).
    pub out: u64,
}

/// A snapshot of everything hakmem counts. `#[repr(C)]`: `hakmem.h` mirrors it.
#[derive(Clone, Copy, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[repr(C)]
pub struct Stats {
    /// Per size class.
    #[cfg_attr(feature = "serde", serde(serialize_with = "ser_array"))]
    pub classes: [ClassStats; NCLASS],
    /// Large spans (32 KiB .. 960 KiB) allocated and freed.
    pub large_allocs: u64,
    pub large_frees: u64,
    /// Huge blocks (own mappings) allocated and freed.
    pub huge_allocs: u64,
    pub huge_frees: u64,
    /// Blocks freed by a thread other than their owner's.
    pub remote_frees: u64,
    /// Of those, blocks their owner has taken back from its inbox.
    pub remote_drained: u64,
    /// Heaps ever made (one per thread alive at once).
    pub heaps: u64,
    /// SuperSlabs mapped, unmapped, reused from the warm pool, and waiting in it now.
    pub ss_mapped: u64,
    pub ss_unmapped: u64,
    pub ss_reused: u64,
    pub ss_in_pool: u64,
    /// The allocator's own system calls.
    pub mmap_calls: u64,
    pub munmap_calls: u64,
    pub madvise_calls: u64,
    pub mremap_calls: u64,
    /// Bytes mapped by the allocator now.
    pub mapped_bytes: u64,
    /// The process's resident set now and at its peak.
    pub rss_bytes: u64,
    pub peak_rss_bytes: u64,
}

/// Class `c`'s counters in one heap (`out` derived).
fn class_counters(st: &crate::types::HeapStats, c: usize) -> ClassStats {
    let mut k = ClassStats {
        block_size: BLOCK_SIZE[c] as u64,
        refills: st.refills[c].load(Relaxed),
        refill_blocks: st.refill_blocks[c].load(Relaxed),
        flushes: st.flushes[c].load(Relaxed),
        flush_blocks: st.flush_blocks[c].load(Relaxed),
        out: 0,
    };
    k.out = k.refill_blocks.saturating_sub(k.flush_blocks);
    k
}

/// Take a snapshot.
pub fn snapshot() -> Stats {
    let mut s = Stats {
        classes: [ClassStats::default(); NCLASS],
        large_allocs: 0,
        large_frees: 0,
        huge_allocs: huge::HUGE_ALLOCS.load(Relaxed),
        huge_frees: huge::HUGE_FREES.load(Relaxed),
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
    for (k, &bs) in s.classes.iter_mut().zip(BLOCK_SIZE.iter()) {
        k.block_size = bs as u64;
    }
    heaps::for_each_heap(|h| {
        let st = &h.shared.stats;
        s.heaps += 1;
        s.large_allocs += st.large_allocs.load(Relaxed);
        s.large_frees += st.large_frees.load(Relaxed);
        s.remote_drained += st.remote_drained.load(Relaxed);
        s.remote_frees += st.remote_sent.load(Relaxed);
        for (c, k) in s.classes.iter_mut().enumerate() {
            let h = class_counters(st, c);
            k.refills += h.refills;
            k.refill_blocks += h.refill_blocks;
            k.flushes += h.flushes;
            k.flush_blocks += h.flush_blocks;
        }
    });
    for k in s.classes.iter_mut() {
        k.out = k.refill_blocks.saturating_sub(k.flush_blocks);
    }
    let (rss, peak) = os::rss();
    s.rss_bytes = rss;
    s.peak_rss_bytes = peak;
    s
}

/// The calling thread's share: its heap's counters and what its FastLanes and remote
/// queue hold right now.
#[derive(Clone, Copy, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ThreadStats {
    /// The thread has a heap (it has allocated since it started or since its heap was
    /// abandoned); everything below is zero otherwise.
    pub has_heap: bool,
    /// Its heap's per-class counters (since the heap was made: an adopted heap carries the
    /// counts of the threads that had it before).
    #[cfg_attr(feature = "serde", serde(serialize_with = "ser_array"))]
    pub classes: [ClassStats; NCLASS],
    /// Free blocks in each class's FastLane now.
    #[cfg_attr(feature = "serde", serde(serialize_with = "ser_array"))]
    pub lane_blocks: [u32; NCLASS],
    /// Blocks queued for another heap, not yet sent.
    pub remote_queued: u32,
    /// Blocks this heap's threads sent to other heaps, and blocks other threads sent back
    /// that this heap has taken from its inbox.
    pub remote_sent: u64,
    pub remote_drained: u64,
    /// Large spans allocated and freed by this heap.
    pub large_allocs: u64,
    pub large_frees: u64,
}

/// The calling thread's statistics, through thread access `T`.
///
/// # Safety
/// `T` is the thread access the calling thread allocates through.
pub unsafe fn thread_snapshot<T: crate::ThreadAccess>() -> ThreadStats {
    let mut t = ThreadStats {
        has_heap: false,
        classes: [ClassStats::default(); NCLASS],
        lane_blocks: [0; NCLASS],
        remote_queued: 0,
        remote_sent: 0,
        remote_drained: 0,
        large_allocs: 0,
        large_frees: 0,
    };
    for (k, &bs) in t.classes.iter_mut().zip(BLOCK_SIZE.iter()) {
        k.block_size = bs as u64;
    }
    let tb = T::block();
    let h = (*tb).heap;
    if h.is_null() {
        return t;
    }
    t.has_heap = true;
    let st = &(*h).shared.stats;
    for c in 0..NCLASS {
        t.classes[c] = class_counters(st, c);
        let limit = (*tb).lanes.limit[c] as i64;
        t.lane_blocks[c] = (limit - (*tb).lanes.room_left(c) as i64).max(0) as u32;
    }
    t.remote_queued = (*tb).rq.len;
    t.remote_sent = st.remote_sent.load(Relaxed);
    t.remote_drained = st.remote_drained.load(Relaxed);
    t.large_allocs = st.large_allocs.load(Relaxed);
    t.large_frees = st.large_frees.load(Relaxed);
    t
}

/// Where the exit report goes: a private copy of stderr taken at start-up, because
/// programs may close fd 2 in their own exit handlers (coreutils' close_stdout does),
/// and those run before ours.
static REPORT_FD: core::sync::atomic::AtomicI32 = core::sync::atomic::AtomicI32::new(2);

/// Arm the exit report (global init, `HAKMEM_STATS=1`): keep a copy of stderr and
/// register the atexit hook.
pub fn arm_exit_report() {
    keep_stderr();
    // SAFETY: print_at_exit is an extern "C" fn of this library taking nothing.
    unsafe { libc::atexit(print_at_exit) };
}

/// Keep a copy of stderr for the exit report.
fn keep_stderr() {
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
    // The program this report is about (a preloaded library reports for every process,
    // shells and children included): pid and /proc/self/comm, read without allocating.
    let mut comm = [0u8; 32];
    let n = os::read_file(b"/proc/self/comm\0", &mut comm);
    let name = core::str::from_utf8(&comm[..n]).unwrap_or("?").trim_end();
    // SAFETY: getpid has no preconditions.
    let pid = unsafe { libc::getpid() };
    let _ = writeln!(b, "hakmem: stats (pid {pid}, program {name}, profile {}, {} heaps)", t.profile.name(), s.heaps);
    b.flush_to(fd);
    let _ = writeln!(b, "hakmem: class  block     refills    refilled     flushes     flushed         out");
    b.flush_to(fd);
    for (c, k) in s.classes.iter().enumerate() {
        if k.refills == 0 {
            continue;
        }
        let _ = writeln!(
            b,
            "hakmem: C{:<4} {:>6} {:>11} {:>11} {:>11} {:>11} {:>11}",
            c, k.block_size, k.refills, k.refill_blocks, k.flushes, k.flush_blocks, k.out
        );
        b.flush_to(fd);
    }
    let _ = writeln!(
        b,
        "hakmem: large allocs {} frees {} | huge allocs {} frees {}",
        s.large_allocs, s.large_frees, s.huge_allocs, s.huge_frees
    );
    b.flush_to(fd);
    let _ = writeln!(b, "hakmem: remote frees {} drained {}", s.remote_frees, s.remote_drained);
    b.flush_to(fd);
    let _ = writeln!(
        b,
        "hakmem: superslabs mapped {} released {} reused {} in warm pool {} (and {} decommitted)",
        s.ss_mapped,
        s.ss_unmapped,
        s.ss_reused,
        s.ss_in_pool,
        crate::backend::warm_pool::SS_COLD.load(Relaxed)
    );
    b.flush_to(fd);
    // The arena box's chunks: taken (fresh or again) and given back (each a madvise, or an
    // mmap where writable memory is limited), of the `released` above.
    let _ = writeln!(
        b,
        "hakmem: arena taken {} given {} (window {} GiB)",
        crate::backend::arena::TAKEN.load(Relaxed),
        crate::backend::arena::GIVEN.load(Relaxed),
        crate::backend::arena::window_gib()
    );
    b.flush_to(fd);
    let _ = writeln!(
        b,
        "hakmem: syscalls mmap {} munmap {} madvise {} mremap {}",
        s.mmap_calls, s.munmap_calls, s.madvise_calls, s.mremap_calls
    );
    b.flush_to(fd);
    let _ = writeln!(
        b,
        "hakmem: memory mapped {} KiB, rss {} KiB, peak rss {} KiB",
        s.mapped_bytes / 1024,
        s.rss_bytes / 1024,
        s.peak_rss_bytes / 1024
    );
    b.flush_to(fd);
    for (i, sw) in boxes::SWITCHES.iter().enumerate() {
        if i == boxes::sw::STATS {
            continue;
        }
        let _ = writeln!(b, "hakmem: box {} hits {}", sw.name, boxes::hits(i));
        b.flush_to(fd);
    }
}

/// atexit hook for `HAKMEM_STATS=1`.
pub extern "C" fn print_at_exit() {
    print_to(REPORT_FD.load(Relaxed));
}
