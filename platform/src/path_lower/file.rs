//! An open lower regular file, read at offsets.

use super::err;
use agentfs_core::lower::LowerFile;
use agentfs_core::{Errno, Result};
use std::fs::File;
use std::path::Path;

pub struct PathFile {
    file: File,
    len: u64,
}

impl PathFile {
    /// Opens the regular file at `path` for reading, refusing anything else (a final symlink
    /// is not followed).
    pub fn open(path: &Path) -> Result<PathFile> {
        let mut opts = std::fs::OpenOptions::new();
        opts.read(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::custom_flags(&mut opts, libc::O_NOFOLLOW);
        // FILE_FLAG_OPEN_REPARSE_POINT: open a symlink or junction itself.
        #[cfg(windows)]
        std::os::windows::fs::OpenOptionsExt::custom_flags(&mut opts, 0x0020_0000);
        let file = opts.open(path).map_err(err)?;
        let md = file.metadata().map_err(err)?;
        if !md.is_file() {
            return Err(Errno::EINVAL);
        }
        Ok(PathFile { file, len: md.len() })
    }

    fn read_some(&self, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
        #[cfg(unix)]
        {
            std::os::unix::fs::FileExt::read_at(&self.file, buf, offset)
        }
        #[cfg(windows)]
        {
            std::os::windows::fs::FileExt::seek_read(&self.file, buf, offset)
        }
    }
}

impl LowerFile for PathFile {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<usize> {
        let mut done = 0;
        while done < buf.len() {
            match self.read_some(&mut buf[done..], offset + done as u64) {
                Ok(0) => break,
                Ok(n) => done += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(err(e)),
            }
        }
        Ok(done)
    }

    /// The whole file counts as data (POSIX allows it; a pin never changes size).
    fn seek_data(&self, offset: u64) -> Result<u64> {
        if offset < self.len { Ok(offset) } else { Err(Errno::ENXIO) }
    }

    fn seek_hole(&self, offset: u64) -> Result<u64> {
        if offset < self.len { Ok(self.len) } else { Err(Errno::ENXIO) }
    }
}
