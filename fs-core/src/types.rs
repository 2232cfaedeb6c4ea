//! Plain data types of the engine's API.

use crate::errno::{Errno, Result};
use std::ffi::OsStr;
use std::time::{SystemTime, UNIX_EPOCH};

/// Node id of the root directory (the FUSE root inode number).
pub const ROOT_ID: u64 = 1;
/// Longest name a directory entry may have, in bytes.
pub const NAME_MAX: usize = 255;
/// Longest symlink target, in bytes (Linux PATH_MAX including the NUL).
pub const SYMLINK_MAX: usize = 4095;
/// Largest file offset the engine accepts (like ext4/tmpfs: signed 64-bit).
pub const MAX_FILE_SIZE: u64 = i64::MAX as u64;

/// Set-user-id bit.
pub const S_ISUID: u16 = 0o4000;
/// Set-group-id bit.
pub const S_ISGID: u16 = 0o2000;
/// Sticky bit.
pub const S_ISVTX: u16 = 0o1000;
/// All bits `chmod` may set.
pub const PERM_MASK: u16 = 0o7777;

/// The type of a filesystem object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FileKind {
    Regular,
    Directory,
    Symlink,
    Fifo,
    Socket,
    CharDevice,
    BlockDevice,
}

impl FileKind {
    /// The `S_IFMT` bits of this kind (Linux values, which all POSIX systems share).
    pub fn mode_bits(self) -> u32 {
        match self {
            FileKind::Regular => 0o100000,
            FileKind::Directory => 0o040000,
            FileKind::Symlink => 0o120000,
            FileKind::Fifo => 0o010000,
            FileKind::Socket => 0o140000,
            FileKind::CharDevice => 0o020000,
            FileKind::BlockDevice => 0o060000,
        }
    }

    /// Kind from the `S_IFMT` bits of a mode.
    pub fn from_mode(mode: u32) -> Option<FileKind> {
        Some(match mode & 0o170000 {
            0o100000 => FileKind::Regular,
            0o040000 => FileKind::Directory,
            0o120000 => FileKind::Symlink,
            0o010000 => FileKind::Fifo,
            0o140000 => FileKind::Socket,
            0o020000 => FileKind::CharDevice,
            0o060000 => FileKind::BlockDevice,
            _ => return None,
        })
    }
}

/// A point in time, seconds and nanoseconds since the Unix epoch (may be negative).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp {
    pub secs: i64,
    pub nanos: u32,
}

impl Timestamp {
    pub const fn new(secs: i64, nanos: u32) -> Timestamp {
        Timestamp { secs, nanos }
    }

    /// The current wall-clock time, from the clock [`set_clock`] chose (the precise one unless
    /// told otherwise).
    pub fn now() -> Timestamp {
        match CLOCK.get() {
            Some(clock) => clock(),
            None => Timestamp::from(SystemTime::now()),
        }
    }
}

static CLOCK: std::sync::OnceLock<fn() -> Timestamp> = std::sync::OnceLock::new();

/// Takes file times from `clock` from now on (once per process; later calls are ignored). A
/// FUSE daemon whose kernel keeps file times itself (the writeback cache) uses the kernel's
/// coarse clock, so that a time the daemon gives is never later than one the kernel gives
/// after it (xfstests generic/423 compares such times).
pub fn set_clock(clock: fn() -> Timestamp) {
    let _ = CLOCK.set(clock);
}

impl From<SystemTime> for Timestamp {
    fn from(t: SystemTime) -> Self {
        match t.duration_since(UNIX_EPOCH) {
            Ok(d) => Timestamp::new(i64::try_from(d.as_secs()).unwrap_or(i64::MAX), d.subsec_nanos()),
            Err(e) => {
                let d = e.duration();
                let secs = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
                if d.subsec_nanos() == 0 {
                    Timestamp::new(-secs, 0)
                } else {
                    Timestamp::new(-secs - 1, 1_000_000_000 - d.subsec_nanos())
                }
            }
        }
    }
}

impl From<Timestamp> for SystemTime {
    fn from(t: Timestamp) -> Self {
        let nanos = std::time::Duration::from_nanos(u64::from(t.nanos));
        if t.secs >= 0 {
            UNIX_EPOCH + std::time::Duration::from_secs(t.secs as u64) + nanos
        } else {
            UNIX_EPOCH - std::time::Duration::from_secs(t.secs.unsigned_abs()) + nanos
        }
    }
}

/// Attributes of a node, as `stat` reports them. `ino` is the node id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attr {
    pub ino: u64,
    pub kind: FileKind,
    /// Permission bits, including set-id and sticky bits (`mode & 0o7777`).
    pub perm: u16,
    pub nlink: u32,
    pub uid: u32,
    pub gid: u32,
    pub rdev: u64,
    pub size: u64,
    /// Allocated size in 512-byte units.
    pub blocks: u64,
    pub blksize: u32,
    pub atime: Timestamp,
    pub mtime: Timestamp,
    pub ctime: Timestamp,
    pub crtime: Timestamp,
}

impl Attr {
    /// `st_mode`: kind bits and permission bits.
    pub fn mode(&self) -> u32 {
        self.kind.mode_bits() | u32::from(self.perm)
    }
}

/// A time to set with `setattr`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetTime {
    Now,
    At(Timestamp),
}

/// The changes of one `setattr` call; `None` leaves a field as it is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SetAttr {
    /// New permission bits (`& 0o7777` is applied).
    pub mode: Option<u32>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub size: Option<u64>,
    pub atime: Option<SetTime>,
    pub mtime: Option<SetTime>,
    pub ctime: Option<Timestamp>,
    /// What the change takes away from a regular file, as Linux does on truncate and chown.
    pub drop: PrivilegeDrop,
}

/// What a write, truncate or chown takes away from a regular file. Linux does this in the
/// kernel; a FUSE frontend that negotiates HANDLE_KILLPRIV_V2 leaves it to the filesystem (and
/// the kernel then stops asking for `security.capability` before every write).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PrivilegeDrop {
    #[default]
    Nothing,
    /// The `security.capability` xattr only (the writer may keep the set-id bits).
    Capabilities,
    /// `security.capability` and set-user-id; set-group-id too, unless it is only a locking
    /// mark (the group may not execute) and the caller belongs to the file's group.
    CapabilitiesAndSetId { caller_in_group: bool },
}

/// Who performs an operation: new objects are owned by this identity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Caller {
    pub uid: u32,
    pub gid: u32,
    pub pid: u32,
    /// The caller's umask, for the engine to apply to new objects where no default ACL
    /// applies instead (0 when the frontend's kernel already applied it).
    pub umask: u32,
}

impl Caller {
    pub const ROOT: Caller = Caller { uid: 0, gid: 0, pid: 0, umask: 0 };

    pub fn new(uid: u32, gid: u32) -> Caller {
        Caller { uid, gid, pid: 0, umask: 0 }
    }

    /// Whether the caller has the privileges of the superuser (device nodes, any owner).
    pub fn is_privileged(&self) -> bool {
        self.uid == 0
    }
}

/// How a file is opened. Frontends translate their host flags into this.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OpenFlags {
    pub read: bool,
    pub write: bool,
    pub append: bool,
    pub truncate: bool,
    /// With `create`: fail with EEXIST if the name exists.
    pub exclusive: bool,
}

impl OpenFlags {
    pub const RDONLY: OpenFlags =
        OpenFlags { read: true, write: false, append: false, truncate: false, exclusive: false };
    pub const WRONLY: OpenFlags =
        OpenFlags { read: false, write: true, append: false, truncate: false, exclusive: false };
    pub const RDWR: OpenFlags = OpenFlags { read: true, write: true, append: false, truncate: false, exclusive: false };

    /// Translates Linux `open(2)` flags.
    pub fn from_linux(flags: i32) -> OpenFlags {
        let acc = flags & 0o3;
        OpenFlags {
            read: acc == 0 || acc == 2,
            write: acc == 1 || acc == 2,
            append: flags & 0o2000 != 0,
            truncate: flags & 0o1000 != 0,
            exclusive: flags & 0o200 != 0,
        }
    }
}

/// The file a data request is about: its node, and the handle the engine gave out when it was
/// opened, or [`FileRef::NO_HANDLE`] when the frontend's kernel opened it without telling the
/// engine.
///
/// Which requests come without a handle (Linux FUSE): in the no-open mode (a pinned lower layer
/// without passthrough) the kernel never sends OPEN, CREATE or RELEASE, so every READ, WRITE,
/// FSYNC, FALLOCATE, LSEEK, COPY_FILE_RANGE, IOCTL, POLL and lock request carries handle 0, and
/// so do the page writebacks of the writeback cache and msync. With OPEN answered (live, or
/// passthrough) they carry the handle of the open that made them, except writebacks, which
/// carry the handle of any writable open of the inode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileRef {
    /// Node id; 0 if only the handle is known.
    pub ino: u64,
    pub fh: u64,
}

impl FileRef {
    /// The handle of a file opened without telling the engine.
    pub const NO_HANDLE: u64 = 0;

    /// What a request names: node and handle (which may be [`FileRef::NO_HANDLE`]).
    pub fn new(ino: u64, fh: u64) -> FileRef {
        FileRef { ino, fh }
    }

    /// A file known by its handle only.
    pub fn handle(fh: u64) -> FileRef {
        FileRef { ino: 0, fh }
    }

    /// A file opened without telling the engine: any access the frontend let through.
    pub fn inode(ino: u64) -> FileRef {
        FileRef { ino, fh: FileRef::NO_HANDLE }
    }
}

/// When an access (a read of a file, a listing of a directory) updates the access time: the
/// mount's `noatime`, `relatime` (Linux's default) or `strictatime`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AtimePolicy {
    Never,
    /// Only when the access time is not newer than the modification or change time, or is a day
    /// old.
    #[default]
    Relative,
    Always,
}

/// Flags of `rename`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RenameFlags {
    /// Fail with EEXIST instead of replacing the target.
    pub noreplace: bool,
    /// Atomically swap source and target; both must exist.
    pub exchange: bool,
    /// Leave a whiteout (a character device 0:0, overlayfs's mark of a deleted name) in the
    /// source's place, in the same step.
    pub whiteout: bool,
}

impl RenameFlags {
    pub const NOREPLACE: RenameFlags = RenameFlags { noreplace: true, exchange: false, whiteout: false };
    pub const EXCHANGE: RenameFlags = RenameFlags { noreplace: false, exchange: true, whiteout: false };

    /// Translates Linux `renameat2` flags; unknown bits are EINVAL.
    pub fn from_linux(flags: u32) -> Result<RenameFlags> {
        const NOREPLACE: u32 = 1;
        const EXCHANGE: u32 = 2;
        const WHITEOUT: u32 = 4;
        if flags & !(NOREPLACE | EXCHANGE | WHITEOUT) != 0 {
            return Err(Errno::EINVAL);
        }
        Ok(RenameFlags {
            noreplace: flags & NOREPLACE != 0,
            exchange: flags & EXCHANGE != 0,
            whiteout: flags & WHITEOUT != 0,
        })
    }
}

/// What `fallocate` does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FallocMode {
    /// Allocate the range; extend the file size unless `keep_size`.
    Allocate { keep_size: bool },
    /// Deallocate the range (reads return zeros); the size never changes.
    PunchHole,
    /// Make the range read as zeros and allocate it; extend unless `keep_size`.
    ZeroRange { keep_size: bool },
}

impl FallocMode {
    /// Translates Linux `fallocate` mode bits; unsupported combinations are EOPNOTSUPP.
    pub fn from_linux(mode: i32) -> Result<FallocMode> {
        const KEEP_SIZE: i32 = 0x01;
        const PUNCH_HOLE: i32 = 0x02;
        const ZERO_RANGE: i32 = 0x10;
        let keep_size = mode & KEEP_SIZE != 0;
        match mode & !KEEP_SIZE {
            0 => Ok(FallocMode::Allocate { keep_size }),
            PUNCH_HOLE if keep_size => Ok(FallocMode::PunchHole),
            PUNCH_HOLE => Err(Errno::EINVAL),
            ZERO_RANGE => Ok(FallocMode::ZeroRange { keep_size }),
            _ => Err(Errno::EOPNOTSUPP),
        }
    }
}

/// `lseek` targets the engine serves (SEEK_SET/CUR/END are the kernel's business).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Whence {
    Data,
    Hole,
}

/// Filesystem statistics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StatFs {
    pub blocks: u64,
    pub bfree: u64,
    pub bavail: u64,
    pub files: u64,
    pub ffree: u64,
    pub bsize: u32,
    pub namelen: u32,
    pub frsize: u32,
    /// Budget and use in bytes, for status reports.
    pub budget_bytes: u64,
    pub used_bytes: u64,
}

/// One directory entry as `readdir` reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirEntry {
    pub ino: u64,
    /// Cookie to pass as `offset` to continue after this entry.
    pub offset: u64,
    pub kind: FileKind,
    pub name: std::ffi::OsString,
}

/// Checks a name for a new or looked-up directory entry.
pub fn check_name(name: &OsStr) -> Result<()> {
    let bytes = name.as_encoded_bytes();
    if bytes.is_empty() || bytes == b"." || bytes == b".." || bytes.contains(&b'/') || bytes.contains(&0) {
        return Err(Errno::EINVAL);
    }
    if bytes.len() > NAME_MAX {
        return Err(Errno::ENAMETOOLONG);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_round_trip_through_system_time() {
        for t in [
            Timestamp::new(0, 0),
            Timestamp::new(1_700_000_000, 5),
            Timestamp::new(-1, 999_999_999),
            Timestamp::new(-100, 0),
        ] {
            assert_eq!(Timestamp::from(SystemTime::from(t)), t);
        }
    }

    #[test]
    fn linux_flags_translate() {
        let f = OpenFlags::from_linux(0o2 | 0o2000 | 0o1000);
        assert!(f.read && f.write && f.append && f.truncate && !f.exclusive);
        assert_eq!(OpenFlags::from_linux(0), OpenFlags::RDONLY);
        assert_eq!(RenameFlags::from_linux(8), Err(Errno::EINVAL));
        assert!(RenameFlags::from_linux(4).unwrap().whiteout);
        assert_eq!(FallocMode::from_linux(2), Err(Errno::EINVAL));
        assert_eq!(FallocMode::from_linux(3), Ok(FallocMode::PunchHole));
    }

    #[test]
    fn names_are_checked() {
        assert_eq!(check_name(OsStr::new("")), Err(Errno::EINVAL));
        assert_eq!(check_name(OsStr::new("..")), Err(Errno::EINVAL));
        assert_eq!(check_name(OsStr::new("a/b")), Err(Errno::EINVAL));
        assert_eq!(check_name(OsStr::new(&"x".repeat(256))), Err(Errno::ENAMETOOLONG));
        assert!(check_name(OsStr::new(&"x".repeat(255))).is_ok());
    }
}
