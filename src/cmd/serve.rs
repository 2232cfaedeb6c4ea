//! `agentfs __serve`: the daemon process (started by `agentfs mount`).

use crate::cli::ServeArgs;
use agentfs_mount_helper::readiness::Readiness;
use agentfs_mount_helper::{Error, MountConfig, Result, daemon, launch};

pub fn run(a: ServeArgs) -> Result<()> {
    let cfg = MountConfig {
        source: a.src,
        mountpoint: a.mnt,
        budget_bytes: a.options.size,
        allow_other: a.options.allow_other,
        read_only: a.options.read_only,
    };
    if a.detach {
        let exe =
            std::env::current_exe().map_err(|e| Error::System(format!("cannot find the agentfs executable: {e}")))?;
        return launch::detach(&exe, &cfg);
    }
    daemon::serve(&cfg, Readiness::Pipe)
}
