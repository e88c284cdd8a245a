// libhakmem.so is linked with `-z nodelete`: once loaded it is never unmapped, so a
// `dlclose` while threads still hold hakmem's thread-exit destructor (a pthread key) or
// blocks it handed out cannot leave them pointing into unmapped code. Every
// LD_PRELOAD'ed library stays loaded anyway; this only matters for `dlopen`.
fn main() {
    println!("cargo:rustc-cdylib-link-arg=-Wl,-z,nodelete");
}
