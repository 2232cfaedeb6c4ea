//! agentfs-core: the overlay engine of agentfs.
//!
//! An [`Engine`] shows an immutable lower tree ([`lower::Lower`]) as a writable filesystem whose
//! changes live in RAM ([`store::DataStore`]). It has no FUSE types and makes no OS calls of
//! its own, so every frontend stays a translation layer: the Linux FUSE frontend (tested on real
//! mounts), and the macFUSE and WinFsp frontends of `agentfs-platform`, which build but have
//! never run on a Mac or on Windows (the README's "Platforms" says what is tested where).
//!
//! What it guarantees:
//! - reading never copies up; the first data change (write, truncate, fallocate) does, and
//!   chmod, chown, utimens and xattr changes copy no data;
//! - st_ino == node id == readdir d_ino, stable across copy-up and rename; lower hardlinks are
//!   one node;
//! - deletes and opaque directories are in-memory map changes; rename of anything, lower
//!   directories included, is a map update (never EXDEV, never a tree copy);
//! - readdir offsets stay valid while entries come and go;
//! - a RAM budget: past it, ENOSPC; memory comes back when files are deleted and closed;
//! - fsync succeeds without I/O: the upper layer is volatile by design.

pub mod acl;
pub mod budget;
pub mod changes;
mod dir;
pub mod engine;
pub mod errno;
mod extents;
pub mod ids;
pub mod lower;
mod node;
pub mod store;
pub mod types;
pub mod upper;

pub use engine::{Config, Engine, EngineStats, Frozen, NO_HANDLE, UpperState, XattrFlags};
pub use errno::{Errno, Result};
pub use types::*;
