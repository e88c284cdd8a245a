//! The soak analysis on hand-made CSVs whose drift, CV, percentiles and syscall rates are
//! worked out by hand in the comments.

use hakmem_bench::soak::{
    analyze, analyze_epochs, paired_ratio, parse_csv, throughputs, AnalyzeOptions, Budgets, Report, SoakData, Warmup,
    EPOCH_COLUMNS, PROCESS_COLUMNS,
};

/// Builds an epochs CSV: one (ops_per_s, rss_bytes, cumulative calls) per epoch, 10 s each.
fn csv(rows: &[(f64, u64, Option<u64>)]) -> String {
    let mut s = format!("# allocator=test\n{EPOCH_COLUMNS}\n");
    for (i, (tput, rss, calls)) in rows.iter().enumerate() {
        let ops = (tput * 10.0) as u64;
        let c = calls.map(|c| format!("{c},0,0")).unwrap_or_else(|| ",,".into());
        s += &format!("{i},{},{ops},{tput},{rss},,{c}\n", (i + 1) * 10);
    }
    s
}

fn epochs_report(text: &str, opt: &AnalyzeOptions) -> hakmem_bench::soak::EpochReport {
    match analyze(&parse_csv(text).unwrap(), opt).unwrap() {
        Report::Epochs(r) => r,
        other => panic!("expected an epochs report, got {other:?}"),
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * b.abs().max(1.0)
}

#[test]
fn flat_run_has_zero_drift_and_zero_cv_and_passes() {
    let rows: Vec<_> = (0..11).map(|_| (50e6, 33_000_000, None)).collect();
    let r = epochs_report(&csv(&rows), &AnalyzeOptions::default());
    // 11 epochs: auto warm-up = round(1.1) = 1, 10 measured, drift window ceil(1.0) = 1.
    assert_eq!((r.epochs, r.warmup_epochs, r.measured_epochs, r.drift_window_epochs), (11, 1, 10, 1));
    assert_eq!(r.rss_drift, 0.0);
    assert_eq!(r.throughput.cv, 0.0);
    assert_eq!(r.peak_rss_bytes, 33_000_000);
    assert!(r.syscalls.is_none(), "no counts in the CSV means unknown, not zero");
    assert!(r.verdict.pass);
    // The syscall check is present but not judged.
    let c = r.verdict.checks.iter().find(|c| c.name == "syscalls_per_op").unwrap();
    assert_eq!(c.pass, None);
}

#[test]
fn known_mean_cv_and_percentiles() {
    // Warm-up epoch at 1000 M ops/s must not count; the measured ones are 1..=10 M ops/s.
    let mut rows = vec![(1000e6, 10_000_000, None)];
    rows.extend((1..=10).map(|k| (k as f64 * 1e6, 10_000_000, None)));
    let opt = AnalyzeOptions { warmup: Warmup::Epochs(1), ..Default::default() };
    let r = epochs_report(&csv(&rows), &opt);
    let t = &r.throughput;
    assert_eq!(t.n, 10);
    assert!(close(t.mean, 5.5e6));
    // sample variance = sum((k - 5.5)^2) / 9 = 82.5 / 9
    let sd = (82.5f64 / 9.0).sqrt() * 1e6;
    assert!(close(t.stdev, sd), "stdev {}", t.stdev);
    assert!(close(t.cv, sd / 5.5e6));
    // Linear interpolation: p50 at rank 4.5 -> 5.5; p90 at 8.1 -> 9.1. Ten values make no
    // p99 (it would be an interpolation towards the max); the max is reported instead.
    assert!(close(t.p50, 5.5e6));
    assert!(close(t.p90, 9.1e6), "p90 {}", t.p90);
    assert_eq!(t.p99, None);
    assert_eq!((t.min, t.max), (1e6, 10e6));
    // CV 55% fails a 5% CV budget when one is set, and only then.
    assert!(r.verdict.pass);
    let strict =
        AnalyzeOptions { warmup: Warmup::Epochs(1), budgets: Budgets { max_cv: Some(0.05), ..Default::default() } };
    assert!(!epochs_report(&csv(&rows), &strict).verdict.pass);
}

#[test]
fn p99_from_a_hundred_epochs() {
    // 1 warm-up + 100 measured epochs at 1..=100 M ops/s: p99 at rank 98.01 -> 99.01 M.
    let mut rows = vec![(1000e6, 10_000_000, None)];
    rows.extend((1..=100).map(|k| (k as f64 * 1e6, 10_000_000, None)));
    let opt = AnalyzeOptions { warmup: Warmup::Epochs(1), ..Default::default() };
    let t = epochs_report(&csv(&rows), &opt).throughput;
    assert_eq!(t.n, 100);
    assert!(close(t.p99.unwrap(), 99.01e6), "{:?}", t.p99);
}

#[test]
fn leaking_series_fails_the_drift_budget() {
    // RSS grows 1 MB per epoch from 100 MB over 20 epochs. Auto warm-up = 2 epochs, so the
    // measured RSS are 102..=119 MB (18 epochs), window = ceil(1.8) = 2:
    // first = (102 + 103) / 2 = 102.5, last = (118 + 119) / 2 = 118.5, drift = 16 / 102.5.
    let rows: Vec<_> = (0..20).map(|i| (50e6, (100 + i) * 1_000_000, None)).collect();
    let r = epochs_report(&csv(&rows), &AnalyzeOptions::default());
    assert_eq!((r.warmup_epochs, r.drift_window_epochs), (2, 2));
    assert!(close(r.rss_first_mean_bytes, 102.5e6));
    assert!(close(r.rss_last_mean_bytes, 118.5e6));
    assert!(close(r.rss_drift, 16.0 / 102.5), "drift {}", r.rss_drift);
    assert_eq!(r.peak_rss_bytes, 119_000_000);
    assert!(!r.verdict.pass);
    let c = r.verdict.checks.iter().find(|c| c.name == "rss_drift").unwrap();
    assert_eq!(c.pass, Some(false));
}

#[test]
fn small_drift_is_judged_against_the_budget_given() {
    // First window 100 MB, last window 100.5 MB: drift 0.5%.
    let mut rows: Vec<_> = (0..10).map(|_| (50e6, 100_000_000, None)).collect();
    rows.push((50e6, 100_500_000, None));
    let opt = |d| AnalyzeOptions { warmup: Warmup::Epochs(0), budgets: Budgets { max_drift: d, ..Default::default() } };
    let r = epochs_report(&csv(&rows), &opt(0.01));
    // 11 measured epochs -> window ceil(1.1) = 2: first = 100, last = (100 + 100.5) / 2 = 100.25.
    assert!(close(r.rss_drift, 0.0025), "drift {}", r.rss_drift);
    assert!(r.verdict.pass);
    assert!(!epochs_report(&csv(&rows), &opt(0.002)).verdict.pass);
}

#[test]
fn shrinking_rss_passes() {
    let rows: Vec<_> = (0..12).map(|i| (50e6, (200 - i * 10) * 1_000_000, None)).collect();
    let r = epochs_report(&csv(&rows), &AnalyzeOptions::default());
    assert!(r.rss_drift < 0.0);
    assert!(r.verdict.pass);
}

#[test]
fn syscalls_per_op_counts_only_the_measured_epochs() {
    // 10 epochs of 1e9 ops (100 M ops/s x 10 s). Start-up makes 1000 calls in epoch 0 (the
    // warm-up); then 5 calls per epoch: 45 calls over 9e9 ops = 5e-9/op (passes), whereas the
    // whole run is 1045 / 1e10.
    let rows: Vec<_> = (0..10).map(|i| (100e6, 1_000_000, Some(1000 + 5 * i))).collect();
    let r = epochs_report(&csv(&rows), &AnalyzeOptions { warmup: Warmup::Epochs(1), ..Default::default() });
    let s = r.syscalls.as_ref().unwrap();
    assert_eq!(s.total, 45);
    assert!(close(s.per_op, 45.0 / 9e9));
    let w = r.syscalls_whole_run.as_ref().unwrap();
    assert_eq!(w.total, 1045);
    assert!(r.verdict.pass);

    // A churning allocator: 5000 calls per epoch = 5e-6/op fails the 1.25e-7 default.
    let rows: Vec<_> = (0..10).map(|i| (100e6, 1_000_000, Some(5000 * i))).collect();
    let r = epochs_report(&csv(&rows), &AnalyzeOptions { warmup: Warmup::Epochs(1), ..Default::default() });
    assert!(close(r.syscalls.as_ref().unwrap().per_op, 5e-6));
    assert!(!r.verdict.pass);
}

#[test]
fn warmup_forms_parse() {
    assert_eq!(Warmup::parse("auto").unwrap(), Warmup::Auto);
    assert_eq!(Warmup::parse("3").unwrap(), Warmup::Epochs(3));
    assert_eq!(Warmup::parse("25%").unwrap(), Warmup::Fraction(0.25));
    assert!(Warmup::parse("x").is_err());
    assert!(Warmup::parse("150%").is_err());
    assert_eq!(Warmup::Fraction(0.25).epochs(10), 3);
    assert_eq!(Warmup::Auto.epochs(4), 1);
    assert_eq!(Warmup::Auto.epochs(360), 36);
}

#[test]
fn bad_input_is_a_clear_error() {
    let err = |t: &str| format!("{:#}", parse_csv(t).unwrap_err());
    assert!(err("").contains("empty"));
    assert!(err("# only a comment\n").contains("empty"));
    assert!(err(&format!("{EPOCH_COLUMNS}\n")).contains("no rows"));
    assert!(err("a,b,c\n1,2,3\n").contains("unknown header"));
    let e = err(&format!("{EPOCH_COLUMNS}\n0,10,100,10,4096,,,,\n1,20,lots,10,4096,,,,\n"));
    assert!(e.contains("line 3"), "{e}");
    // Too few epochs to measure after warm-up.
    let f = parse_csv(&csv(&[(1e6, 4096, None), (1e6, 4096, None)])).unwrap();
    let e = format!("{:#}", analyze(&f, &AnalyzeOptions::default()).unwrap_err());
    assert!(e.contains("fewer than 2"), "{e}");
    // Time going backwards.
    let t = format!("{EPOCH_COLUMNS}\n0,10,1,1,1,,,,\n1,5,1,1,1,,,,\n2,30,1,1,1,,,,\n3,40,1,1,1,,,,\n");
    let SoakData::Epochs(v) = parse_csv(&t).unwrap().data else { panic!() };
    assert!(analyze_epochs(&v, &AnalyzeOptions::default()).is_err());
    // Zero RSS cannot give a relative drift.
    let z = csv(&[(1e6, 0, None), (1e6, 0, None), (1e6, 0, None), (1e6, 0, None)]);
    assert!(analyze(&parse_csv(&z).unwrap(), &AnalyzeOptions::default()).is_err());
}

#[test]
fn processes_report_failures_overhead_and_peak_drift() {
    let mut t = format!("# allocator=test\n# mode=processes\n{PROCESS_COLUMNS}\n");
    // wall - seconds = 0.01 s for each; peaks 10 MB, 10 MB, 10 MB, 12 MB.
    for (i, peak) in [10u64, 10, 10, 12].iter().enumerate() {
        t += &format!("{i},1000000,0.1,10000000,0.11,{},{},1,2,3,0\n", peak * 1_000_000, peak * 1_000_000);
    }
    let f = parse_csv(&t).unwrap();
    let Report::Processes(r) = analyze(&f, &AnalyzeOptions::default()).unwrap() else { panic!() };
    assert_eq!((r.processes, r.failed_processes), (4, 0));
    assert!(close(r.overhead_s.mean, 0.01));
    assert!(close(r.throughput.mean, 1e7));
    // window = ceil(0.4) = 1: (12 - 10) / 10.
    assert!(close(r.peak_rss_drift, 0.2));
    assert!(!r.verdict.pass, "20% peak growth over fresh processes fails the 5% budget");
    assert_eq!(r.syscalls.as_ref().unwrap().total, 24);

    // Same peaks everywhere but one process exits 1: fails on failed_processes.
    let t2 = t.replace(",12000000,12000000,1,2,3,0", ",10000000,10000000,1,2,3,1");
    let Report::Processes(r) = analyze(&parse_csv(&t2).unwrap(), &AnalyzeOptions::default()).unwrap() else { panic!() };
    assert_eq!((r.processes, r.failed_processes), (4, 1));
    assert_eq!(r.peak_rss_drift, 0.0);
    assert!(!r.verdict.pass);

    // A process that died recorded zeros: it must not drag the throughput statistics down.
    let t3 = t.replace("3,1000000,0.1,10000000,0.11,12000000,12000000,1,2,3,0", "3,0,0,0,0.05,0,,,,,139");
    let Report::Processes(r) = analyze(&parse_csv(&t3).unwrap(), &AnalyzeOptions::default()).unwrap() else { panic!() };
    assert_eq!((r.processes, r.failed_processes, r.throughput.n), (4, 1, 3));
    assert!(close(r.throughput.min, 1e7));
    assert!(!r.verdict.pass);
}

#[test]
fn paired_ratio_cancels_shared_noise() {
    // Both runs slow down together (machine load); the other is always 1.1x the base.
    let load = [1.0, 0.5, 0.9, 0.3, 1.0, 0.7, 0.8];
    let base: Vec<_> = load.iter().map(|l| (l * 50e6, 1_000_000, None)).collect();
    let other: Vec<_> = load.iter().map(|l| (l * 55e6, 1_000_000, None)).collect();
    let tp = |rows: &[(f64, u64, Option<u64>)]| throughputs(&parse_csv(&csv(rows)).unwrap().data);
    let (a, b) = (tp(&base), tp(&other));
    let r = paired_ratio(&a, &b, 1).unwrap();
    assert_eq!(r.n, 6);
    assert!(close(r.p50, 1.1) && r.cv < 1e-9, "{r:?}");
    // Each series alone is noisy.
    let Report::Epochs(ra) = analyze(&parse_csv(&csv(&base)).unwrap(), &AnalyzeOptions::default()).unwrap() else {
        panic!()
    };
    assert!(ra.throughput.cv > 0.2);
    assert!(paired_ratio(&a[..2], &b, 1).is_none());
}
