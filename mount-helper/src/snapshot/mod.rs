//! Snapshots of mounts: `agentfs snapshot`, `snapshots`, `snapshot rm`, and the trees that
//! `agentfs mount @NAME` branches from.

pub mod create;
pub mod record;
pub mod remove;
pub mod seal;

pub use create::create;
pub use remove::remove;
