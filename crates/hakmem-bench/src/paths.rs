//! Where the tools find what they run: libhakmem.so, the workload and soak-worker binaries,
//! and the repository root (for peers built from source under `benches/peers`).

use anyhow::{bail, Result};
use std::path::{Path, PathBuf};

/// Directory holding the running executable (target/release when built from source).
fn exe_dir() -> Option<PathBuf> {
    std::env::current_exe().ok()?.parent().map(Path::to_path_buf)
}

/// `name` beside the running executable, or one level up (a test binary in target/release/deps).
fn beside_exe(name: &str) -> Option<PathBuf> {
    let d = exe_dir()?;
    [d.join(name), d.join("..").join(name)].into_iter().find(|c| c.is_file()).map(|c| c.canonicalize().unwrap_or(c))
}

/// libhakmem.so: `HAKMEM_LIB` if set, else beside the executable (cargo puts the cdylib and
/// the binaries in the same target directory).
pub fn libhakmem() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("HAKMEM_LIB") {
        let p = PathBuf::from(p);
        if p.is_file() {
            return Ok(p);
        }
        bail!("HAKMEM_LIB={} does not name a file", p.display());
    }
    match beside_exe("libhakmem.so") {
        Some(p) => Ok(p),
        None => bail!("libhakmem.so not found next to the hakmem executable; build it with `cargo build --release` or set HAKMEM_LIB"),
    }
}

/// A binary of this crate (`hakmem-workload`, `hakmem-soak-worker`), beside the executable.
pub fn sibling_bin(name: &str) -> Result<PathBuf> {
    match beside_exe(name) {
        Some(p) => Ok(p),
        None => {
            bail!("{name} not found next to the hakmem executable; build it with `cargo build --release --workspace`")
        }
    }
}

/// The workload binary (`hakmem-workload`).
pub fn workload_bin() -> Result<PathBuf> {
    sibling_bin("hakmem-workload")
}

/// The program that runs workload `name`: `hakmem-workload`, or for a workload written in C
/// its own binary (compiled on first use). Both take the same command line.
pub fn workload_bin_for(name: &str) -> Result<PathBuf> {
    match crate::cprog::find(name) {
        Some(p) => p.binary(),
        None => workload_bin(),
    }
}

/// The soak worker binary (`hakmem-soak-worker`).
pub fn soak_worker_bin() -> Result<PathBuf> {
    sibling_bin("hakmem-soak-worker")
}

/// The repository the tools were built from: the first ancestor of the executable that holds
/// the workspace (`Cargo.toml` and `crates/hakmem-bench`), else the source tree this crate was
/// compiled in, if it still exists.
pub fn repo_root() -> Option<PathBuf> {
    let is_root = |d: &Path| d.join("Cargo.toml").is_file() && d.join("crates/hakmem-bench").is_dir();
    if let Some(d) = exe_dir() {
        if let Some(r) = d.ancestors().find(|a| is_root(a)) {
            return Some(r.to_path_buf());
        }
    }
    let built = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    is_root(&built).then(|| built.canonicalize().unwrap_or(built))
}
