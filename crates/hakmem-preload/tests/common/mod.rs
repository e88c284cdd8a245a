//! Helpers shared by the preload test binaries: where libhakmem.so is, and the C
//! programs of tests/c compiled once per test run.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

/// target/<profile>/libhakmem.so, next to the deps/ folder holding this test binary.
pub fn lib() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap();
    let so = dir.join("libhakmem.so");
    assert!(so.is_file(), "{} missing: run `cargo build --release` before the tests", so.display());
    so
}

/// Compile tests/c/<name>.c once per test run (one compile at a time: tests run in
/// parallel and must not exec a half-written binary).
pub fn c_prog(name: &str) -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    static COMPILING: Mutex<()> = Mutex::new(());
    let dir = DIR.get_or_init(|| {
        let exe = std::env::current_exe().unwrap();
        let tag = exe.file_stem().unwrap().to_string_lossy().into_owned();
        let d = std::env::temp_dir().join(format!("hakmem-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    });
    let out = dir.join(name);
    let _one_at_a_time = COMPILING.lock().unwrap_or_else(|e| e.into_inner());
    if !out.exists() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/c").join(format!("{name}.c"));
        // -fno-builtin: gcc must not fold malloc(SIZE_MAX) or free(&x) at compile time.
        let st = Command::new("cc")
            .args(["-O1", "-g", "-fno-builtin", "-w", "-o"])
            .arg(&out)
            .arg(&src)
            .args(["-lpthread", "-ldl"])
            .status()
            .expect("cc not found (install gcc)");
        assert!(st.success(), "compiling {name}.c failed");
    }
    out
}
