//! `hakmem bench` and `hakmem ab` end to end, with the built binaries. The workload binary
//! must sit next to `hakmem` (a workspace `cargo build --release` / `cargo test --release`
//! builds both into the same target directory).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn hakmem() -> Command {
    let exe = Path::new(env!("CARGO_BIN_EXE_hakmem"));
    let wl = exe.with_file_name("hakmem-workload");
    assert!(wl.is_file(), "{} is missing: build the workspace first (`cargo build --release`)", wl.display());
    let mut c = Command::new(exe);
    c.env_remove("LD_PRELOAD").env_remove("HAKMEM_LIB");
    c
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("hakmem-bench-cli-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d.join(name)
}

fn text(o: &Output) -> (String, String) {
    (String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned())
}

#[test]
fn bench_one_run_on_glibc_end_to_end() {
    let (csv, md, svg) = (tmp("b.csv"), tmp("b.md"), tmp("b.svg"));
    let o = hakmem()
        .args([
            "bench",
            "--runs",
            "1",
            "--allocators",
            "glibc",
            "-w",
            "random-mixed,server-churn",
            "--cycles",
            "20000",
            "--arg",
            "ws=64",
            "--json",
            "-",
        ])
        .arg("--csv")
        .arg(&csv)
        .arg("--markdown")
        .arg(&md)
        .arg("--plot")
        .arg(&svg)
        .output()
        .unwrap();
    let (out, err) = text(&o);
    if err.contains("needs a TrueType font") {
        // A machine without fonts (scripts/setup.sh installs fonts-dejavu-core): the plot is
        // refused up front, clearly; everything else is checked by the run without --plot.
        assert!(!o.status.success());
        return bench_without_plot(&csv, &md);
    }
    assert!(o.status.success(), "stdout: {out}\nstderr: {err}");
    check_outputs(&out, &err, &csv, &md);
    let svg = std::fs::read_to_string(&svg).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("glibc"));
}

fn bench_without_plot(csv: &Path, md: &Path) {
    let o = hakmem()
        .args([
            "bench",
            "--runs",
            "1",
            "--allocators",
            "glibc",
            "-w",
            "random-mixed,server-churn",
            "--cycles",
            "20000",
            "--arg",
            "ws=64",
            "--json",
            "-",
        ])
        .arg("--csv")
        .arg(csv)
        .arg("--markdown")
        .arg(md)
        .output()
        .unwrap();
    let (out, err) = text(&o);
    assert!(o.status.success(), "stdout: {out}\nstderr: {err}");
    check_outputs(&out, &err, csv, md);
}

fn check_outputs(out: &str, err: &str, csv: &Path, md: &Path) {
    let v: serde_json::Value = serde_json::from_str(out).unwrap_or_else(|e| panic!("{e}: {out}"));
    let rows = v["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    for (row, w) in rows.iter().zip(["random-mixed", "server-churn"]) {
        assert_eq!(row["workload"], w);
        assert_eq!(row["allocator"], "glibc");
        assert_eq!(row["runs"], 1);
        assert!(row["median_ops_per_sec"].as_f64().unwrap() > 0.0);
        assert_eq!(row["ratio_vs_ref"], 1.0, "glibc is its own reference when mimalloc did not run");
        assert!(row["peak_rss_kb"].as_u64().unwrap() > 0);
    }
    let run = &v["runs"][0]["contestants"][0]["runs"][0];
    assert_eq!(run["ops"], 20000);
    assert_eq!(run["params"]["ws"], 64);
    // The text table goes to stderr when stdout carries the JSON.
    assert!(err.contains("median ops/s"), "{err}");
    let csv = std::fs::read_to_string(csv).unwrap();
    assert_eq!(csv.lines().count(), 3);
    let md = std::fs::read_to_string(md).unwrap();
    assert!(md.contains("## random-mixed") && md.contains("## server-churn") && md.contains("| glibc | 1 |"), "{md}");
    assert!(md.contains("- command: `hakmem bench --runs 1"));
}

#[test]
fn bench_rejects_bad_arguments() {
    let cases: &[(&[&str], &str)] = &[
        (&["bench", "-w", "nope"], "unknown workload"),
        (&["bench", "-a", "nope"], "unknown allocator"),
        (&["bench", "--runs", "0", "-a", "glibc"], "--runs"),
        (&["bench", "-a", "glibc", "--arg", "ws"], "KEY=VALUE"),
        (&["bench", "-a", "glibc", "--arg", "threads=2"], "no option --threads"),
        (&["bench", "-a", "glibc", "--plot", "chart.gif"], ".svg or .png"),
        (&["bench", "-a", "glibc", "--scale", "0"], "--scale"),
        (&["bench", "-a", "glibc", "--scale", "0.1", "--cycles", "5"], "cannot be used with"),
        (&["bench", "--memory", "-w", "random-mixed"], "cannot be used with"),
        (&["bench", "--memory", "--instructions"], "cannot be used with"),
        (&["bench", "-a", "glibc", "--idle", "1s"], "--memory"),
        (&["bench", "-a", "glibc", "--memory", "--idle", "soon"], "--idle"),
        (&["bench", "-a", "glibc", "--memory", "--threads", "0"], "--threads"),
        (&["ab", "--env", "HAKMEM_X", "--env", "HAKMEM_X=1"], "NAME=VALUE"),
        (&["ab", "--env", "HAKMEM_X=1"], "exactly twice"),
        (&["ab", "--env", "HAKMEM_X=1", "--env", "HAKMEM_X=1"], "nothing is flipped"),
        (&["ab", "--env", "HAKMEM_X=0", "--env", "HAKMEM_X=1", "--runs", "0"], "--runs"),
    ];
    for (args, msg) in cases {
        let o = hakmem().args(*args).output().unwrap();
        let (_, err) = text(&o);
        assert!(!o.status.success(), "{args:?} should fail");
        assert!(err.contains(msg), "{args:?}: expected '{msg}' in: {err}");
    }
}

#[test]
fn bench_skips_a_missing_library_with_a_notice() {
    // hakmem resolves through HAKMEM_LIB; a wrong path is a clear skip, and glibc still runs.
    let o = hakmem()
        .env("HAKMEM_LIB", "/nonexistent/libhakmem.so")
        .args(["bench", "--runs", "1", "-a", "hakmem,glibc", "--cycles", "10000"])
        .output()
        .unwrap();
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}\n{err}");
    assert!(err.contains("skipping hakmem"), "{err}");
    assert!(out.contains("glibc") && !out.lines().any(|l| l.starts_with("hakmem ")), "{out}");
}

#[test]
fn ab_end_to_end_with_a_library_without_stats() {
    // Any preloadable library works for the mechanics; one that prints no hakmem stats must
    // trigger the "cannot confirm the switched code ran" warning. mimalloc is the documented
    // stand-in; without it, libc itself is a valid (no-op) preload.
    let lib = ["/usr/lib/x86_64-linux-gnu/libmimalloc.so.2", "/lib/x86_64-linux-gnu/libc.so.6"]
        .into_iter()
        .find(|p| Path::new(p).is_file())
        .expect("a preloadable library");
    let log = tmp("ab-log.md");
    let _ = std::fs::remove_file(&log);
    for _ in 0..2 {
        let o = hakmem()
            .env("HAKMEM_LIB", lib)
            .args([
                "ab",
                "--env",
                "AB_TEST_SWITCH=0",
                "--env",
                "AB_TEST_SWITCH=1",
                "--runs",
                "3",
                "--cycles",
                "20000",
                "--log",
            ])
            .arg(&log)
            .output()
            .unwrap();
        let (out, err) = text(&o);
        assert!(o.status.success(), "{out}\n{err}");
        assert!(out.contains("verdict: "), "{out}");
        assert!(out.contains("no `hakmem: box AB_TEST_SWITCH hits N` line"), "{out}");
    }
    let log = std::fs::read_to_string(&log).unwrap();
    assert_eq!(log.matches("# A/B log").count(), 1, "header written once");
    assert_eq!(log.matches("\n## ").count(), 2, "one entry per run: {log}");
    assert!(log.contains("AB_TEST_SWITCH 0 → 1"));
}

#[test]
fn bench_mt_group_with_instructions() {
    // `-w mt` selects every multi-threaded workload; each runs (tiny) under glibc and hakmem,
    // with the given thread count, and once under callgrind for its instruction count.
    if Command::new("valgrind").arg("--version").output().is_err() {
        eprintln!("SKIPPED: valgrind not installed (apt-get install valgrind)");
        return;
    }
    let o = hakmem()
        .args(["bench", "-w", "mt", "-a", "glibc,hakmem", "--runs", "1", "--scale", "0.001", "--threads", "3"])
        .args(["--instructions", "--json", "-"])
        .output()
        .unwrap();
    let (out, err) = text(&o);
    assert!(o.status.success(), "stdout: {out}\nstderr: {err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    let rows = v["rows"].as_array().unwrap();
    let names: Vec<&str> = rows.iter().step_by(2).map(|r| r["workload"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "mpmc",
            "producer-consumer",
            "server-churn",
            "mixed-lifetimes",
            "rounds",
            "cache-thrash",
            "false-sharing",
            "thread-churn"
        ]
    );
    for r in rows {
        assert_eq!((r["runs"].as_u64(), r["failures"].as_u64()), (Some(1), Some(0)), "{r}");
        assert!(r["instructions_per_op"].as_f64().unwrap() > 0.0, "{r}");
        let queue = matches!(r["workload"].as_str(), Some("mpmc" | "producer-consumer"));
        assert_eq!(r["producer_blocked_pct"].is_number(), queue, "{r}");
    }
    for w in v["runs"].as_array().unwrap() {
        let p = &w["contestants"][0]["runs"][0]["params"];
        match w["workload"].as_str().unwrap() {
            "mpmc" => assert_eq!((p["producers"].as_u64(), p["consumers"].as_u64()), (Some(3), Some(3))),
            "producer-consumer" => assert_eq!((p["producers"].as_u64(), p["consumers"].as_u64()), (Some(1), Some(2))),
            _ => assert_eq!(p["threads"], 3, "{w}"),
        }
    }
    assert!(err.contains("blocked P/C"), "{err}");
}

#[test]
fn memory_section_end_to_end_on_glibc() {
    let md = tmp("memory.md");
    let o = hakmem()
        .args([
            "bench",
            "--memory",
            "-a",
            "glibc",
            "--runs",
            "1",
            "--scale",
            "0.01",
            "--idle",
            "0s,20ms",
            "--threads",
            "3",
            "--json",
            "-",
            "--markdown",
        ])
        .arg(&md)
        .output()
        .unwrap();
    let (out, err) = text(&o);
    assert!(o.status.success(), "stdout: {out}\nstderr: {err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    let tables = v["tables"].as_array().unwrap();
    let titles: Vec<&str> = tables.iter().map(|t| t["title"].as_str().unwrap()).collect();
    assert_eq!(titles, ["Burst given back: RSS held after free", "Fit: RSS over the live requested bytes", "Peak RSS"]);
    let held: Vec<&str> = tables[0]["rows"].as_array().unwrap().iter().map(|r| r["label"].as_str().unwrap()).collect();
    assert_eq!(held, ["burst, 0 s", "burst, 0.02 s", "burst, 3 threads, 0 s", "burst, 3 threads, 0.02 s"]);
    let fit: Vec<&str> = tables[1]["rows"].as_array().unwrap().iter().map(|r| r["label"].as_str().unwrap()).collect();
    assert_eq!(fit, ["16 B – 1 KiB", "513 B – 1 KiB", "1 KiB – 8 KiB", "16 B – 32 KiB"]);
    for t in tables {
        assert_eq!(t["contestants"], serde_json::json!(["glibc"]));
        for r in t["rows"].as_array().unwrap() {
            assert!(r["cells"][0].is_f64(), "every cell measured: {r}");
        }
    }
    assert_eq!(tables[2]["rows"].as_array().unwrap().len(), 6);
    assert_eq!(v["runs"][0]["args"], serde_json::json!(["--total-mb", "3", "--idle-ms", "0,20"]));
    // The tables go to stderr when stdout carries the JSON.
    assert!(err.contains("Fit: RSS over the live requested bytes") && err.contains("sizes"), "{err}");
    let md = std::fs::read_to_string(&md).unwrap();
    assert!(md.starts_with("## Memory\n"), "{md}");
    assert!(md.contains("### Burst given back") && md.contains("| 16 B – 32 KiB |") && md.contains("### Peak RSS"));
    assert!(md.contains("- command: `hakmem bench --memory"), "{md}");
}

#[test]
fn bench_runs_the_c_random_mixed() {
    let o = hakmem()
        .args(["bench", "--runs", "1", "-a", "glibc", "-w", "random-mixed-c", "--cycles", "20000", "--json", "-"])
        .output()
        .unwrap();
    let (out, err) = text(&o);
    assert!(o.status.success(), "stdout: {out}\nstderr: {err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(v["rows"][0]["workload"], "random-mixed-c");
    assert!(v["rows"][0]["median_ops_per_sec"].as_f64().unwrap() > 0.0);
    let run = &v["runs"][0]["contestants"][0]["runs"][0];
    assert_eq!(run["ops"], 20000);
    assert_eq!(run["checks"]["mallocs"].as_u64().unwrap() + run["checks"]["frees"].as_u64().unwrap(), 20000);
}
