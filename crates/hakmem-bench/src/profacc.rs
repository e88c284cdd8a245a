//! How close the prof box's sampled heap profile is to the truth (`hakmem bench
//! --prof-accuracy`): per workload, many processes each write one profile at their largest
//! live set (`--prof-dump`) and report the exact requested bytes they hold; this module turns
//! those pairs into the summary and the verdict.
//!
//! The estimate of a profile is its `inuse_space` summed over samples: each sample of `s`
//! requested bytes counts `s / p`, with `p = 1 − exp(−size / mean)`. It is unbiased, and for
//! live bytes `B` its standard deviation is at most `sqrt(mean × B)` (the bound is close for
//! blocks much smaller than `mean`, loose for blocks near or above it, which are sampled
//! almost surely). So:
//!
//! - the mean relative error over N independent dumps should be within 3 standard errors of
//!   0, the standard error being the larger of the sample's (`sd / sqrt(N)`) and the bound's
//!   (`sqrt(Σ mean / B_i) / N`: a sample of few dumps of a tiny live set can show no spread at
//!   all when none of them caught a sample);
//! - each dump's z = (estimate − B) / sqrt(mean × B) has E[z²] ≤ 1: the mean of z² should be
//!   at most 1 plus 3 of its standard errors;
//! - with `mean / B` small enough (a big live set, or a dense rate), every single dump is
//!   within 10%.

use serde::{Deserialize, Serialize};

/// The bound a mean error (and, for `--large`, every dump) must stay within.
pub const BOUND: f64 = 0.10;

/// One process's dump: what it held and what its profile says.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Dump {
    pub seed: u32,
    /// Requested bytes of the workload's own live blocks.
    pub live_bytes: u64,
    /// Requested bytes of the process's Rust allocations (bookkeeping, runtime).
    pub other_bytes: u64,
    /// The profile's `inuse_space`, summed.
    pub estimate: u64,
    /// Samples in the profile.
    pub samples: usize,
    /// The profile's period: mean bytes between samples.
    pub mean: u64,
}

impl Dump {
    /// The true live bytes: the workload's blocks and the Rust allocations.
    pub fn truth(&self) -> u64 {
        self.live_bytes + self.other_bytes
    }
    /// (estimate − truth) / truth.
    pub fn error(&self) -> f64 {
        (self.estimate as f64 - self.truth() as f64) / self.truth().max(1) as f64
    }
    /// The bound on the estimate's standard deviation, `sqrt(mean × truth)`, relative to truth.
    pub fn bound_sd(&self) -> f64 {
        (self.mean as f64 / self.truth().max(1) as f64).sqrt()
    }
    /// The error in units of the bound.
    pub fn z(&self) -> f64 {
        self.error() / self.bound_sd()
    }
}

/// What a workload's dumps show.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// No bias detected, the spread within theory, the mean error within 10% and resolved to
    /// better than ±10% (3 standard errors); with `single`, every dump within 10% too.
    Pass,
    /// As `Pass`, but 3 standard errors exceed 10%: too few dumps to resolve the bound.
    Weak,
    /// Nothing contradicts theory, but the mean error is not within 10%: too few dumps for
    /// this live set and rate.
    Inconclusive,
    /// A bias, a spread above the bound, or (with `single`) a dump off by more than 10%.
    Fail(String),
}

impl Verdict {
    pub fn text(&self, se3: f64) -> String {
        match self {
            Verdict::Pass => "PASS".into(),
            Verdict::Weak => format!("weak pass (3SE {:.0}%)", se3 * 100.0),
            Verdict::Inconclusive => format!("inconclusive (3SE {:.0}%)", se3 * 100.0),
            Verdict::Fail(why) => format!("FAIL: {why}"),
        }
    }
    pub fn failed(&self) -> bool {
        matches!(self, Verdict::Fail(_))
    }
}

/// A workload's dumps, summarised.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Summary {
    pub workload: String,
    pub dumps: usize,
    /// The sampling mean in bytes (the profiles' period).
    pub mean: u64,
    /// Mean true live bytes, and the share of them that is Rust bookkeeping.
    pub truth: f64,
    pub other_share: f64,
    pub estimate: f64,
    pub samples: f64,
    /// Mean relative error, its standard error (the larger of the sample's and the bound's),
    /// and each of the two.
    pub mean_error: f64,
    pub se: f64,
    pub se_sample: f64,
    pub se_bound: f64,
    pub min_error: f64,
    pub max_error: f64,
    /// Standard deviation of the relative errors, and the bound's (`sqrt(mean / B)`, rms over
    /// the dumps).
    pub sd_error: f64,
    pub sd_bound: f64,
    /// Mean of z², its standard error, and the largest |z|.
    pub mean_z2: f64,
    pub se_z2: f64,
    pub max_abs_z: f64,
    /// Dumps within 10% of the truth.
    pub within: usize,
    pub verdict: Verdict,
}

/// Summarises a workload's dumps (None for none). `single`: every dump must be within 10%.
pub fn summarize(workload: &str, dumps: &[Dump], single: bool) -> Option<Summary> {
    let n = dumps.len();
    if n == 0 {
        return None;
    }
    let nf = n as f64;
    let mean_of = |f: &dyn Fn(&Dump) -> f64| dumps.iter().map(f).sum::<f64>() / nf;
    let errors: Vec<f64> = dumps.iter().map(Dump::error).collect();
    let z2: Vec<f64> = dumps.iter().map(|d| d.z() * d.z()).collect();
    let mean_error = crate::stats::mean(&errors);
    let sd_error = crate::stats::stdev(&errors);
    let se_sample = sd_error / nf.sqrt();
    let var_bound = mean_of(&|d| d.bound_sd() * d.bound_sd());
    let se_bound = (var_bound / nf).sqrt();
    let se = se_sample.max(se_bound);
    let mean_z2 = crate::stats::mean(&z2);
    let se_z2 = crate::stats::stdev(&z2) / nf.sqrt();
    let within = errors.iter().filter(|e| e.abs() <= BOUND).count();
    let truth = mean_of(&|d| d.truth() as f64);
    let verdict = if mean_error.abs() > 3.0 * se {
        Verdict::Fail(format!("bias: mean error {:+.1}% is beyond 3SE ({:.1}%)", mean_error * 100.0, 3.0 * se * 100.0))
    } else if mean_z2 > 1.0 + 3.0 * se_z2 {
        Verdict::Fail(format!("spread: mean z² {mean_z2:.2} above 1 + 3SE ({:.2})", 1.0 + 3.0 * se_z2))
    } else if single && within < n {
        Verdict::Fail(format!("{} of {n} dumps off by more than 10%", n - within))
    } else if mean_error.abs() > BOUND {
        Verdict::Inconclusive
    } else if 3.0 * se > BOUND {
        Verdict::Weak
    } else {
        Verdict::Pass
    };
    Some(Summary {
        workload: workload.to_string(),
        dumps: n,
        mean: dumps[0].mean,
        truth,
        other_share: mean_of(&|d| d.other_bytes as f64) / truth.max(1.0),
        estimate: mean_of(&|d| d.estimate as f64),
        samples: mean_of(&|d| d.samples as f64),
        mean_error,
        se,
        se_sample,
        se_bound,
        min_error: errors.iter().copied().fold(f64::INFINITY, f64::min),
        max_error: errors.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        sd_error,
        sd_bound: var_bound.sqrt(),
        mean_z2,
        se_z2,
        max_abs_z: dumps.iter().map(|d| d.z().abs()).fold(0.0, f64::max),
        within,
        verdict,
    })
}

fn mb(x: f64) -> String {
    let m = x / (1u64 << 20) as f64;
    if m >= 100.0 {
        format!("{m:.0}")
    } else if m >= 10.0 {
        format!("{m:.1}")
    } else {
        format!("{m:.2}")
    }
}

fn pct(x: f64) -> String {
    format!("{:+.1}%", x * 100.0)
}

/// The table's header and rows (MB = 2^20 bytes).
pub fn grid(sums: &[Summary]) -> (Vec<String>, Vec<Vec<String>>) {
    let header = [
        "workload",
        "dumps",
        "true live MB",
        "(Rust)",
        "estimate MB",
        "samples",
        "mean error",
        "3SE",
        "error range",
        "sd error",
        "bound sd",
        "mean z²",
        "within 10%",
        "verdict",
    ]
    .map(String::from)
    .to_vec();
    let rows = sums
        .iter()
        .map(|s| {
            vec![
                s.workload.clone(),
                s.dumps.to_string(),
                mb(s.truth),
                format!("{:.1}%", s.other_share * 100.0),
                mb(s.estimate),
                format!("{:.0}", s.samples),
                pct(s.mean_error),
                format!("{:.1}%", 3.0 * s.se * 100.0),
                format!("{}..{}", pct(s.min_error), pct(s.max_error)),
                format!("{:.1}%", s.sd_error * 100.0),
                format!("{:.1}%", s.sd_bound * 100.0),
                format!("{:.2}", s.mean_z2),
                format!("{}/{}", s.within, s.dumps),
                s.verdict.text(3.0 * s.se),
            ]
        })
        .collect();
    (header, rows)
}

/// What the columns mean, for the text and Markdown reports.
pub const LEGEND: &str = "true live MB: requested bytes the process held at the dump (mean over the dumps), \
the workload's blocks plus its Rust allocations (their share in parentheses); estimate MB: the profile's \
inuse_space; samples: live samples per profile; mean error: mean of (estimate - truth) / truth; 3SE: three \
standard errors of that mean (the larger of the sample's and the bound's); error range: the smallest and \
largest single dump; sd error: their standard deviation, bound sd: sqrt(mean x B) / B; mean z²: of z = error / \
bound sd, at most 1 in theory; within 10%: single dumps within 10% of the truth.";

#[cfg(test)]
mod tests {
    use super::*;

    fn d(live: u64, est: u64, mean: u64) -> Dump {
        Dump { seed: 1, live_bytes: live, other_bytes: 0, estimate: est, samples: 10, mean }
    }

    #[test]
    fn errors_and_z() {
        let x = Dump { other_bytes: 1_000_000, ..d(3_000_000, 4_400_000, 40_000) };
        assert_eq!(x.truth(), 4_000_000);
        assert!((x.error() - 0.1).abs() < 1e-12);
        assert!((x.bound_sd() - 0.1).abs() < 1e-12);
        assert!((x.z() - 1.0).abs() < 1e-9);
    }

    #[test]
    fn verdicts() {
        let m = 1 << 14;
        // Tight and unbiased: errors of ±1% around a 100 MB set, bound sd 1.25%.
        let good: Vec<Dump> =
            (0..30).map(|i| d(100 << 20, (100 << 20) + if i % 2 == 0 { 1 << 20 } else { 0 }, m)).collect();
        let s = summarize("w", &good, true).unwrap();
        assert_eq!(s.verdict, Verdict::Pass, "{s:?}");
        assert_eq!(s.within, 30);
        // Off by 5% every time: a bias far beyond 3SE.
        let biased: Vec<Dump> = (0..30).map(|_| d(100 << 20, 105 << 20, m)).collect();
        assert!(summarize("w", &biased, false).unwrap().verdict.failed());
        // Spread far above the bound (±20% at a bound of 1.25%), unbiased on average.
        let wild: Vec<Dump> = (0..30).map(|i| d(100 << 20, if i % 2 == 0 { 120 << 20 } else { 80 << 20 }, m)).collect();
        let s = summarize("w", &wild, false).unwrap();
        assert!(matches!(&s.verdict, Verdict::Fail(w) if w.starts_with("spread")), "{s:?}");
        // A tiny set no dump caught: -100% each time, but the bound's SE says it cannot tell.
        let tiny: Vec<Dump> = (0..30).map(|_| d(10_000, 0, 512 << 10)).collect();
        let s = summarize("w", &tiny, false).unwrap();
        assert_eq!(s.verdict, Verdict::Inconclusive, "{s:?}");
        assert!(s.se_sample < 1e-12 && s.se_bound > 1.0);
        // Unbiased, within the bound, but 3SE above 10%: weak.
        let noisy: Vec<Dump> =
            (0..10).map(|i| d(4 << 20, if i % 2 == 0 { 5 << 20 } else { 3 << 20 }, 512 << 10)).collect();
        assert_eq!(summarize("w", &noisy, false).unwrap().verdict, Verdict::Weak);
        // With `single`, one dump off by 30% fails even if the mean is fine.
        let mut one_off = good.clone();
        one_off[0].estimate = 130 << 20;
        one_off[1].estimate = 70 << 20;
        let s = summarize("w", &one_off, true).unwrap();
        assert!(s.verdict.failed(), "{s:?}");
        assert!(summarize("w", &[], false).is_none());
        let (h, rows) = grid(&[summarize("w", &good, true).unwrap()]);
        assert_eq!(h.len(), rows[0].len());
        assert_eq!(rows[0][12], "30/30");
    }
}
