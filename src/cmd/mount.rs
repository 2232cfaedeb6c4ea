//! `agentfs mount SRC MNT`.

use crate::cli::MountArgs;
use agentfs_mount_helper::mount::{MountRequest, mount};
use agentfs_mount_helper::{Error, Result};
use std::path::PathBuf;

pub fn agentfs_exe() -> Result<PathBuf> {
    std::env::current_exe().map_err(|e| Error::System(format!("cannot find the agentfs executable: {e}")))
}

pub fn run(a: MountArgs) -> Result<()> {
    let req = MountRequest {
        pin: a.pin,
        budget_bytes: a.options.size,
        allow_other: a.options.allow_other,
        read_only: a.options.read_only,
        foreground: a.foreground,
        quiet: a.quiet,
        passthrough: a.options.passthrough,
        fuse_options: a.options.fuse_options,
        io_uring: a.options.io_uring,
        ..MountRequest::new(a.src, a.mnt)
    };
    mount(&req, &agentfs_exe()?).map(|_| ())
}
