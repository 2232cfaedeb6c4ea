//! The only module of agentfs with `unsafe` code: calls with no safe wrapper in rustix or std.
//! Every block states why it is sound.

#[cfg(target_os = "linux")]
pub mod btrfs;
#[cfg(target_os = "linux")]
pub mod child;
#[cfg(any(target_os = "linux", target_os = "macos"))]
pub mod fuse_dev;
pub mod memory;
#[cfg(target_os = "linux")]
pub mod namespace;
#[cfg(unix)]
pub mod signals;
#[cfg(target_os = "linux")]
pub mod uring;
