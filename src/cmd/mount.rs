//! `agentfs mount SRC MNT`.

use crate::cli::MountArgs;
use agentfs_mount_helper::readiness::Readiness;
use agentfs_mount_helper::{Error, MountConfig, Result, check, daemon, launch};

pub fn run(a: MountArgs) -> Result<()> {
    check::fuse_available()?;
    let (source, mountpoint) = check::mount_paths(&a.src, &a.mnt)?;
    if a.options.allow_other && !check::allow_other_permitted() {
        return Err(Error::Permission(
            "--allow-other needs `user_allow_other` in /etc/fuse.conf; add it (as root) or mount without --allow-other"
                .into(),
        ));
    }
    let cfg = MountConfig {
        source,
        mountpoint,
        budget_bytes: a.options.size,
        allow_other: a.options.allow_other,
        read_only: a.options.read_only,
    };
    if a.foreground {
        return daemon::serve(&cfg, Readiness::Foreground);
    }
    let exe = std::env::current_exe().map_err(|e| Error::System(format!("cannot find the agentfs executable: {e}")))?;
    launch::start_background(&exe, &cfg).map(|_| ())
}
