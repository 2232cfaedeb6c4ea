//! Group membership of a user (`getpwuid_r`, `getgrouplist`).

use std::ffi::CStr;

/// The groups user `uid` belongs to (its primary group `gid` included); empty if the user is
/// unknown.
pub fn user_groups(uid: u32, gid: u32) -> Vec<u32> {
    let mut pwd = std::mem::MaybeUninit::<libc::passwd>::zeroed();
    let mut buf = vec![0 as libc::c_char; 4096];
    let mut found: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: every pointer is valid for the length given; getpwuid_r fills `pwd` with pointers
    // into `buf`, which outlives their use below, and sets `found` to `pwd` or to null.
    let rc = unsafe { libc::getpwuid_r(uid, pwd.as_mut_ptr(), buf.as_mut_ptr(), buf.len(), &mut found) };
    if rc != 0 || found.is_null() {
        return Vec::new();
    }
    // SAFETY: getpwuid_r succeeded and returned `pwd`, so pw_name is a NUL-terminated string in `buf`.
    let name = unsafe { CStr::from_ptr((*found).pw_name) }.to_owned();
    let mut groups = vec![0 as libc::c_int; 64];
    loop {
        let mut n = groups.len() as libc::c_int;
        // SAFETY: `name` is a C string; `groups` has room for `n` entries, and getgrouplist writes
        // at most that many, setting `n` to the number it found.
        let rc = unsafe { libc::getgrouplist(name.as_ptr(), gid as libc::c_int, groups.as_mut_ptr(), &mut n) };
        if rc == 0 {
            groups.truncate(n.max(0) as usize);
            return groups.into_iter().map(|g| g as u32).collect();
        }
        if groups.len() >= 1 << 16 {
            return Vec::new();
        }
        let len = groups.len() * 4;
        groups.resize(len, 0);
    }
}
