//! The workloads with the system allocator (glibc malloc) as the global allocator.
#[global_allocator]
static A: std::alloc::System = std::alloc::System;

fn main() {
    std::process::exit(rustbench::main("system", None));
}
