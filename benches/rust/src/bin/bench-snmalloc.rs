//! The workloads with snmalloc (the `snmalloc-rs` crate) as the global allocator.
#[global_allocator]
static A: snmalloc_rs::SnMalloc = snmalloc_rs::SnMalloc;

fn main() {
    std::process::exit(rustbench::main("snmalloc", None));
}
