//! The `hakmem-workload` binary end to end: each workload tiny, on glibc (no preload).

use hakmem_bench::runner::{run_once, Contestant, RunOutput};
use std::path::Path;

fn bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_hakmem-workload"))
}

fn glibc() -> Contestant {
    Contestant { name: "glibc".into(), preload: None, env: vec![] }
}

fn run(workload: &str, args: &[&str]) -> anyhow::Result<RunOutput> {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    run_once(bin(), &glibc(), workload, &args)
}

#[test]
fn random_mixed_json_line() {
    let r = run("random-mixed", &["--cycles", "20000", "--ws", "64", "--max-extra-mask", "0xff"]).unwrap();
    assert_eq!(r.workload, "random-mixed");
    assert_eq!(r.ops, 20000);
    assert_eq!(r.checks["mallocs"] + r.checks["frees"], 20000);
    assert_eq!(r.params["max_extra_mask"], 255);
    assert!(r.peak_rss_kb.unwrap() > 0);
    assert!(r.seconds > 0.0 && (r.ops_per_sec - r.ops as f64 / r.seconds).abs() < 1e-6 * r.ops_per_sec);
    assert!(r.os_calls.is_none(), "glibc has no hakmem_os_calls");
}

#[test]
fn every_workload_runs_tiny() {
    let cases: &[(&str, &[&str], u64)] = &[
        ("server-churn", &["--cycles", "5000", "--ws", "20"], 5000),
        ("producer-consumer", &["--cycles", "3000", "--threads", "2"], 3000),
        ("false-sharing", &["--cycles", "10000", "--writes-per-object", "10"], 10000),
        ("realloc-growth", &["--cycles", "3000"], 3000),
        ("large-blocks", &["--cycles", "20", "--max-size", "1048576"], 20),
        ("thread-churn", &["--cycles", "6", "--allocs-per-thread", "100"], 600),
        ("mpmc", &["--cycles", "5000", "--threads", "3"], 5000),
        ("mixed-lifetimes", &["--cycles", "5000", "--allocs-per-thread", "1000", "--ws", "50"], 5000),
        ("rounds", &["--cycles", "5000", "--ws", "300", "--threads", "4"], 5000),
        ("cache-thrash", &["--cycles", "10000", "--threads", "4"], 10000),
    ];
    for (w, args, ops) in cases {
        let r = run(w, args).unwrap_or_else(|e| panic!("{w}: {e:#}"));
        assert_eq!(&r.workload, w);
        assert_eq!(r.ops, *ops, "{w}");
    }
}

#[test]
fn bad_arguments_fail_clearly() {
    let e = run("random-mixed", &["--threads", "2"]).unwrap_err();
    assert!(format!("{e:#}").contains("has no option --threads"), "{e:#}");
    let e = run("no-such-workload", &[]).unwrap_err();
    assert!(format!("{e:#}").contains("unknown workload"), "{e:#}");
    let e = run("server-churn", &["--min-size", "2", "--cycles", "10"]).unwrap_err();
    assert!(format!("{e:#}").contains("min-size"), "{e:#}");
}

/// Every workload tiny under libhakmem.so (when the workspace build put it next to the
/// workload binary): the workloads' own invariant checks then test the allocator, and the
/// allocator's syscall counters must be visible through dlsym.
#[test]
fn every_workload_under_libhakmem() {
    let lib = bin().with_file_name("libhakmem.so");
    if !lib.is_file() {
        eprintln!("skipped: {} not built (run `cargo build --release` first)", lib.display());
        return;
    }
    let c = Contestant { name: "hakmem".into(), preload: Some(lib), env: vec![] };
    let cases: &[(&str, &[&str])] = &[
        ("random-mixed", &["--cycles", "50000"]),
        ("server-churn", &["--cycles", "20000", "--ws", "50"]),
        ("producer-consumer", &["--cycles", "20000"]),
        ("false-sharing", &["--cycles", "20000", "--writes-per-object", "10"]),
        ("realloc-growth", &["--cycles", "5000"]),
        ("large-blocks", &["--cycles", "30", "--max-size", "2097152"]),
        ("thread-churn", &["--cycles", "8", "--allocs-per-thread", "200"]),
        ("random-mixed-c", &["--cycles", "50000"]),
        ("burst", &["--total-mb", "4", "--idle-ms", "0", "--threads", "4"]),
        ("fit", &["--total-mb", "2"]),
    ];
    for (w, args) in cases {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let wbin = hakmem_bench::paths::workload_bin_for(w).unwrap();
        let r = run_once(&wbin, &c, w, &args).unwrap_or_else(|e| panic!("{w} under libhakmem.so: {e:#}"));
        let os = r.os_calls.unwrap_or_else(|| panic!("{w}: hakmem_os_calls not found through dlsym"));
        assert!(os.mmap >= 1, "{w}: the allocator must have mapped memory: {os:?}");
    }
}

/// The multi-threaded workloads, small, under glibc and under libhakmem.so (when built), with
/// two and with more threads than the machine has cores: the run succeeds only if every
/// block came back intact (each workload checks its stamps and its counts itself), and the
/// counters it reports add up.
#[test]
fn multithreaded_workloads_hold_their_invariants() {
    let lib = bin().with_file_name("libhakmem.so");
    let mut cs = vec![glibc()];
    if lib.is_file() {
        cs.push(Contestant { name: "hakmem".into(), preload: Some(lib), env: vec![] });
    } else {
        eprintln!("hakmem part skipped: {} not built (run `cargo build --release` first)", lib.display());
    }
    for c in &cs {
        for threads in ["2", "5"] {
            let run = |w: &str, args: &[&str]| {
                let mut a: Vec<String> = args.iter().map(|s| s.to_string()).collect();
                a.extend(["--threads".to_string(), threads.to_string()]);
                run_once(bin(), c, w, &a).unwrap_or_else(|e| panic!("{w} on {}: {e:#}", c.name))
            };
            for w in ["mpmc", "producer-consumer"] {
                let r = run(w, &["--cycles", "20000", "--queue-batches", "2"]);
                assert_eq!((r.ops, r.checks["mallocs"], r.checks["remote_frees"]), (20000, 20000, 20000), "{w}");
                assert!(r.checks["producer_blocked_permille"] <= 1000, "{w}: {:?}", r.checks);
                assert!(r.checks.contains_key("consumer_blocked_ns"), "{w}");
            }
            let r = run("mixed-lifetimes", &["--cycles", "20000", "--allocs-per-thread", "3000", "--ws", "100"]);
            assert_eq!(r.checks["mallocs"], r.checks["frees"]);
            assert!(r.checks["threads"] >= 2 * 3 && r.checks["transfers"] > 0, "{:?}", r.checks);
            let r = run("rounds", &["--cycles", "20000", "--ws", "500"]);
            assert_eq!((r.checks["mallocs"], r.checks["frees"]), (20000, 20000));
            let r = run("cache-thrash", &["--cycles", "20000"]);
            assert_eq!(r.checks["objects"], r.checks["mallocs"]);
            let r = run("server-churn", &["--cycles", "20000", "--ws", "50"]);
            assert!(r.checks["remote_frees"] > 0);
        }
    }
}

/// The C random-mixed builds (with cc, on first use) and does what was asked: the op count,
/// and the very same mallocs and frees as the Rust program (same generator and protocol).
#[test]
fn random_mixed_c_builds_and_follows_the_rust_protocol() {
    let c = hakmem_bench::cprog::find("random-mixed-c").unwrap();
    let dir = std::env::temp_dir().join(format!("hakmem-cprog-test-{}", std::process::id()));
    let exe = c.build_in(&dir).unwrap();
    assert!(exe.is_file());
    assert_eq!(c.build_in(&dir).unwrap(), exe, "a second call reuses the binary");
    let args: Vec<String> = ["--cycles", "30000", "--ws", "100", "--max-extra-mask", "0x7f", "--seed", "42"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let cr = run_once(&exe, &glibc(), "random-mixed-c", &args).unwrap();
    let rust = run_once(bin(), &glibc(), "random-mixed", &args).unwrap();
    assert_eq!(cr.workload, "random-mixed-c");
    assert_eq!(cr.ops, 30000);
    assert_eq!(cr.checks["mallocs"] + cr.checks["frees"], 30000);
    assert_eq!(cr.checks, rust.checks, "same sequence of mallocs and frees as the Rust program");
    assert_eq!(cr.params, rust.params);
    assert!(cr.seconds > 0.0 && cr.ops_per_sec > 0.0 && cr.peak_rss_kb.unwrap() > 0);
    // hakmem-workload hands a C workload's command line to its binary.
    let via = run("random-mixed-c", &["--cycles", "1000"]).unwrap();
    assert_eq!((via.workload.as_str(), via.ops), ("random-mixed-c", 1000));
    let e = run_once(&exe, &glibc(), "random-mixed-c", &["--threads".into(), "2".into()]).unwrap_err();
    assert!(format!("{e:#}").contains("has no option --threads"), "{e:#}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn memory_workloads_report_their_samples() {
    for threads in ["0", "6"] {
        let r = run("burst", &["--total-mb", "3", "--idle-ms", "0,30", "--threads", threads]).unwrap();
        assert_eq!(r.params["threads"], threads.parse::<u64>().unwrap());
        assert_eq!(r.checks["blocks"], 12 * 257);
        for k in ["rss_before_kb", "rss_full_kb", "rss_idle_0ms_kb", "rss_idle_30ms_kb"] {
            assert!(r.memory.get(k).is_some_and(|&v| v > 0), "{k}: {:?}", r.memory);
        }
        assert!(r.peak_rss_kb.unwrap() >= r.memory["rss_before_kb"]);
    }
    let r = run("fit", &["--min-size", "513", "--max-size", "1024", "--total-mb", "2"]).unwrap();
    assert_eq!(r.params["blocks"], 2729);
    assert_eq!(r.checks["blocks"], 2729);
    let live = r.memory["live_bytes"];
    assert!((513 * 2729..=1024 * 2729).contains(&live), "{live}");
    assert!(r.memory["rss_kb"] > 0 && r.memory["baseline_rss_kb"] > 0);
}

/// `--prof-dump`: refused without hakmem (no `hakmem_prof_dump`), rc ENOSYS with the box off,
/// and under `HAKMEM_PROF=1` at a dense rate (4 KiB) a profile whose estimate is near the live
/// bytes the workload reports, which are themselves plausible for its blocks.
#[test]
fn prof_dump_reports_the_live_set() {
    let dir = std::env::temp_dir().join(format!("hakmem-profdump-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pb = dir.join("p.pb");
    let pbs = pb.to_str().unwrap();
    let e = run("random-mixed", &["--cycles", "1000", "--prof-dump", pbs]).unwrap_err();
    assert!(format!("{e:#}").contains("hakmem_prof_dump not found"), "{e:#}");
    let e = run("mpmc", &["--cycles", "1000", "--prof-dump", pbs]).unwrap_err();
    assert!(format!("{e:#}").contains("has no option --prof-dump"), "{e:#}");
    let lib = bin().with_file_name("libhakmem.so");
    if !lib.is_file() {
        eprintln!("hakmem part skipped: {} not built (run `cargo build --release` first)", lib.display());
        return;
    }
    let off = Contestant { name: "hakmem".into(), preload: Some(lib.clone()), env: vec![] };
    let a: Vec<String> = ["--cycles", "1000", "--prof-dump", pbs].iter().map(|s| s.to_string()).collect();
    let r = run_once(bin(), &off, "random-mixed", &a).unwrap();
    assert_eq!(r.prof.unwrap().rc, 38, "ENOSYS with the prof box off");
    let env = |k: &str, v: &str| (k.to_string(), v.to_string());
    let on = Contestant {
        name: "hakmem".into(),
        preload: Some(lib),
        env: vec![env("HAKMEM_PROF", "1"), env("HAKMEM_PROF_SAMPLE_KB", "4")],
    };
    // (workload, options, blocks expected (exactly, or at least), size range of a block,
    // whether the estimate is checked)
    type Case<'a> = (&'a str, &'a [&'a str], (u64, bool), (u64, u64), bool);
    let cases: &[Case] = &[
        ("random-mixed", &["--cycles", "100000"], (1, false), (16, 1039), true),
        // Its estimate is not checked here: hakmem's profile under-counts blocks grown by realloc
        // in place (`hakmem bench --prof-accuracy --large` shows it; docs/profiling.md).
        ("realloc-growth", &["--cycles", "5000"], (4, true), (16, 256 << 10), false),
        ("large-blocks", &["--cycles", "40", "--max-size", "1048576"], (1, false), (64 << 10, 1 << 20), true),
        ("server-churn", &["--cycles", "50000"], (2000, true), (8, 512), true),
        ("mixed-lifetimes", &["--cycles", "50000", "--allocs-per-thread", "10000"], (2000, false), (16, 4096), true),
        ("rounds", &["--cycles", "50000", "--ws", "1000", "--threads", "3"], (3000, true), (16, 4096), true),
    ];
    for &(w, args, (blocks, exact), (lo, hi), check_estimate) in cases {
        let path = dir.join(format!("{w}.pb"));
        let mut a: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        a.extend(["--prof-dump".to_string(), path.to_str().unwrap().to_string()]);
        let r = run_once(bin(), &on, w, &a).unwrap_or_else(|e| panic!("{w}: {e:#}"));
        let p = r.prof.unwrap_or_else(|| panic!("{w}: no prof in the JSON line"));
        assert_eq!((p.rc, p.dump.as_str()), (0, path.to_str().unwrap()), "{w}");
        assert!(if exact { p.blocks == blocks } else { p.blocks >= blocks }, "{w}: {p:?}");
        assert!((lo * p.blocks..=hi * p.blocks).contains(&p.live_bytes), "{w}: {p:?}");
        let other = p.other_bytes.unwrap_or_else(|| panic!("{w}: Rust allocations not counted"));
        assert!(other > 0 && other < 64 << 20, "{w}: {p:?}");
        let prof = hakmem_bench::pprof::Profile::read(&path).unwrap();
        assert_eq!(prof.period, 4096, "{w}");
        let est = prof.total("inuse_space").unwrap() as f64;
        let truth = (p.live_bytes + other) as f64;
        // The bound on the estimate's standard deviation is sqrt(mean x B); allow 5 of them.
        let sd = (4096.0 * truth).sqrt();
        if check_estimate {
            assert!((est - truth).abs() <= 5.0 * sd, "{w}: estimate {est} truth {truth} (sd bound {sd:.0})");
            assert!(prof.samples.len() > 2, "{w}: {} samples", prof.samples.len());
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
