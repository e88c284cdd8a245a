//! The `hakmem` binary users run: its hand-over of `bench/ab/soak/compat` to `hakmem-tools`,
//! a closed pipe, and the warning when a preload cannot take.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const HAKMEM: &str = env!("CARGO_BIN_EXE_hakmem");

fn hakmem() -> Command {
    let mut c = Command::new(HAKMEM);
    c.env_remove("LD_PRELOAD");
    c
}

fn tools_beside() -> PathBuf {
    let t = Path::new(HAKMEM).with_file_name("hakmem-tools");
    assert!(t.is_file(), "{} is missing: build the workspace first (`cargo build --release --workspace`)", t.display());
    t
}

#[test]
fn tools_commands_are_handed_to_hakmem_tools_with_their_exit_status() {
    tools_beside();
    // Help comes from hakmem-tools, under the name users type.
    let o = hakmem().args(["bench", "--help"]).output().unwrap();
    assert!(o.status.success());
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("Usage: hakmem bench") && out.contains("--allocators"), "{out}");
    // Arguments pass through untouched, and so does the exit status (2: refused).
    let o = hakmem().args(["ab", "--env", "HAKMEM_HARDEN=0", "--env", "HAKMEM_HARDEN=maybe"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("HAKMEM_HARDEN=\"maybe\" is not a value hakmem accepts"));
    let o = hakmem().args(["soak", "analyze", "/nonexistent.csv"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("cannot read /nonexistent.csv"));
}

/// Runs a freshly copied executable. Another test thread's fork may still hold the copy's
/// write descriptor for a moment (ETXTBSY): retry then.
fn run_copy(exe: &Path, arg: &str) -> std::process::Output {
    for _ in 0..50 {
        match Command::new(exe).arg(arg).output() {
            Err(e) if e.raw_os_error() == Some(26) => std::thread::sleep(std::time::Duration::from_millis(20)),
            r => return r.unwrap(),
        }
    }
    panic!("{} stayed busy", exe.display())
}

#[test]
fn a_missing_tools_binary_is_a_clear_error() {
    let d = std::env::temp_dir().join(format!("hakmem-alone-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    let alone = d.join("hakmem");
    std::fs::copy(HAKMEM, &alone).unwrap();
    for sub in ["bench", "ab", "soak", "compat"] {
        let o = run_copy(&alone, sub);
        assert_eq!(o.status.code(), Some(2));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains(&format!("`hakmem {sub}` needs the hakmem-tools binary"))
                && err.contains("cargo build --release --workspace"),
            "{err}"
        );
    }
    // run and config need nothing else.
    let o = run_copy(&alone, "config");
    assert!(o.status.success());
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn config_into_a_closed_pipe_does_not_abort() {
    // `hakmem config -v | head -1`: the reader leaves after one line.
    let mut child = hakmem().args(["config", "-v"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut first = String::new();
    {
        use std::io::BufRead;
        let mut r = std::io::BufReader::new(child.stdout.take().unwrap());
        r.read_line(&mut first).unwrap();
    } // the pipe closes here
    let o = child.wait_with_output().unwrap();
    assert!(first.starts_with("profile "), "{first}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success() && !err.contains("panicked"), "{:?} {err}", o.status);
}

#[test]
fn run_warns_when_the_preload_cannot_take() {
    // Debian's ldconfig is static-pie: no PT_INTERP, so LD_PRELOAD is never read.
    let ldconfig =
        ["/usr/sbin/ldconfig", "/sbin/ldconfig"].into_iter().find(|p| Path::new(p).is_file()).expect("ldconfig");
    let o = hakmem().args(["run", "--stats", "--", ldconfig, "--version"]).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("is statically linked") && err.contains("--stats will print nothing"), "{err}");
    assert!(!err.contains("hakmem: stats"), "{err}");
    // A dynamic program gets no warning, and its report.
    let o = hakmem().args(["run", "--stats", "--", "sh", "-c", "ls / >/dev/null"]).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!err.contains("warning") && err.contains("hakmem: stats"), "{err}");
}
