//! Sampled heap profiling (the prof box, `HAKMEM_PROF=1`): which call stacks hold the
//! heap. About one allocation per `HAKMEM_PROF_SAMPLE_KB` KiB allocated is sampled, by a
//! byte-based Poisson process (an allocation of `n` bytes is sampled with probability
//! `1 - exp(-n / mean)`, so big and small allocations are weighted fairly); a sample
//! records the size and the call stack (frame-pointer walk, `stack.rs`) in a fixed table
//! keyed by address, and is dropped when its block is freed. `pprof.rs` writes the live
//! samples as a pprof heap profile (at exit, on a signal, from the API) and prints the leak
//! report at exit.
//!
//! Where the sampling decisions are made (the front, `front::fastlane`): per thread and
//! class a countdown of allocations (`types::ProfThread`), kept without touching the malloc
//! hit path; sampled allocations are served as large spans or huge mappings, so their
//! free never takes the free hit path either. This module only holds the table.
//!
//! Never allocates: the table is one `mmap` made at init, the dump buffers are mapped and
//! unmapped per dump (`backend::os`). The table's lock is a leaf (no other lock is taken
//! while it is held); `fork` takes it last.

pub mod pprof;
pub mod stack;

use crate::backend::os;
use crate::boxes::{self, sw};
use crate::config::{tuning, PATH_MAX};
use crate::sync::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed, SpinLock};
use core::ptr;

/// Frames kept per sample.
pub const MAX_DEPTH: usize = 64;
/// Live samples the table holds (more are dropped and counted).
const CAP: usize = 1 << 16;
/// Hash slots (load factor at most 1/2).
const SLOTS: usize = CAP * 2;

/// One live sample.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct Rec {
    /// The block's address (0: a free record, then `size` links the free list).
    pub addr: usize,
    /// Bytes the program asked for (kept current by `resize` when realloc keeps the block).
    pub size: usize,
    /// The size the sampling probability was computed from: `1 - exp(-prob / mean)`.
    pub prob: usize,
    pub depth: usize,
    /// Return addresses, innermost first (hakmem's own frames skipped).
    pub stack: [usize; MAX_DEPTH],
}

#[derive(Clone, Copy)]
#[repr(C)]
struct Slot {
    addr: usize,
    /// Record index + 1; 0 = empty slot.
    idx: usize,
}

struct Table {
    recs: *mut Rec,
    slots: *mut Slot,
    /// Records ever used (the ones after are untouched memory).
    used: usize,
    /// Free list of records (index + 1, linked through `size`).
    free: usize,
    live: usize,
}

// SAFETY: the table's memory is its own mapping, reached only under the lock.
unsafe impl Send for Table {}

static TABLE: SpinLock<Table> =
    SpinLock::new(Table { recs: ptr::null_mut(), slots: ptr::null_mut(), used: 0, free: 0, live: 0 });

/// The box is on and its table mapped.
static ON: AtomicBool = AtomicBool::new(false);
/// Mean bytes between samples.
static MEAN: AtomicU64 = AtomicU64::new(512 * 1024);
/// Samples taken, and dropped because the table was full.
pub static SAMPLES: AtomicU64 = AtomicU64::new(0);
pub static DROPPED: AtomicU64 = AtomicU64::new(0);
/// The address range of libhakmem.so's code, whose frames a sample skips (0, 0 when hakmem
/// is linked into the program: nothing to tell apart).
static OWN_LO: AtomicUsize = AtomicUsize::new(0);
static OWN_HI: AtomicUsize = AtomicUsize::new(0);
/// `Table::live`, readable without the lock.
static LIVE: AtomicUsize = AtomicUsize::new(0);
/// A dump was asked for by the signal while the table was busy: the next sample writes it.
static PENDING: AtomicBool = AtomicBool::new(false);
/// pid at init (a fork child's dump path gets its own pid).
static INIT_PID: AtomicUsize = AtomicUsize::new(0);

/// `HAKMEM_PROF_DUMP`, NUL-terminated (written once at init).
struct PathBuf {
    bytes: core::cell::UnsafeCell<[u8; PATH_MAX]>,
    len: AtomicUsize,
}
// SAFETY: written only by `init` (one thread, before any sample), read-only afterwards.
unsafe impl Sync for PathBuf {}
static DUMP_PATH: PathBuf = PathBuf { bytes: core::cell::UnsafeCell::new([0; PATH_MAX]), len: AtomicUsize::new(0) };

/// Is the box on (and its table mapped)?
#[inline]
pub fn on() -> bool {
    ON.load(Relaxed)
}

/// Mean bytes between samples.
#[inline]
pub fn mean() -> u64 {
    MEAN.load(Relaxed)
}

/// Global init with the box on: map the table, read the switches, find our own code, arm
/// the exit report and the signal.
pub fn init() {
    if !tuning().on(sw::PROF) {
        return;
    }
    MEAN.store((tuning().get(sw::PROF_SAMPLE_KB).max(1) as u64) * 1024, Relaxed);
    {
        let mut t = TABLE.lock();
        if t.recs.is_null() {
            let recs = os::map(CAP * core::mem::size_of::<Rec>()) as *mut Rec;
            let slots = os::map(SLOTS * core::mem::size_of::<Slot>()) as *mut Slot;
            if recs.is_null() || slots.is_null() {
                crate::hak_eprintln!("prof: no memory for the sample table; profiling off");
                return;
            }
            t.recs = recs;
            t.slots = slots;
        }
    }
    if tuning().on(sw::PROF_DUMP) {
        if let Some(v) = crate::config::env_get("HAKMEM_PROF_DUMP") {
            if !v.is_empty() && v.len() < PATH_MAX {
                // SAFETY: init runs once, before any reader (see PathBuf).
                unsafe { (&mut *DUMP_PATH.bytes.get())[..v.len()].copy_from_slice(v) };
                DUMP_PATH.len.store(v.len(), Relaxed);
            }
        }
    }
    // SAFETY: getpid has no preconditions.
    INIT_PID.store(unsafe { libc::getpid() } as usize, Relaxed);
    let (lo, hi) = pprof::own_code_range(init as fn() as usize);
    OWN_LO.store(lo, Relaxed);
    OWN_HI.store(hi, Relaxed);
    ON.store(true, Relaxed);
    pprof::arm(tuning().get(sw::PROF_SIGNAL));
}

/// The dump path (without `%p` substitution), or empty.
pub(crate) fn dump_path() -> &'static [u8] {
    // SAFETY: written once at init before ON was set; read-only since.
    unsafe { &(&*DUMP_PATH.bytes.get())[..DUMP_PATH.len.load(Relaxed)] }
}

pub(crate) fn init_pid() -> usize {
    INIT_PID.load(Relaxed)
}

// ---- the sampling arithmetic (per thread state lives in `types::ProfThread`) -----------

/// Seed a thread's generator (never 0).
pub fn seed(salt: usize) -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes the timespec we pass.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    let mut z = (salt as u64)
        ^ (ts.tv_nsec as u64).rotate_left(32)
        ^ (ts.tv_sec as u64)
        ^ COUNTER.fetch_add(0x9E37_79B9_7F4A_7C15, Relaxed);
    // splitmix64
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    z | 1
}

/// Bytes to the next sample: an exponential draw with the configured mean (at least 1).
pub fn draw_bytes(rng: &mut u64) -> u64 {
    // xorshift64*
    let mut x = *rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *rng = x;
    let r = x.wrapping_mul(0x2545_F491_4F6C_DD1D);
    // u in (0, 1]
    let u = ((r >> 11) + 1) as f64 * (1.0 / (1u64 << 53) as f64);
    let b = -u.ln() * mean() as f64;
    if b < 1.0 {
        1
    } else if b > 1e18 {
        1_000_000_000_000_000_000
    } else {
        b as u64 + 1
    }
}

/// Allocations of `block` bytes before the sampled one, for `bytes` to the next sample
/// (the sampled allocation is the one whose bytes contain the sampling point).
#[inline]
pub fn allocs_before(bytes: u64, block: usize) -> i64 {
    (bytes.div_ceil(block as u64) - 1).min(i64::MAX as u64 / 2) as i64
}

/// `1 / P(sampled)` for an allocation of `prob` bytes: how many allocations one sample stands for.
pub fn inverse_probability(prob: usize, mean: u64) -> f64 {
    let p = 1.0 - (-(prob as f64) / mean as f64).exp();
    if p <= 0.0 {
        return mean as f64 / prob.max(1) as f64;
    }
    1.0 / p
}

// ---- the table -------------------------------------------------------------------------

#[inline]
fn home(addr: usize) -> usize {
    ((addr >> 4) as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) as usize >> (usize::BITS - SLOTS.trailing_zeros())
}

/// Record a sampled allocation of `size` bytes at `p` (probability from `prob` bytes): its
/// call stack, in the table. Also writes a dump the signal asked for while the table was busy.
///
/// # Safety
/// `p` is a live block just allocated (by hakmem, for the calling thread).
#[inline(never)]
pub unsafe fn record(p: *mut u8, size: usize, prob: usize) {
    if !on() || p.is_null() {
        return;
    }
    boxes::hit(sw::PROF);
    SAMPLES.fetch_add(1, Relaxed);
    let mut frames = [0usize; MAX_DEPTH];
    let depth = stack::capture(&mut frames, OWN_LO.load(Relaxed), OWN_HI.load(Relaxed));
    {
        let mut t = TABLE.lock();
        let t = &mut *t;
        let idx = if t.free != 0 {
            let i = t.free - 1;
            t.free = (*t.recs.add(i)).size;
            i
        } else if t.used < CAP {
            t.used += 1;
            t.used - 1
        } else {
            DROPPED.fetch_add(1, Relaxed);
            return;
        };
        let r = &mut *t.recs.add(idx);
        r.addr = p as usize;
        r.size = size;
        r.prob = prob;
        r.depth = depth;
        r.stack[..depth].copy_from_slice(&frames[..depth]);
        let mask = SLOTS - 1;
        let mut i = home(p as usize);
        loop {
            let s = &mut *t.slots.add(i);
            if s.addr == 0 || s.addr == p as usize {
                if s.addr == p as usize {
                    // A stale sample at this address (its free was missed): replace it.
                    let old = s.idx - 1;
                    (*t.recs.add(old)).addr = 0;
                    (*t.recs.add(old)).size = t.free;
                    t.free = old + 1;
                    t.live -= 1;
                }
                *s = Slot { addr: p as usize, idx: idx + 1 };
                break;
            }
            i = (i + 1) & mask;
        }
        t.live += 1;
        LIVE.store(t.live, Relaxed);
    }
    if PENDING.load(Relaxed) {
        pprof::dump_pending();
    }
}

/// The slot holding address `a` in the table, if it is there.
///
/// # Safety
/// `t` is the locked table, mapped (`on()`).
unsafe fn find(t: &Table, a: usize) -> Option<usize> {
    let mask = SLOTS - 1;
    let mut i = home(a);
    loop {
        let s = *t.slots.add(i);
        if s.addr == 0 {
            return None;
        }
        if s.addr == a {
            return Some(i);
        }
        i = (i + 1) & mask;
    }
}

/// The sample at `a`, if there is one: `Some(prob)`, the size its probability was computed
/// from (for a small block, its class size: the block it stands for).
pub fn sampled_prob(a: usize) -> Option<usize> {
    if !on() || a == 0 {
        return None;
    }
    let t = TABLE.lock();
    // SAFETY: the table is mapped (on) and locked; slot indices come from `find`.
    unsafe { find(&t, a).map(|i| (*t.recs.add((*t.slots.add(i)).idx - 1)).prob) }
}

/// realloc kept the sampled block at `a` in place at `n` bytes: the sample now stands for
/// `n` bytes (its probability unchanged), so the estimate follows the block's size.
pub fn resize(a: usize, n: usize) {
    if !on() || a == 0 {
        return;
    }
    let t = TABLE.lock();
    // SAFETY: as in `sampled_prob`.
    unsafe {
        if let Some(i) = find(&t, a) {
            (*t.recs.add((*t.slots.add(i)).idx - 1)).size = n;
        }
    }
}

/// The block at `a` is being freed: drop its sample if it has one. True if it had.
pub fn forget(a: usize) -> bool {
    if !on() || a == 0 {
        return false;
    }
    let mut t = TABLE.lock();
    let t = &mut *t;
    let mask = SLOTS - 1;
    // SAFETY: the slots and records are the table's mapping, under its lock; indices are
    // masked or come from slots.
    unsafe {
        let Some(mut i) = find(t, a) else {
            return false;
        };
        let idx = (*t.slots.add(i)).idx - 1;
        (*t.recs.add(idx)).addr = 0;
        (*t.recs.add(idx)).size = t.free;
        t.free = idx + 1;
        t.live -= 1;
        LIVE.store(t.live, Relaxed);
        // Backward-shift deletion: no tombstones, probe chains stay short.
        let mut j = i;
        loop {
            j = (j + 1) & mask;
            let s = *t.slots.add(j);
            if s.addr == 0 {
                break;
            }
            let k = home(s.addr);
            let stays = if i <= j { i < k && k <= j } else { i < k || k <= j };
            if !stays {
                *t.slots.add(i) = s;
                i = j;
            }
        }
        *t.slots.add(i) = Slot { addr: 0, idx: 0 };
    }
    true
}

/// Copy the live samples into `out` (room for `cap` records); returns how many. `wait`:
/// take the lock (false: give up when it is busy, the signal handler's way).
///
/// # Safety
/// `out` is writable for `cap` records.
pub(crate) unsafe fn snapshot(out: *mut Rec, cap: usize, wait: bool) -> Option<usize> {
    let guard = if wait { Some(TABLE.lock()) } else { TABLE.try_lock() };
    let t = guard?;
    let mut n = 0;
    for i in 0..t.used {
        let r = &*t.recs.add(i);
        if r.addr != 0 && n < cap {
            *out.add(n) = *r;
            n += 1;
        }
    }
    Some(n)
}

/// Live samples now, without the lock (a hint for `snapshot`'s `cap`).
pub(crate) fn live_hint() -> usize {
    LIVE.load(Relaxed)
}

/// Set by the signal handler when it could not dump at once.
pub(crate) fn set_pending(v: bool) {
    PENDING.store(v, Relaxed);
}

/// `fork` prepare / parent / child: the table's lock, taken last.
pub fn lock_for_fork() {
    TABLE.raw_lock();
}
pub fn unlock_after_fork() {
    TABLE.raw_unlock();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocs_before_counts_whole_blocks() {
        assert_eq!(allocs_before(1, 16), 0, "the first block holds the sampling point");
        assert_eq!(allocs_before(16, 16), 0);
        assert_eq!(allocs_before(17, 16), 1);
        assert_eq!(allocs_before(1 << 20, 1 << 10), 1023);
    }

    #[test]
    fn draws_have_the_configured_mean() {
        let mut rng = seed(7);
        let n = 200_000;
        let mut sum = 0f64;
        for _ in 0..n {
            sum += draw_bytes(&mut rng) as f64;
        }
        let m = sum / n as f64;
        let want = mean() as f64;
        // Exponential: sd = mean, so the mean of n draws has sd mean/sqrt(n) (~0.22%).
        assert!((m / want - 1.0).abs() < 0.02, "mean {m} vs {want}");
    }

    #[test]
    fn inverse_probability_weights() {
        let m = 512 * 1024;
        // Tiny blocks: 1/p ~ mean/size; huge ones: 1.
        assert!((inverse_probability(16, m) - (m as f64 / 16.0 + 0.5)).abs() < 1.0);
        assert!((inverse_probability(1 << 30, m) - 1.0).abs() < 1e-9);
    }

    #[test]
    fn home_stays_in_the_table() {
        for a in [0x10usize, 0x7fff_ffff_fff0, usize::MAX & !15] {
            assert!(home(a) < SLOTS);
        }
    }
}
