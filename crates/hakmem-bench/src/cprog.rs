//! Workloads written in C (`benches/c/`), built by the tools themselves on first use.
//!
//! The source is compiled into this crate's binaries, so a copy of the tools needs no
//! checkout: on first use it is written next to the running executable (the cargo target
//! directory), or into the user's cache directory when that is not writable, and compiled
//! there with `cc -O2` (`$CC` if set). It is compiled again when the source or the flags
//! change. The program takes the command line of `hakmem-workload` (the workload name, then
//! the options) and prints the same JSON line, so the runner treats both alike.

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A workload implemented as a C program.
pub struct CProgram {
    /// The workload name (`hakmem bench -w NAME`).
    pub name: &'static str,
    /// The Rust workload whose options (and protocol) it shares.
    pub same_as: &'static str,
    /// The C source.
    pub source: &'static str,
}

/// The flags every C workload is compiled with.
pub const CFLAGS: &[&str] = &["-O2", "-std=gnu11"];

pub const PROGRAMS: &[CProgram] = &[CProgram {
    name: "random-mixed-c",
    same_as: "random-mixed",
    source: include_str!("../../../benches/c/random_mixed.c"),
}];

pub fn find(name: &str) -> Option<&'static CProgram> {
    PROGRAMS.iter().find(|p| p.name == name)
}

impl CProgram {
    /// The executable, compiled now if it is missing or stale.
    pub fn binary(&self) -> Result<PathBuf> {
        let mut tried = Vec::new();
        for dir in build_dirs() {
            match self.build_in(&dir) {
                Ok(p) => return Ok(p),
                Err(e) => tried.push(format!("{}: {e:#}", dir.display())),
            }
        }
        bail!("cannot build the C workload {}: {}", self.name, tried.join("; "))
    }

    /// Compiles into `dir` unless the binary there was built from this source and flags.
    pub fn build_in(&self, dir: &Path) -> Result<PathBuf> {
        let exe = dir.join(format!("hakmem-{}", self.name));
        let src = dir.join(format!("hakmem-{}.c", self.name));
        // The file compiled carries its flags, so a change of either rebuilds.
        let text = format!("/* built with: cc {} */\n{}", CFLAGS.join(" "), self.source);
        if exe.is_file() && std::fs::read_to_string(&src).is_ok_and(|s| s == text) {
            return Ok(exe);
        }
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        // Private names for the source and the output, then renames: two tools building at
        // once never run a half-written binary.
        let tag = format!("{}.{:?}", std::process::id(), std::thread::current().id());
        let tmp_src = dir.join(format!(".hakmem-{}.{tag}.c", self.name));
        let tmp_exe = dir.join(format!(".hakmem-{}.{tag}", self.name));
        std::fs::write(&tmp_src, &text).with_context(|| format!("cannot write {}", tmp_src.display()))?;
        let cc = std::env::var("CC").ok().filter(|c| !c.trim().is_empty()).unwrap_or_else(|| "cc".into());
        let out = Command::new(&cc)
            .args(CFLAGS)
            .arg("-o")
            .arg(&tmp_exe)
            .arg(&tmp_src)
            .output()
            .with_context(|| format!("cannot run {cc} (apt-get install build-essential; `make setup` does)"));
        let out = match out {
            Ok(o) => o,
            Err(e) => {
                let _ = std::fs::remove_file(&tmp_src);
                return Err(e);
            }
        };
        if !out.status.success() {
            let _ = std::fs::remove_file(&tmp_src);
            bail!("{cc} failed ({}): {}", out.status, String::from_utf8_lossy(&out.stderr).trim());
        }
        std::fs::rename(&tmp_exe, &exe).with_context(|| format!("cannot write {}", exe.display()))?;
        std::fs::rename(&tmp_src, &src).with_context(|| format!("cannot write {}", src.display()))?;
        Ok(exe)
    }
}

/// Where C workloads are built: beside the running executable, else a cache directory.
fn build_dirs() -> Vec<PathBuf> {
    let mut v = Vec::new();
    if let Some(d) = std::env::current_exe().ok().and_then(|e| e.parent().map(Path::to_path_buf)) {
        v.push(d);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")));
    if let Some(c) = cache {
        v.push(c.join("hakmem"));
    }
    // SAFETY: getuid has no preconditions and cannot fail.
    let uid = unsafe { libc::getuid() };
    v.push(std::env::temp_dir().join(format!("hakmem-{uid}")));
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_programs() {
        let p = find("random-mixed-c").unwrap();
        assert_eq!(p.same_as, "random-mixed");
        assert!(p.source.contains("xorshift32"));
        assert!(find("random-mixed").is_none());
    }
}
