//! The kernel's generic mount options, as mount(8) users type them (`nosuid`, `noexec`,
//! `noatime`, `sync`, `context=...`): what a mount asks the kernel for, and what a remount
//! changes on a live mount.
//!
//! Two kinds live here. Per-mount flags (`ro`, `nosuid`, `nodev`, `noexec`, the atime rules,
//! `nosymfollow`) belong to the mount; superblock flags (`sync`, `dirsync`, `lazytime`) to the
//! filesystem. Security labels (`context=` and the like) go to the kernel as they are, for the
//! LSM to take. The daemon never sees any of it: the kernel applies them all.

/// How the kernel updates access times.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Atime {
    /// `relatime`, the kernel's default: only when older than mtime/ctime or a day.
    #[default]
    Relatime,
    /// `noatime`: never.
    Never,
    /// `strictatime`: on every access.
    Strict,
}

/// The generic options of one mount. The default is what a FUSE mount gets: `nosuid`, `nodev`,
/// `relatime`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KernelOptions {
    /// `suid`: honour set-user-id and set-group-id bits (default off: `nosuid`).
    pub suid: bool,
    /// `dev`: device nodes may be opened (default off: `nodev`; root only).
    pub dev: bool,
    /// `exec` (default) or `noexec`.
    pub exec: bool,
    pub atime: Atime,
    /// `nodiratime`: no access time updates on directories.
    pub nodiratime: bool,
    /// `nosymfollow`: symlinks are not followed in path resolution.
    pub nosymfollow: bool,
    /// `sync`: every write is synchronous.
    pub sync: bool,
    /// `dirsync`: directory changes are synchronous.
    pub dirsync: bool,
    /// `lazytime`: timestamps kept in memory only.
    pub lazytime: bool,
    /// Security labels for the LSM, e.g. `context=system_u:object_r:tmp_t:s0`, in order.
    pub security: Vec<String>,
}

impl Default for KernelOptions {
    fn default() -> KernelOptions {
        KernelOptions {
            suid: false,
            dev: false,
            exec: true,
            atime: Atime::Relatime,
            nodiratime: false,
            nosymfollow: false,
            sync: false,
            dirsync: false,
            lazytime: false,
            security: Vec::new(),
        }
    }
}

/// The security-label options the kernel passes to the LSM (SELinux and others).
pub const SECURITY_OPTIONS: [&str; 5] = ["context", "fscontext", "defcontext", "rootcontext", "seclabel"];

/// The generic options [`KernelOptions::set`] takes, for error messages.
pub const GENERIC_OPTIONS: &str = "nosuid/suid, nodev/dev, noexec/exec, noatime/relatime/strictatime/atime, \
     nodiratime/diratime, nosymfollow/symfollow, sync/async, dirsync, lazytime/nolazytime, \
     context=/fscontext=/defcontext=/rootcontext=";

impl KernelOptions {
    /// Applies one option (`noexec`, `context=...`); false if it is not a generic kernel option.
    pub fn set(&mut self, option: &str) -> bool {
        let key = option.split_once('=').map_or(option, |(k, _)| k);
        if SECURITY_OPTIONS.contains(&key) {
            self.security.push(option.to_string());
            return true;
        }
        match option {
            "suid" | "nosuid" => self.suid = option == "suid",
            "dev" | "nodev" => self.dev = option == "dev",
            "exec" | "noexec" => self.exec = option == "exec",
            "noatime" => self.atime = Atime::Never,
            // `atime` only undoes `noatime`: the kernel's default rule applies.
            "relatime" | "atime" | "nostrictatime" => self.atime = Atime::Relatime,
            "strictatime" | "norelatime" => self.atime = Atime::Strict,
            "nodiratime" | "diratime" => self.nodiratime = option == "nodiratime",
            "nosymfollow" | "symfollow" => self.nosymfollow = option == "nosymfollow",
            "sync" | "async" => self.sync = option == "sync",
            "dirsync" => self.dirsync = true,
            "lazytime" | "nolazytime" => self.lazytime = option == "lazytime",
            _ => return false,
        }
        true
    }

    /// The options as a comma-separated list that [`KernelOptions::set`] reads back (empty
    /// for the defaults).
    pub fn to_option_string(&self) -> String {
        let mut words: Vec<String> = Vec::new();
        let mut flag = |on: bool, word: &str| {
            if on {
                words.push(word.to_string());
            }
        };
        flag(self.suid, "suid");
        flag(self.dev, "dev");
        flag(!self.exec, "noexec");
        flag(self.atime == Atime::Never, "noatime");
        flag(self.atime == Atime::Strict, "strictatime");
        flag(self.nodiratime, "nodiratime");
        flag(self.nosymfollow, "nosymfollow");
        flag(self.sync, "sync");
        flag(self.dirsync, "dirsync");
        flag(self.lazytime, "lazytime");
        words.extend(self.security.iter().cloned());
        words.join(",")
    }

    /// Reads a list written by [`KernelOptions::to_option_string`]; the first word that is not
    /// a generic option is the error.
    pub fn parse(list: &str) -> Result<KernelOptions, String> {
        let mut k = KernelOptions::default();
        for word in list.split(',').filter(|w| !w.is_empty()) {
            if !k.set(word) {
                return Err(word.to_string());
            }
        }
        Ok(k)
    }

    /// The options as they show in a mount table line (/proc/self/mountinfo: the mount's
    /// options and the superblock's), on top of the defaults; unknown words are skipped.
    pub fn from_mount_table(mount_options: &str, super_options: &str) -> (bool, KernelOptions) {
        let mut k = KernelOptions { suid: true, dev: true, atime: Atime::Strict, ..KernelOptions::default() };
        let mut read_only = false;
        for word in mount_options.split(',').chain(super_options.split(',')) {
            match word {
                "ro" => read_only = true,
                "nosuid" | "nodev" | "noexec" | "noatime" | "relatime" | "nodiratime" | "nosymfollow" | "sync"
                | "dirsync" | "lazytime" => {
                    k.set(word);
                }
                _ => {}
            }
        }
        (read_only, k)
    }

    /// Options the kernel's FUSE mount cannot take at mount time and that have to be set on
    /// the mount afterwards (see [`KernelOptions::set_mount_flags`]), when mount(2) is called
    /// directly (as root; fusermount3 takes them all).
    pub fn need_mount_flags_after_mount(&self) -> bool {
        self.atime == Atime::Strict || self.nodiratime || self.nosymfollow
    }
}

#[cfg(any(target_os = "linux", target_os = "macos"))]
impl KernelOptions {
    /// The options as fuser passes them to the kernel or to fusermount3. With `direct` (root
    /// calling mount(2)), the ones FUSE's mount(2) cannot take are left out: see
    /// [`KernelOptions::need_mount_flags_after_mount`].
    pub fn fuser_options(&self, direct: bool) -> Vec<fuser::MountOption> {
        use fuser::MountOption as M;
        let mut o = vec![
            if self.suid { M::Suid } else { M::NoSuid },
            if self.dev { M::Dev } else { M::NoDev },
            if self.exec { M::Exec } else { M::NoExec },
        ];
        let mut by_name = |on: bool, name: &str| {
            if on && !direct {
                o.push(M::CUSTOM(name.into()));
            }
        };
        by_name(self.atime == Atime::Strict, "strictatime");
        by_name(self.nodiratime, "nodiratime");
        by_name(self.nosymfollow, "nosymfollow");
        if self.atime == Atime::Never {
            o.push(M::NoAtime);
        }
        if self.sync {
            o.push(M::Sync);
        }
        if self.dirsync {
            o.push(M::DirSync);
        }
        if self.lazytime {
            // A superblock flag mount(2) also reads from the option string.
            o.push(M::CUSTOM("lazytime".into()));
        }
        o.extend(self.security.iter().map(|s| M::CUSTOM(s.clone())));
        o
    }
}

#[cfg(target_os = "linux")]
mod linux {
    use super::{Atime, KernelOptions};
    use rustix::mount::{MountFlags, mount_remount};
    use std::path::Path;

    impl KernelOptions {
        /// The per-mount flags (what `mount -o remount,bind` sets), with `read_only`.
        pub fn mount_flags(&self, read_only: bool) -> MountFlags {
            let mut f = MountFlags::empty();
            let mut set = |on: bool, flag: MountFlags| {
                if on {
                    f |= flag;
                }
            };
            set(read_only, MountFlags::RDONLY);
            set(!self.suid, MountFlags::NOSUID);
            set(!self.dev, MountFlags::NODEV);
            set(!self.exec, MountFlags::NOEXEC);
            set(self.nodiratime, MountFlags::NODIRATIME);
            set(self.nosymfollow, MountFlags::NOSYMFOLLOW);
            f | match self.atime {
                Atime::Relatime => MountFlags::RELATIME,
                Atime::Never => MountFlags::NOATIME,
                Atime::Strict => MountFlags::STRICTATIME,
            }
        }

        /// The superblock flags a remount may change.
        fn superblock_flags(&self) -> MountFlags {
            let mut f = MountFlags::empty();
            if self.sync {
                f |= MountFlags::SYNCHRONOUS;
            }
            if self.lazytime {
                f |= MountFlags::LAZYTIME;
            }
            f
        }

        /// Sets the per-mount flags of the mount at `mountpoint` to these options (a bind
        /// remount: the filesystem is not asked).
        pub fn set_mount_flags(&self, mountpoint: &Path, read_only: bool) -> std::io::Result<()> {
            mount_remount(mountpoint, MountFlags::BIND | self.mount_flags(read_only), "")?;
            Ok(())
        }

        /// Remounts the filesystem at `mountpoint` with these options and `read_only`: what
        /// `mount -o remount,...` does. The superblock changes (ro/rw, sync, lazytime), then
        /// the mount's own flags. `dirsync` cannot change on a remount (the kernel keeps it).
        pub fn remount(&self, mountpoint: &Path, read_only: bool) -> std::io::Result<()> {
            let data = self.security.join(",");
            mount_remount(mountpoint, self.mount_flags(read_only) | self.superblock_flags(), data.as_str())?;
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_round_trip_through_their_string() {
        let mut k = KernelOptions::default();
        for o in ["noexec", "strictatime", "nodiratime", "sync", "dirsync", "lazytime", "dev", "context=a:b:c:s0"] {
            assert!(k.set(o), "{o}");
        }
        assert_eq!(KernelOptions::parse(&k.to_option_string()), Ok(k));
        assert_eq!(KernelOptions::default().to_option_string(), "");
        assert_eq!(KernelOptions::parse("noexec,pin=copy"), Err("pin=copy".into()));
    }

    #[test]
    fn later_options_win_and_atime_undoes_noatime() {
        let k = KernelOptions::parse("noatime,atime,suid,nosuid,noexec,exec").unwrap();
        assert_eq!(k, KernelOptions::default());
        assert_eq!(KernelOptions::parse("relatime,strictatime").unwrap().atime, Atime::Strict);
    }

    #[test]
    fn reads_a_mount_table_line() {
        let (ro, k) = KernelOptions::from_mount_table("ro,nosuid,nodev,noatime", "ro,user_id=0,sync");
        assert!(ro);
        assert_eq!(k, KernelOptions { atime: Atime::Never, sync: true, ..KernelOptions::default() });
        let (ro, k) = KernelOptions::from_mount_table("rw,noexec", "rw");
        assert!(!ro);
        assert_eq!(k, KernelOptions { suid: true, dev: true, exec: false, atime: Atime::Strict, ..Default::default() });
    }
}
