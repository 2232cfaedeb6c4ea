//! agentfs-platform: the operating system below and around the engine.
//!
//! - [`lower`]: the real lower layer: on Unix `DirLower`, a directory tree read through
//!   directory file descriptors, never following a symlink; on Windows [`path_lower`], by path;
//! - [`store`]: upper file data: memfds on Linux (`MemStore`), the heap elsewhere;
//! - `fuse` (Linux, and macOS through macFUSE): the FUSE frontend; `fuse::host` translates every
//!   number whose meaning differs between the two;
//! - [`winfsp_adapter`] (portable, tested on Linux) and `winfsp` (Windows): the WinFsp frontend;
//! - [`tree_copy`] (Unix) and [`clone_tree`] (portable, the Windows pins): tree clones;
//! - [`os`]: calls whose Linux form has a counterpart elsewhere, one function per job;
//! - [`limits`]: process limits a daemon raises at start;
//! - [`mount_options`]: the kernel's generic mount options (nosuid, noatime, ...) and remount;
//! - `sys`: the only place with `unsafe` code (`sys/macos`, `sys/windows` per OS).

pub mod clone_tree;
#[cfg(unix)]
pub mod errno;
#[cfg(unix)]
pub mod fd_io;
pub mod file_id;
#[cfg(any(target_os = "linux", target_os = "macos"))]
pub mod fuse;
pub mod io_uring_mode;
pub mod limits;
#[cfg(unix)]
pub mod lower;
/// Windows has no `openat`: its lower layer is read by path.
#[cfg(windows)]
pub mod lower {
    pub use crate::path_lower::{PathLower, open_for_daemon};
}
pub mod mount_options;
pub mod os;
pub mod path_lower;
pub mod store;
pub mod sys;
#[cfg(unix)]
pub mod tree_copy;
#[cfg(windows)]
pub mod winfsp;
pub mod winfsp_adapter;
