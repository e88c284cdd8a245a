//! `hakmem run`, `hakmem config` and `hakmem --version`, end to end.

use std::process::Command;

fn hakmem() -> Command {
    Command::new(env!("CARGO_BIN_EXE_hakmem"))
}

fn out(c: &mut Command) -> (bool, String, String) {
    let o = c.output().unwrap();
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn version_prints_the_crate_version() {
    let (ok, stdout, _) = out(hakmem().arg("--version"));
    assert!(ok);
    assert_eq!(stdout.trim(), format!("hakmem {}", env!("CARGO_PKG_VERSION")));
}

#[test]
fn run_preloads_the_library_with_the_profile() {
    let (ok, stdout, stderr) = out(hakmem().args([
        "run",
        "--profile",
        "speed",
        "--stats",
        "--",
        "sh",
        "-c",
        "echo $LD_PRELOAD; echo $HAKMEM_PROFILE; ls / >/dev/null",
    ]));
    assert!(ok, "{stderr}");
    let mut lines = stdout.lines();
    assert!(lines.next().unwrap().ends_with("libhakmem.so"), "{stdout}");
    assert_eq!(lines.next(), Some("speed"));
    // the programs ran on hakmem (ls allocates): the exit report names the profile
    assert!(stderr.contains("hakmem: stats (pid ") && stderr.contains("profile speed"), "{stderr}");
}

#[test]
fn run_passes_the_exit_status_through() {
    let o = hakmem().args(["run", "--", "sh", "-c", "exit 7"]).status().unwrap();
    assert_eq!(o.code(), Some(7));
}

#[test]
fn run_rejects_an_unknown_profile() {
    let (ok, _, stderr) = out(hakmem().args(["run", "--profile", "turbo", "--", "true"]));
    assert!(!ok);
    assert!(stderr.contains("unknown profile") && stderr.contains("speed|balanced"), "{stderr}");
}

#[test]
fn config_shows_values_and_their_sources() {
    let row = |text: &str, name: &str| -> Vec<String> {
        let line = text.lines().find(|l| l.starts_with(name)).unwrap_or_else(|| panic!("no {name} in {text}"));
        line.split_whitespace().map(str::to_string).collect()
    };
    let (ok, stdout, _) = out(hakmem().args(["config"]).env_remove("HAKMEM_PROFILE").env_remove("HAKMEM_SS_MEM_LEAN"));
    assert!(ok);
    assert!(stdout.starts_with("profile balanced (default)"), "{stdout}");
    assert_eq!(row(&stdout, "HAKMEM_SS_MEM_LEAN ")[1..3], ["1", "default"]);

    let (_, stdout, _) = out(hakmem().args(["config", "--profile", "speed"]).env_remove("HAKMEM_SS_MEM_LEAN"));
    assert_eq!(row(&stdout, "HAKMEM_SS_MEM_LEAN ")[1..3], ["0", "profile"]);

    let (_, stdout, _) = out(hakmem().args(["config", "--profile", "speed"]).env("HAKMEM_SS_MEM_LEAN", "1"));
    assert_eq!(row(&stdout, "HAKMEM_SS_MEM_LEAN ")[1..3], ["1", "environment"]);

    let (ok, _, stderr) =
        out(hakmem().args(["config"]).env("HAKMEM_SS_MEM_LEAN_DECOMMIT", "sometimes").env("HAKMEM_TYPO", "1"));
    assert!(ok);
    assert!(
        stderr.contains("HAKMEM_SS_MEM_LEAN_DECOMMIT=\"sometimes\" is not valid (accepted: OFF|DONTNEED|FREE)"),
        "{stderr}"
    );
    assert!(stderr.contains("unknown variable HAKMEM_TYPO"), "{stderr}");
}
