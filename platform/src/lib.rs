//! agentfs-platform: the operating system below and around the engine.
//!
//! - [`lower::DirLower`]: the real lower layer, a directory tree read through directory file
//!   descriptors, never following a symlink;
//! - [`store::MemStore`] (Linux): upper file data in memfds, small files on the heap;
//! - [`limits`]: process limits a daemon raises at start;
//! - `sys`: the only place with `unsafe` code.

#[cfg(unix)]
pub mod errno;
#[cfg(unix)]
pub mod limits;
#[cfg(unix)]
pub mod lower;
#[cfg(target_os = "linux")]
pub mod store;
