//! The only module of agentfs with `unsafe` code: calls with no safe wrapper in rustix, std or
//! the `windows` crate.
//! Every block states why it is sound.

#[cfg(target_os = "linux")]
pub mod btrfs;
#[cfg(unix)]
pub mod child;
#[cfg(any(target_os = "linux", target_os = "macos"))]
pub mod fuse_dev;
#[cfg(target_os = "macos")]
pub mod macos;
pub mod memory;
#[cfg(target_os = "linux")]
pub mod namespace;
#[cfg(unix)]
pub mod signals;
#[cfg(target_os = "linux")]
pub mod uring;
#[cfg(windows)]
pub mod windows;
