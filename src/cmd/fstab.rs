//! `mount.fuse.agentfs SRC MNT -o OPTIONS`: the helper mount(8) runs for `mount -t fuse.agentfs`
//! and /etc/fstab lines. Install it as a symlink to the agentfs binary:
//! `ln -s "$(command -v agentfs)" /sbin/mount.fuse.agentfs`.

use agentfs_mount_helper::mount::{MountRequest, mount};
use agentfs_mount_helper::size::parse_size;
use agentfs_mount_helper::{Error, Result};
use std::ffi::OsString;
use std::path::PathBuf;

/// Options mount(8) passes that concern it, not agentfs.
const IGNORED: [&str; 19] = [
    "defaults", "rw", "auto", "noauto", "user", "users", "nouser", "owner", "group", "nofail", "_netdev", "exec",
    "noexec", "suid", "nosuid", "dev", "nodev", "relatime", "noatime",
];

pub fn run(args: Vec<OsString>) -> Result<()> {
    let usage =
        || Error::Input("usage: mount.fuse.agentfs SRC MNT [-o pin=auto,size=4G,io_uring=auto,ro,allow_other]".into());
    let mut positional = Vec::new();
    let mut options = String::new();
    let mut it = args.into_iter().skip(1);
    while let Some(a) = it.next() {
        match a.to_str() {
            Some("-o") => options = it.next().and_then(|o| o.into_string().ok()).ok_or_else(usage)?,
            Some(s) if s.starts_with("-o") => options = s[2..].to_string(),
            // -n (no mtab), -s (sloppy), -v (verbose), -f (fake): nothing to do for us.
            Some("-n" | "-s" | "-v") => {}
            Some("-f") => return Ok(()),
            _ => positional.push(PathBuf::from(a)),
        }
    }
    let [src, mnt] = <[PathBuf; 2]>::try_from(positional).map_err(|_| usage())?;
    let mut req = MountRequest::new(src, mnt);
    for opt in options.split(',').filter(|o| !o.is_empty()) {
        let (key, value) = opt.split_once('=').unwrap_or((opt, ""));
        match key {
            "pin" => req.pin = value.parse().map_err(Error::Input)?,
            "size" => req.budget_bytes = parse_size(value).map_err(Error::Input)?,
            "ro" => req.read_only = true,
            "allow_other" => req.allow_other = true,
            "passthrough" => req.passthrough = true,
            "io_uring" => req.io_uring = value.parse().map_err(Error::Input)?,
            k if IGNORED.contains(&k) || k.starts_with("x-") || k == "comment" => {}
            _ => {
                return Err(Error::Input(format!(
                    "unknown mount option {opt:?}; agentfs takes pin=auto|snapshot|reflink|copy|live, size=SIZE, io_uring=auto|on|off, ro and allow_other"
                )));
            }
        }
    }
    mount(&req, &super::mount::agentfs_exe()?).map(|_| ())
}
