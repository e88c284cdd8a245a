//! hakmem-bench: hakmem's tooling. Workloads, the one contestant resolver, runners,
//! statistics, soak analysis, the RSS / OS-call probe, the pprof decoder and the heap
//! profile's accuracy; and the binaries `hakmem-tools`
//! (`bench`, `ab`, `soak`, `compat`, run through `hakmem`), `hakmem-workload` and
//! `hakmem-soak-worker`.

pub mod contestants;
pub mod cprog;
pub mod heapcount;
pub mod memory;
pub mod paths;
pub mod pprof;
pub mod probe;
pub mod profacc;
pub mod report;
pub mod runner;
pub mod soak;
pub mod stats;
pub mod workloads;
