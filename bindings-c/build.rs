//! Gives libheadwater.so its soname (libheadwater.so.MAJOR), so programs linked against it record
//! that name and an installed library can be replaced by a compatible release.

fn main() {
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        let major = env!("CARGO_PKG_VERSION_MAJOR");
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libheadwater.so.{major}");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
