//! large blocks: 64 KiB to 8 MiB, allocated, touched on every page, checked and freed; a few
//! stay live at a time. This exercises the allocator's mmap/munmap/madvise policy.

use super::profdump::Dumper;
use super::{Outcome, Xorshift32};
use anyhow::{ensure, Result};
use std::time::Instant;

#[derive(Clone, Debug, serde::Serialize)]
pub struct LargeBlocksParams {
    /// Allocations in total.
    pub cycles: u64,
    pub min_size: usize,
    pub max_size: usize,
    /// Blocks live at a time.
    pub ws: usize,
    pub seed: u32,
    /// Write the heap profile here after the last allocation, before the live blocks are freed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prof_dump: Option<String>,
}

impl Default for LargeBlocksParams {
    fn default() -> Self {
        LargeBlocksParams {
            cycles: 5_000,
            min_size: 64 << 10,
            max_size: 8 << 20,
            ws: 4,
            seed: 1234567,
            prof_dump: None,
        }
    }
}

const PAGE: usize = 4096;

pub fn run(p: &LargeBlocksParams) -> Result<Outcome> {
    ensure!(
        p.min_size >= 1 && p.max_size >= p.min_size && p.ws >= 1,
        "large-blocks needs 1 <= min-size <= max-size and ws >= 1"
    );
    let dumper = Dumper::for_param(&p.prof_dump)?;
    let mut rng = Xorshift32::new(p.seed);
    let mut slots: Vec<(usize, usize)> = vec![(0, 0); p.ws];
    let lo = usize::BITS - 1 - p.min_size.leading_zeros();
    let hi = usize::BITS - 1 - p.max_size.leading_zeros();
    let (mut bad, mut bytes) = (0u64, 0u64);
    let t0 = Instant::now();
    // SAFETY: a slot holds 0 or a live block of the recorded size, touched by `touch`.
    let prof = unsafe {
        for _ in 0..p.cycles {
            let i = rng.next() as usize % p.ws;
            if slots[i].0 != 0 {
                bad += untouch(slots[i]);
            }
            // Log-uniform sizes: each power of two between min and max is equally likely.
            let bits = lo + rng.next() % (hi - lo + 1);
            let size =
                ((1usize << bits) + (rng.next() as usize & ((1usize << bits) - 1))).clamp(p.min_size, p.max_size);
            let b = libc::malloc(size) as *mut u8;
            if b.is_null() {
                super::random_mixed::oom(size);
            }
            touch(b, size);
            bytes += size as u64;
            slots[i] = (b as usize, size);
        }
        let prof = dumper.as_ref().map(|d| {
            let live = slots.iter().filter(|s| s.0 != 0);
            d.dump(live.clone().map(|s| s.1 as u64).sum(), live.count() as u64)
        });
        for s in slots.iter_mut() {
            if s.0 != 0 {
                bad += untouch(*s);
                *s = (0, 0);
            }
        }
        prof
    };
    let seconds = t0.elapsed().as_secs_f64();
    ensure!(bad == 0, "large-blocks: {bad} blocks had damaged pages");
    Ok(Outcome::new(p.cycles, seconds).check("bytes", bytes).with_prof(prof, true))
}

unsafe fn touch(b: *mut u8, size: usize) {
    let mut off = 0;
    while off < size {
        *b.add(off) = (off / PAGE) as u8 ^ 0xA5;
        off += PAGE;
    }
    *b.add(size - 1) = 0x3C;
}

unsafe fn untouch((b, size): (usize, usize)) -> u64 {
    let b = b as *mut u8;
    let mut bad = (*b.add(size - 1) != 0x3C) as u64;
    let mut off = 0;
    // The last byte may share the final page's first byte only when size - 1 is a page start.
    while off < size - 1 {
        bad |= (*b.add(off) != (off / PAGE) as u8 ^ 0xA5) as u64;
        off += PAGE;
    }
    libc::free(b as *mut libc::c_void);
    bad
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn tiny_run_sizes_in_range() {
        let p = LargeBlocksParams { cycles: 200, ..Default::default() };
        let o = run(&p).unwrap();
        assert_eq!(o.ops, 200);
        let avg = o.checks["bytes"] / 200;
        assert!((64 << 10..=8 << 20).contains(&avg), "average size {avg}");
    }
}
