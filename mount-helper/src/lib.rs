//! agentfs-mount-helper: everything around a mount that is not the filesystem itself: input
//! checks, the daemon's life (start, readiness, signals, cleanup), unmounting, and the registry
//! of live mounts in the runtime directory.
//!
//! Diff, snapshots, branches and commit write into trees through POSIX directory descriptors
//! (crash-safe, confined to the tree): they exist on Linux and macOS, not on Windows.

#[cfg(unix)]
pub mod changeset;
pub mod check;
#[cfg(unix)]
pub mod commit;
#[cfg(unix)]
pub mod confined;
pub mod control;
pub mod daemon;
#[cfg(unix)]
pub mod diff;
pub mod error;
pub mod gc;
mod kernel_unmount;
pub mod launch;
pub mod logging;
#[cfg(unix)]
pub mod lower_copy;
#[cfg(unix)]
pub mod materialize;
pub mod mount;
pub mod mountinfo;
pub mod options;
pub mod owned;
pub mod pin;
pub mod process;
pub mod quote;
pub mod readiness;
pub mod registry;
pub mod remount;
pub mod run;
pub mod runtime;
pub mod sealed;
pub mod size;
#[cfg(unix)]
pub mod snapshot;
pub mod state;
pub mod target;
pub mod trim;
pub mod unmount;

pub use daemon::MountConfig;
pub use error::{Error, Result};
