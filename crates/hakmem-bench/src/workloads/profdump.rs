//! `--prof-dump PATH`: a workload that supports it writes hakmem's heap profile at the point
//! of its largest live set (the end of its main phase, before it frees its working set) and
//! reports the exact requested bytes it held there, so that `hakmem bench --prof-accuracy`
//! can compare the profile's estimate with the truth.
//!
//! The dump goes through `hakmem_prof_dump`, looked up with `dlsym(RTLD_DEFAULT)`: present when
//! libhakmem.so is preloaded, absent under any other allocator (an error, before the
//! workload runs). Timing of a run with a dump is not for comparison (the workload's
//! `seconds` leave out the dump itself, not the bookkeeping).

use anyhow::{bail, Result};
use std::ffi::{c_char, c_int, CString};
use std::time::Instant;

/// What a workload reports about its dump (the `prof` object of its JSON line).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ProfPoint {
    /// Requested bytes of the workload's own live blocks (made with `libc::malloc`) at the dump.
    pub live_bytes: u64,
    /// How many blocks those are.
    pub blocks: u64,
    /// Requested bytes of the process's live Rust allocations at the dump (the workload's
    /// bookkeeping, the runtime's own): `heapcount`, None when not counted.
    #[serde(default)]
    pub other_bytes: Option<u64>,
    /// Where the profile was written.
    pub dump: String,
    /// `hakmem_prof_dump`'s result: 0, or an errno value (ENOSYS: the prof box is off).
    pub rc: i32,
    /// Seconds the dump took.
    #[serde(default)]
    pub seconds: f64,
}

type DumpFn = unsafe extern "C" fn(*const c_char) -> c_int;

/// `hakmem_prof_dump`, found, and the path to give it.
pub struct Dumper {
    f: DumpFn,
    path: CString,
}

impl Dumper {
    /// Finds `hakmem_prof_dump` in the process; an error when it is not there.
    pub fn new(path: &str) -> Result<Dumper> {
        let Ok(c) = CString::new(path) else { bail!("--prof-dump {path:?}: the path contains a NUL byte") };
        // SAFETY: dlsym with a NUL-terminated name; RTLD_DEFAULT searches every loaded object.
        let sym = unsafe { libc::dlsym(libc::RTLD_DEFAULT, c"hakmem_prof_dump".as_ptr()) };
        if sym.is_null() {
            bail!(
                "--prof-dump: hakmem_prof_dump not found in this process (run under \
                 LD_PRELOAD=libhakmem.so, with HAKMEM_PROF=1)"
            );
        }
        // SAFETY: the symbol is libhakmem.so's `int hakmem_prof_dump(const char *path)`.
        let f = unsafe { std::mem::transmute::<*mut libc::c_void, DumpFn>(sym) };
        Ok(Dumper { f, path: c })
    }

    /// For a workload's `Option<String>` parameter.
    pub fn for_param(path: &Option<String>) -> Result<Option<Dumper>> {
        path.as_deref().map(Dumper::new).transpose()
    }

    /// Writes the profile now. The caller holds `blocks` blocks of `live_bytes` requested bytes
    /// and no other thread allocates or frees while this runs.
    pub fn dump(&self, live_bytes: u64, blocks: u64) -> ProfPoint {
        let other_bytes = crate::heapcount::live_bytes();
        let t = Instant::now();
        // SAFETY: a NUL-terminated path; the function only writes the file.
        let rc = unsafe { (self.f)(self.path.as_ptr()) };
        ProfPoint {
            live_bytes,
            blocks,
            other_bytes,
            dump: self.path.to_string_lossy().into_owned(),
            rc,
            seconds: t.elapsed().as_secs_f64(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_without_hakmem() {
        // The unit tests run on the system allocator: there is no hakmem_prof_dump.
        let e = Dumper::new("/tmp/x.pb").err().expect("no hakmem_prof_dump in a test binary");
        assert!(e.to_string().contains("hakmem_prof_dump not found"), "{e}");
        assert!(Dumper::new("a\0b").is_err());
        assert!(Dumper::for_param(&None).unwrap().is_none());
    }
}
