//! The fuzz harness (fuzz/src/harness.rs, the same function AFL++ drives) in `cargo test`:
//! replays the committed corpus (fuzz/corpus) and a bounded set of generated inputs, and
//! runs the corpus once more under valgrind memcheck. Long fuzzing runs: fuzz/run.sh and
//! docs/reliability.md. The terminal operations (write-after-free, interior free: misuse
//! that must end in one clear abort, run in forked children) replay fuzz/corpus-terminal
//! and generated inputs, in the default mode and hardened (a child of this test binary).

#[path = "../../../fuzz/src/harness.rs"]
#[allow(dead_code)]
mod harness;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

fn corpus() -> Vec<(PathBuf, Vec<u8>)> {
    inputs("corpus")
}

fn inputs(dir: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz").join(dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files.into_iter().map(|p| (p.clone(), std::fs::read(&p).unwrap())).collect()
}

/// Hand-made seeds (fuzz/make_seeds.py) and AFL++'s minimised queue (`afl-*`). Under
/// valgrind (the child below) only the hand-made seeds and every 8th AFL input run, to keep
/// the run short.
#[test]
fn committed_corpus_replays_clean() {
    let mut all = corpus();
    assert!(all.len() >= 6, "corpus too small: {}", all.len());
    if std::env::var_os("FUZZ_VALGRIND_CHILD").is_some() {
        let mut k = 0;
        all.retain(|(p, _)| {
            let afl = p.file_name().unwrap().to_string_lossy().starts_with("afl-");
            k += afl as usize;
            !afl || k % 8 == 1
        });
    }
    let t = Instant::now();
    for (path, data) in &all {
        // Terminal inputs have their own corpus (fuzz/corpus-terminal): every input here
        // decodes as plain operations, as it did before they existed.
        assert!(harness::terminal(data).is_none(), "{}: a terminal input in fuzz/corpus", path.display());
        eprintln!("{}", path.display());
        harness::run(data);
    }
    eprintln!("replayed {} corpus inputs in {:.2?}", all.len(), t.elapsed());
}

/// Generated inputs (xorshift), a bounded stand-in for fuzzing inside `cargo test`.
#[test]
fn generated_inputs_run_clean() {
    let t = Instant::now();
    let mut n = 0;
    for seed in 1..=300u32 {
        let len = 64 + (seed as usize * 37) % 1500;
        harness::run(&harness::generated(seed.wrapping_mul(2_654_435_761), len));
        n += 1;
    }
    eprintln!("{n} generated inputs in {:.2?}", t.elapsed());
}

/// The corpus replay inside valgrind memcheck (re-running this test binary as a child):
/// any invalid read or write in hakmem fails the test (exit code 99).
#[test]
fn corpus_replay_under_valgrind_is_clean() {
    if std::env::var_os("FUZZ_VALGRIND_CHILD").is_some() {
        return; // the child runs only `committed_corpus_replays_clean`
    }
    if Command::new("valgrind").arg("--version").output().is_err() {
        eprintln!("SKIPPED: valgrind not installed (apt-get install valgrind)");
        return;
    }
    let t = Instant::now();
    let o = Command::new("valgrind")
        .args(["--error-exitcode=99", "--quiet"])
        .arg(std::env::current_exe().unwrap())
        .args(["--exact", "committed_corpus_replays_clean", "--test-threads=1"])
        .env("FUZZ_VALGRIND_CHILD", "1")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    eprintln!("valgrind corpus replay: {:?} in {:.1?}", o.status, t.elapsed());
    assert_ne!(o.status.code(), Some(99), "memcheck reported errors:\n{err}");
    assert!(o.status.success(), "{:?}\n{err}", o.status);
    assert!(String::from_utf8_lossy(&o.stdout).contains("1 passed"), "{}", String::from_utf8_lossy(&o.stdout));
}

/// fuzz/corpus-terminal and generated terminal inputs: each runs in a forked child, which
/// must end as the harness models it (write-after-free: one clear abort, or running on with
/// no forged or live address handed out; interior free: one `hakmem: free(): ` abort).
/// Every input runs; the failures are listed together. Runs as a child of the two tests
/// below, with the lane-guard box on (default mode does not check lane links without it:
/// docs/reliability.md) or in hardened mode.
#[test]
fn terminal_ops_end_as_modelled() {
    let guarded = std::env::var_os("HAKMEM_LANE_GUARD").is_some();
    if !guarded && std::env::var_os("HAKMEM_HARDEN").is_none() {
        return;
    }
    let mut all = inputs("corpus-terminal");
    assert!(all.len() >= 9, "terminal corpus too small: {}", all.len());
    for seed in 1..=40u32 {
        let body = harness::generated(seed.wrapping_mul(2_246_822_519), 64 + (seed as usize * 53) % 700);
        let g = harness::generated(seed, 4);
        let t = if seed % 2 == 0 {
            harness::Terminal::WriteAfterFree { victim: u16::from(g[0]), forge: g[1] }
        } else {
            harness::Terminal::InteriorFree { victim: u16::from(g[0]), offset: g[1] }
        };
        all.push((PathBuf::from(format!("generated-{seed}")), harness::terminal_input(t, &body)));
    }
    let mode = if std::env::var_os("HAKMEM_HARDEN").is_some() { "hardened" } else { "default + lane guard" };
    let t0 = Instant::now();
    let mut failed = Vec::new();
    for (path, data) in &all {
        let (t, body) = harness::terminal(data).unwrap_or_else(|| panic!("{}: not a terminal input", path.display()));
        let end = harness::run_in_child(t, body);
        let verdict = harness::check_terminal_end(t, &end);
        let name = path.file_name().unwrap().to_string_lossy();
        eprintln!("{mode} {name:<22} {t:?}: {}", if verdict.is_ok() { "PASS" } else { "FAIL" });
        if let Err(e) = verdict {
            // the hakmem line, and the child's last words (what it did just before the end)
            let hk: Vec<&str> = end.stderr.lines().filter(|l| l.starts_with("hakmem")).collect();
            let hk = &hk[hk.len().saturating_sub(3)..];
            failed.push(format!("{name} {t:?}: {e} ({hk:?})"));
        }
    }
    eprintln!("{} terminal inputs ({mode}) in {:.2?}", all.len(), t0.elapsed());
    assert!(
        failed.is_empty(),
        "{} of {} terminal inputs failed ({mode} mode):\n{}",
        failed.len(),
        all.len(),
        failed.join("\n")
    );
}

/// Run `terminal_ops_end_as_modelled` in a child of this binary with `var=1` (hakmem
/// reads its switches once, at start).
fn terminal_child(var: &str) {
    if std::env::var_os("HAKMEM_HARDEN").is_some()
        || std::env::var_os("HAKMEM_LANE_GUARD").is_some()
        || std::env::var_os("FUZZ_VALGRIND_CHILD").is_some()
    {
        return;
    }
    let o = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "terminal_ops_end_as_modelled", "--test-threads=1", "--nocapture"])
        .env(var, "1")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success() && out.contains("1 passed"), "{var}=1: {:?}\n{out}\n{err}", o.status);
}

#[test]
fn terminal_ops_end_as_modelled_hardened() {
    terminal_child("HAKMEM_HARDEN");
}

#[test]
fn terminal_ops_end_as_modelled_lane_guard() {
    terminal_child("HAKMEM_LANE_GUARD");
}
