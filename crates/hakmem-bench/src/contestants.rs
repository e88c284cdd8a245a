//! The one place that turns an allocator's name into something to run: a library to preload
//! (none for glibc) and the environment that goes with it. `bench`, `ab`, `soak` and `compat`
//! all resolve their `--allocators` here.
//!
//! Peers come from Debian packages (mimalloc 2.0.9, jemalloc, tcmalloc) or are built from
//! source in this repository under `benches/peers` (mimalloc3, snmalloc). A peer whose
//! library is not there is left out of the default set silently, and skipped with a notice
//! when asked for by name.

use anyhow::{anyhow, bail, Context, Result};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// One allocator configuration: a library to preload (none = glibc) and extra environment.
#[derive(Clone, Debug, Serialize)]
pub struct Contestant {
    pub name: String,
    pub preload: Option<PathBuf>,
    pub env: Vec<(String, String)>,
}

/// Where a peer's library lives.
#[derive(Clone, Copy, Debug)]
pub enum Source {
    /// A Debian package: the file name under the system library directories, and the package.
    Debian { file: &'static str, package: &'static str },
    /// Built in this repository: the path relative to the repository root.
    Repo(&'static str),
}

/// A peer allocator loaded through `LD_PRELOAD`.
#[derive(Clone, Copy, Debug)]
pub struct Peer {
    pub name: &'static str,
    pub source: Source,
}

pub const PEERS: &[Peer] = &[
    Peer { name: "mimalloc", source: Source::Debian { file: "libmimalloc.so.2", package: "libmimalloc2.0" } },
    Peer { name: "mimalloc3", source: Source::Repo("benches/peers/target/release/libpeer_mimalloc3.so") },
    Peer { name: "jemalloc", source: Source::Debian { file: "libjemalloc.so.2", package: "libjemalloc2" } },
    Peer {
        name: "tcmalloc",
        source: Source::Debian { file: "libtcmalloc_minimal.so.4", package: "libtcmalloc-minimal4" },
    },
    Peer { name: "snmalloc", source: Source::Repo("benches/peers/target/release/libpeer_snmalloc.so") },
];

/// The system library directories searched for Debian peers, most specific first.
const LIB_DIRS: &[&str] = &["/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/lib", "/usr/local/lib"];

/// The hakmem contestants: the library's default profile, and each profile by name.
const HAKMEM_NAMES: &[(&str, Option<&str>)] =
    &[("hakmem", None), ("hakmem-speed", Some("speed")), ("hakmem-balanced", Some("balanced"))];

/// Every name `--allocators` accepts (a path to a malloc library is accepted too).
pub fn names() -> Vec<&'static str> {
    HAKMEM_NAMES.iter().map(|h| h.0).chain(PEERS.iter().map(|p| p.name)).chain(["glibc"]).collect()
}

pub fn peer(name: &str) -> Option<&'static Peer> {
    PEERS.iter().find(|p| p.name == name)
}

impl Peer {
    /// The library file, if it is there.
    pub fn library(&self) -> Option<PathBuf> {
        match self.source {
            Source::Debian { file, .. } => LIB_DIRS.iter().map(|d| Path::new(d).join(file)).find(|p| p.is_file()),
            Source::Repo(rel) => crate::paths::repo_root().map(|r| r.join(rel)).filter(|p| p.is_file()),
        }
    }

    /// How to get the library.
    pub fn install_hint(&self) -> String {
        match self.source {
            Source::Debian { file, package } => {
                format!("{file} is not installed (apt-get install {package}; scripts/setup.sh installs it)")
            }
            Source::Repo(rel) => {
                format!("{rel} is not built (cargo build --release in benches/peers)")
            }
        }
    }
}

/// Checks a profile name with the allocator's own parser; returns it unchanged.
pub fn check_profile(p: &str) -> Result<String> {
    hakmem::config::Profile::parse(p).map_err(|accepted| anyhow!("unknown profile {p:?}; accepted: {accepted}"))?;
    Ok(p.to_string())
}

/// For clap's `value_parser`.
pub fn parse_profile(p: &str) -> std::result::Result<String, String> {
    check_profile(p).map_err(|e| e.to_string())
}

/// Resolves one name. `Ok(Err(why))` when the name is known but its library is not there;
/// `Err` for a name nobody knows. `profile` applies to the plain `hakmem` contestant.
pub fn resolve(name: &str, profile: Option<&str>) -> Result<std::result::Result<Contestant, String>> {
    let name = name.trim();
    if let Some(p) = profile {
        check_profile(p)?;
    }
    if name == "glibc" || name == "system" {
        return Ok(Ok(Contestant { name: "glibc".into(), preload: None, env: vec![] }));
    }
    if let Some(&(_, own)) = HAKMEM_NAMES.iter().find(|h| h.0 == name) {
        let lib = match crate::paths::libhakmem() {
            Ok(l) => l,
            Err(e) => return Ok(Err(format!("{e:#}"))),
        };
        let env = own.or(profile).map(|p| vec![("HAKMEM_PROFILE".to_string(), p.to_string())]).unwrap_or_default();
        return Ok(Ok(Contestant { name: name.into(), preload: Some(lib), env }));
    }
    if let Some(p) = peer(name) {
        return Ok(match p.library() {
            Some(lib) => Ok(Contestant { name: name.into(), preload: Some(lib), env: vec![] }),
            None => Err(p.install_hint()),
        });
    }
    if name.contains('/') || name.ends_with(".so") || name.contains(".so.") {
        let lib = PathBuf::from(name);
        if !lib.is_file() {
            bail!("allocator library {name} does not exist");
        }
        let stem = lib.file_name().and_then(|f| f.to_str()).unwrap_or("lib").split('.').next().unwrap_or("lib");
        let short = stem.strip_prefix("lib").unwrap_or(stem).to_string();
        return Ok(Ok(Contestant { name: short, preload: Some(lib), env: vec![] }));
    }
    bail!("unknown allocator '{name}' (known: {}, or a path to a malloc library)", names().join(", "))
}

/// Resolves a list, dropping repeats. A known allocator whose library is missing is skipped
/// with a notice on stderr (prefixed with `who`); an unknown name is an error.
pub fn resolve_list(names: &[String], profile: Option<&str>, who: &str) -> Result<Vec<Contestant>> {
    let mut out: Vec<Contestant> = Vec::new();
    for n in names {
        match resolve(n, profile)? {
            Ok(c) if out.iter().any(|o| o.name == c.name) => {}
            Ok(c) => out.push(c),
            Err(why) => eprintln!("{who}: skipping {}: {why}", n.trim()),
        }
    }
    Ok(out)
}

/// The default field: hakmem, every peer whose library is there, glibc. Missing ones are left
/// out without a word.
pub fn installed(profile: Option<&str>) -> Result<Vec<Contestant>> {
    let mut v = Vec::new();
    for n in std::iter::once("hakmem").chain(PEERS.iter().map(|p| p.name)).chain(["glibc"]) {
        if let Ok(c) = resolve(n, profile)? {
            v.push(c);
        }
    }
    Ok(v)
}

impl Contestant {
    /// hakmem, under any of its names (`hakmem`, `hakmem-speed`, `hakmem:balanced`, a
    /// `libhakmem*.so` path): `HAKMEM_*` variables are meant for it.
    pub fn is_hakmem(&self) -> bool {
        self.name.starts_with("hakmem")
    }

    /// Applies this allocator to a command: its preload and environment, nothing inherited
    /// that would change which allocator runs (LD_PRELOAD; `HAKMEM_*` for other allocators).
    pub fn apply(&self, cmd: &mut Command) {
        cmd.env_remove("LD_PRELOAD");
        if !self.is_hakmem() {
            for (k, _) in std::env::vars_os() {
                if k.to_string_lossy().starts_with("HAKMEM_") {
                    cmd.env_remove(&k);
                }
            }
        }
        if let Some(p) = &self.preload {
            cmd.env("LD_PRELOAD", p);
        }
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
    }

    /// The profile this contestant sets, if any.
    pub fn profile(&self) -> Option<&str> {
        self.env.iter().find(|(k, _)| k == "HAKMEM_PROFILE").map(|(_, v)| v.as_str())
    }

    /// Checks that the preload really loads: a child's /proc/self/maps must map the library
    /// and ld.so must not complain. Without this a typo compares glibc with glibc.
    pub fn check_loads(&self) -> Result<()> {
        let Some(lib) = &self.preload else {
            return Ok(());
        };
        let mut cmd = Command::new("cat");
        self.apply(&mut cmd);
        let out = cmd.arg("/proc/self/maps").stdin(Stdio::null()).output().context("running cat /proc/self/maps")?;
        let maps = String::from_utf8_lossy(&out.stdout);
        let real = lib.canonicalize().unwrap_or_else(|_| lib.clone());
        let err = String::from_utf8_lossy(&out.stderr);
        if !out.status.success() || err.contains("ld.so") || !maps.contains(&*real.to_string_lossy()) {
            bail!(
                "{}: {} is not loaded by LD_PRELOAD (exit {}, stderr: {})",
                self.name,
                lib.display(),
                out.status,
                err.trim()
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_repeats() {
        let cs = resolve_list(&["glibc".into(), " glibc".into(), "system".into()], None, "test").unwrap();
        assert_eq!(cs.len(), 1);
        assert!(cs[0].preload.is_none() && !cs[0].is_hakmem());
        assert!(resolve("nosuch", None).is_err());
        assert!(resolve("glibc", Some("turbo")).unwrap_err().to_string().contains("unknown profile"));
        for n in ["mimalloc", "mimalloc3", "jemalloc", "tcmalloc", "snmalloc", "hakmem-speed"] {
            assert!(names().contains(&n), "{n}");
        }
    }

    #[test]
    fn repo_peers_are_found_under_the_repository_or_skipped() {
        let root = crate::paths::repo_root().expect("tests run inside the repository");
        for n in ["mimalloc3", "snmalloc"] {
            let p = peer(n).unwrap();
            let Source::Repo(rel) = p.source else { panic!("{n} is built here") };
            let there = root.join(rel).is_file();
            match resolve(n, None).unwrap() {
                Ok(c) => assert!(there && c.preload == Some(root.join(rel))),
                Err(why) => assert!(!there && why.contains("benches/peers"), "{why}"),
            }
            assert_eq!(installed(None).unwrap().iter().any(|c| c.name == n), there);
        }
    }

    #[test]
    fn a_library_path_is_a_contestant() {
        let libc = ["/lib/x86_64-linux-gnu/libc.so.6", "/usr/lib/x86_64-linux-gnu/libc.so.6"]
            .into_iter()
            .find(|p| Path::new(p).is_file())
            .unwrap();
        let c = resolve(libc, None).unwrap().unwrap();
        assert_eq!(c.name, "c");
        assert!(resolve("/nonexistent/libx.so", None).is_err());
    }

    #[test]
    fn profiles_go_to_the_hakmem_contestants_only() {
        std::env::set_var("HAKMEM_LIB", "/bin/sh"); // any file: resolution only
        let c = resolve("hakmem", Some("speed")).unwrap().unwrap();
        assert_eq!(c.profile(), Some("speed"));
        assert_eq!(resolve("hakmem-balanced", Some("speed")).unwrap().unwrap().profile(), Some("balanced"));
        assert_eq!(resolve("glibc", Some("speed")).unwrap().unwrap().profile(), None);
        std::env::remove_var("HAKMEM_LIB");
    }
}
