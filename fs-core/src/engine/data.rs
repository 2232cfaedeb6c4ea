//! Open files and their data: open, create, read, write, release, truncate, fallocate, lseek,
//! copy_file_range, and the copy-up that the first data change of a lower file triggers.

use super::names::NewKind;
use super::{Engine, OpenFile};
use crate::budget::ChargedData;
use crate::errno::{Errno, Result};
use crate::lower::LowerFile;
use crate::node::{Body, FileBody, Node};
use crate::types::{Attr, Caller, FallocMode, FileKind, FileRef, MAX_FILE_SIZE, OpenFlags, Whence};
use crate::upper::UpperFile;
use std::ffi::OsStr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// The handle of a file the frontend's kernel opened without telling the engine.
pub const NO_HANDLE: u64 = FileRef::NO_HANDLE;

/// Size of the buffer used to copy data (copy-up, copy_file_range).
const COPY_CHUNK: u64 = 1 << 20;
/// Lower files at least this large are copied up only in part (the written ranges).
pub const PARTIAL_COPY_UP_MIN: u64 = 1 << 20;

/// Where the bytes of a file come from at one moment.
enum Source {
    Lower(Arc<dyn LowerFile>),
    Upper(Arc<UpperFile>),
}

fn end_of(offset: u64, len: u64) -> Result<u64> {
    offset.checked_add(len).filter(|e| *e <= MAX_FILE_SIZE).ok_or(Errno::EFBIG)
}

impl Engine {
    /// Opens node `id`; returns a file handle. Opening never copies data up; O_TRUNC on a
    /// lower file makes an empty upper file without reading the lower one.
    pub fn open(&self, id: u64, flags: OpenFlags) -> Result<u64> {
        let node = self.node(id)?;
        self.open_node(node, flags)
    }

    fn open_node(&self, node: Arc<Node>, flags: OpenFlags) -> Result<u64> {
        match node.kind {
            FileKind::Directory if flags.write => return Err(Errno::EISDIR),
            FileKind::Symlink => return Err(Errno::ELOOP),
            _ => {}
        }
        node.opens.fetch_add(1, Ordering::AcqRel);
        let prepared = self.prepare_open(&node, flags);
        if let Err(e) = prepared {
            node.opens.fetch_sub(1, Ordering::AcqRel);
            self.maybe_evict(&node);
            return Err(e);
        }
        if flags.write {
            node.writers.fetch_add(1, Ordering::AcqRel);
        }
        let fh = self.next_fh.fetch_add(1, Ordering::Relaxed);
        self.files.insert(fh, Arc::new(OpenFile { node, flags }));
        Ok(fh)
    }

    /// Whether node `id` has handles open for writing (a frontend with a write-back cache may
    /// then hold data the engine has not seen yet).
    pub fn has_writers(&self, id: u64) -> bool {
        self.nodes.get(&id).is_some_and(|n| n.writers.load(Ordering::Acquire) > 0)
    }

    /// Truncates for O_TRUNC. The lower file is opened only when data is first read from it
    /// (a frontend with a page cache often never asks).
    fn prepare_open(&self, node: &Arc<Node>, flags: OpenFlags) -> Result<()> {
        if flags.write && flags.truncate && matches!(node.body, Body::File(_)) {
            let _change = self.mutation();
            return self.truncate(node, 0);
        }
        Ok(())
    }

    /// The open lower file of a node whose data is still the lower file (None once copied up),
    /// opening it now if needed; it stays open while the node has open handles.
    pub(super) fn open_lower(&self, node: &Node) -> Result<Option<Arc<dyn LowerFile>>> {
        let body = node.file()?;
        match &*body.read() {
            FileBody::Upper(_) => return Ok(None),
            FileBody::Lower { file: Some(f) } => return Ok(Some(Arc::clone(f))),
            FileBody::Lower { file: None } => {}
        }
        let mut g = body.write();
        let FileBody::Lower { file } = &mut *g else {
            return Ok(None);
        };
        if let Some(f) = file {
            return Ok(Some(Arc::clone(f)));
        }
        if node.opens.load(Ordering::Acquire) == 0 {
            // Read without a handle: keep it in the small cache instead of on the node.
            drop(g);
            return self
                .lower_files
                .get_or_open(node.id, || self.lower.open(node.origin.as_ref().ok_or(Errno::EIO)?))
                .map(Some);
        }
        let f = self.lower.open(node.origin.as_ref().ok_or(Errno::EIO)?)?;
        *file = Some(Arc::clone(&f));
        Ok(Some(f))
    }

    /// Creates and opens a regular file; returns its attributes (counting one reference) and a
    /// handle. If the name exists and `flags.exclusive` is not set, opens the existing object.
    pub fn create(
        &self,
        parent: u64,
        name: &OsStr,
        mode: u32,
        flags: OpenFlags,
        caller: &Caller,
    ) -> Result<(Attr, u64)> {
        let node = match self.create_node(parent, name, NewKind::File, mode, caller) {
            Ok(node) => node,
            Err(Errno::EEXIST) if !flags.exclusive => {
                let attr = self.lookup(parent, name)?;
                return match self.open(attr.ino, flags) {
                    Ok(fh) => Ok((self.getattr(attr.ino)?, fh)),
                    Err(e) => {
                        self.forget(attr.ino, 1);
                        Err(e)
                    }
                };
            }
            Err(e) => return Err(e),
        };
        let open_flags = OpenFlags { truncate: false, ..flags };
        match self.open_node(Arc::clone(&node), open_flags) {
            Ok(fh) => Ok((node.attr(), fh)),
            Err(e) => {
                self.forget(node.id, 1);
                Err(e)
            }
        }
    }

    /// Closes a handle. The last close of an unlinked file frees its data.
    pub fn release(&self, fh: u64) -> Result<()> {
        let Some((_, f)) = self.files.remove(&fh) else {
            return Err(Errno::EBADF);
        };
        let node = &f.node;
        if f.flags.write {
            node.writers.fetch_sub(1, Ordering::AcqRel);
        }
        if node.opens.fetch_sub(1, Ordering::AcqRel) == 1 {
            // What the kernel wrote through the last handle is charged now, not at the next stat.
            node.absorb_kernel_change(node.upper_data().as_deref());
            if let Body::File(body) = &node.body {
                let mut g = body.write();
                if node.opens.load(Ordering::Acquire) == 0 {
                    if let FileBody::Lower { file } = &mut *g {
                        *file = None;
                    }
                }
            }
            self.reclaim_if_unreachable(node);
        }
        self.maybe_evict(node);
        Ok(())
    }

    /// Frees the data of a file nobody can reach any more (no name, no open handle), without
    /// waiting for the kernel to forget the node: its memory comes back at once.
    pub(super) fn reclaim_if_unreachable(&self, node: &Node) {
        if !node.dead.load(Ordering::Acquire) || node.opens.load(Ordering::Acquire) != 0 {
            return;
        }
        // Without open tracking an unlinked file may still be open: only the kernel's last
        // reference says it is not.
        if !self.tracks_opens && node.lookups.load(Ordering::Acquire) != 0 {
            return;
        }
        let Body::File(body) = &node.body else {
            return;
        };
        let mut g = body.write();
        if node.opens.load(Ordering::Acquire) != 0 {
            return;
        }
        if let FileBody::Upper(d) = &*g {
            if d.allocated() > 0 || d.is_partial() {
                if let Ok(empty) = self.store.create() {
                    *g = FileBody::Upper(Arc::new(UpperFile::whole(ChargedData::new(empty, self.budget()))));
                }
            }
        }
    }

    /// Succeeds without I/O: the upper layer is volatile by design.
    pub fn flush(&self, file: FileRef) -> Result<()> {
        self.file(file).map(|_| ())
    }

    /// Succeeds without I/O: the upper layer is volatile by design (the frontend's own caches
    /// are written back to the engine before this is asked).
    pub fn fsync(&self, file: FileRef, _datasync: bool) -> Result<()> {
        self.file(file).map(|_| ())
    }

    /// Where the file's bytes are now.
    fn source(&self, node: &Node) -> Result<Source> {
        if let FileBody::Upper(d) = &*node.file()?.read() {
            return Ok(Source::Upper(Arc::clone(d)));
        }
        match self.open_lower(node)? {
            Some(f) => Ok(Source::Lower(f)),
            // Copied up in between.
            None => self.source(node),
        }
    }

    /// Reads into `buf` at `offset`; returns the bytes read (0 at the end).
    pub fn read(&self, file: FileRef, offset: u64, buf: &mut [u8]) -> Result<usize> {
        let f = self.file(file)?;
        if !f.flags.read {
            return Err(Errno::EBADF);
        }
        self.read_node(&f.node, offset, buf)
    }

    fn read_node(&self, node: &Node, offset: u64, buf: &mut [u8]) -> Result<usize> {
        match self.source(node)? {
            Source::Upper(d) => d.read_at(buf, offset),
            Source::Lower(file) => {
                if offset == 0 {
                    if let Some(p) = &self.prefetch {
                        p.first_read(node.id);
                    }
                }
                // A pinned lower file's size is known and fixed: asking for no more than is
                // there spares the read that would only find the end.
                let len = match self.lower_ttl {
                    None => buf
                        .len()
                        .min(usize::try_from(node.meta.lock().size.saturating_sub(offset)).unwrap_or(usize::MAX)),
                    Some(_) => buf.len(),
                };
                if len == 0 {
                    return Ok(0);
                }
                file.read_at(&mut buf[..len], offset)
            }
        }
    }

    /// Writes `buf` at `offset` (at the end for an append handle); returns the bytes written.
    pub fn write(&self, file: FileRef, offset: u64, buf: &[u8]) -> Result<usize> {
        let f = self.file(file)?;
        if !f.flags.write {
            return Err(Errno::EBADF);
        }
        self.write_node(&f, offset, buf)
    }

    /// The open file a request is about: the handle's, or for a file the frontend's kernel
    /// opened without telling the engine, a stand-in that may read and write (that kernel
    /// already checked access). Every operation on an open file resolves it here.
    pub(super) fn file(&self, file: FileRef) -> Result<Arc<OpenFile>> {
        if file.fh == FileRef::NO_HANDLE {
            if file.ino == 0 {
                return Err(Errno::EBADF);
            }
            return Ok(Arc::new(OpenFile { node: self.node(file.ino)?, flags: OpenFlags::RDWR }));
        }
        let f = self.files.get(&file.fh).map(|f| Arc::clone(&f)).ok_or(Errno::EBADF)?;
        if file.ino != 0 && f.node.id != file.ino {
            tracing::error!(ino = file.ino, fh = file.fh, "a handle used for another node");
            return Err(Errno::EBADF);
        }
        Ok(f)
    }

    fn write_node(&self, f: &OpenFile, offset: u64, buf: &[u8]) -> Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        end_of(offset, buf.len() as u64)?;
        let _change = self.mutation();
        let data = self.upper_data(&f.node, None)?;
        if f.flags.append {
            // Appends of one file are serialized so that none overwrites another.
            let _appending = f.node.file()?.write();
            let at = data.len();
            end_of(at, buf.len() as u64)?;
            data.write_at(buf, at)?;
        } else {
            data.write_at(buf, offset)?;
        }
        self.data_changed(&f.node);
        Ok(buf.len())
    }

    /// The upper data of a regular file, copying the lower data up first if needed. With
    /// `keep`, the caller is about to truncate to that size, and only that much is kept. Large
    /// lower files are copied up only in part: nothing is copied now, writes go to RAM, and the
    /// rest keeps being read from the lower file.
    pub(super) fn upper_data(&self, node: &Arc<Node>, keep: Option<u64>) -> Result<Arc<UpperFile>> {
        let body = node.file()?;
        if let FileBody::Upper(d) = &*body.read() {
            return Ok(Arc::clone(d));
        }
        let mut g = body.write();
        let open_lower = match &*g {
            FileBody::Upper(d) => return Ok(Arc::clone(d)),
            FileBody::Lower { file } => file.clone(),
        };
        self.pin(node)?;
        let size = node.meta.lock().size;
        let copy_len = keep.map_or(size, |k| k.min(size));
        let data = ChargedData::new(self.store.create()?, self.budget());
        let lower_file = || match &open_lower {
            Some(f) => Ok(Arc::clone(f)),
            None => self.lower.open(node.origin.as_ref().ok_or(Errno::EIO)?),
        };
        let upper = if copy_len >= PARTIAL_COPY_UP_MIN {
            UpperFile::partial(data, lower_file()?, size, copy_len)?
        } else {
            if copy_len > 0 {
                copy_lower(&*lower_file()?, &data, copy_len)?;
            }
            data.set_len(size)?;
            UpperFile::whole(data)
        };
        tracing::debug!(id = node.id, size, kept = copy_len, partial = upper.is_partial(), "copy-up");
        let upper = Arc::new(upper);
        *g = FileBody::Upper(Arc::clone(&upper));
        self.lower_files.remove(node.id);
        Ok(upper)
    }

    /// Sets the size of a regular file. A lower file is copied up only as far as it is kept,
    /// and not at all when the size does not change.
    pub(super) fn truncate(&self, node: &Arc<Node>, size: u64) -> Result<()> {
        end_of(size, 0)?;
        node.file()?;
        match node.upper_data() {
            Some(d) => d.set_len(size)?,
            None => {
                let lower_size = node.meta.lock().size;
                if size != lower_size {
                    self.upper_data(node, Some(size))?.set_len(size)?;
                } else {
                    self.pin(node)?;
                }
            }
        }
        node.meta.lock().touch_modified();
        Ok(())
    }

    /// Allocates, punches or zeroes a range of an open file.
    pub fn fallocate(&self, file: FileRef, offset: u64, len: u64, mode: FallocMode) -> Result<()> {
        let f = self.file(file)?;
        if !f.flags.write {
            return Err(Errno::EBADF);
        }
        if len == 0 {
            return Err(Errno::EINVAL);
        }
        let end = end_of(offset, len)?;
        let _change = self.mutation();
        let data = self.upper_data(&f.node, None)?;
        let size = data.len();
        match mode {
            FallocMode::Allocate { keep_size } => {
                data.allocate(offset, len)?;
                if !keep_size && end > size {
                    data.set_len(end)?;
                }
                if keep_size {
                    return Ok(());
                }
            }
            FallocMode::PunchHole => data.punch_hole(offset, len)?,
            FallocMode::ZeroRange { keep_size } => {
                data.punch_hole(offset, len)?;
                data.allocate(offset, len)?;
                if !keep_size && end > size {
                    data.set_len(end)?;
                }
            }
        }
        self.data_changed(&f.node);
        Ok(())
    }

    /// Stamps a data change with the time, unless the frontend keeps the times itself.
    fn data_changed(&self, node: &Node) {
        if !self.frontend_keeps_mtime.load(Ordering::Acquire) {
            node.meta.lock().touch_modified();
        }
    }

    /// SEEK_DATA / SEEK_HOLE.
    pub fn lseek(&self, file: FileRef, offset: u64, whence: Whence) -> Result<u64> {
        let f = self.file(file)?;
        match (self.source(&f.node)?, whence) {
            (Source::Upper(d), Whence::Data) => d.seek_data(offset),
            (Source::Upper(d), Whence::Hole) => d.seek_hole(offset),
            (Source::Lower(file), Whence::Data) => file.seek_data(offset),
            (Source::Lower(file), Whence::Hole) => file.seek_hole(offset),
        }
    }

    /// Copies up to `len` bytes between files; returns the bytes copied (fewer at the end of
    /// the source).
    pub fn copy_file_range(&self, from: FileRef, off_in: u64, to: FileRef, off_out: u64, len: u64) -> Result<u64> {
        let fi = self.file(from)?;
        let fo = self.file(to)?;
        if !fi.flags.read || !fo.flags.write || fo.flags.append {
            return Err(Errno::EBADF);
        }
        fi.node.file()?;
        fo.node.file()?;
        end_of(off_in, len)?;
        end_of(off_out, len)?;
        if fi.node.id == fo.node.id && off_in < off_out.saturating_add(len) && off_out < off_in.saturating_add(len) {
            return Err(Errno::EINVAL);
        }
        let src = self.source(&fi.node)?;
        let mut buf = vec![0u8; len.min(COPY_CHUNK) as usize];
        let mut done = 0u64;
        while done < len {
            let want = (len - done).min(buf.len() as u64) as usize;
            let n = match &src {
                Source::Upper(d) => d.read_at(&mut buf[..want], off_in + done)?,
                Source::Lower(file) => file.read_at(&mut buf[..want], off_in + done)?,
            };
            if n == 0 {
                break;
            }
            self.write_node(&fo, off_out + done, &buf[..n])?;
            done += n as u64;
        }
        Ok(done)
    }
}

/// Copies the first `len` bytes of a lower file into upper data, skipping holes.
fn copy_lower(file: &dyn LowerFile, data: &ChargedData, len: u64) -> Result<()> {
    let mut buf = vec![0u8; len.min(COPY_CHUNK) as usize];
    let mut pos = 0u64;
    while pos < len {
        let start = match file.seek_data(pos) {
            Ok(s) => s,
            Err(Errno::ENXIO) => break,
            Err(_) => pos,
        };
        if start >= len {
            break;
        }
        let stop = file.seek_hole(start).unwrap_or(len).clamp(start + 1, len);
        let mut p = start;
        while p < stop {
            let want = (stop - p).min(buf.len() as u64) as usize;
            let n = file.read_at(&mut buf[..want], p)?;
            if n == 0 {
                return Ok(());
            }
            data.write_at(&buf[..n], p)?;
            p += n as u64;
        }
        pos = stop;
    }
    Ok(())
}
