//! Host error numbers to the engine's (Linux-numbered) [`Errno`].

use agentfs_core::Errno;

/// Converts a host errno value.
pub fn from_raw(raw: i32) -> Errno {
    #[cfg(target_os = "linux")]
    {
        Errno::from_linux(raw)
    }
    #[cfg(not(target_os = "linux"))]
    {
        host_to_linux(raw)
    }
}

#[cfg(not(target_os = "linux"))]
fn host_to_linux(raw: i32) -> Errno {
    // Values that differ between BSD-style hosts and Linux; the low ones (1-34) are shared.
    match raw {
        v if v == libc::ENOTEMPTY => Errno::ENOTEMPTY,
        v if v == libc::ELOOP => Errno::ELOOP,
        v if v == libc::ENAMETOOLONG => Errno::ENAMETOOLONG,
        v if v == libc::ENOSYS => Errno::ENOSYS,
        v if v == libc::EOPNOTSUPP => Errno::EOPNOTSUPP,
        v if v == libc::ENOTSUP => Errno::EOPNOTSUPP,
        v if v == libc::ENOATTR => Errno::ENODATA,
        v if v == libc::EOVERFLOW => Errno::EOVERFLOW,
        v if v == libc::ESTALE => Errno::ESTALE,
        v if v == libc::EAGAIN => Errno::EAGAIN,
        v if (1..=34).contains(&v) => Errno::from_linux(v),
        _ => Errno::EIO,
    }
}

/// The host's value of an engine error (for replies to the kernel).
pub fn to_host(e: Errno) -> i32 {
    #[cfg(target_os = "linux")]
    {
        e.linux()
    }
    #[cfg(not(target_os = "linux"))]
    {
        match e {
            Errno::ENOTEMPTY => libc::ENOTEMPTY,
            Errno::ELOOP => libc::ELOOP,
            Errno::ENAMETOOLONG => libc::ENAMETOOLONG,
            Errno::ENOSYS => libc::ENOSYS,
            Errno::EOPNOTSUPP => libc::EOPNOTSUPP,
            Errno::ENODATA => libc::ENOATTR,
            Errno::EOVERFLOW => libc::EOVERFLOW,
            Errno::ESTALE => libc::ESTALE,
            Errno::EAGAIN => libc::EAGAIN,
            other if (1..=34).contains(&other.linux()) => other.linux(),
            _ => libc::EIO,
        }
    }
}

/// Converts a rustix error.
pub fn from_rustix(e: rustix::io::Errno) -> Errno {
    from_raw(e.raw_os_error())
}

/// Converts a std I/O error (EIO if it carries no OS error).
pub fn from_io(e: &std::io::Error) -> Errno {
    e.raw_os_error().map_or(Errno::EIO, from_raw)
}
