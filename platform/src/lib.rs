//! agentfs-platform: the operating system below and around the engine.
//!
//! - [`lower::DirLower`]: the real lower layer, a directory tree read through directory file
//!   descriptors, never following a symlink;
//! - [`store::MemStore`] (Linux): upper file data in memfds, small files on the heap;
//! - [`fuse`]: the FUSE frontend (Linux, and macOS through macFUSE);
//! - [`limits`]: process limits a daemon raises at start;
//! - `sys`: the only place with `unsafe` code.

#[cfg(unix)]
pub mod errno;
#[cfg(unix)]
pub mod fd_io;
#[cfg(any(target_os = "linux", target_os = "macos"))]
pub mod fuse;
#[cfg(unix)]
pub mod limits;
#[cfg(unix)]
pub mod lower;
pub mod mount_options;
#[cfg(target_os = "linux")]
pub mod store;
pub mod sys;
#[cfg(target_os = "linux")]
pub mod tree_copy;
