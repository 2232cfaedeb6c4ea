//! What the kernel knows of a process (`proc_pidinfo(PROC_PIDTBSDINFO)`).

/// The parts of `proc_bsdinfo` agentfs uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BsdInfo {
    /// Effective uid and gid.
    pub uid: u32,
    pub gid: u32,
    /// Start time, microseconds since the epoch.
    pub start_micros: u64,
    /// The process has exited and waits to be reaped.
    pub zombie: bool,
}

/// The process `pid`, if it exists (and we may look at it).
pub fn bsd_info(pid: u32) -> Option<BsdInfo> {
    let pid = libc::c_int::try_from(pid).ok()?;
    let mut info = std::mem::MaybeUninit::<libc::proc_bsdinfo>::zeroed();
    let size = std::mem::size_of::<libc::proc_bsdinfo>() as libc::c_int;
    // SAFETY: the buffer is valid for writes of `size` bytes (a zeroed proc_bsdinfo, plain data);
    // proc_pidinfo writes at most that many and returns how many it wrote.
    let n = unsafe { libc::proc_pidinfo(pid, libc::PROC_PIDTBSDINFO, 0, info.as_mut_ptr().cast(), size) };
    if n != size {
        return None;
    }
    // SAFETY: the struct was zeroed (a valid value of plain integers) and then fully written.
    let info = unsafe { info.assume_init() };
    Some(BsdInfo {
        uid: info.pbi_uid,
        gid: info.pbi_gid,
        start_micros: info.pbi_start_tvsec.saturating_mul(1_000_000).saturating_add(info.pbi_start_tvusec),
        zombie: info.pbi_status == libc::SZOMB,
    })
}
