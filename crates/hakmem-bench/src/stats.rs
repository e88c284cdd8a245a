//! Statistics for the runners: summaries, Welch's t, a bootstrap interval, the A/B verdict.

use serde::Serialize;

/// Summary of one contestant's samples (ops/s or any positive measure).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Summary {
    pub n: usize,
    pub mean: f64,
    pub median: f64,
    pub min: f64,
    pub max: f64,
    /// Sample standard deviation (n - 1).
    pub stdev: f64,
    /// stdev / mean.
    pub cv: f64,
}

impl Summary {
    /// `None` for an empty slice.
    pub fn of(xs: &[f64]) -> Option<Summary> {
        if xs.is_empty() {
            return None;
        }
        let n = xs.len();
        let mean = mean(xs);
        let stdev = stdev(xs);
        Some(Summary {
            n,
            mean,
            median: median(xs),
            min: xs.iter().copied().fold(f64::INFINITY, f64::min),
            max: xs.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            stdev,
            cv: if mean != 0.0 { stdev / mean } else { 0.0 },
        })
    }
}

pub fn mean(xs: &[f64]) -> f64 {
    xs.iter().sum::<f64>() / xs.len() as f64
}

pub fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Sample standard deviation; 0 for fewer than two samples.
pub fn stdev(xs: &[f64]) -> f64 {
    if xs.len() < 2 {
        return 0.0;
    }
    let m = mean(xs);
    (xs.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (xs.len() - 1) as f64).sqrt()
}

/// Welch's unequal-variance t test of mean(b) - mean(a).
#[derive(Clone, Debug, Serialize)]
pub struct Welch {
    pub t: f64,
    pub df: f64,
    /// Two-sided 95% critical value of Student's t at `df`.
    pub t_crit95: f64,
    pub significant95: bool,
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
        return Some(Welch { t: if diff == 0.0 { 0.0 } else { diff.signum() * f64::INFINITY }, df: f64::INFINITY, t_crit95: 1.96, significant95: diff != 0.0 });
    }
    let df = (va + vb).powi(2) / (va * va / (a.len() - 1) as f64 + vb * vb / (b.len() - 1) as f64);
    let t = diff / se;
    let t_crit95 = t_crit95(df);
    Some(Welch { t, df, t_crit95, significant95: t.abs() > t_crit95 })
}

/// Two-sided 95% critical value of Student's t (table, linear in 1/df between entries).
pub fn t_crit95(df: f64) -> f64 {
    const T: &[(f64, f64)] = &[
        (1.0, 12.706), (2.0, 4.303), (3.0, 3.182), (4.0, 2.776), (5.0, 2.571), (6.0, 2.447), (7.0, 2.365),
        (8.0, 2.306), (9.0, 2.262), (10.0, 2.228), (12.0, 2.179), (15.0, 2.131), (20.0, 2.086),
        (25.0, 2.060), (30.0, 2.042), (40.0, 2.021), (60.0, 2.000), (120.0, 1.980),
    ];
    if df.is_nan() || df <= 1.0 {
        return T[0].1;
    }
    for w in T.windows(2) {
        let ((d0, t0), (d1, t1)) = (w[0], w[1]);
        if df <= d1 {
            let f = (1.0 / d0 - 1.0 / df) / (1.0 / d0 - 1.0 / d1);
            return t0 + f * (t1 - t0);
        }
    }
    let (d0, t0) = T[T.len() - 1];
    t0 + (1.0 / d0 - 1.0 / df) / (1.0 / d0) * (1.96 - t0)
}

/// Percentile-bootstrap interval for mean(b)/mean(a) - 1, deterministic (fixed seed).
pub fn bootstrap_rel_diff(a: &[f64], b: &[f64], resamples: usize, level: f64) -> Option<(f64, f64)> {
    if a.is_empty() || b.is_empty() || resamples == 0 {
        return None;
    }
    let mut rng = crate::workloads::Xorshift32::new(0x9E37_79B9);
    let mut resample_mean = |xs: &[f64]| {
        let mut s = 0.0;
        for _ in 0..xs.len() {
            s += xs[rng.next() as usize % xs.len()];
        }
        s / xs.len() as f64
    };
    let mut diffs: Vec<f64> = (0..resamples)
        .map(|_| {
            let ma = resample_mean(a);
            let mb = resample_mean(b);
            mb / ma - 1.0
        })
        .collect();
    diffs.sort_by(f64::total_cmp);
    let lo_i = (((1.0 - level) / 2.0) * resamples as f64).floor() as usize;
    let hi_i = ((((1.0 + level) / 2.0) * resamples as f64).ceil() as usize).min(resamples) - 1;
    Some((diffs[lo_i.min(resamples - 1)], diffs[hi_i]))
}

/// GO at +1.0% or better, NEUTRAL within ±1.0%, NO-GO at −1.0% or worse.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Verdict {
    #[serde(rename = "GO")]
    Go,
    #[serde(rename = "NEUTRAL")]
    Neutral,
    #[serde(rename = "NO-GO")]
    NoGo,
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Verdict::Go => "GO",
            Verdict::Neutral => "NEUTRAL",
            Verdict::NoGo => "NO-GO",
        })
    }
}

/// Verdict for a relative change of B against A (`0.02` = +2%) in a higher-is-better measure.
pub fn verdict(rel: f64) -> Verdict {
    // Tolerance so that a change of exactly 1.0% (after float rounding) counts as 1.0%.
    const EPS: f64 = 1e-9;
    if rel >= 0.01 - EPS {
        Verdict::Go
    } else if rel <= -0.01 + EPS {
        Verdict::NoGo
    } else {
        Verdict::Neutral
    }
}

/// Everything the A/B report says about two sides' samples (ops/s).
#[derive(Clone, Debug, Serialize)]
pub struct AbResult {
    pub a: Summary,
    pub b: Summary,
    /// mean(b) / mean(a) - 1 (the verdict's measure).
    pub rel_diff: f64,
    /// median(b) / median(a) - 1, shown beside it: robust to one disturbed run.
    pub rel_diff_median: f64,
    pub ci95: Option<(f64, f64)>,
    pub welch: Option<Welch>,
    /// The bootstrap interval excludes 0 (and Welch agrees when it can be computed).
    pub beyond_noise: bool,
    pub verdict: Verdict,
}

pub fn ab(a: &[f64], b: &[f64]) -> Option<AbResult> {
    let (sa, sb) = (Summary::of(a)?, Summary::of(b)?);
    let rel_diff = sb.mean / sa.mean - 1.0;
    let ci95 = bootstrap_rel_diff(a, b, 10_000, 0.95);
    let welch = welch(a, b);
    let ci_excludes_zero = ci95.map(|(lo, hi)| lo > 0.0 || hi < 0.0).unwrap_or(false);
    let beyond_noise = ci_excludes_zero && welch.as_ref().map(|w| w.significant95).unwrap_or(false);
    let rel_diff_median = sb.median / sa.median - 1.0;
    Some(AbResult { a: sa, b: sb, rel_diff, rel_diff_median, ci95, welch, beyond_noise, verdict: verdict(rel_diff) })
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
        assert_eq!(s.median, 4.5);
        assert_eq!((s.min, s.max), (2.0, 9.0));
        // Sample variance = 32 / 7.
        assert!(close(s.stdev, (32.0f64 / 7.0).sqrt(), 1e-12));
        assert!(close(s.cv, (32.0f64 / 7.0).sqrt() / 5.0, 1e-12));
        let odd = Summary::of(&[3.0, 1.0, 2.0]).unwrap();
        assert_eq!(odd.median, 2.0);
        assert!(Summary::of(&[]).is_none());
        let one = Summary::of(&[7.0]).unwrap();
        assert_eq!((one.stdev, one.cv, one.median), (0.0, 0.0, 7.0));
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
    fn noise_is_recognised() {
        // Same distribution, shuffled: the interval must straddle zero.
        let a = [90.0, 110.0, 95.0, 105.0, 100.0, 92.0, 108.0];
        let b = [105.0, 95.0, 110.0, 90.0, 108.0, 100.0, 92.0];
        let r = ab(&a, &b).unwrap();
        let (lo, hi) = r.ci95.unwrap();
        assert!(lo < 0.0 && hi > 0.0);
        assert!(!r.beyond_noise);
        assert!(!r.welch.unwrap().significant95);
    }

    #[test]
    fn welch_known_value() {
        // mean 2 vs 4, both variance 1, n 3: se = sqrt(2/3), t = 2 / 0.8165 = 2.449, df = 4.
        let w = welch(&[1.0, 2.0, 3.0], &[3.0, 4.0, 5.0]).unwrap();
        assert!(close(w.t, 2.449489742783178, 1e-9));
        assert!(close(w.df, 4.0, 1e-9));
        assert!(close(w.t_crit95, 2.776, 1e-9));
        assert!(!w.significant95);
        assert!(close(t_crit95(10.0), 2.228, 1e-12));
        assert!(t_crit95(11.0) < 2.228 && t_crit95(11.0) > 2.179);
        assert!(t_crit95(1e9) > 1.959 && t_crit95(1e9) < 1.961);
    }
}
