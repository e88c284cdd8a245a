//! `hakmem-tools` end to end, with the binaries cargo builds for this crate's tests: what
//! `hakmem ab` refuses before it runs anything, flag spellings shared by every subcommand,
//! a closed pipe, JSON numbers, and a short soak that picks its own epoch.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn tools() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_hakmem-tools"));
    c.env_remove("LD_PRELOAD").env_remove("HAKMEM_PROFILE");
    c
}

fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn release_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_hakmem-tools")).parent().unwrap().to_path_buf()
}

#[test]
fn ab_refuses_what_it_cannot_judge_before_running_anything() {
    // Each of these would have produced a verdict before: refused now, with the reason, and
    // nothing is run (the library is a path that does not exist, which would fail later).
    let cases: &[(&[&str], &str)] = &[
        (&["--env", "HAKMEM_HARDEN=0", "--env", "HAKMEM_HARDEN=abc"], "not a value hakmem accepts (accepted: 0|1)"),
        (&["--env", "HAKMEM_REMOTE_BATCH=32", "--env", "HAKMEM_REMOTE_BATCH=lots"], "not a value hakmem accepts"),
        (&["--env", "HAKMEM_TYPO_SWITCH=0", "--env", "HAKMEM_TYPO_SWITCH=1"], "not a hakmem switch"),
        (&["--env", "HAKMEM_HARDEN=0", "--env", "HAKMEM_STATS=1"], "different variables"),
        (&["--env", "HAKMEM_HARDEN=0", "--env", "HAKMEM_HARDEN=1", "--runs", "2"], "at least 3"),
        (&["--env", "HAKMEM_HARDEN=0", "--env", "HAKMEM_HARDEN=1", "--profile", "turbo"], "unknown profile"),
    ];
    for (args, want) in cases {
        let o = tools().env("HAKMEM_LIB", "/nonexistent/libhakmem.so").arg("ab").args(*args).output().unwrap();
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(want), "{args:?}: want {want:?}: {}", text(&o));
        assert!(!err.contains("HAKMEM_LIB"), "refused before looking for the library: {err}");
    }
}

#[test]
fn ab_with_a_box_that_never_runs_is_inconclusive() {
    // HAKMEM_REMOTE_BATCH acts on cross-thread frees only; random-mixed runs on one thread,
    // so its box reports 0 hits and no verdict may be given, whatever the numbers say.
    let lib = release_dir().join("libhakmem.so");
    assert!(lib.is_file(), "{} missing: run `cargo build --release --workspace` first", lib.display());
    let o = tools()
        .env("HAKMEM_LIB", &lib)
        .args(["ab", "--env", "HAKMEM_REMOTE_BATCH=0", "--env", "HAKMEM_REMOTE_BATCH=32", "--runs", "3"])
        .args(["-w", "random-mixed", "--cycles", "20000", "--json"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&o)));
    assert_eq!(v["box_hits_b"], 0, "{v:#}");
    assert_eq!(v["result"]["verdict"], "INCONCLUSIVE", "{v:#}");
    assert_eq!(v["runs"], 3);
    // Numbers are JSON numbers, the interval a pair of them.
    assert!(v["result"]["rel_diff"].is_f64() && v["result"]["ci95"][0].is_f64(), "{v:#}");
    assert!(v["result"]["a"]["p50"].as_f64().unwrap() > 0.0);
    assert!(v["result"]["a"]["p99"].is_null(), "3 runs make no p99");
}

#[test]
fn allocators_and_workload_flags_are_spelled_alike() {
    // -a/--allocators and -w/--workload mean the same in every subcommand: an unknown value
    // reaches the resolver (not clap's "unexpected argument").
    let cases: &[&[&str]] = &[
        &["bench", "-a", "nosuchmalloc"],
        &["bench", "--allocators", "nosuchmalloc"],
        &["soak", "--duration", "10s", "-a", "nosuchmalloc"],
        &["soak", "--duration", "10s", "--allocators", "nosuchmalloc"],
        &["compat", "-a", "nosuchmalloc", "--only", "sort"],
        &["compat", "--allocators", "nosuchmalloc", "--only", "sort"],
    ];
    for args in cases {
        let o = tools().args(*args).output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("unknown allocator 'nosuchmalloc'"), "{args:?}: {}", text(&o));
    }
    for args in
        [&["bench", "-w", "nope"][..], &["ab", "-w", "nope", "--env", "HAKMEM_HARDEN=0", "--env", "HAKMEM_HARDEN=1"]]
    {
        let o = tools().args(args).output().unwrap();
        assert!(String::from_utf8_lossy(&o.stderr).contains("unknown workload 'nope'"), "{args:?}: {}", text(&o));
    }
    let o = tools().args(["soak", "--duration", "10s", "-w", "nope"]).output().unwrap();
    assert!(String::from_utf8_lossy(&o.stderr).contains("invalid value 'nope'"), "{}", text(&o));
}

#[test]
fn a_closed_pipe_ends_the_tools_quietly() {
    let mut child = tools().args(["bench", "--help"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    drop(child.stdout.take()); // the reader goes away before the first write
    let o = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!err.contains("panicked") && !err.contains("Broken pipe"), "{err}");
}

#[test]
fn a_short_soak_picks_an_epoch_that_fits() {
    // 1.5 s with the default 10 s epoch was an error; now the epoch is 150 ms (10 epochs).
    let d = std::env::temp_dir().join(format!("hakmem-tools-soak-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    let csv = d.join("short.csv");
    let o = tools()
        .args(["soak", "--duration", "1.5s", "-a", "glibc", "--json", "--out"])
        .arg(&csv)
        .arg("--worker")
        .arg(release_dir().join("hakmem-soak-worker"))
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&o.stderr).contains("epoch 150ms (10 epochs"), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&o)));
    let r = &v["files"][0]["report"];
    assert!(r["epochs"].as_u64().unwrap() >= 9, "{r:#}");
    // The CSV's comments come back as numbers where they are numbers.
    assert!(v["files"][0]["meta"]["ws"].is_u64(), "{v:#}");
    assert!(r["throughput"]["p99"].is_null(), "ten epochs make no p99");
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn prof_accuracy_end_to_end() {
    // A few processes of random-mixed at a dense rate (one sample per 4 KiB): each profile,
    // decoded by the tool, must be near the live bytes its process reported (the bound on the
    // standard deviation is sqrt(4096 x ~2.3 MB) = 4.2%: 25% is six of them).
    let lib = release_dir().join("libhakmem.so");
    assert!(lib.is_file(), "{} missing: run `cargo build --release --workspace` first", lib.display());
    let o = tools()
        .env("HAKMEM_LIB", &lib)
        .args(["bench", "--prof-accuracy", "-w", "random-mixed", "--runs", "3", "--sample-kb", "4"])
        .args(["--cycles", "200000", "--json", "-"])
        .output()
        .unwrap();
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&o)));
    assert_eq!(v["failures"].as_array().map(Vec::len), Some(0), "{v:#}");
    let w = &v["workloads"][0];
    assert_eq!(w["workload"], "random-mixed");
    let dumps = w["dumps"].as_array().unwrap();
    assert_eq!(dumps.len(), 3, "{v:#}");
    let mut seeds = Vec::new();
    let mut errors = Vec::new();
    for d in dumps {
        let n = |k: &str| d[k].as_u64().unwrap_or_else(|| panic!("{k}: {d}"));
        assert_eq!(n("mean"), 4096);
        // ~4096 blocks of 16..1039 bytes live in 8192 slots; the table and the sizes (96 KiB) besides.
        let (live, other, est) = (n("live_bytes"), n("other_bytes"), n("estimate"));
        assert!((1 << 20..4 << 20).contains(&live) && (64 << 10..1 << 20).contains(&other), "{d}");
        assert!(n("samples") > 100, "{d}");
        let e = (est as f64 - (live + other) as f64) / (live + other) as f64;
        assert!(e.abs() < 0.25, "estimate {est} against {} live: {d}", live + other);
        errors.push(e);
        seeds.push(n("seed"));
    }
    seeds.dedup();
    assert_eq!(seeds.len(), 3, "a different --seed per run");
    assert!((errors.iter().sum::<f64>() / 3.0).abs() < 0.15, "{errors:?}");
    let s = &v["summaries"][0];
    assert_eq!(s["dumps"], 3);
    assert!(s["mean_error"].is_f64() && (s["verdict"].is_string() || s["verdict"]["fail"].is_string()), "{s}");
    // The table went to stderr (stdout holds the JSON).
    assert!(String::from_utf8_lossy(&o.stderr).contains("heap profile accuracy: 3 dumps per workload"), "{}", text(&o));
}
