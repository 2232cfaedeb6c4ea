//! Every number whose meaning depends on the OS below the FUSE frontend, translated in one place.
//!
//! The engine speaks Linux numbering (see `agentfs_core::errno` and `agentfs_core::types`). The
//! FUSE protocol passes the host's own values through: macFUSE sends macOS's `SEEK_DATA` and
//! `SEEK_HOLE` (swapped against Linux), `XATTR_CREATE`/`XATTR_REPLACE` (2 and 4, not 1 and 2),
//! `renamex_np` flags (`RENAME_SWAP`, `RENAME_EXCL`), `VNOP_ALLOCATE` flags for fallocate, BSD
//! open flags and BSD errnos. Each is a table per [`Os`] here; the tables of every OS are compiled
//! everywhere so that they are unit-tested on any host, and [`HOST`] picks the one that applies.
//!
//! The free functions are what the frontend calls: they use the host's table.

use agentfs_core::{Errno, FallocMode, OpenFlags, RenameFlags, Result, Whence, XattrFlags};

pub mod macfuse;

/// An operating system whose FUSE kernel interface the frontend may serve.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Os {
    Linux,
    /// macFUSE (kernel extension or FSKit backend), which passes macOS values through.
    MacOs,
}

/// The OS this build runs on.
#[cfg(target_os = "macos")]
pub const HOST: Os = Os::MacOs;
/// The OS this build runs on.
#[cfg(not(target_os = "macos"))]
pub const HOST: Os = Os::Linux;

/// `lseek` whence values the engine answers (SEEK_SET/CUR/END never reach a FUSE daemon).
pub fn whence(raw: i32) -> Option<Whence> {
    HOST.whence(raw)
}

/// `setxattr` flags; unknown bits are EINVAL.
pub fn xattr_flags(raw: i32) -> Result<XattrFlags> {
    HOST.xattr_flags(raw)
}

/// `rename` flags (`renameat2` on Linux, `renamex_np` on macOS); unknown bits are EINVAL.
pub fn rename_flags(raw: u32) -> Result<RenameFlags> {
    HOST.rename_flags(raw)
}

/// `fallocate` mode; what the engine cannot do is EOPNOTSUPP.
pub fn fallocate_mode(raw: i32) -> Result<FallocMode> {
    HOST.fallocate_mode(raw)
}

/// `open` flags (access mode, append, truncate, exclusive); other bits are the kernel's business.
pub fn open_flags(raw: i32) -> OpenFlags {
    HOST.open_flags(raw)
}

/// The host's value of an engine error, for replies to the kernel.
pub fn errno_to_host(e: Errno) -> i32 {
    HOST.errno_to_host(e)
}

/// The engine's error for a host errno value (from a host system call).
pub fn errno_from_host(raw: i32) -> Errno {
    HOST.errno_from_host(raw)
}

/// Linux values (`<unistd.h>`, `<sys/xattr.h>`, `<linux/fs.h>`, `<fcntl.h>`).
mod linux {
    pub const SEEK_DATA: i32 = 3;
    pub const SEEK_HOLE: i32 = 4;
    pub const XATTR_CREATE: i32 = 1;
    pub const XATTR_REPLACE: i32 = 2;
    pub const RENAME_NOREPLACE: u32 = 1;
    pub const RENAME_EXCHANGE: u32 = 2;
    pub const RENAME_WHITEOUT: u32 = 4;
    pub const O_EXCL: i32 = 0o200;
    pub const O_TRUNC: i32 = 0o1000;
    pub const O_APPEND: i32 = 0o2000;
}

/// macOS values (`<unistd.h>`, `<sys/xattr.h>`, `<stdio.h>`, `<fcntl.h>`, `<sys/vnode.h>`).
mod macos {
    pub const SEEK_HOLE: i32 = 3;
    pub const SEEK_DATA: i32 = 4;
    /// Not following symlinks is what a filesystem does anyway: accepted and ignored.
    pub const XATTR_NOFOLLOW: i32 = 0x0001;
    pub const XATTR_CREATE: i32 = 0x0002;
    pub const XATTR_REPLACE: i32 = 0x0004;
    /// Flags about the kernel's own handling of the call (no security check, no default EAs,
    /// show compression): accepted and ignored.
    pub const XATTR_NOSECURITY: i32 = 0x0008;
    pub const XATTR_NODEFAULT: i32 = 0x0010;
    pub const XATTR_SHOWCOMPRESSION: i32 = 0x0020;
    pub const RENAME_SWAP: u32 = 0x0002;
    pub const RENAME_EXCL: u32 = 0x0004;
    /// Path resolution flags (`RENAME_NOFOLLOW_ANY`, `RENAME_RESOLVE_BENEATH`): the kernel has
    /// resolved both paths before the daemon hears of the rename, so they ask nothing of it.
    pub const RENAME_NOFOLLOW_ANY: u32 = 0x0010;
    pub const RENAME_RESOLVE_BENEATH: u32 = 0x0020;
    pub const O_APPEND: i32 = 0x0008;
    pub const O_TRUNC: i32 = 0x0400;
    pub const O_EXCL: i32 = 0x0800;
    /// `VNOP_ALLOCATE` flags (`F_PREALLOCATE`), which macFUSE passes as the fallocate mode:
    /// PREALLOCATE, ALLOCATECONTIG, ALLOCATEALL, ALLOCATEPERSIST, ALLOCATEFROMPEOF,
    /// ALLOCATEFROMVOL. Preallocation never changes the file size.
    pub const ALLOCATE_FLAGS: i32 = 0x0001 | 0x0002 | 0x0004 | 0x0008 | 0x0010 | 0x0020;
}

/// Engine errors whose macOS number differs from Linux's (the rest, 1..=34 but for 11, are
/// shared by both).
const MACOS_ERRNOS: [(Errno, i32); 11] = [
    (Errno::EAGAIN, 35),
    (Errno::ENAMETOOLONG, 63),
    (Errno::ELOOP, 62),
    (Errno::ENOTEMPTY, 66),
    (Errno::ESTALE, 70),
    (Errno::ENOSYS, 78),
    (Errno::EOVERFLOW, 84),
    // ENOATTR: what macOS calls a missing extended attribute.
    (Errno::ENODATA, 93),
    // ENOTSUP, which macOS's xattr calls return (its EOPNOTSUPP, 102, is about sockets).
    (Errno::EOPNOTSUPP, 45),
    // EDQUOT and EDEADLK have no engine name; listed so the reverse lookup knows them.
    (Errno::from_linux(122), 69),
    (Errno::from_linux(35), 11),
];

/// Host values with no counterpart in [`MACOS_ERRNOS`] that still mean an engine error.
const MACOS_ALIASES: [(i32, Errno); 1] = [(102, Errno::EOPNOTSUPP)];

/// Whether Linux and macOS share this number (the classic Unix errors, except EAGAIN).
fn shared_errno(v: i32) -> bool {
    (1..=34).contains(&v) && v != 11
}

impl Os {
    pub fn whence(self, raw: i32) -> Option<Whence> {
        let (data, hole) = match self {
            Os::Linux => (linux::SEEK_DATA, linux::SEEK_HOLE),
            Os::MacOs => (macos::SEEK_DATA, macos::SEEK_HOLE),
        };
        match raw {
            v if v == data => Some(Whence::Data),
            v if v == hole => Some(Whence::Hole),
            _ => None,
        }
    }

    pub fn xattr_flags(self, raw: i32) -> Result<XattrFlags> {
        let (create, replace, ignored) = match self {
            Os::Linux => (linux::XATTR_CREATE, linux::XATTR_REPLACE, 0),
            Os::MacOs => (
                macos::XATTR_CREATE,
                macos::XATTR_REPLACE,
                macos::XATTR_NOFOLLOW | macos::XATTR_NOSECURITY | macos::XATTR_NODEFAULT | macos::XATTR_SHOWCOMPRESSION,
            ),
        };
        if raw & !(create | replace | ignored) != 0 {
            return Err(Errno::EINVAL);
        }
        Ok(XattrFlags { create: raw & create != 0, replace: raw & replace != 0, kill_sgid: false })
    }

    pub fn rename_flags(self, raw: u32) -> Result<RenameFlags> {
        let (noreplace, exchange, whiteout, ignored) = match self {
            Os::Linux => (linux::RENAME_NOREPLACE, linux::RENAME_EXCHANGE, linux::RENAME_WHITEOUT, 0),
            // macOS has no whiteout rename.
            Os::MacOs => {
                (macos::RENAME_EXCL, macos::RENAME_SWAP, 0, macos::RENAME_NOFOLLOW_ANY | macos::RENAME_RESOLVE_BENEATH)
            }
        };
        if raw & !(noreplace | exchange | whiteout | ignored) != 0 {
            return Err(Errno::EINVAL);
        }
        let f = RenameFlags {
            noreplace: raw & noreplace != 0,
            exchange: raw & exchange != 0,
            whiteout: whiteout != 0 && raw & whiteout != 0,
        };
        if f.noreplace && f.exchange {
            return Err(Errno::EINVAL);
        }
        Ok(f)
    }

    pub fn fallocate_mode(self, raw: i32) -> Result<FallocMode> {
        match self {
            Os::Linux => FallocMode::from_linux(raw),
            Os::MacOs if raw == 0 => Ok(FallocMode::Allocate { keep_size: false }),
            Os::MacOs if raw & !macos::ALLOCATE_FLAGS == 0 => Ok(FallocMode::Allocate { keep_size: true }),
            Os::MacOs => Err(Errno::EOPNOTSUPP),
        }
    }

    pub fn open_flags(self, raw: i32) -> OpenFlags {
        let (append, truncate, exclusive) = match self {
            Os::Linux => (linux::O_APPEND, linux::O_TRUNC, linux::O_EXCL),
            Os::MacOs => (macos::O_APPEND, macos::O_TRUNC, macos::O_EXCL),
        };
        // O_RDONLY, O_WRONLY and O_RDWR are 0, 1 and 2 on both.
        let acc = raw & 0o3;
        OpenFlags {
            read: acc == 0 || acc == 2,
            write: acc == 1 || acc == 2,
            append: raw & append != 0,
            truncate: raw & truncate != 0,
            exclusive: raw & exclusive != 0,
        }
    }

    pub fn errno_to_host(self, e: Errno) -> i32 {
        match self {
            Os::Linux => e.linux(),
            Os::MacOs if shared_errno(e.linux()) => e.linux(),
            Os::MacOs => MACOS_ERRNOS.iter().find(|(k, _)| *k == e).map_or(5, |(_, v)| *v),
        }
    }

    pub fn errno_from_host(self, raw: i32) -> Errno {
        match self {
            Os::Linux => Errno::from_linux(raw),
            Os::MacOs if shared_errno(raw) => Errno::from_linux(raw),
            Os::MacOs => MACOS_ERRNOS
                .iter()
                .find(|(_, v)| *v == raw)
                .map(|(k, _)| *k)
                .or_else(|| MACOS_ALIASES.iter().find(|(v, _)| *v == raw).map(|(_, k)| *k))
                .unwrap_or(Errno::EIO),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seek_data_and_hole_are_swapped_on_macos() {
        assert_eq!(Os::Linux.whence(3), Some(Whence::Data));
        assert_eq!(Os::Linux.whence(4), Some(Whence::Hole));
        assert_eq!(Os::MacOs.whence(3), Some(Whence::Hole));
        assert_eq!(Os::MacOs.whence(4), Some(Whence::Data));
        for os in [Os::Linux, Os::MacOs] {
            for other in [0, 1, 2, 5, -1] {
                assert_eq!(os.whence(other), None, "{os:?} {other}");
            }
        }
    }

    #[test]
    fn xattr_flags_follow_each_os() {
        let f = |create, replace| XattrFlags { create, replace, kill_sgid: false };
        assert_eq!(Os::Linux.xattr_flags(0), Ok(f(false, false)));
        assert_eq!(Os::Linux.xattr_flags(1), Ok(f(true, false)));
        assert_eq!(Os::Linux.xattr_flags(2), Ok(f(false, true)));
        assert_eq!(Os::Linux.xattr_flags(4), Err(Errno::EINVAL));
        assert_eq!(Os::MacOs.xattr_flags(2), Ok(f(true, false)));
        assert_eq!(Os::MacOs.xattr_flags(4), Ok(f(false, true)));
        // XATTR_NOFOLLOW and the kernel-side flags ask nothing of the filesystem.
        assert_eq!(Os::MacOs.xattr_flags(1 | 8 | 0x10 | 0x20), Ok(f(false, false)));
        assert_eq!(Os::MacOs.xattr_flags(0x40), Err(Errno::EINVAL));
    }

    #[test]
    fn rename_flags_follow_each_os() {
        let f = |noreplace, exchange, whiteout| RenameFlags { noreplace, exchange, whiteout };
        assert_eq!(Os::Linux.rename_flags(0), Ok(f(false, false, false)));
        assert_eq!(Os::Linux.rename_flags(1), Ok(f(true, false, false)));
        assert_eq!(Os::Linux.rename_flags(2), Ok(f(false, true, false)));
        assert_eq!(Os::Linux.rename_flags(4), Ok(f(false, false, true)));
        assert_eq!(Os::Linux.rename_flags(3), Err(Errno::EINVAL));
        assert_eq!(Os::Linux.rename_flags(8), Err(Errno::EINVAL));
        // renamex_np: RENAME_SWAP = 2, RENAME_EXCL = 4; no whiteout on macOS.
        assert_eq!(Os::MacOs.rename_flags(2), Ok(f(false, true, false)));
        assert_eq!(Os::MacOs.rename_flags(4), Ok(f(true, false, false)));
        assert_eq!(Os::MacOs.rename_flags(6), Err(Errno::EINVAL));
        assert_eq!(Os::MacOs.rename_flags(1), Err(Errno::EINVAL));
        assert_eq!(Os::MacOs.rename_flags(0x10 | 0x20), Ok(f(false, false, false)));
    }

    #[test]
    fn fallocate_modes_follow_each_os() {
        assert_eq!(Os::Linux.fallocate_mode(0), Ok(FallocMode::Allocate { keep_size: false }));
        assert_eq!(Os::Linux.fallocate_mode(1), Ok(FallocMode::Allocate { keep_size: true }));
        assert_eq!(Os::Linux.fallocate_mode(3), Ok(FallocMode::PunchHole));
        assert_eq!(Os::Linux.fallocate_mode(0x10), Ok(FallocMode::ZeroRange { keep_size: false }));
        assert_eq!(Os::Linux.fallocate_mode(0x08), Err(Errno::EOPNOTSUPP));
        assert_eq!(Os::MacOs.fallocate_mode(0), Ok(FallocMode::Allocate { keep_size: false }));
        // F_PREALLOCATE with F_ALLOCATECONTIG|F_ALLOCATEALL: space only, the size stays.
        assert_eq!(Os::MacOs.fallocate_mode(0x1 | 0x2 | 0x4), Ok(FallocMode::Allocate { keep_size: true }));
        assert_eq!(Os::MacOs.fallocate_mode(0x10), Ok(FallocMode::Allocate { keep_size: true }));
        assert_eq!(Os::MacOs.fallocate_mode(0x40), Err(Errno::EOPNOTSUPP));
    }

    #[test]
    fn open_flags_follow_each_os() {
        let linux = Os::Linux.open_flags(0o2 | 0o2000 | 0o1000 | 0o200);
        assert!(linux.read && linux.write && linux.append && linux.truncate && linux.exclusive);
        assert_eq!(Os::Linux.open_flags(0), OpenFlags::RDONLY);
        assert_eq!(Os::Linux.open_flags(1), OpenFlags::WRONLY);
        // Linux O_CREAT (0o100) means nothing more here.
        assert_eq!(Os::Linux.open_flags(0o100 | 2), OpenFlags::RDWR);
        let mac = Os::MacOs.open_flags(0x2 | 0x8 | 0x400 | 0x800);
        assert!(mac.read && mac.write && mac.append && mac.truncate && mac.exclusive);
        // macOS O_CREAT (0x200) is not truncate, and Linux's O_TRUNC bit (0o1000 = 0x200) is
        // macOS's O_CREAT: a raw pass-through would have truncated every created file.
        assert_eq!(Os::MacOs.open_flags(0x200 | 1), OpenFlags::WRONLY);
        assert!(Os::Linux.open_flags(0x200).truncate);
    }

    #[test]
    fn errnos_round_trip_on_every_os() {
        let all = [
            Errno::EPERM,
            Errno::ENOENT,
            Errno::EIO,
            Errno::E2BIG,
            Errno::ENXIO,
            Errno::EBADF,
            Errno::EAGAIN,
            Errno::ENOMEM,
            Errno::EACCES,
            Errno::EEXIST,
            Errno::EXDEV,
            Errno::ENOTDIR,
            Errno::EISDIR,
            Errno::EINVAL,
            Errno::EMFILE,
            Errno::ENOTTY,
            Errno::ETXTBSY,
            Errno::EFBIG,
            Errno::ENOSPC,
            Errno::ESPIPE,
            Errno::EROFS,
            Errno::EMLINK,
            Errno::ERANGE,
            Errno::ENAMETOOLONG,
            Errno::ENOSYS,
            Errno::ENOTEMPTY,
            Errno::ELOOP,
            Errno::ENODATA,
            Errno::EOVERFLOW,
            Errno::EOPNOTSUPP,
            Errno::ESTALE,
        ];
        for os in [Os::Linux, Os::MacOs] {
            for e in all {
                let host = os.errno_to_host(e);
                if e != Errno::EIO {
                    assert_ne!(host, 5, "{os:?}: {e} has no host value");
                }
                assert_eq!(os.errno_from_host(host), e, "{os:?}: {e} -> {host}");
            }
        }
        assert_eq!(Os::MacOs.errno_to_host(Errno::ENODATA), 93);
        assert_eq!(Os::MacOs.errno_to_host(Errno::EAGAIN), 35);
        assert_eq!(Os::MacOs.errno_from_host(102), Errno::EOPNOTSUPP);
        assert_eq!(Os::MacOs.errno_from_host(11), Errno::from_linux(35), "EDEADLK is not EAGAIN");
        assert_eq!(Os::MacOs.errno_from_host(1000), Errno::EIO);
    }
}
