//! hakmem's fuzz harness; see `harness.rs` and `fuzz/README.md`.
mod harness;
pub use harness::{generated, run, EDGE_SIZES};
