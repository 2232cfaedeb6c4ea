//! `mount.fuse.agentfs SRC MNT -o OPTIONS`: the helper mount(8) runs for `mount -t fuse.agentfs`,
//! /etc/fstab lines, and `mount -o remount,... MNT` of an agentfs mount. Install it as a symlink
//! to the agentfs binary: `ln -s "$(command -v agentfs)" /sbin/mount.fuse.agentfs`.

use agentfs_mount_helper::mount::{MountRequest, mount};
use agentfs_mount_helper::options::Options;
use agentfs_mount_helper::remount::{Given, remount};
use agentfs_mount_helper::{Error, Result};
use std::ffi::OsString;
use std::path::PathBuf;

pub fn run(args: Vec<OsString>) -> Result<()> {
    let usage = || {
        Error::Input("usage: mount.fuse.agentfs SRC MNT [-o pin=auto,size=4G,io_uring=auto,ro,allow_other,...]".into())
    };
    let mut positional = Vec::new();
    let mut lists = Vec::new();
    let mut it = args.into_iter().skip(1);
    while let Some(a) = it.next() {
        match a.to_str() {
            Some("-o") => lists.push(it.next().and_then(|o| o.into_string().ok()).ok_or_else(usage)?),
            Some(s) if s.starts_with("-o") => lists.push(s[2..].to_string()),
            // -n (no mtab), -s (sloppy), -v (verbose), -f (fake): nothing to do for us.
            Some("-n" | "-s" | "-v") => {}
            Some("-f") => return Ok(()),
            // -t TYPE (some mount(8) versions pass it): we know our type.
            Some("-t") => {
                it.next();
            }
            _ => positional.push(PathBuf::from(a)),
        }
    }
    let options = Options::parse(lists.iter().map(String::as_str))?;
    let [src, mnt] = <[PathBuf; 2]>::try_from(positional).map_err(|_| usage())?;
    if options.remount {
        return remount(&mnt, &options, Given::Complete);
    }
    let mut req = MountRequest::new(src, mnt);
    options.apply(&mut req);
    mount(&req, &super::mount::agentfs_exe()?).map(|_| ())
}
