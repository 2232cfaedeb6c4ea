//! File data in process memory, in sparse chunks.

use super::vec_map::VecMap;
use super::{DataStore, FileData};
use crate::errno::{Errno, Result};
use parking_lot::RwLock;

/// Chunk size. A chunk holds the bytes from its start up to the last byte written in it, so a
/// small file costs its size, not a whole chunk.
pub const CHUNK: u64 = 64 * 1024;
/// Granularity of punched holes inside a chunk (SEEK_HOLE reports them page by page, as tmpfs).
const PAGE: u64 = 4096;

/// A store that keeps every file in process memory.
#[derive(Debug, Default)]
pub struct HeapStore;

impl DataStore for HeapStore {
    fn create(&self) -> Result<Box<dyn FileData>> {
        Ok(Box::new(HeapFile::default()))
    }
}

#[derive(Debug, Default)]
struct Inner {
    len: u64,
    allocated: u64,
    /// Chunk index -> bytes from the chunk start (at most CHUNK long).
    chunks: VecMap<Vec<u8>>,
    /// Chunk index -> its pages (bit n: bytes n*PAGE..) that a punch zeroed inside the chunk's
    /// bytes and nothing wrote since: they read as zeros and count as holes. Absent: none.
    punched: VecMap<u16>,
}

/// One file's data in memory.
#[derive(Debug, Default)]
pub struct HeapFile {
    inner: RwLock<Inner>,
}

/// Splits `[offset, offset+len)` into (chunk index, start in chunk, end in chunk) pieces.
fn pieces(offset: u64, len: u64) -> impl Iterator<Item = (u64, usize, usize)> {
    let end = offset.saturating_add(len);
    let first = offset / CHUNK;
    let last = if len == 0 { first } else { (end - 1) / CHUNK };
    (first..=last).filter(move |_| len > 0).map(move |i| {
        let base = i * CHUNK;
        let s = offset.max(base) - base;
        let e = end.min(base + CHUNK) - base;
        (i, s as usize, e as usize)
    })
}

impl Inner {
    /// Makes sure chunk `i` holds at least `end` bytes (zero-filled) and returns it.
    fn chunk_to(&mut self, i: u64, end: usize) -> &mut Vec<u8> {
        let chunk = self.chunks.entry_or_default(i);
        if chunk.len() < end {
            self.allocated += (end - chunk.len()) as u64;
            chunk.resize(end, 0);
        }
        chunk
    }

    fn shrink_chunk(&mut self, i: u64, to: usize) {
        if let Some(chunk) = self.chunks.get_mut(&i) {
            if chunk.len() > to {
                self.allocated -= (chunk.len() - to) as u64;
                chunk.truncate(to);
                chunk.shrink_to_fit();
            }
            if chunk.is_empty() {
                self.chunks.remove(&i);
            }
        }
        // Pages wholly past the new end are no longer punched pages of this chunk.
        let from = (to as u64).div_ceil(PAGE) * PAGE;
        self.set_punched(i, from as usize, CHUNK as usize, false);
    }

    /// Marks (or clears) as punched the pages of chunk `i` that lie wholly inside `[s, e)`
    /// when `on`, or every page touching `[s, e)` when clearing.
    fn set_punched(&mut self, i: u64, s: usize, e: usize, on: bool) {
        let (s, e) = (s as u64, e as u64);
        let mask = if on { page_mask(s.div_ceil(PAGE), e / PAGE) } else { page_mask(s / PAGE, e.div_ceil(PAGE)) };
        if mask == 0 {
            return;
        }
        let bits = self.punched.get(&i).copied().unwrap_or(0);
        let bits = if on { bits | mask } else { bits & !mask };
        if bits == 0 {
            self.punched.remove(&i);
        } else {
            self.punched.insert(i, bits);
        }
    }

    /// Whether the byte at `pos` lies in a punched page.
    fn is_punched(&self, pos: u64) -> bool {
        self.punched.get(&(pos / CHUNK)).is_some_and(|bits| bits & (1 << ((pos % CHUNK) / PAGE)) != 0)
    }
}

/// The bits of pages `first..last` (page numbers within a chunk).
fn page_mask(first: u64, last: u64) -> u16 {
    (first..last.min(CHUNK / PAGE)).fold(0u16, |m, p| m | (1 << p))
}

fn check_range(offset: u64, len: u64) -> Result<()> {
    match offset.checked_add(len) {
        Some(end) if end <= crate::types::MAX_FILE_SIZE => Ok(()),
        _ => Err(Errno::EFBIG),
    }
}

impl FileData for HeapFile {
    fn len(&self) -> u64 {
        self.inner.read().len
    }

    fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<usize> {
        let inner = self.inner.read();
        if offset >= inner.len {
            return Ok(0);
        }
        let n = (buf.len() as u64).min(inner.len - offset) as usize;
        let out = &mut buf[..n];
        out.fill(0);
        for (i, s, e) in pieces(offset, n as u64) {
            if let Some(chunk) = inner.chunks.get(&i) {
                let have = chunk.len().min(e);
                if have > s {
                    let dst = (i * CHUNK + s as u64 - offset) as usize;
                    out[dst..dst + (have - s)].copy_from_slice(&chunk[s..have]);
                }
            }
        }
        Ok(n)
    }

    fn write_at(&self, data: &[u8], offset: u64) -> Result<()> {
        check_range(offset, data.len() as u64)?;
        let mut inner = self.inner.write();
        let mut src = 0;
        for (i, s, e) in pieces(offset, data.len() as u64) {
            let chunk = inner.chunk_to(i, e);
            chunk[s..e].copy_from_slice(&data[src..src + (e - s)]);
            src += e - s;
            inner.set_punched(i, s, e, false);
        }
        let end = offset + data.len() as u64;
        if end > inner.len {
            inner.len = end;
        }
        Ok(())
    }

    fn set_len(&self, len: u64) -> Result<()> {
        check_range(len, 0)?;
        let mut inner = self.inner.write();
        if len < inner.len {
            let keep = len.div_ceil(CHUNK);
            let dropped: Vec<u64> = inner.chunks.range(keep..).map(|(i, _)| *i).collect();
            for i in dropped {
                if let Some(c) = inner.chunks.remove(&i) {
                    inner.allocated -= c.len() as u64;
                }
            }
            inner.punched.retain(|i, _| *i < keep);
            if len % CHUNK != 0 {
                inner.shrink_chunk(len / CHUNK, (len % CHUNK) as usize);
            }
        }
        inner.len = len;
        Ok(())
    }

    fn allocated(&self) -> u64 {
        self.inner.read().allocated
    }

    fn growth(&self, offset: u64, len: u64) -> u64 {
        if len == 0 {
            return 0;
        }
        let inner = self.inner.read();
        let end = offset.saturating_add(len);
        let first = offset / CHUNK;
        let last = (end - 1) / CHUNK;
        // Every touched chunk must reach its piece end; existing bytes count against that.
        let last_end = end - last * CHUNK;
        let mut total = (last - first).saturating_mul(CHUNK).saturating_add(last_end);
        for (i, chunk) in inner.chunks.range(first..=last) {
            let need = if *i == last { last_end } else { CHUNK };
            total -= (chunk.len() as u64).min(need);
        }
        total
    }

    fn punch_hole(&self, offset: u64, len: u64) -> Result<()> {
        let mut inner = self.inner.write();
        let end = offset.saturating_add(len).min(inner.len);
        if offset >= end {
            return Ok(());
        }
        for (i, s, e) in pieces(offset, end - offset) {
            let Some(chunk) = inner.chunks.get_mut(&i) else {
                continue;
            };
            if e >= chunk.len() {
                let to = s.min(chunk.len());
                inner.shrink_chunk(i, to);
            } else if s < chunk.len() {
                chunk[s..e].fill(0);
                inner.set_punched(i, s, e, true);
            }
        }
        Ok(())
    }

    fn allocate(&self, offset: u64, len: u64) -> Result<()> {
        check_range(offset, len)?;
        let mut inner = self.inner.write();
        for (i, s, e) in pieces(offset, len) {
            inner.chunk_to(i, e);
            inner.set_punched(i, s, e, false);
        }
        Ok(())
    }

    fn seek_data(&self, offset: u64) -> Result<u64> {
        let inner = self.inner.read();
        if offset >= inner.len {
            return Err(Errno::ENXIO);
        }
        for (i, chunk) in inner.chunks.range(offset / CHUNK..) {
            let base = i * CHUNK;
            let data_end = base + chunk.len() as u64;
            let mut at = base.max(offset);
            while at < data_end && inner.is_punched(at) {
                at = (at / PAGE + 1) * PAGE;
            }
            if at < data_end {
                return if at < inner.len { Ok(at) } else { Err(Errno::ENXIO) };
            }
        }
        Err(Errno::ENXIO)
    }

    fn seek_hole(&self, offset: u64) -> Result<u64> {
        let inner = self.inner.read();
        if offset >= inner.len {
            return Err(Errno::ENXIO);
        }
        let mut pos = offset;
        loop {
            let i = pos / CHUNK;
            let base = i * CHUNK;
            match inner.chunks.get(&i) {
                Some(_) if inner.is_punched(pos) => return Ok(pos.min(inner.len)),
                Some(chunk) if pos < base + chunk.len() as u64 => {
                    let data_end = base + chunk.len() as u64;
                    let mut next = (pos / PAGE + 1) * PAGE;
                    while next < data_end && !inner.is_punched(next) {
                        next += PAGE;
                    }
                    if next < data_end {
                        return Ok(next.min(inner.len));
                    }
                    if chunk.len() as u64 == CHUNK {
                        pos = base + CHUNK;
                    } else {
                        return Ok((base + chunk.len() as u64).min(inner.len));
                    }
                }
                _ => return Ok(pos.min(inner.len)),
            }
            if pos >= inner.len {
                return Ok(inner.len);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(f: &HeapFile) -> Vec<u8> {
        let mut buf = vec![0xAA; f.len() as usize];
        let n = f.read_at(&mut buf, 0).unwrap();
        buf.truncate(n);
        buf
    }

    #[test]
    fn small_files_cost_their_size() {
        let f = HeapFile::default();
        f.write_at(b"hello", 0).unwrap();
        assert_eq!(f.allocated(), 5);
        assert_eq!(read_all(&f), b"hello");
    }

    #[test]
    fn writes_across_chunks_and_holes_read_back() {
        let f = HeapFile::default();
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        f.write_at(&data, 10).unwrap();
        let mut expect = vec![0u8; 10];
        expect.extend_from_slice(&data);
        assert_eq!(read_all(&f), expect);
        // A write far away leaves a hole that costs nothing.
        f.write_at(b"x", 10 * CHUNK + 1).unwrap();
        assert_eq!(f.len(), 10 * CHUNK + 2);
        assert!(f.allocated() < 200_010 + CHUNK + 2);
        let mut b = [1u8; 4];
        f.read_at(&mut b, 8 * CHUNK).unwrap();
        assert_eq!(b, [0; 4]);
    }

    #[test]
    fn growth_predicts_allocation_exactly() {
        let f = HeapFile::default();
        for (off, len) in [(0u64, 10u64), (5, 100_000), (3 * CHUNK + 7, 9), (0, 4 * CHUNK), (2 * CHUNK - 1, 2)] {
            let before = f.allocated();
            let g = f.growth(off, len);
            f.write_at(&vec![7u8; len as usize], off).unwrap();
            assert_eq!(f.allocated() - before, g, "write at {off} len {len}");
        }
        assert_eq!(f.growth(0, 10), 0);
    }

    #[test]
    fn truncate_frees_and_zero_extends() {
        let f = HeapFile::default();
        f.write_at(&vec![9u8; 3 * CHUNK as usize], 0).unwrap();
        f.set_len(100).unwrap();
        assert_eq!(f.allocated(), 100);
        f.set_len(1000).unwrap();
        let all = read_all(&f);
        assert_eq!(&all[..100], &[9u8; 100][..]);
        assert!(all[100..].iter().all(|b| *b == 0));
    }

    #[test]
    fn punch_and_seek() {
        let f = HeapFile::default();
        f.write_at(&vec![1u8; 4 * CHUNK as usize], 0).unwrap();
        f.punch_hole(CHUNK, 2 * CHUNK).unwrap();
        assert_eq!(f.allocated(), 2 * CHUNK);
        assert_eq!(f.seek_hole(0).unwrap(), CHUNK);
        assert_eq!(f.seek_data(CHUNK).unwrap(), 3 * CHUNK);
        assert_eq!(f.seek_hole(3 * CHUNK).unwrap(), 4 * CHUNK);
        assert_eq!(f.seek_data(4 * CHUNK), Err(Errno::ENXIO));
        let mut b = [5u8; 3];
        f.read_at(&mut b, CHUNK + 10).unwrap();
        assert_eq!(b, [0; 3]);
        // Punching inside a chunk zeroes without freeing.
        f.punch_hole(10, 5).unwrap();
        f.read_at(&mut b, 11).unwrap();
        assert_eq!(b, [0; 3]);
    }

    /// Whole pages punched inside a chunk are holes for SEEK_HOLE/SEEK_DATA (generic/539), until
    /// written again; partly punched pages stay data.
    #[test]
    fn pages_punched_inside_a_chunk_are_holes() {
        let f = HeapFile::default();
        f.write_at(&[b'a'; 3 * PAGE as usize], 0).unwrap();
        f.punch_hole(PAGE, PAGE).unwrap();
        assert_eq!(f.seek_data(0).unwrap(), 0);
        assert_eq!(f.seek_hole(0).unwrap(), PAGE);
        assert_eq!(f.seek_data(PAGE).unwrap(), 2 * PAGE);
        assert_eq!(f.seek_hole(PAGE + 5).unwrap(), PAGE + 5);
        assert_eq!(f.seek_hole(2 * PAGE).unwrap(), 3 * PAGE);
        f.punch_hole(2 * PAGE + 1, 10).unwrap();
        assert_eq!(f.seek_hole(2 * PAGE).unwrap(), 3 * PAGE, "a partly punched page is data");
        f.write_at(b"x", PAGE + 7).unwrap();
        assert_eq!(f.seek_hole(0).unwrap(), 3 * PAGE, "written again: data");
        f.punch_hole(0, 2 * PAGE).unwrap();
        assert_eq!(f.seek_data(0).unwrap(), 2 * PAGE);
        // Shrinking keeps the punched page below the new end; bytes a later write zero-fills
        // inside the chunk count as data (allowed: a hole may always be reported as data).
        f.set_len(PAGE).unwrap();
        f.write_at(b"y", 3 * PAGE).unwrap();
        assert_eq!(f.seek_data(0).unwrap(), PAGE);
    }

    #[test]
    fn offsets_past_4gib() {
        let f = HeapFile::default();
        let off = 5u64 << 30;
        f.write_at(b"far", off).unwrap();
        assert_eq!(f.len(), off + 3);
        let mut b = [0u8; 3];
        assert_eq!(f.read_at(&mut b, off).unwrap(), 3);
        assert_eq!(&b, b"far");
        assert_eq!(f.seek_data(0).unwrap(), off / CHUNK * CHUNK);
        assert_eq!(f.write_at(b"x", u64::MAX - 1), Err(Errno::EFBIG));
    }
}
