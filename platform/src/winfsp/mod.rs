//! The WinFsp frontend (Windows): the binding of [`crate::winfsp_adapter`] to the `winfsp`
//! crate's `FileSystemContext`, and mounting. Every rule lives in the adapter; this module only
//! converts types.
//!
//! Mount points: a drive letter (`X:`) or a directory. WinFsp makes a directory mount point
//! itself and wants it not to exist, so an existing empty directory is removed before mounting
//! and made again after unmounting.

mod context;

pub use context::Context;

use crate::winfsp_adapter::{Adapter, Config};
use agentfs_core::{Caller, Engine};
use parking_lot::Mutex;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use winfsp::host::{FileSystemHost, FileSystemParams, VolumeParams};

/// Where and how to mount.
#[derive(Clone, Debug)]
pub struct MountSpec {
    /// `X:` or a directory.
    pub mountpoint: PathBuf,
    /// Shown as the volume label (at most 32 characters).
    pub label: String,
    pub read_only: bool,
    /// The lower layer may change behind the mount: Windows caches file information for a
    /// second only (otherwise for as long as it likes).
    pub live: bool,
    /// Request-serving threads (0: WinFsp's default).
    pub threads: u32,
}

/// A mounted WinFsp volume; [`Mounted::unmount`] (or dropping it) takes it down.
pub struct Mounted {
    host: Mutex<Option<FileSystemHost<Context>>>,
    /// The empty directory that was the mount point, to make again after unmounting.
    restore_dir: Option<PathBuf>,
}

/// Whether `p` names a drive (`X:`), as opposed to a directory.
pub fn is_drive(p: &Path) -> bool {
    let s = p.as_os_str().to_string_lossy();
    let b = s.as_bytes();
    b.len() == 2 && b[0].is_ascii_alphabetic() && b[1] == b':'
}

/// Loads WinFsp's DLL (from its install directory, which is not on PATH) before first use.
fn init() -> io::Result<()> {
    crate::sys::windows::dll::load_winfsp()?;
    winfsp::winfsp_init().map(|_| ()).map_err(|e| io::Error::other(format!("WinFsp is not installed ({e:?})")))
}

fn volume_params(spec: &MountSpec, ignore_case: bool) -> VolumeParams {
    let mut vp = VolumeParams::new();
    vp.filesystem_name("agentfs")
        .sector_size(4096)
        .sectors_per_allocation_unit(1)
        .max_component_length(255)
        .file_info_timeout(if spec.live { 1000 } else { u32::MAX })
        .case_sensitive_search(!ignore_case)
        .case_preserved_names(true)
        .unicode_on_disk(true)
        .persistent_acls(true)
        .reparse_points(true)
        .reparse_points_access_check(false)
        .named_streams(false)
        .extended_attributes(false)
        .read_only_volume(spec.read_only)
        .post_cleanup_when_modified_only(true)
        .post_disposition_only_when_necessary(true)
        .supports_posix_unlink_rename(true);
    vp
}

/// Mounts `engine` as `spec` says; new objects belong to the user running this process.
pub fn mount(engine: Arc<Engine>, spec: &MountSpec) -> io::Result<Mounted> {
    init()?;
    let owner_sid = crate::sys::windows::security::current_user_sid()?;
    let cfg = Config { ignore_case: true, owner: Caller::new(0, 0), owner_sid, volume_label: spec.label.clone() };
    let ctx = Context::new(Adapter::new(engine, cfg));
    let params = FileSystemParams::default_params(volume_params(spec, true));
    let mut host = FileSystemHost::<Context>::new_with_options(params, ctx)
        .map_err(|e| io::Error::other(format!("cannot create the WinFsp volume ({e:?})")))?;
    let restore_dir = free_mount_point(&spec.mountpoint)?;
    let mounted = host.mount(spec.mountpoint.as_os_str()).and_then(|()| host.start_with_threads(spec.threads));
    if let Err(e) = mounted {
        host.unmount();
        if let Some(d) = &restore_dir {
            let _ = std::fs::create_dir(d);
        }
        return Err(io::Error::other(format!("cannot mount at {} ({e:?})", spec.mountpoint.display())));
    }
    Ok(Mounted { host: Mutex::new(Some(host)), restore_dir })
}

/// Removes an empty directory that is to be the mount point (WinFsp makes its own).
fn free_mount_point(mnt: &Path) -> io::Result<Option<PathBuf>> {
    if is_drive(mnt) || !mnt.exists() {
        return Ok(None);
    }
    std::fs::remove_dir(mnt)?;
    Ok(Some(mnt.to_path_buf()))
}

impl Mounted {
    /// Takes the volume down (once; later calls do nothing) and gives the mount point back.
    pub fn unmount(&self) {
        if let Some(mut host) = self.host.lock().take() {
            host.stop();
            host.unmount();
            drop(host);
            if let Some(d) = &self.restore_dir {
                let _ = std::fs::create_dir(d);
            }
        }
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        self.unmount();
    }
}
