//! `agentfs __serve`: the daemon process (started by `agentfs mount`).

use crate::cli::ServeArgs;
use agentfs_mount_helper::pin::Pin;
use agentfs_mount_helper::readiness::Readiness;
use agentfs_mount_helper::{Error, MountConfig, Result, daemon, launch};

pub fn run(a: ServeArgs) -> Result<()> {
    let pin = Pin::from_hex(&a.pin_record).map_err(|e| Error::System(format!("bad --pin-record: {e}")))?;
    let cfg = MountConfig {
        source: a.src,
        mountpoint: a.mnt,
        budget_bytes: a.options.size,
        allow_other: a.options.allow_other,
        read_only: a.options.read_only,
        pin,
        passthrough: a.options.passthrough,
        fuse_options: a.options.fuse_options,
        io_uring: a.options.io_uring,
        id: a.id,
        exit_with: a.exit_with,
        kernel: a.kernel_options,
        fsname: a.fsname,
    };
    if a.detach {
        return launch::detach(&super::mount::agentfs_exe()?, &cfg);
    }
    daemon::serve(&cfg, Readiness::Pipe)
}
