//! hakmem-bench: workloads, runners and statistics for comparing allocators.

pub mod report;
pub mod runner;
pub mod stats;
pub mod workloads;
pub mod soak;
