//! Real programs under `LD_PRELOAD=libhakmem.so` give the same results as under glibc
//! (issues 3 and 8): `hakmem compat` in its bounded form, both profiles, every program.
//!
//! Needs libhakmem.so (`cargo build --release` first, or `HAKMEM_LIB=/path/libhakmem.so`) and
//! the programs that `scripts/setup.sh` installs. A missing program fails the test: a skipped
//! program would be a check that silently did not run.

use std::path::{Path, PathBuf};
use std::process::Command;

fn hakmem_exe() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_hakmem"))
}

/// libhakmem.so: HAKMEM_LIB, else next to the hakmem binary, else the workspace's release build.
fn libhakmem() -> PathBuf {
    if let Some(p) = std::env::var_os("HAKMEM_LIB") {
        return PathBuf::from(p);
    }
    let exe = hakmem_exe();
    let dir = exe.parent().expect("exe dir");
    let ws = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let cands = [dir.join("libhakmem.so"), dir.join("../libhakmem.so"), ws.join("target/release/libhakmem.so")];
    for c in &cands {
        if c.is_file() {
            return c.canonicalize().unwrap();
        }
    }
    panic!("libhakmem.so not found in {cands:?}: run `cargo build --release` first or set HAKMEM_LIB");
}

fn compat(args: &[&str], lib: &Path) -> (i32, String, String) {
    let out = Command::new(hakmem_exe())
        .arg("compat")
        .args(args)
        .env("HAKMEM_LIB", lib)
        .env_remove("LD_PRELOAD")
        .env_remove("HAKMEM_STATS")
        .env_remove("HAKMEM_PROFILE")
        .output()
        .expect("run hakmem compat");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const PROGRAMS: &[&str] = &["python", "cpython-tests", "sort", "sqlite3", "git", "gcc", "redis"];

#[test]
fn real_programs_match_glibc_in_both_profiles() {
    let lib = libhakmem();
    let (code, out, err) = compat(&["--profile", "speed,balanced", "--allocators", "glibc,hakmem"], &lib);
    let report = format!("exit {code}\n--- stdout\n{out}\n--- stderr\n{err}");
    assert_eq!(code, 0, "hakmem compat found a difference:\n{report}");
    assert!(out.contains("RESULT: hakmem matches glibc on every program run"), "{report}");
    for p in PROGRAMS {
        let row = out
            .lines()
            .find(|l| l.split_whitespace().next() == Some(*p))
            .unwrap_or_else(|| panic!("no row for {p}:\n{report}"));
        assert!(!row.contains("skipped"), "{p} was skipped (run scripts/setup.sh):\n{row}");
        // glibc cell, then one cell per profile, each marked [same]
        assert_eq!(row.matches("[same]").count(), 2, "{p} differs from glibc:\n{row}\n\n{report}");
        assert!(
            !row.contains("FAIL") && !row.contains("TIMEOUT") && !row.contains("signal"),
            "{p}:\n{row}\n\n{report}"
        );
    }
    // hakmem printed nothing on stderr in any program (no warning, no error report)
    assert!(!out.contains("the allocator said:"), "{report}");
    // the runs really were under hakmem, in the profiles asked for
    assert!(out.contains(&format!("hakmem:speed: LD_PRELOAD={} HAKMEM_PROFILE=speed", lib.display())), "{report}");
    assert!(
        out.contains(&format!("hakmem:balanced: LD_PRELOAD={} HAKMEM_PROFILE=balanced", lib.display())),
        "{report}"
    );
}

/// The comparison can fail: a preloaded library that writes one extra line to stdout in
/// every process makes the python program's output differ, and compat must say so and exit 1.
#[test]
fn a_changed_output_is_reported_as_a_difference() {
    let dir = std::env::temp_dir().join(format!("hakmem-compat-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let src = dir.join("poison.c");
    std::fs::write(
        &src,
        "#include <unistd.h>\n__attribute__((constructor)) static void poison(void) { write(1, \"poison\\n\", 7); }\n",
    )
    .unwrap();
    let so = dir.join("libpoison.so");
    let st = Command::new("gcc").args(["-shared", "-fPIC", "-o"]).arg(&so).arg(&src).status().expect("gcc");
    assert!(st.success());
    let (code, out, err) = compat(&["--only", "python", "--allocators", "glibc,hakmem"], &so);
    let _ = std::fs::remove_dir_all(&dir);
    let report = format!("exit {code}\n--- stdout\n{out}\n--- stderr\n{err}");
    assert_eq!(code, 1, "{report}");
    assert!(out.contains("[DIFFERS]"), "{report}");
    assert!(out.contains("RESULT: hakmem differs from glibc"), "{report}");
    assert!(err.contains("DIFFERS from glibc (line 2"), "the first differing line is named:\n{report}");
}

/// A library that is not really preloaded (ld.so cannot open it) is refused, rather than
/// comparing glibc with glibc.
#[test]
fn a_library_that_does_not_load_is_refused() {
    let dir = std::env::temp_dir().join(format!("hakmem-compat-test-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bogus = dir.join("libnot-an-elf.so");
    std::fs::write(&bogus, "this is not a shared object\n").unwrap();
    let (code, out, err) = compat(&["--only", "python", "--allocators", "glibc,hakmem"], &bogus);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(code, 2, "stdout:\n{out}\nstderr:\n{err}");
    assert!(err.contains("is not loaded by LD_PRELOAD"), "{err}");
}
