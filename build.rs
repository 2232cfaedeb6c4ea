//! Windows (MSVC) builds delay-load WinFsp's DLL: it lives in WinFsp's own directory, not on
//! PATH, and the daemon loads it from there before first use (see
//! `agentfs_platform::sys::windows::dll`). These are the link flags the `winfsp` crate's
//! `build::winfsp_link_delayload` prints, written out here so that no build for another OS
//! depends on that GPL-3.0 crate.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let var = |k: &str| std::env::var(k).unwrap_or_default();
    if var("CARGO_CFG_TARGET_OS") != "windows" || var("CARGO_CFG_TARGET_ENV") != "msvc" {
        return;
    }
    let dll = match var("CARGO_CFG_TARGET_ARCH").as_str() {
        "aarch64" => "winfsp-a64.dll",
        "x86" => "winfsp-x86.dll",
        _ => "winfsp-x64.dll",
    };
    println!("cargo:rustc-link-lib=dylib=delayimp");
    println!("cargo:rustc-link-arg=/DELAYLOAD:{dll}");
}
