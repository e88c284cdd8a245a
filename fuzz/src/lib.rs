//! hakmem's fuzz harness; see `harness.rs` and `fuzz/README.md`.
mod harness;
pub use harness::{
    check_terminal_end, generated, run, run_in_child, run_terminal, terminal, terminal_input, ChildEnd, Terminal, EDGE_SIZES,
    TERMINAL_MAGIC,
};
