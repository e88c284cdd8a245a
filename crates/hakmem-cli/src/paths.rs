//! Where the CLI finds the things it runs: libhakmem.so, the workload binary, peer allocators.

use anyhow::{bail, Result};
use std::path::{Path, PathBuf};

/// Directory holding the running `hakmem` executable (target/release when built from source).
fn exe_dir() -> Option<PathBuf> {
    std::env::current_exe().ok()?.parent().map(Path::to_path_buf)
}

/// libhakmem.so: `HAKMEM_LIB` if set, else next to the `hakmem` executable
/// (cargo puts the cdylib and the binaries in the same target directory).
pub fn libhakmem() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("HAKMEM_LIB") {
        let p = PathBuf::from(p);
        if p.is_file() {
            return Ok(p);
        }
        bail!("HAKMEM_LIB={} does not name a file", p.display());
    }
    if let Some(d) = exe_dir() {
        for cand in [d.join("libhakmem.so"), d.join("../libhakmem.so")] {
            if cand.is_file() {
                return Ok(cand.canonicalize().unwrap_or(cand));
            }
        }
    }
    bail!("libhakmem.so not found next to the hakmem executable; build it with `cargo build --release` or set HAKMEM_LIB")
}

/// The workload binary (`hakmem-workload`), built by the hakmem-bench crate.
pub fn workload_bin() -> Result<PathBuf> {
    if let Some(d) = exe_dir() {
        for cand in [d.join("hakmem-workload"), d.join("../hakmem-workload")] {
            if cand.is_file() {
                return Ok(cand.canonicalize().unwrap_or(cand));
            }
        }
    }
    bail!("hakmem-workload not found next to the hakmem executable; build it with `cargo build --release`")
}

/// The soak worker binary (`hakmem-soak-worker`), built by the hakmem-bench crate.
pub fn soak_worker_bin() -> Result<PathBuf> {
    if let Some(d) = exe_dir() {
        for cand in [d.join("hakmem-soak-worker"), d.join("../hakmem-soak-worker")] {
            if cand.is_file() {
                return Ok(cand.canonicalize().unwrap_or(cand));
            }
        }
    }
    bail!("hakmem-soak-worker not found next to the hakmem executable; build it with `cargo build --release`")
}
