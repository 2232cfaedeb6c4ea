//! btrfs subvolume ioctls: read-only snapshots, and removing them. rustix has no wrappers for
//! these, so they are raw `ioctl(2)` calls with the kernel's struct layout
//! (`include/uapi/linux/btrfs.h`).

use std::ffi::OsStr;
use std::io;
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::ffi::OsStrExt;

/// `statfs.f_type` of btrfs.
pub const BTRFS_SUPER_MAGIC: i64 = 0x9123_683E;
/// Inode number of every subvolume's root directory (BTRFS_FIRST_FREE_OBJECTID).
pub const SUBVOL_ROOT_INO: u64 = 256;

const SUBVOL_NAME_MAX: usize = 4039;
const SUBVOL_RDONLY: u64 = 1 << 1;

// _IOW(0x94, 23, struct btrfs_ioctl_vol_args_v2), _IOW(0x94, 63, ...), _IOW/_IOR(0x94, 26/25, u64)
const IOC_SNAP_CREATE_V2: libc::c_ulong = 0x5000_9417;
const IOC_SNAP_DESTROY_V2: libc::c_ulong = 0x5000_943f;
const IOC_SUBVOL_GETFLAGS: libc::c_ulong = 0x8008_9419;
const IOC_SUBVOL_SETFLAGS: libc::c_ulong = 0x4008_941a;

/// `struct btrfs_ioctl_vol_args_v2` (4096 bytes). The unions are represented by their largest
/// member: `unused[4]` and `name`.
#[repr(C)]
struct VolArgsV2 {
    fd: i64,
    transid: u64,
    flags: u64,
    unused: [u64; 4],
    name: [u8; SUBVOL_NAME_MAX + 1],
}

const _: () = assert!(std::mem::size_of::<VolArgsV2>() == 4096);

fn vol_args(fd: i64, flags: u64, name: &OsStr) -> io::Result<Box<VolArgsV2>> {
    let bytes = name.as_bytes();
    if bytes.is_empty() || bytes.len() > SUBVOL_NAME_MAX || bytes.contains(&b'/') || bytes.contains(&0) {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "bad subvolume name"));
    }
    let mut args = Box::new(VolArgsV2 { fd, transid: 0, flags, unused: [0; 4], name: [0; SUBVOL_NAME_MAX + 1] });
    args.name[..bytes.len()].copy_from_slice(bytes);
    Ok(args)
}

/// Takes a read-only snapshot of the subvolume whose root directory is `subvol`, named `name`
/// inside the directory `dest_dir` (on the same btrfs filesystem).
pub fn snapshot_readonly(subvol: impl AsFd, dest_dir: impl AsFd, name: &OsStr) -> io::Result<()> {
    snapshot(subvol, dest_dir, name, true)
}

/// Takes a snapshot, writable unless `readonly`, of the subvolume whose root directory is
/// `subvol`, named `name` inside the directory `dest_dir` (on the same btrfs filesystem).
pub fn snapshot(subvol: impl AsFd, dest_dir: impl AsFd, name: &OsStr, readonly: bool) -> io::Result<()> {
    let flags = if readonly { SUBVOL_RDONLY } else { 0 };
    let args = vol_args(i64::from(subvol.as_fd().as_raw_fd()), flags, name)?;
    // SAFETY: `args` is a live, fully initialised btrfs_ioctl_vol_args_v2 of the size the ioctl
    // number encodes; the kernel only reads it. Both fds are open for the duration of the call.
    let rc = unsafe { libc::ioctl(dest_dir.as_fd().as_raw_fd(), IOC_SNAP_CREATE_V2, &*args as *const VolArgsV2) };
    if rc < 0 { Err(io::Error::last_os_error()) } else { Ok(()) }
}

/// Deletes the subvolume `name` inside `parent_dir`.
pub fn destroy_subvolume(parent_dir: impl AsFd, name: &OsStr) -> io::Result<()> {
    let args = vol_args(0, 0, name)?;
    // SAFETY: as in `snapshot_readonly`: a valid, initialised argument struct of the encoded size,
    // read by the kernel; the fd is open.
    let rc = unsafe { libc::ioctl(parent_dir.as_fd().as_raw_fd(), IOC_SNAP_DESTROY_V2, &*args as *const VolArgsV2) };
    if rc < 0 { Err(io::Error::last_os_error()) } else { Ok(()) }
}

/// Makes the subvolume whose root is `subvol` writable (so its content can be removed by a user
/// the kernel does not let destroy subvolumes).
pub fn clear_readonly(subvol: impl AsFd) -> io::Result<()> {
    set_readonly(subvol, false)
}

/// Sets or clears the read-only flag of the subvolume whose root is `subvol`.
pub fn set_readonly(subvol: impl AsFd, readonly: bool) -> io::Result<()> {
    let fd = subvol.as_fd().as_raw_fd();
    let mut flags: u64 = 0;
    // SAFETY: GETFLAGS writes one u64 through the pointer, which points to a live u64.
    if unsafe { libc::ioctl(fd, IOC_SUBVOL_GETFLAGS, &mut flags as *mut u64) } < 0 {
        return Err(io::Error::last_os_error());
    }
    if readonly {
        flags |= SUBVOL_RDONLY;
    } else {
        flags &= !SUBVOL_RDONLY;
    }
    // SAFETY: SETFLAGS reads one u64 through the pointer, which points to a live u64.
    if unsafe { libc::ioctl(fd, IOC_SUBVOL_SETFLAGS, &flags as *const u64) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
