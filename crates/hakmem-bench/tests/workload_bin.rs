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
    ];
    for (w, args) in cases {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let r = run_once(bin(), &c, w, &args).unwrap_or_else(|e| panic!("{w} under libhakmem.so: {e:#}"));
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
