//! The fuzz harness (fuzz/src/harness.rs, the same function AFL++ drives) in `cargo test`:
//! replays the committed corpus (fuzz/corpus) and a bounded set of generated inputs, and
//! runs the corpus once more under valgrind memcheck. Long fuzzing runs: fuzz/run.sh and
//! docs/reliability.md.

#[path = "../../../fuzz/src/harness.rs"]
#[allow(dead_code)]
mod harness;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

fn corpus() -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus");
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
    if std::env::var_os("HAKMEM_FUZZ_VALGRIND_CHILD").is_some() {
        let mut k = 0;
        all.retain(|(p, _)| {
            let afl = p.file_name().unwrap().to_string_lossy().starts_with("afl-");
            k += afl as usize;
            !afl || k % 8 == 1
        });
    }
    let t = Instant::now();
    for (path, data) in &all {
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
    if std::env::var_os("HAKMEM_FUZZ_VALGRIND_CHILD").is_some() {
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
        .env("HAKMEM_FUZZ_VALGRIND_CHILD", "1")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    eprintln!("valgrind corpus replay: {:?} in {:.1?}", o.status, t.elapsed());
    assert_ne!(o.status.code(), Some(99), "memcheck reported errors:\n{err}");
    assert!(o.status.success(), "{:?}\n{err}", o.status);
    assert!(String::from_utf8_lossy(&o.stdout).contains("1 passed"), "{}", String::from_utf8_lossy(&o.stdout));
}
