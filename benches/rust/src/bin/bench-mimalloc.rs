//! The workloads with mimalloc (the `mimalloc` crate, mimalloc v3) as the global allocator.
#[global_allocator]
static A: mimalloc::MiMalloc = mimalloc::MiMalloc;

extern "C" {
    // In the static library libmimalloc-sys builds; major * 10000 + minor * 100 + patch.
    fn mi_version() -> core::ffi::c_int;
}

fn main() {
    let version = unsafe { mi_version() };
    let version = format!(
        "mimalloc {}.{}.{}",
        version / 10000,
        version / 100 % 100,
        version % 100
    );
    std::process::exit(rustbench::main("mimalloc", Some(&version)));
}
