//! `agentfs mount SRC MNT`.

use crate::cli::MountArgs;
use agentfs_mount_helper::launch::Parent;
use agentfs_mount_helper::mount::{MountRequest, mount};
use agentfs_mount_helper::options::Options;
use agentfs_mount_helper::remount::{Given, remount};
use agentfs_mount_helper::{Error, Result};
use std::path::PathBuf;

pub fn agentfs_exe() -> Result<PathBuf> {
    std::env::current_exe().map_err(|e| Error::System(format!("cannot find the agentfs executable: {e}")))
}

pub fn run(a: MountArgs) -> Result<()> {
    let options = Options::parse(a.options_list.iter().map(String::as_str))?;
    if options.remount {
        return remount(&a.mnt, &options, Given::Changes);
    }
    let mut req = MountRequest {
        pin: a.pin,
        budget_bytes: a.options.size,
        allow_other: a.options.allow_other,
        read_only: a.options.read_only,
        foreground: a.foreground,
        quiet: a.quiet,
        passthrough: a.options.passthrough,
        fuse_options: a.options.fuse_options,
        io_uring: a.options.io_uring,
        // This process exits once mounted.
        parent: Parent::Caller,
        ..MountRequest::new(a.src, a.mnt)
    };
    options.apply(&mut req);
    mount(&req, &agentfs_exe()?).map(|_| ())
}
