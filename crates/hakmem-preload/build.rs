// libhakmem.so is linked with `-z nodelete`: once loaded it is never unmapped, so a
// `dlclose` while threads still hold hakmem's thread-exit destructor (a pthread key) or
// blocks it handed out cannot leave them pointing into unmapped code. Every
// LD_PRELOAD'ed library stays loaded anyway; this only matters for `dlopen`.
//
// Its SONAME is `libhakmem.so.<major>` (`libhakmem.so.0` for 0.x): a program linked with
// `-lhakmem` records that name, which `make install` provides as a symlink to the real
// file `libhakmem.so.<version>`. The build output stays `target/release/libhakmem.so`.
fn main() {
    println!("cargo:rustc-cdylib-link-arg=-Wl,-z,nodelete");
    let major = std::env::var("CARGO_PKG_VERSION_MAJOR").expect("cargo sets CARGO_PKG_VERSION_MAJOR");
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libhakmem.so.{major}");
}
