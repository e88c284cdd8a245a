//! `hakmem prof report FILE` and `hakmem prof flamegraph FILE -o OUT` are handed to
//! hakmem-tools and work on a real profile: the prof box's C test program
//! (crates/hakmem-preload/tests/c/prof.c) runs under libhakmem.so with `HAKMEM_PROF=1`,
//! holds 10 MB, 5 MB and 1 MB at three functions and dumps its heap profile; the report must
//! name those functions (symbolized from the program's debug info) in the order of the bytes
//! they hold, and the flame graph must be an SVG naming them.
//!
//! At one sample per 16 KiB the estimate of a site holding B bytes has a standard deviation
//! of at most sqrt(16 KiB × B) (0.41 MB for 10 MB, 0.12 MB for 1 MB): the sites are 12 and
//! more standard deviations apart, so the ranking cannot come out wrong by chance.

use std::path::{Path, PathBuf};
use std::process::Command;

const HAKMEM: &str = env!("CARGO_BIN_EXE_hakmem");

fn scratch() -> PathBuf {
    let d = std::env::temp_dir().join(format!("hakmem-prof-cli-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// target/<profile>/libhakmem.so, beside the hakmem binary.
fn lib() -> PathBuf {
    let so = Path::new(HAKMEM).with_file_name("libhakmem.so");
    assert!(so.is_file(), "{} missing: build the workspace first (`cargo build --release --workspace`)", so.display());
    so
}

fn hakmem() -> Command {
    let mut c = Command::new(HAKMEM);
    c.env_remove("LD_PRELOAD");
    c
}

/// prof.c built as the prof box's own test builds it: frame pointers, no inlining, debug info.
fn prof_program(dir: &Path) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../hakmem-preload/tests/c/prof.c");
    let out = dir.join("prof");
    let st = Command::new("cc")
        .args(["-O1", "-g", "-fno-builtin", "-w", "-fno-omit-frame-pointer", "-fno-inline"])
        .arg("-fno-optimize-sibling-calls")
        .arg("-o")
        .arg(&out)
        .arg(&src)
        .args(["-lpthread", "-ldl"])
        .status()
        .unwrap_or_else(|e| panic!("cc: {e} (install gcc)"));
    assert!(st.success(), "compiling {} failed", src.display());
    out
}

/// Runs prof.c's `sites` mode with sampling on and returns the profile it dumped.
fn profile(dir: &Path) -> PathBuf {
    let prog = prof_program(dir);
    let file = dir.join("sites.pb");
    let mut c = Command::new(&prog);
    c.args(["sites", file.to_str().unwrap()]);
    for (k, _) in std::env::vars() {
        if k.starts_with("HAKMEM_") {
            c.env_remove(k);
        }
    }
    let o = c.env("LD_PRELOAD", lib()).env("HAKMEM_PROF", "1").env("HAKMEM_PROF_SAMPLE_KB", "16").output().unwrap();
    assert!(
        o.status.success(),
        "prof sites: {:?}\n{}\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(file.is_file(), "no profile written: {}", String::from_utf8_lossy(&o.stderr));
    file
}

#[test]
fn prof_report_and_flamegraph_read_a_real_profile() {
    let d = scratch();
    let file = profile(&d);

    // The help comes from hakmem-tools under the name users type.
    let o = hakmem().args(["prof", "--help"]).output().unwrap();
    assert!(o.status.success());
    let help = String::from_utf8_lossy(&o.stdout);
    assert!(help.contains("Usage: hakmem prof") && help.contains("flamegraph"), "{help}");

    let o = hakmem().args(["prof", "report"]).arg(&file).output().unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "prof report: {:?}\n{out}\n{}", o.status, String::from_utf8_lossy(&o.stderr));
    assert!(out.contains("sampling: one sample per 16384 bytes"), "{out}");
    // Every block is allocated in fill(), called by one of the three sites: fill is the
    // flat top site, and the cumulative view ranks the sites by the bytes they hold.
    let flat = out.split("cumulative").next().unwrap();
    assert!(
        flat.lines().any(|l| l.contains("fill") && l.contains("prof.c:")),
        "fill (prof.c:LINE) is the top site: {out}"
    );
    let cumulative = out.split("cumulative").nth(1).expect("a cumulative section");
    let cumulative = cumulative.split("stack #1").next().unwrap();
    let pos = |name: &str| {
        cumulative.lines().position(|l| l.split_whitespace().last() == Some(name)).unwrap_or_else(|| {
            panic!("{name} missing from the cumulative view: {out}");
        })
    };
    let (ten, five, one) = (pos("site_ten_mb"), pos("site_five_mb"), pos("site_one_mb"));
    assert!(ten < five && five < one, "ranking by bytes held: {out}");
    // The blocks churn() allocated were all freed: no sample may remain there.
    assert!(!out.contains("churn"), "freed blocks show in the profile: {out}");

    let svg = d.join("sites.svg");
    let o = hakmem().args(["prof", "flamegraph"]).arg(&file).arg("-o").arg(&svg).output().unwrap();
    assert!(o.status.success(), "prof flamegraph: {:?} {}", o.status, String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.starts_with("<?xml") && text.contains("<svg"), "not an SVG: {}", &text[..text.len().min(200)]);
    for site in ["site_ten_mb", "site_five_mb", "site_one_mb", "fill"] {
        assert!(text.contains(site), "{site} missing from the flame graph");
    }

    // A file that is not a profile is refused with the usage status.
    let bad = d.join("bad.pb");
    std::fs::write(&bad, b"not a profile").unwrap();
    let o = hakmem().args(["prof", "report"]).arg(&bad).output().unwrap();
    assert!(!o.status.success(), "garbage accepted: {}", String::from_utf8_lossy(&o.stdout));
    let _ = std::fs::remove_dir_all(&d);
}
