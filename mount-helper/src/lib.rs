//! agentfs-mount-helper: pins of the lower layer, the mount registry and crash recovery.
//!
//! Empty for now: pins, the registry and `mount.fuse.agentfs` are built with the mount commands.
