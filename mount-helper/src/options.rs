//! The `-o` options of `agentfs mount` and of `mount.fuse.agentfs` (mount(8), /etc/fstab):
//! agentfs's own (`pin=`, `size=`, ...), the kernel's generic ones (`noexec`, `noatime`,
//! `context=`, ... applied by the kernel to the FUSE mount), `remount`, and mount(8)'s
//! bookkeeping (`noauto`, `nofail`, `x-*`, ...), which concern mount(8) only.

use crate::error::{Error, Result};
use crate::mount::MountRequest;
use crate::pin::PinRequest;
use crate::size::parse_size;
use agentfs_platform::io_uring_mode::IoUringMode;
use agentfs_platform::mount_options::{GENERIC_OPTIONS, KernelOptions};
use std::path::PathBuf;

/// Options mount(8) passes that concern it, not the filesystem.
const MOUNT8_OPTIONS: [&str; 13] = [
    "defaults", "auto", "noauto", "user", "users", "nouser", "owner", "group", "nofail", "_netdev", "silent", "loud",
    "comment",
];

/// One `-o` list, read but not yet applied: the same list means a mount or a remount.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// `remount`: change the options of the live mount at MNT.
    pub remount: bool,
    /// `ro` / `rw`, the last one given.
    pub read_only: Option<bool>,
    pub pin: Option<PinRequest>,
    pub size: Option<u64>,
    pub allow_other: bool,
    pub passthrough: bool,
    /// `io_uring=auto|on|off`: the transport.
    pub io_uring: Option<IoUringMode>,
    /// `fsname=NAME`: the source shown in the mount table.
    pub fsname: Option<String>,
    /// `source=DIR`: the directory to freeze, when the first argument is only a name.
    pub source: Option<PathBuf>,
    /// The kernel's generic options, in the order given (later ones win).
    pub kernel: Vec<String>,
    /// macOS: options for macFUSE, passed as they are (`backend=fskit`, `noexec`).
    pub driver: Vec<String>,
}

fn unknown(option: &str) -> Error {
    Error::Input(format!(
        "unknown mount option {option:?}; agentfs takes pin=auto|snapshot|reflink|copy|live, size=SIZE, \
         io_uring=auto|on|off, ro, rw, allow_other, passthrough, fsname=NAME, source=DIR, remount, and the kernel's \
         {GENERIC_OPTIONS}"
    ))
}

impl Options {
    /// Reads comma-separated lists (each `-o`, in order).
    pub fn parse<'a>(lists: impl IntoIterator<Item = &'a str>) -> Result<Options> {
        let mut o = Options::default();
        for option in lists.into_iter().flat_map(|l| l.split(',')).filter(|w| !w.is_empty()) {
            o.read_one(option)?;
        }
        Ok(o)
    }

    fn read_one(&mut self, option: &str) -> Result<()> {
        let (key, value) = option.split_once('=').unwrap_or((option, ""));
        let needs_value = |what: &str| {
            if value.is_empty() {
                Err(Error::Input(format!("the mount option {key}= needs a value ({what})")))
            } else {
                Ok(value)
            }
        };
        match key {
            "remount" => self.remount = true,
            "ro" | "rw" => self.read_only = Some(key == "ro"),
            "pin" => self.pin = Some(value.parse().map_err(Error::Input)?),
            "size" => self.size = Some(parse_size(value).map_err(Error::Input)?),
            "allow_other" => self.allow_other = true,
            "passthrough" => self.passthrough = true,
            "io_uring" => self.io_uring = Some(value.parse().map_err(Error::Input)?),
            "fsname" => self.fsname = Some(needs_value("the name the mount table shows")?.to_string()),
            "source" => self.source = Some(PathBuf::from(needs_value("the directory to freeze")?)),
            // FUSE's own, which agentfs sets itself; they show in the mount table, so mount(8)
            // passes them back with `remount`.
            "default_permissions" | "user_id" | "group_id" | "rootmode" | "max_read" | "blksize" => {}
            "subtype" if value == "agentfs" => {}
            k if MOUNT8_OPTIONS.contains(&k) || k.starts_with("x-") => {}
            // macOS: macFUSE takes the generic ones (noexec, nosuid, noatime...) and its own.
            _ if cfg!(target_os = "macos") => self.driver.push(option.to_string()),
            _ if KernelOptions::default().set(option) => self.kernel.push(option.to_string()),
            _ => return Err(unknown(option)),
        }
        Ok(())
    }

    /// The kernel options on top of `base`.
    pub fn kernel_options(&self, mut base: KernelOptions) -> KernelOptions {
        for word in &self.kernel {
            base.set(word);
        }
        base
    }

    /// Applies the options to a mount request (after its flags: the options win).
    pub fn apply(&self, req: &mut MountRequest) {
        if let Some(pin) = self.pin {
            req.pin = pin;
        }
        if let Some(size) = self.size {
            req.budget_bytes = size;
        }
        if let Some(ro) = self.read_only {
            req.read_only = ro;
        }
        if let Some(mode) = self.io_uring {
            req.io_uring = mode;
        }
        req.allow_other |= self.allow_other;
        req.passthrough |= self.passthrough;
        if let Some(dir) = &self.source {
            // The first argument is then only a name, and the mount table shows it.
            req.fsname.get_or_insert_with(|| req.src.to_string_lossy().into_owned());
            req.src = dir.clone();
        }
        if let Some(name) = &self.fsname {
            req.fsname = Some(name.clone());
        }
        req.kernel = self.kernel_options(std::mem::take(&mut req.kernel));
        req.fuse_options.extend(self.driver.iter().cloned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use agentfs_platform::mount_options::Atime;

    #[test]
    fn reads_agentfs_kernel_and_mount8_options() {
        let o = Options::parse(["pin=copy,size=64M,noauto,x-systemd.automount", "noexec,strictatime,ro,rw"]).unwrap();
        assert_eq!(o.pin, Some(PinRequest::Exactly(crate::pin::PinKind::Copy)));
        assert_eq!(o.size, Some(64 << 20));
        assert_eq!(o.read_only, Some(false));
        assert_eq!(o.kernel, ["noexec", "strictatime"]);
        let k = o.kernel_options(KernelOptions::default());
        assert!(!k.exec && k.atime == Atime::Strict);
    }

    #[test]
    fn source_moves_the_first_argument_to_the_name() {
        let o = Options::parse(["source=/data/project"]).unwrap();
        let mut req = MountRequest::new("frozen".into(), "/mnt".into());
        o.apply(&mut req);
        assert_eq!((req.src, req.fsname.as_deref()), (PathBuf::from("/data/project"), Some("frozen")));
        let o = Options::parse(["fsname=mine,source=/d"]).unwrap();
        let mut req = MountRequest::new("x".into(), "/mnt".into());
        o.apply(&mut req);
        assert_eq!(req.fsname.as_deref(), Some("mine"));
    }

    #[test]
    fn an_unknown_option_is_named_with_the_accepted_ones() {
        let e = Options::parse(["pin=copy,bogus=1"]).unwrap_err().to_string();
        assert!(e.contains("\"bogus=1\"") && e.contains("pin=auto|") && e.contains("noexec"), "{e}");
        assert!(Options::parse(["fsname="]).is_err());
        assert!(Options::parse(["pin=sideways"]).is_err());
    }
}
