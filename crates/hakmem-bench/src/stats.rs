//! Statistics for every tool: one summary of a sample, Welch's t with exact Student-t
//! quantiles (statrs), and the A/B verdict.

use serde::Serialize;
use statrs::distribution::{ContinuousCDF, Normal, StudentsT};

/// Fewest samples a p99 is reported from: below it the "p99" is just the largest value or an
/// interpolation towards it, and `max` says that honestly.
pub const P99_MIN_SAMPLES: usize = 100;

/// Summary of a sample (ops/s, RSS, ratios: any measure).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Summary {
    pub n: usize,
    pub mean: f64,
    /// Sample standard deviation (n − 1; 0 for one value).
    pub stdev: f64,
    /// stdev / mean.
    pub cv: f64,
    pub min: f64,
    /// The median.
    pub p50: f64,
    pub p90: f64,
    /// `None` below [`P99_MIN_SAMPLES`] samples.
    pub p99: Option<f64>,
    pub max: f64,
}

impl Summary {
    /// `None` for an empty slice. Percentiles interpolate linearly between closest ranks
    /// (numpy's default).
    pub fn of(xs: &[f64]) -> Option<Summary> {
        if xs.is_empty() {
            return None;
        }
        let n = xs.len();
        let mean = mean(xs);
        let stdev = stdev(xs);
        let mut s = xs.to_vec();
        s.sort_by(f64::total_cmp);
        Some(Summary {
            n,
            mean,
            stdev,
            cv: if mean != 0.0 { stdev / mean } else { 0.0 },
            min: s[0],
            p50: percentile_sorted(&s, 0.5),
            p90: percentile_sorted(&s, 0.9),
            p99: (n >= P99_MIN_SAMPLES).then(|| percentile_sorted(&s, 0.99)),
            max: s[n - 1],
        })
    }

    /// `p99 X` when there are enough samples, else `max X (n=N, too few for a p99)`.
    pub fn tail(&self, fmt: impl Fn(f64) -> String) -> String {
        match self.p99 {
            Some(p) => format!("p99 {}", fmt(p)),
            None => format!("max {} (n={}, too few for a p99)", fmt(self.max), self.n),
        }
    }
}

/// Percentile `p` in [0, 1] of sorted, non-empty `xs`, linear between closest ranks.
pub fn percentile_sorted(xs: &[f64], p: f64) -> f64 {
    assert!(!xs.is_empty());
    let h = (xs.len() - 1) as f64 * p.clamp(0.0, 1.0);
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(xs.len() - 1);
    xs[lo] + (h - lo as f64) * (xs[hi] - xs[lo])
}

pub fn mean(xs: &[f64]) -> f64 {
    xs.iter().sum::<f64>() / xs.len() as f64
}

pub fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    percentile_sorted(&v, 0.5)
}

/// Sample standard deviation; 0 for fewer than two samples.
pub fn stdev(xs: &[f64]) -> f64 {
    if xs.len() < 2 {
        return 0.0;
    }
    let m = mean(xs);
    (xs.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (xs.len() - 1) as f64).sqrt()
}

/// Two-sided 95% critical value of Student's t with `df` degrees of freedom (exact; 1.96 for
/// infinite df).
pub fn t_crit95(df: f64) -> f64 {
    // Past 1e5 degrees of freedom t and the normal differ by < 1e-5, and statrs' inverse
    // incomplete beta function converges slowly there: use the normal quantile.
    if !df.is_finite() || df > 1e5 {
        return Normal::standard().inverse_cdf(0.975);
    }
    StudentsT::new(0.0, 1.0, df.max(1e-3)).map(|t| t.inverse_cdf(0.975)).unwrap_or(f64::INFINITY)
}

/// Welch's unequal-variance t test of mean(b) − mean(a), with its 95% interval.
#[derive(Clone, Debug, Serialize)]
pub struct Welch {
    pub t: f64,
    pub df: f64,
    /// Two-sided 95% critical value of Student's t at `df`.
    pub t_crit95: f64,
    pub significant95: bool,
    /// 95% interval of mean(b) − mean(a), in the samples' unit.
    pub ci95: (f64, f64),
}

pub fn welch(a: &[f64], b: &[f64]) -> Option<Welch> {
    if a.len() < 2 || b.len() < 2 {
        return None;
    }
    let (va, vb) = (stdev(a).powi(2) / a.len() as f64, stdev(b).powi(2) / b.len() as f64);
    let se = (va + vb).sqrt();
    let diff = mean(b) - mean(a);
    if se == 0.0 {
        // No spread at all: any difference is beyond the noise.
        let t = if diff == 0.0 { 0.0 } else { diff.signum() * f64::INFINITY };
        return Some(Welch {
            t,
            df: f64::INFINITY,
            t_crit95: t_crit95(f64::INFINITY),
            significant95: diff != 0.0,
            ci95: (diff, diff),
        });
    }
    let df = (va + vb).powi(2) / (va * va / (a.len() - 1) as f64 + vb * vb / (b.len() - 1) as f64);
    let t = diff / se;
    let tc = t_crit95(df);
    Some(Welch { t, df, t_crit95: tc, significant95: t.abs() > tc, ci95: (diff - tc * se, diff + tc * se) })
}

/// GO at +1.0% or better, NEUTRAL within ±1.0%, NO-GO at −1.0% or worse; INCONCLUSIVE when
/// the runs cannot tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Verdict {
    #[serde(rename = "GO")]
    Go,
    #[serde(rename = "NEUTRAL")]
    Neutral,
    #[serde(rename = "NO-GO")]
    NoGo,
    #[serde(rename = "INCONCLUSIVE")]
    Inconclusive,
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Verdict::Go => "GO",
            Verdict::Neutral => "NEUTRAL",
            Verdict::NoGo => "NO-GO",
            Verdict::Inconclusive => "INCONCLUSIVE",
        })
    }
}

/// The GO / NEUTRAL / NO-GO threshold, as a relative change.
pub const THRESHOLD: f64 = 0.01;

/// Verdict for a relative change of B against A (`0.02` = +2%) in a higher-is-better measure,
/// by the point estimate alone.
pub fn verdict(rel: f64) -> Verdict {
    // Tolerance so that a change of exactly 1.0% (after float rounding) counts as 1.0%.
    const EPS: f64 = 1e-9;
    if rel >= THRESHOLD - EPS {
        Verdict::Go
    } else if rel <= -THRESHOLD + EPS {
        Verdict::NoGo
    } else {
        Verdict::Neutral
    }
}

/// The verdict the interval supports: NEUTRAL when all of it lies within ±1%; INCONCLUSIVE
/// when it holds zero (or there is none) but reaches past ±1%; otherwise by the estimate.
pub fn supported_verdict(rel: f64, ci: Option<(f64, f64)>) -> Verdict {
    match ci {
        None => Verdict::Inconclusive,
        Some((lo, hi)) if lo > -THRESHOLD && hi < THRESHOLD => Verdict::Neutral,
        Some((lo, hi)) if lo <= 0.0 && hi >= 0.0 => Verdict::Inconclusive,
        Some(_) => verdict(rel),
    }
}

/// Everything the A/B report says about two sides' samples (ops/s).
#[derive(Clone, Debug, Serialize)]
pub struct AbResult {
    pub a: Summary,
    pub b: Summary,
    /// mean(b) / mean(a) − 1 (the verdict's measure).
    pub rel_diff: f64,
    /// median(b) / median(a) − 1, shown beside it: robust to one disturbed run.
    pub rel_diff_median: f64,
    /// Welch's 95% interval of mean(b) − mean(a), divided by mean(a).
    pub ci95: Option<(f64, f64)>,
    pub welch: Option<Welch>,
    /// The interval excludes zero.
    pub beyond_noise: bool,
    pub verdict: Verdict,
}

pub fn ab(a: &[f64], b: &[f64]) -> Option<AbResult> {
    let (sa, sb) = (Summary::of(a)?, Summary::of(b)?);
    let rel_diff = sb.mean / sa.mean - 1.0;
    let welch = welch(a, b);
    let ci95 = welch.as_ref().map(|w| (w.ci95.0 / sa.mean, w.ci95.1 / sa.mean));
    let beyond_noise = welch.as_ref().is_some_and(|w| w.significant95);
    let rel_diff_median = sb.p50 / sa.p50 - 1.0;
    Some(AbResult {
        a: sa,
        b: sb,
        rel_diff,
        rel_diff_median,
        ci95,
        welch,
        beyond_noise,
        verdict: supported_verdict(rel_diff, ci95),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn summary_known_values() {
        let s = Summary::of(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]).unwrap();
        assert_eq!(s.n, 8);
        assert_eq!(s.mean, 5.0);
        assert_eq!(s.p50, 4.5);
        assert_eq!((s.min, s.max), (2.0, 9.0));
        // Sample variance = 32 / 7.
        assert!(close(s.stdev, (32.0f64 / 7.0).sqrt(), 1e-12));
        assert!(close(s.cv, (32.0f64 / 7.0).sqrt() / 5.0, 1e-12));
        let odd = Summary::of(&[3.0, 1.0, 2.0]).unwrap();
        assert_eq!(odd.p50, 2.0);
        assert!(Summary::of(&[]).is_none());
        let one = Summary::of(&[7.0]).unwrap();
        assert_eq!((one.stdev, one.cv, one.p50), (0.0, 0.0, 7.0));
    }

    #[test]
    fn p99_needs_a_hundred_samples() {
        let few: Vec<f64> = (1..=99).map(f64::from).collect();
        let s = Summary::of(&few).unwrap();
        assert_eq!(s.p99, None);
        assert_eq!(s.tail(|x| format!("{x}")), "max 99 (n=99, too few for a p99)");
        let many: Vec<f64> = (1..=101).map(f64::from).collect();
        let s = Summary::of(&many).unwrap();
        // rank 0.99 * 100 = 99 -> the 100th value.
        assert_eq!(s.p99, Some(100.0));
        assert_eq!(s.tail(|x| format!("{x}")), "p99 100");
    }

    #[test]
    fn verdict_thresholds() {
        assert_eq!(verdict(0.02), Verdict::Go);
        assert_eq!(verdict(-0.003), Verdict::Neutral);
        assert_eq!(verdict(-0.015), Verdict::NoGo);
        assert_eq!(verdict(0.0099), Verdict::Neutral);
        assert_eq!(verdict(-0.0099), Verdict::Neutral);
        // Exactly ±1.0%, computed the way the runner computes it.
        assert_eq!(verdict(101.0 / 100.0 - 1.0), Verdict::Go);
        assert_eq!(verdict(99.0 / 100.0 - 1.0), Verdict::NoGo);
    }

    #[test]
    fn the_interval_decides_what_can_be_said() {
        // Spans zero and reaches past ±1%: the runs cannot tell, whatever the estimate.
        assert_eq!(supported_verdict(0.4, Some((-0.39, 1.61))), Verdict::Inconclusive);
        assert_eq!(supported_verdict(-0.02, Some((-0.05, 0.001))), Verdict::Inconclusive);
        assert_eq!(supported_verdict(0.02, None), Verdict::Inconclusive);
        // Wholly within ±1%: no effect worth having, shown.
        assert_eq!(supported_verdict(0.002, Some((-0.004, 0.008))), Verdict::Neutral);
        // Clear of zero: the estimate decides.
        assert_eq!(supported_verdict(0.02, Some((0.012, 0.03))), Verdict::Go);
        assert_eq!(supported_verdict(-0.02, Some((-0.03, -0.005))), Verdict::NoGo);
        assert_eq!(supported_verdict(0.006, Some((0.001, 0.011))), Verdict::Neutral);
    }

    #[test]
    fn ab_pairs() {
        let a = [100.0, 101.0, 99.0, 100.5, 99.5, 100.0, 100.2, 99.8, 100.1, 99.9];
        let plus2: Vec<f64> = a.iter().map(|x| x * 1.02).collect();
        let minus03: Vec<f64> = a.iter().map(|x| x * 0.997).collect();
        let minus15: Vec<f64> = a.iter().map(|x| x * 0.985).collect();
        let r = ab(&a, &plus2).unwrap();
        assert_eq!(r.verdict, Verdict::Go);
        assert!(close(r.rel_diff, 0.02, 1e-12));
        assert!(close(r.rel_diff_median, 0.02, 1e-12));
        assert!(r.beyond_noise);
        let (lo, hi) = r.ci95.unwrap();
        assert!(lo > 0.0 && lo < 0.02 && hi > 0.02, "{lo} {hi}");
        let r = ab(&a, &minus03).unwrap();
        assert_eq!(r.verdict, Verdict::Neutral);
        let r = ab(&a, &minus15).unwrap();
        assert_eq!(r.verdict, Verdict::NoGo);
        assert!(r.beyond_noise);
    }

    #[test]
    fn three_noisy_runs_are_inconclusive() {
        // The case from the issue: 3 runs per side, B's mean 40% up, spread to match.
        let a = [100.0, 60.0, 140.0];
        let b = [240.0, 90.0, 90.0];
        let r = ab(&a, &b).unwrap();
        assert!(r.rel_diff > 0.3);
        let (lo, hi) = r.ci95.unwrap();
        assert!(lo < 0.0 && hi > 0.0, "{lo} {hi}");
        assert_eq!(r.verdict, Verdict::Inconclusive);
    }

    #[test]
    fn noise_is_recognised() {
        // Same distribution, shuffled: the interval must straddle zero.
        let a = [90.0, 110.0, 95.0, 105.0, 100.0, 92.0, 108.0];
        let b = [105.0, 95.0, 110.0, 90.0, 108.0, 100.0, 92.0];
        let r = ab(&a, &b).unwrap();
        let (lo, hi) = r.ci95.unwrap();
        assert!(lo < 0.0 && hi > 0.0);
        assert!(!r.beyond_noise);
        assert!(!r.welch.unwrap().significant95);
        assert_eq!(r.verdict, Verdict::Inconclusive);
    }

    #[test]
    fn welch_known_value() {
        // mean 2 vs 4, both variance 1, n 3: se = sqrt(2/3), t = 2 / 0.8165 = 2.449, df = 4.
        let w = welch(&[1.0, 2.0, 3.0], &[3.0, 4.0, 5.0]).unwrap();
        assert!(close(w.t, 2.449489742783178, 1e-9));
        assert!(close(w.df, 4.0, 1e-9));
        // Student's t tables: 2.776 (df 4), 2.228 (df 10), 12.706 (df 1).
        assert!(close(w.t_crit95, 2.776445105, 1e-6), "{}", w.t_crit95);
        assert!(!w.significant95);
        assert!(close(w.ci95.0, 2.0 - 2.776445105 * (2.0f64 / 3.0).sqrt(), 1e-6));
        assert!(close(t_crit95(10.0), 2.228138852, 1e-6));
        assert!(close(t_crit95(1.0), 12.70620474, 1e-5));
        assert!(t_crit95(11.0) < 2.228 && t_crit95(11.0) > 2.179);
        assert!(t_crit95(1e9) > 1.959 && t_crit95(1e9) < 1.961);
    }
}
