//! random-mixed: the headline workload (8192 slots, xorshift32, blocks of 16..1039 bytes).
//!
//! A table of `ws` slots; each op draws `r` from xorshift32, picks slot `r % ws`, frees it when
//! full, otherwise mallocs `min_size + (r & mask)` bytes and writes the first byte.
//! Every call goes to `libc::malloc`/`libc::free`, so LD_PRELOAD decides the allocator.

use super::profdump::{Dumper, ProfPoint};
use super::Xorshift32;

/// Parameters; the defaults are the headline benchmark's.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RandomMixedParams {
    pub ws: usize,
    pub cycles: u64,
    pub seed: u32,
    pub min_size: usize,
    /// size = min_size + (r & max_extra_mask)
    pub max_extra_mask: u32,
    /// Write the heap profile here after the timed ops, before the final frees.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prof_dump: Option<String>,
}

impl Default for RandomMixedParams {
    fn default() -> Self {
        RandomMixedParams {
            ws: 8192,
            cycles: 10_000_000,
            seed: 1234567,
            min_size: 16,
            max_extra_mask: 0x3FF,
            prof_dump: None,
        }
    }
}

/// Seed used for the untimed warm-up (`seed + 0xDEADBEEF`, wrapping).
pub fn warmup_seed(seed: u32) -> u32 {
    seed.wrapping_add(0xDEAD_BEEF)
}

/// The slot table and the generator. Owns every non-null pointer in `slots`.
pub struct RandomMixed {
    slots: Vec<*mut u8>,
    /// The requested size of each occupied slot, kept only by `run_ops_tracked` (empty
    /// otherwise: the headline loop stores nothing more).
    sizes: Vec<u32>,
    rng: Xorshift32,
    min_size: usize,
    mask: u32,
    live: usize,
    /// malloc calls and free calls made by `run_ops` (not `free_all`).
    pub mallocs: u64,
    pub frees: u64,
}

// The raw pointers are owned exclusively by this table; moving it to another thread moves
// the ownership with it (the soak worker runs it on a worker thread).
unsafe impl Send for RandomMixed {}

impl RandomMixed {
    pub fn new(p: &RandomMixedParams) -> Self {
        assert!(p.ws > 0, "random-mixed needs ws > 0");
        RandomMixed {
            slots: vec![std::ptr::null_mut(); p.ws],
            sizes: Vec::new(),
            rng: Xorshift32::new(p.seed),
            min_size: p.min_size,
            mask: p.max_extra_mask,
            live: 0,
            mallocs: 0,
            frees: 0,
        }
    }

    /// Restart the generator (the warm-up and the timed phase use different seeds).
    pub fn reseed(&mut self, seed: u32) {
        self.rng = Xorshift32::new(seed);
    }

    /// Run `n` ops. Aborts the process if malloc returns null (a benchmark cannot go on).
    #[inline(never)]
    pub fn run_ops(&mut self, n: u64) {
        self.ops::<false>(n)
    }

    /// `run_ops`, also keeping every occupied slot's requested size (for `live_bytes`). Every
    /// op from the first must be tracked.
    #[inline(never)]
    pub fn run_ops_tracked(&mut self, n: u64) {
        assert!(self.mallocs == 0 || !self.sizes.is_empty(), "random-mixed: tracking starts with the first op");
        self.sizes.resize(self.slots.len(), 0);
        self.ops::<true>(n)
    }

    /// The requested bytes and the count of the occupied slots (with `run_ops_tracked` only).
    pub fn live_bytes(&self) -> (u64, u64) {
        assert_eq!(self.sizes.len(), self.slots.len(), "random-mixed: sizes are kept by run_ops_tracked only");
        let b = self.slots.iter().zip(&self.sizes).filter(|(p, _)| !p.is_null()).map(|(_, &s)| s as u64).sum();
        (b, self.live as u64)
    }

    #[inline(always)]
    fn ops<const TRACK: bool>(&mut self, n: u64) {
        let ws = self.slots.len();
        for _ in 0..n {
            let r = self.rng.next();
            let idx = (r as usize) % ws;
            // SAFETY: idx < ws; every non-null slot came from libc::malloc and is freed once.
            unsafe {
                let slot = self.slots.get_unchecked_mut(idx);
                if !slot.is_null() {
                    libc::free(*slot as *mut libc::c_void);
                    *slot = std::ptr::null_mut();
                    self.live -= 1;
                    self.frees += 1;
                } else {
                    let size = self.min_size + (r & self.mask) as usize;
                    let p = libc::malloc(size) as *mut u8;
                    if p.is_null() {
                        oom(size);
                    }
                    if size > 0 {
                        p.write_volatile(r as u8);
                    }
                    *slot = p;
                    if TRACK {
                        *self.sizes.get_unchecked_mut(idx) = size as u32;
                    }
                    self.live += 1;
                    self.mallocs += 1;
                }
            }
        }
    }

    /// Occupied slots.
    pub fn live(&self) -> usize {
        self.live
    }

    /// Table size.
    pub fn ws(&self) -> usize {
        self.slots.len()
    }

    /// Frees every occupied slot; returns how many were freed.
    pub fn free_all(&mut self) -> usize {
        let mut n = 0;
        for slot in self.slots.iter_mut() {
            if !slot.is_null() {
                // SAFETY: non-null slots own a live libc::malloc block.
                unsafe { libc::free(*slot as *mut libc::c_void) };
                *slot = std::ptr::null_mut();
                n += 1;
            }
        }
        self.live = 0;
        n
    }
}

impl Drop for RandomMixed {
    fn drop(&mut self) {
        self.free_all();
    }
}

#[cold]
pub(crate) fn oom(size: usize) -> ! {
    eprintln!("hakmem-workload: malloc({size}) returned NULL");
    std::process::abort()
}

/// Result of one run of the protocol (warm-up, timed ops, final frees).
#[derive(Clone, Debug, serde::Serialize)]
pub struct RandomMixedResult {
    pub ops: u64,
    pub seconds: f64,
    pub mallocs: u64,
    pub frees: u64,
    pub freed_at_end: u64,
    /// The heap profile written before the final frees (`dumper` given).
    pub prof: Option<ProfPoint>,
}

/// The full protocol: warm-up of cycles/10 with the warm-up seed (untimed), then `cycles`
/// timed ops with `seed`, then free-all (timed).
pub fn run(p: &RandomMixedParams) -> RandomMixedResult {
    run_with(p, None)
}

/// `run`, and with a `dumper` the heap profile written between the timed ops and the final
/// frees, with the sizes of the occupied slots tracked from the first op (the timed loop is
/// then `run_ops_tracked`: one store more per malloc).
pub fn run_with(p: &RandomMixedParams, dumper: Option<&Dumper>) -> RandomMixedResult {
    let mut rm = RandomMixed::new(p);
    let ops = |rm: &mut RandomMixed, n| if dumper.is_some() { rm.run_ops_tracked(n) } else { rm.run_ops(n) };
    rm.reseed(warmup_seed(p.seed));
    ops(&mut rm, p.cycles / 10);
    rm.reseed(p.seed);
    let (m0, f0) = (rm.mallocs, rm.frees);
    let t = std::time::Instant::now();
    ops(&mut rm, p.cycles);
    let prof = dumper.map(|d| {
        let (bytes, blocks) = rm.live_bytes();
        d.dump(bytes, blocks)
    });
    let freed = rm.free_all();
    // With a dump, `Outcome::with_prof` takes its duration off.
    let seconds = t.elapsed().as_secs_f64();
    let res = RandomMixedResult {
        ops: p.cycles,
        seconds,
        mallocs: rm.mallocs - m0,
        frees: rm.frees - f0,
        freed_at_end: freed as u64,
        prof,
    };
    // Invariant: every malloc of the whole run was matched by a free (in the loop or at the end).
    assert_eq!(rm.mallocs, rm.frees + freed as u64, "random-mixed: malloc/free count mismatch");
    assert_eq!(rm.live(), 0);
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ops_alternate_and_everything_is_freed() {
        let p = RandomMixedParams { ws: 64, cycles: 10_000, ..Default::default() };
        let mut rm = RandomMixed::new(&p);
        rm.run_ops(5_000);
        assert_eq!(rm.mallocs + rm.frees, 5_000);
        assert_eq!(rm.live() as u64, rm.mallocs - rm.frees);
        assert!(rm.live() <= 64);
        assert!(rm.live() > 0);
        let n = rm.free_all();
        assert_eq!(n as u64, rm.mallocs - rm.frees);
        assert_eq!(rm.live(), 0);
    }

    #[test]
    fn same_seed_same_sequence() {
        let p = RandomMixedParams { ws: 128, cycles: 0, ..Default::default() };
        let mut a = RandomMixed::new(&p);
        let mut b = RandomMixed::new(&p);
        a.run_ops(3_333);
        b.run_ops(3_333);
        assert_eq!((a.mallocs, a.frees, a.live()), (b.mallocs, b.frees, b.live()));
        let mut c = RandomMixed::new(&RandomMixedParams { seed: 99, ..p });
        c.run_ops(3_333);
        assert_ne!((a.mallocs, a.live()), (c.mallocs, c.live()));
    }

    #[test]
    fn tracked_sizes_are_the_requested_ones() {
        let p = RandomMixedParams { ws: 512, min_size: 16, max_extra_mask: 0xff, ..Default::default() };
        let mut a = RandomMixed::new(&p);
        let mut b = RandomMixed::new(&p);
        a.run_ops(7_777);
        b.run_ops_tracked(7_777);
        assert_eq!((a.mallocs, a.frees, a.live()), (b.mallocs, b.frees, b.live()), "tracking changes no op");
        let (bytes, blocks) = b.live_bytes();
        assert_eq!(blocks, b.live() as u64);
        assert!(bytes >= 16 * blocks && bytes <= (16 + 0xff) * blocks, "{bytes} {blocks}");
        // The same, from the blocks themselves: glibc's usable size is at least the request.
        let usable: u64 = b
            .slots
            .iter()
            .filter(|p| !p.is_null())
            .map(|&p| unsafe { libc::malloc_usable_size(p.cast()) as u64 })
            .sum();
        assert!(usable >= bytes && usable < bytes + 32 * blocks, "{usable} {bytes}");
    }

    #[test]
    fn protocol_counts_ops() {
        let p = RandomMixedParams { ws: 256, cycles: 20_000, ..Default::default() };
        let r = run(&p);
        assert_eq!(r.ops, 20_000);
        assert_eq!(r.mallocs + r.frees, 20_000);
        assert!(r.seconds > 0.0);
    }
}
