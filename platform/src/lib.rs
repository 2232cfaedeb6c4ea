//! agentfs-platform: the operating system below and around the engine.
//!
//! - [`lower::DirLower`]: the real lower layer, a directory tree read through directory file
//!   descriptors, never following a symlink;
//! - [`store::MemStore`] (Linux): upper file data in memfds, small files on the heap;
//! - [`fuse`]: the FUSE frontend (Linux, and macOS through macFUSE);
//! - [`limits`]: process limits a daemon raises at start;
//! - `sys`: the only place with `unsafe` code.

pub mod clone_tree;
#[cfg(unix)]
pub mod errno;
#[cfg(unix)]
pub mod fd_io;
pub mod file_id;
#[cfg(any(target_os = "linux", target_os = "macos"))]
pub mod fuse;
pub mod limits;
#[cfg(unix)]
pub mod lower;
/// Windows has no `openat`: its lower layer is read by path.
#[cfg(windows)]
pub mod lower {
    pub use crate::path_lower::{PathLower, open_for_daemon};
}
pub mod os;
pub mod path_lower;
pub mod store;
pub mod sys;
#[cfg(unix)]
pub mod tree_copy;
#[cfg(windows)]
pub mod winfsp;
pub mod winfsp_adapter;
