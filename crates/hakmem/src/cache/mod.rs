//! Between the per-thread FastLane and the SuperSlabs: batch moves (`unified`) and
//! the pool of empty SuperSlabs (`warm_pool`).
pub mod unified;
pub mod warm_pool;
