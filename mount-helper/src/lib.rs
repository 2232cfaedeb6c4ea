//! agentfs-mount-helper: everything around a mount that is not the filesystem itself: input
//! checks, the daemon's life (start, readiness, signals, cleanup), unmounting, and the registry
//! of live mounts in the runtime directory.

pub mod check;
pub mod daemon;
pub mod error;
pub mod gc;
pub mod launch;
pub mod mount;
pub mod mountinfo;
pub mod pin;
pub mod process;
pub mod readiness;
pub mod registry;
pub mod runtime;
pub mod size;
pub mod unmount;

pub use daemon::MountConfig;
pub use error::{Error, Result};
