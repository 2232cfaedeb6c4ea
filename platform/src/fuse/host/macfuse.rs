//! Mounting through macFUSE (its kernel extension, or its FSKit backend with `backend=fskit`).
//!
//! What differs from Linux: fuser serves a macOS mount with one thread (it refuses more there)
//! and no cloned /dev/fuse descriptors; the options are macFUSE's. `noappledouble` keeps Finder's
//! `._*` and `.DS_Store` files out of the upper layer (so out of diffs and commits); `volname`
//! names the volume in Finder. Options from the user (`agentfs mount -o ...`) are passed to
//! macFUSE as they are: `-o backend=fskit` (macFUSE 5, macOS 15.4 and later) serves the mount
//! through FSKit without the kernel extension; macFUSE then mounts only under /Volumes.

use crate::fuse::MountSpec;
use fuser::MountOption;

/// The macFUSE options of a mount: ours, then the user's `extra` (each `key` or `key=value`).
pub fn mount_options(spec: &MountSpec<'_>, extra: &[String]) -> Vec<MountOption> {
    let name = spec.mountpoint.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let mut options = vec![
        MountOption::FSName(spec.fsname.clone()),
        MountOption::CUSTOM(format!("volname={}", if name.is_empty() { "agentfs" } else { &name })),
        MountOption::CUSTOM("noappledouble".into()),
        MountOption::DefaultPermissions,
        if spec.read_only { MountOption::RO } else { MountOption::RW },
    ];
    options.extend(extra.iter().map(|o| MountOption::CUSTOM(o.clone())));
    options
}

/// Mounts `fs` at `spec.mountpoint` through macFUSE.
#[cfg(target_os = "macos")]
pub fn mount(
    fs: crate::fuse::AgentFs,
    spec: &MountSpec<'_>,
    extra: &[String],
) -> std::io::Result<(fuser::Session<crate::fuse::Classic>, crate::fuse::Transport)> {
    use fuser::{Config, Session, SessionACL};
    use std::sync::Arc;
    let ops = Arc::clone(&fs.ops);
    let mut config = Config::default();
    config.mount_options = mount_options(spec, extra);
    config.acl = if spec.allow_other { SessionACL::All } else { SessionACL::Owner };
    config.n_threads = Some(1);
    config.clone_fd = false;
    let session = Session::new(crate::fuse::Classic::new(Arc::clone(&ops)), spec.mountpoint, &config)?;
    let _ = ops.notifier.set(session.notifier());
    // macFUSE has no io_uring: the classic transport, saying why.
    let transport = crate::fuse::transport::start(&ops)?;
    Ok((session, transport))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn macfuse_gets_its_own_options_and_the_users() {
        let spec = MountSpec {
            mountpoint: Path::new("/Volumes/work"),
            fsname: "agentfs:/Users/me/src".into(),
            allow_other: false,
            read_only: true,
            threads: 1,
            kernel: Default::default(),
        };
        let opts = mount_options(&spec, &["backend=fskit".to_string()]);
        assert_eq!(opts[0], MountOption::FSName("agentfs:/Users/me/src".into()));
        assert!(opts.contains(&MountOption::CUSTOM("volname=work".into())));
        assert!(opts.contains(&MountOption::CUSTOM("noappledouble".into())));
        assert!(opts.contains(&MountOption::RO) && !opts.contains(&MountOption::RW));
        assert_eq!(opts.last(), Some(&MountOption::CUSTOM("backend=fskit".into())), "the user's come last");
        assert!(!opts.iter().any(|o| matches!(o, MountOption::Subtype(_))), "macFUSE has no subtype option");
    }
}
