//! The `hakmem-workload` binary end to end: each workload tiny, on glibc (no preload).

use hakmem_bench::runner::{run_once, Contestant, RunOutput};
use std::path::Path;

fn bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_hakmem-workload"))
}

fn glibc() -> Contestant {
    Contestant {
        name: "glibc".into(),
        preload: None,
        env: vec![],
    }
}

fn run(workload: &str, args: &[&str]) -> anyhow::Result<RunOutput> {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    run_once(bin(), &glibc(), workload, &args)
}

#[test]
fn random_mixed_json_line() {
    let r = run(
        "random-mixed",
        &[
            "--cycles",
            "20000",
            "--ws",
            "64",
            "--max-extra-mask",
            "0xff",
        ],
    )
    .unwrap();
    assert_eq!(r.workload, "random-mixed");
    assert_eq!(r.ops, 20000);
    assert_eq!(r.checks["mallocs"] + r.checks["frees"], 20000);
    assert_eq!(r.params["max_extra_mask"], 255);
    assert!(r.peak_rss_kb.unwrap() > 0);
    assert!(
        r.seconds > 0.0 && (r.ops_per_sec - r.ops as f64 / r.seconds).abs() < 1e-6 * r.ops_per_sec
    );
    assert!(r.os_calls.is_none(), "glibc has no hakmem_os_calls");
}

#[test]
fn every_workload_runs_tiny() {
    let cases: &[(&str, &[&str], u64)] = &[
        ("server-churn", &["--cycles", "5000", "--ws", "20"], 5000),
        (
            "producer-consumer",
            &["--cycles", "3000", "--threads", "2"],
            3000,
        ),
        (
            "false-sharing",
            &["--cycles", "10000", "--writes-per-object", "10"],
            10000,
        ),
        ("realloc-growth", &["--cycles", "3000"], 3000),
        (
            "large-blocks",
            &["--cycles", "20", "--max-size", "1048576"],
            20,
        ),
        (
            "thread-churn",
            &["--cycles", "6", "--allocs-per-thread", "100"],
            600,
        ),
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
    assert!(
        format!("{e:#}").contains("has no option --threads"),
        "{e:#}"
    );
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
        eprintln!(
            "skipped: {} not built (run `cargo build --release` first)",
            lib.display()
        );
        return;
    }
    let c = Contestant {
        name: "hakmem".into(),
        preload: Some(lib),
        env: vec![],
    };
    let cases: &[(&str, &[&str])] = &[
        ("random-mixed", &["--cycles", "50000"]),
        ("server-churn", &["--cycles", "20000", "--ws", "50"]),
        ("producer-consumer", &["--cycles", "20000"]),
        (
            "false-sharing",
            &["--cycles", "20000", "--writes-per-object", "10"],
        ),
        ("realloc-growth", &["--cycles", "5000"]),
        ("large-blocks", &["--cycles", "30", "--max-size", "2097152"]),
        (
            "thread-churn",
            &["--cycles", "8", "--allocs-per-thread", "200"],
        ),
    ];
    for (w, args) in cases {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let r = run_once(bin(), &c, w, &args)
            .unwrap_or_else(|e| panic!("{w} under libhakmem.so: {e:#}"));
        let os = r
            .os_calls
            .unwrap_or_else(|| panic!("{w}: hakmem_os_calls not found through dlsym"));
        assert!(
            os.mmap >= 1,
            "{w}: the allocator must have mapped memory: {os:?}"
        );
    }
}
