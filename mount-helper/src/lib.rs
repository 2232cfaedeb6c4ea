//! agentfs-mount-helper: everything around a mount that is not the filesystem itself: input
//! checks, the daemon's life (start, readiness, signals, cleanup), unmounting, and the registry
//! of live mounts in the runtime directory.

pub mod changeset;
pub mod check;
pub mod commit;
pub mod control;
pub mod daemon;
pub mod diff;
pub mod error;
pub mod gc;
pub mod launch;
pub mod materialize;
pub mod mount;
pub mod mountinfo;
pub mod options;
pub mod pin;
pub mod process;
pub mod readiness;
pub mod registry;
pub mod remount;
pub mod run;
pub mod runtime;
pub mod sealed;
pub mod size;
pub mod snapshot;
pub mod state;
pub mod target;
pub mod unmount;

pub use daemon::MountConfig;
pub use error::{Error, Result};
