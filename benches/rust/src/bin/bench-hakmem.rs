//! The workloads with hakmem as the global allocator.
#[global_allocator]
static A: hakmem::HakMem = hakmem::HakMem;

fn main() {
    std::process::exit(rustbench::main("hakmem", None));
}
