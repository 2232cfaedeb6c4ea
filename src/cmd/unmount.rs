//! `agentfs unmount MNT`.

use crate::cli::UnmountArgs;
use agentfs_mount_helper::Result;
use agentfs_mount_helper::unmount::{Unmounted, unmount};

pub fn run(a: UnmountArgs) -> Result<()> {
    match unmount(&a.mnt, a.lazy)? {
        Unmounted::Done => Ok(()),
        Unmounted::Detached(pid) => {
            eprintln!(
                "agentfs: {} is detached; its daemon (pid {pid}) exits when the last file open on it is closed",
                crate::quote::text(&a.mnt)
            );
            Ok(())
        }
    }
}
