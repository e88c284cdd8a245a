//! The C packaging: the SONAME, `make install` / `make uninstall` into a scratch prefix (no
//! root needed), a C program built with `pkg-config --cflags --libs hakmem` and linked with
//! `-lhakmem`, and the exports beyond the malloc family: C++ operator new/delete, glibc's
//! malloc_trim / mallinfo / mallinfo2 / mallopt, C23's sized frees, hakmem_trim and
//! hakmem_version, and hakmem.h's stats structures against the core's.

mod common;

use common::{c_prog, check_abort, command, cxx_prog, lib, run_child, Run};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

const VERSION: &str = env!("CARGO_PKG_VERSION");
const MAJOR: &str = env!("CARGO_PKG_VERSION_MAJOR");

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

/// A fresh scratch folder, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        let d = std::env::temp_dir().join(format!("hakmem-pkg-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        Scratch(d)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn text(o: &Output) -> String {
    format!("stdout:\n{}\nstderr:\n{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// `make <args>` in the repository, installing what this test run built (the folder of
/// libhakmem.so). `CARGO=false`: make must install the existing build, never start one.
fn make(args: &[&str]) -> Output {
    let build_dir = lib().parent().unwrap().to_path_buf();
    assert!(
        build_dir.join("hakmem").is_file(),
        "{} missing: run `cargo build --release --workspace` before the tests",
        build_dir.join("hakmem").display()
    );
    let o = Command::new("make")
        .current_dir(repo_root())
        .arg("--no-print-directory")
        .args(args)
        .arg(format!("BUILD_DIR={}", build_dir.display()))
        .arg("CARGO=false")
        .output()
        .expect("make not found");
    assert!(o.status.success(), "make {args:?} failed\n{}", text(&o));
    o
}

fn readelf_dynamic(file: &Path) -> String {
    let o = Command::new("readelf").arg("-d").arg(file).output().expect("readelf not found (binutils)");
    assert!(o.status.success(), "readelf -d {}: {}", file.display(), text(&o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn soname_is_libhakmem_so_major() {
    let d = readelf_dynamic(&lib());
    let want = format!("Library soname: [libhakmem.so.{MAJOR}]");
    assert!(d.contains(&want), "want `{want}` in readelf -d:\n{d}");
    assert_eq!(MAJOR, "0", "the README documents libhakmem.so.0");
    // The existing link flag is still there.
    assert!(d.contains("NODELETE"), "-z nodelete lost:\n{d}");
}

#[test]
fn make_install_then_a_pkg_config_build_runs_on_hakmem() {
    let tmp = Scratch::new("install");
    let prefix = tmp.0.join("prefix");
    make(&["install", &format!("PREFIX={}", prefix.display())]);

    // The layout: one real file named by the full version, two symlinks.
    let libdir = prefix.join("lib");
    let real = libdir.join(format!("libhakmem.so.{VERSION}"));
    let meta = std::fs::symlink_metadata(&real).unwrap();
    assert!(meta.file_type().is_file(), "{} is not a regular file", real.display());
    assert_eq!(std::fs::read(&real).unwrap(), std::fs::read(lib()).unwrap(), "installed library differs");
    assert_eq!(
        std::fs::read_link(libdir.join(format!("libhakmem.so.{MAJOR}"))).unwrap(),
        PathBuf::from(format!("libhakmem.so.{VERSION}"))
    );
    assert_eq!(
        std::fs::read_link(libdir.join("libhakmem.so")).unwrap(),
        PathBuf::from(format!("libhakmem.so.{MAJOR}"))
    );
    assert!(readelf_dynamic(&real).contains(&format!("[libhakmem.so.{MAJOR}]")));
    assert_eq!(
        std::fs::read(prefix.join("include/hakmem.h")).unwrap(),
        std::fs::read(repo_root().join("include/hakmem.h")).unwrap()
    );
    let pc = std::fs::read_to_string(libdir.join("pkgconfig/hakmem.pc")).unwrap();
    assert!(pc.contains(&format!("prefix={}\n", prefix.display())), "{pc}");
    assert!(pc.contains(&format!("Version: {VERSION}\n")) && !pc.contains('@'), "{pc}");
    let v = Command::new(prefix.join("bin/hakmem")).arg("--version").output().unwrap();
    assert!(v.status.success());
    assert_eq!(String::from_utf8_lossy(&v.stdout).trim(), format!("hakmem {VERSION}"));
    // The installed command finds the installed library (PREFIX/lib) on its own.
    let r = Command::new(prefix.join("bin/hakmem"))
        .args(["run", "--stats", "--", "/bin/ls", "/"])
        .env_remove("HAKMEM_LIB")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(r.status.success() && err.contains("hakmem: stats (pid "), "installed `hakmem run`: {err}");

    // pkg-config answers from the installed file.
    let pkg = |args: &[&str]| {
        let o = Command::new("pkg-config")
            .args(args)
            .arg("hakmem")
            .env("PKG_CONFIG_PATH", libdir.join("pkgconfig"))
            .output()
            .expect("pkg-config not found (apt-get install pkg-config)");
        assert!(o.status.success(), "pkg-config {args:?}: {}", text(&o));
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    };
    assert_eq!(pkg(&["--modversion"]), VERSION);
    let flags = pkg(&["--cflags", "--libs"]);
    assert!(flags.contains(&format!("-I{}", prefix.join("include").display())), "{flags}");
    assert!(flags.contains("-lhakmem"), "{flags}");

    // A C program built the way users build: cc prog.c $(pkg-config --cflags --libs hakmem).
    let exe = tmp.0.join("pkg_use");
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/c/pkg_use.c");
    let o = Command::new("cc")
        .args(["-O1", "-g", "-Wall", "-Wextra", "-fno-builtin", "-o"])
        .arg(&exe)
        .arg(&src)
        .args(flags.split_whitespace())
        .arg("-ldl")
        .output()
        .expect("cc not found");
    assert!(o.status.success(), "compiling pkg_use.c with {flags}: {}", text(&o));
    // Linked against the SONAME, not the dev symlink.
    let d = readelf_dynamic(&exe);
    assert!(d.contains(&format!("Shared library: [libhakmem.so.{MAJOR}]")), "{d}");

    let mut c = command(&exe, &[], &[], false);
    c.env("LD_LIBRARY_PATH", &libdir);
    let r = run_child(c, "pkg_use", Duration::from_secs(60));
    assert!(r.status.success() && r.stdout.ends_with("ok\n"), "{}", r.describe());
    let line = |k: &str| r.stdout.lines().find_map(|l| l.strip_prefix(&format!("{k}="))).unwrap_or("").to_string();
    assert_eq!(line("version"), VERSION, "{}", r.describe());
    let from = line("malloc_from");
    assert!(
        Path::new(&from).canonicalize().ok() == Some(real.canonicalize().unwrap()),
        "malloc resolved to {from}, want the installed {}",
        real.display()
    );
    assert!(r.figure("usable_100").unwrap_or(0.0) >= 100.0, "{}", r.describe());
    assert_eq!(r.figure("huge_allocs_delta"), Some(1.0), "{}", r.describe());

    // Without the library on the loader's path the program does not start: it really
    // depends on libhakmem.so.0.
    let st = Command::new(&exe).env_remove("LD_LIBRARY_PATH").env_remove("LD_PRELOAD").output().unwrap();
    assert!(!st.status.success(), "pkg_use ran without libhakmem.so.{MAJOR} on the path");
}

#[test]
fn make_install_honours_destdir_and_uninstall_removes_everything() {
    let tmp = Scratch::new("destdir");
    let dest = tmp.0.join("stage");
    let args = [format!("DESTDIR={}", dest.display()), "PREFIX=/opt/hakmem".to_string()];
    let with = |verb: &str| {
        let mut a = vec![verb];
        a.extend(args.iter().map(String::as_str));
        make(&a)
    };
    with("install");
    let root = dest.join("opt/hakmem");
    let files = [
        format!("lib/libhakmem.so.{VERSION}"),
        format!("lib/libhakmem.so.{MAJOR}"),
        "lib/libhakmem.so".to_string(),
        "lib/pkgconfig/hakmem.pc".to_string(),
        "include/hakmem.h".to_string(),
        "bin/hakmem".to_string(),
    ];
    for f in &files {
        assert!(std::fs::symlink_metadata(root.join(f)).is_ok(), "{f} not installed under DESTDIR");
    }
    // The symlinks resolve inside the staging tree (they are relative).
    assert!(root.join("lib/libhakmem.so").canonicalize().unwrap().ends_with(format!("libhakmem.so.{VERSION}")));
    // The .pc file names the final prefix, not the staging folder.
    let pc = std::fs::read_to_string(root.join("lib/pkgconfig/hakmem.pc")).unwrap();
    assert!(pc.contains("prefix=/opt/hakmem\n") && !pc.contains(&dest.display().to_string()), "{pc}");

    with("uninstall");
    for f in &files {
        assert!(std::fs::symlink_metadata(root.join(f)).is_err(), "{f} left behind by make uninstall");
    }
}

/// Every overload of operator new/delete is libhakmem's and hands out hakmem's blocks.
#[test]
fn cxx_new_delete_every_overload_is_hakmems() {
    let prog = cxx_prog("cxx_new");
    for profile in ["balanced", "speed"] {
        let r = run_child(
            command(&prog, &["overloads"], &[("HAKMEM_PROFILE", profile)], true),
            &format!("cxx_new overloads ({profile})"),
            Duration::from_secs(120),
        );
        assert!(r.status.success() && r.stdout.ends_with("ok\n") && r.stderr.is_empty(), "{}", r.describe());
        assert!(r.stdout.contains("overloads_from_hakmem=20 of 20"), "{}", r.describe());
        assert_eq!(r.figure("expr_huge_allocs"), Some(200.0), "{}", r.describe());
    }
}

#[test]
fn cxx_throwing_new_out_of_memory_aborts_nothrow_returns_null() {
    let prog = cxx_prog("cxx_new");
    let r = run_child(command(&prog, &["oom"], &[], true), "cxx_new oom", Duration::from_secs(60));
    assert!(r.stdout.contains("nothrow_null=yes"), "{}", r.describe());
    check_abort(&r, &["operator new"], None).unwrap_or_else(|e| panic!("{e}\n{}", r.describe()));
    assert!(r.hakmem_lines()[0].contains("out of memory"), "{}", r.describe());
}

fn extras(check: &str, profile: &str) -> Run {
    let r = run_child(
        command(&c_prog("extras"), &[check], &[("HAKMEM_PROFILE", profile)], true),
        &format!("extras {check} ({profile})"),
        Duration::from_secs(120),
    );
    assert!(r.status.success() && r.stdout.ends_with("ok\n"), "{}", r.describe());
    r
}

/// After a freed burst, malloc_trim returns 1 and the mapped bytes drop; a second call has
/// nothing left (0); hakmem_trim returns exactly the drop. Both profiles: balanced gives
/// SuperSlabs back as they empty, speed keeps a pool that only trimming releases.
#[test]
fn malloc_trim_releases_a_freed_burst() {
    for profile in ["balanced", "speed"] {
        let r = extras("trim", profile);
        let after_burst = r.figure("mapped_after_burst").unwrap();
        let after_trim = r.figure("mapped_after_trim").unwrap();
        assert!(after_trim < after_burst, "{}", r.describe());
        assert_eq!(r.figure("malloc_trim"), Some(1.0), "{}", r.describe());
        assert_eq!(r.figure("malloc_trim_again"), Some(0.0), "{}", r.describe());
        assert!(r.figure("hakmem_trim").unwrap() > 0.0);
        assert_eq!(r.figure("hakmem_trim"), r.figure("mapped_drop"), "{}", r.describe());
    }
}

/// arena >= uordblks (= arena - fordblks), arena is hakmem's mapped bytes, hblks / hblkhd
/// follow live huge blocks, mallinfo() agrees with mallinfo2().
#[test]
fn mallinfo2_fields_are_consistent() {
    for profile in ["balanced", "speed"] {
        let r = extras("mallinfo", profile);
        let arena = r.figure("arena").unwrap();
        assert!(arena > 0.0 && arena >= r.figure("uordblks").unwrap(), "{}", r.describe());
        assert_eq!(r.figure("keepcost"), Some(0.0));
    }
}

#[test]
fn mallopt_accepts_known_params_and_refuses_others() {
    let r = extras("mallopt", "balanced");
    assert!(r.stdout.contains("mallopt known=1,1,1 unknown=0,0"), "{}", r.describe());
}

#[test]
fn free_sized_and_free_aligned_sized_free_hakmem_blocks() {
    let r = extras("free_sized", "balanced");
    assert_eq!(r.figure("huge_frees_delta"), Some(2.0), "{}", r.describe());
}

/// hakmem.h's `hakmem_stats_t` / `hakmem_class_stats_t` are `hakmem::Stats` /
/// `hakmem::ClassStats`: same field names in the same order, same offsets and sizes.
#[test]
fn hakmem_h_stats_structs_match_the_core() {
    use core::mem::{offset_of, size_of};
    use hakmem::{ClassStats, Stats};
    let r = run_child(command(&c_prog("layout"), &[], &[], false), "layout", Duration::from_secs(30));
    assert!(r.status.success(), "{}", r.describe());
    let f = |k: &str| r.figure(k).unwrap_or_else(|| panic!("{k} missing\n{}", r.describe())) as usize;
    assert_eq!(f("stats_size"), size_of::<Stats>());
    assert_eq!(f("class_size"), size_of::<ClassStats>());
    assert_eq!(f("nclass") * size_of::<ClassStats>(), offset_of!(Stats, large_allocs));
    assert_eq!(f("class.block_size"), offset_of!(ClassStats, block_size));
    assert_eq!(f("class.refills"), offset_of!(ClassStats, refills));
    assert_eq!(f("class.refill_blocks"), offset_of!(ClassStats, refill_blocks));
    assert_eq!(f("class.flushes"), offset_of!(ClassStats, flushes));
    assert_eq!(f("class.flush_blocks"), offset_of!(ClassStats, flush_blocks));
    assert_eq!(f("class.out"), offset_of!(ClassStats, out));
    assert_eq!(f("stats.large_allocs"), offset_of!(Stats, large_allocs));
    assert_eq!(f("stats.huge_allocs"), offset_of!(Stats, huge_allocs));
    assert_eq!(f("stats.heaps"), offset_of!(Stats, heaps));
    assert_eq!(f("stats.ss_in_pool"), offset_of!(Stats, ss_in_pool));
    assert_eq!(f("stats.mremap_calls"), offset_of!(Stats, mremap_calls));
    assert_eq!(f("stats.mapped_bytes"), offset_of!(Stats, mapped_bytes));
    assert_eq!(f("stats.peak_rss_bytes"), offset_of!(Stats, peak_rss_bytes));

    // The per-class field names, in order, as hakmem.h and stats.rs spell them.
    let header = std::fs::read_to_string(repo_root().join("include/hakmem.h")).unwrap();
    let rust = std::fs::read_to_string(repo_root().join("crates/hakmem/src/stats.rs")).unwrap();
    let c_fields = fields(&header, "typedef struct hakmem_class_stats_t {", "}", "uint64_t ");
    let rust_fields = fields(&rust, "pub struct ClassStats {", "}", "pub ");
    assert_eq!(c_fields, rust_fields);
    assert_eq!(c_fields.len(), 6, "{c_fields:?}");
}

/// The names declared with `prefix` between `start` and the next `end` line.
fn fields(src: &str, start: &str, end: &str, prefix: &str) -> Vec<String> {
    let body = &src[src.find(start).unwrap_or_else(|| panic!("{start} not found")) + start.len()..];
    body.lines()
        .map(str::trim)
        .take_while(|l| !l.starts_with(end))
        .filter_map(|l| l.strip_prefix(prefix))
        .map(|l| l.split([';', ':']).next().unwrap().trim().to_string())
        .collect()
}
