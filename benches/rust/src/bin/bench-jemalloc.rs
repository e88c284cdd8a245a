//! The workloads with jemalloc (the `tikv-jemallocator` crate) as the global allocator.
#[global_allocator]
static A: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() {
    std::process::exit(rustbench::main("jemalloc", None));
}
