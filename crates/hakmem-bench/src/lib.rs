//! hakmem-bench: workloads, runners and statistics for comparing allocators.
