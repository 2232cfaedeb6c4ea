//! Positional reads that do not stop short.

use crate::errno::from_rustix;
use agentfs_core::Result;
use rustix::io::pread;
use std::os::fd::AsFd;

/// Reads into `buf` from `offset` until it is full or the file ends (retrying on EINTR and
/// short reads); returns how many bytes were read.
pub fn pread_full(fd: impl AsFd, buf: &mut [u8], offset: u64) -> Result<usize> {
    let fd = fd.as_fd();
    let mut done = 0;
    while done < buf.len() {
        match pread(fd, &mut buf[done..], offset + done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(from_rustix(e)),
        }
    }
    Ok(done)
}
