//! realloc growth: strings grown by small steps and vectors grown by doubling, several at a
//! time and interleaved, checking that realloc kept every byte written so far.

use super::profdump::Dumper;
use super::{Outcome, Xorshift32};
use anyhow::{ensure, Result};
use std::time::Instant;

#[derive(Clone, Debug, serde::Serialize)]
pub struct ReallocGrowthParams {
    /// realloc calls in total.
    pub cycles: u64,
    /// Objects growing at the same time.
    pub live: usize,
    /// A string grows by 1..=max_step bytes per realloc up to string_max.
    pub max_step: usize,
    pub string_max: usize,
    /// A vector doubles from 16 bytes up to vector_max.
    pub vector_max: usize,
    pub seed: u32,
    /// Write the heap profile here after the last realloc, before the growing objects are freed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prof_dump: Option<String>,
}

impl Default for ReallocGrowthParams {
    fn default() -> Self {
        ReallocGrowthParams {
            cycles: 2_000_000,
            live: 4,
            max_step: 64,
            string_max: 16 << 10,
            vector_max: 256 << 10,
            seed: 1234567,
            prof_dump: None,
        }
    }
}

#[derive(Clone, Copy)]
struct Grower {
    p: *mut u8,
    len: usize,
    doubling: bool,
}

#[inline(always)]
fn pattern(i: usize, salt: usize) -> u8 {
    (i.wrapping_mul(31) ^ salt) as u8
}

pub fn run(p: &ReallocGrowthParams) -> Result<Outcome> {
    ensure!(p.live >= 1 && p.max_step >= 1, "realloc-growth needs live >= 1 and max-step >= 1");
    ensure!(p.string_max >= 16 && p.vector_max >= 32, "realloc-growth needs string-max >= 16 and vector-max >= 32");
    let dumper = Dumper::for_param(&p.prof_dump)?;
    let mut rng = Xorshift32::new(p.seed);
    let mut g: Vec<Grower> = vec![Grower { p: std::ptr::null_mut(), len: 0, doubling: false }; p.live];
    let (mut reallocs, mut finished, mut bad) = (0u64, 0u64, 0u64);
    let t0 = Instant::now();
    let mut k = 0usize;
    // SAFETY: each grower's `p` is null or a live block of `len` initialised bytes it owns.
    let prof = unsafe {
        while reallocs < p.cycles {
            let i = k % p.live;
            k += 1;
            let gr = &mut g[i];
            let salt = i * 7 + 1;
            let max = if gr.doubling { p.vector_max } else { p.string_max };
            if gr.p.is_null() || gr.len >= max {
                if !gr.p.is_null() {
                    bad += verify(gr.p, gr.len, salt);
                    libc::free(gr.p as *mut libc::c_void);
                    finished += 1;
                }
                gr.doubling = rng.next() & 1 == 1;
                gr.len = 16;
                gr.p = libc::malloc(16) as *mut u8;
                if gr.p.is_null() {
                    super::random_mixed::oom(16);
                }
                for j in 0..16 {
                    *gr.p.add(j) = pattern(j, salt);
                }
                continue;
            }
            let new_len = if gr.doubling { gr.len * 2 } else { gr.len + 1 + rng.next() as usize % p.max_step };
            let np = libc::realloc(gr.p as *mut libc::c_void, new_len) as *mut u8;
            if np.is_null() {
                super::random_mixed::oom(new_len);
            }
            reallocs += 1;
            // Spot checks on every move; the whole object is checked when it is retired.
            if *np != pattern(0, salt)
                || *np.add(gr.len - 1) != pattern(gr.len - 1, salt)
                || *np.add(gr.len / 2) != pattern(gr.len / 2, salt)
            {
                bad += 1;
            }
            for j in gr.len..new_len {
                *np.add(j) = pattern(j, salt);
            }
            gr.p = np;
            gr.len = new_len;
        }
        // The objects' lengths are their requested sizes (the last malloc or realloc).
        let prof = dumper.as_ref().map(|d| {
            let live = g.iter().filter(|gr| !gr.p.is_null());
            d.dump(live.clone().map(|gr| gr.len as u64).sum(), live.count() as u64)
        });
        for (i, gr) in g.iter_mut().enumerate() {
            if !gr.p.is_null() {
                bad += verify(gr.p, gr.len, i * 7 + 1);
                libc::free(gr.p as *mut libc::c_void);
                gr.p = std::ptr::null_mut();
                finished += 1;
            }
        }
        prof
    };
    let seconds = t0.elapsed().as_secs_f64();
    ensure!(bad == 0, "realloc-growth: {bad} objects lost contents across realloc");
    Ok(Outcome::new(reallocs, seconds).check("objects", finished).with_prof(prof, true))
}

unsafe fn verify(p: *const u8, len: usize, salt: usize) -> u64 {
    (0..len).any(|j| *p.add(j) != pattern(j, salt)) as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn tiny_run_keeps_contents() {
        let p = ReallocGrowthParams { cycles: 20_000, string_max: 2048, vector_max: 8192, ..Default::default() };
        let o = run(&p).unwrap();
        assert_eq!(o.ops, 20_000);
        // Strings need > 2032/64 reallocs each, vectors 9: far fewer objects than reallocs,
        // but certainly more than the 4 that were live at the end.
        assert!(o.checks["objects"] > 4 && o.checks["objects"] < 20_000 / 9 + 4, "{:?}", o.checks);
    }
}
