//! The data of a file in the upper layer: RAM data, and for a large lower file copied up only in
//! part, the lower file behind it.
//!
//! Partial copy-up: a write into a large lower file does not copy the file. The upper data is
//! sparse; it holds the written ranges, and every other byte below `limit` is read from the
//! lower file. Once the written ranges cover the whole of the lower part, the lower file is let
//! go. Truncating lowers `limit` for good, so lower bytes never come back after a shrink.

use crate::budget::ChargedData;
use crate::errno::Result;
use crate::extents::Extents;
use crate::lower::LowerFile;
use crate::types::Timestamp;
use parking_lot::{Mutex, RwLock};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

struct Base {
    lower: Arc<dyn LowerFile>,
    /// Lower bytes show below this offset only.
    limit: u64,
    /// Ranges whose bytes are in the upper data (written, punched, zeroed).
    written: Extents,
}

/// Where a file's upper data differs from the lower file it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Layout {
    /// Every byte is upper data.
    Whole { len: u64 },
    /// Below `limit`, the lower file's bytes except in the `written` ranges; from `limit` to
    /// `len`, upper data.
    Partial { len: u64, limit: u64, written: Vec<(u64, u64)> },
}

pub struct UpperFile {
    data: ChargedData,
    base: RwLock<Option<Base>>,
    /// Whether the data was lent to the kernel, which may write it without telling us.
    lent: AtomicBool,
    /// The data's modification time when its changes were last accounted for.
    seen: Mutex<Option<Timestamp>>,
}

impl UpperFile {
    /// A file whose every byte is in `data`.
    pub fn whole(data: ChargedData) -> UpperFile {
        UpperFile { data, base: RwLock::new(None), lent: AtomicBool::new(false), seen: Mutex::new(None) }
    }

    /// A file of `size` bytes whose content is, for now, the lower file's first `limit` bytes.
    pub fn partial(data: ChargedData, lower: Arc<dyn LowerFile>, size: u64, limit: u64) -> Result<UpperFile> {
        data.set_len(size)?;
        let base = (limit > 0).then(|| Base { lower, limit, written: Extents::default() });
        Ok(UpperFile { data, base: RwLock::new(base), lent: AtomicBool::new(false), seen: Mutex::new(None) })
    }

    pub fn charged(&self) -> &ChargedData {
        &self.data
    }

    pub fn len(&self) -> u64 {
        self.data.data().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes of RAM held.
    pub fn allocated(&self) -> u64 {
        self.data.data().allocated()
    }

    /// Whether some bytes still come from the lower file.
    pub fn is_partial(&self) -> bool {
        self.base.read().is_some()
    }

    /// Which bytes differ from the lower file this data was copied up from.
    pub fn layout(&self) -> Layout {
        let len = self.len();
        match &*self.base.read() {
            None => Layout::Whole { len },
            Some(b) => Layout::Partial { len, limit: b.limit, written: b.written.ranges() },
        }
    }

    pub fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<usize> {
        let base = self.base.read();
        let n = self.data.data().read_at(buf, offset)?;
        if let Some(b) = &*base {
            let end = (offset + n as u64).min(b.limit);
            if offset < end {
                for (s, e) in b.written.gaps(offset, end) {
                    let dst = &mut buf[(s - offset) as usize..(e - offset) as usize];
                    let got = b.lower.read_at(dst, s)?;
                    // A lower file shorter than recorded reads as zeros past its end.
                    dst[got..].fill(0);
                }
            }
        }
        Ok(n)
    }

    /// Notes that `[start, end)` now lives in the upper data, letting the lower file go once
    /// everything of it has been replaced.
    fn mark_written(base: &mut Option<Base>, start: u64, end: u64) {
        if let Some(b) = base {
            b.written.insert(start, end.min(b.limit));
            if b.written.covers(0, b.limit) {
                *base = None;
            }
        }
    }

    pub fn write_at(&self, buf: &[u8], offset: u64) -> Result<()> {
        if self.base.read().is_none() {
            let r = self.data.write_at(buf, offset);
            self.own_change();
            return r;
        }
        let mut base = self.base.write();
        self.data.write_at(buf, offset)?;
        Self::mark_written(&mut base, offset, offset + buf.len() as u64);
        Ok(())
    }

    pub fn set_len(&self, len: u64) -> Result<()> {
        let mut base = self.base.write();
        let r = self.data.set_len(len);
        self.own_change();
        r?;
        if let Some(b) = &mut *base {
            b.limit = b.limit.min(len);
            b.written.truncate(b.limit);
            if b.limit == 0 || b.written.covers(0, b.limit) {
                *base = None;
            }
        }
        Ok(())
    }

    /// Allocation is advisory: for ranges still read from the lower file there is nothing to
    /// allocate in RAM (and allocating would hide the lower bytes).
    pub fn allocate(&self, offset: u64, len: u64) -> Result<()> {
        if self.base.read().is_some() {
            return Ok(());
        }
        let r = self.data.allocate(offset, len);
        self.own_change();
        r
    }

    /// Makes the range read as zeros.
    pub fn punch_hole(&self, offset: u64, len: u64) -> Result<()> {
        let mut base = self.base.write();
        let r = self.data.punch_hole(offset, len);
        self.own_change();
        r?;
        Self::mark_written(&mut base, offset, offset.saturating_add(len));
        Ok(())
    }

    /// SEEK_DATA; while partial, everything below the size counts as data.
    pub fn seek_data(&self, offset: u64) -> Result<u64> {
        if self.base.read().is_some() {
            return if offset < self.len() { Ok(offset) } else { Err(crate::Errno::ENXIO) };
        }
        self.data.data().seek_data(offset)
    }

    /// SEEK_HOLE; while partial, the only hole is at the end.
    pub fn seek_hole(&self, offset: u64) -> Result<u64> {
        if self.base.read().is_some() {
            return if offset < self.len() { Ok(self.len()) } else { Err(crate::Errno::ENXIO) };
        }
        self.data.data().seek_hole(offset)
    }

    /// A descriptor of this file's bytes to lend the kernel, which then reads and writes them
    /// directly (FUSE passthrough): only for a file whose every byte is upper data, and only
    /// where the store's filesystem enforces the budget; with `promote`, the data is moved
    /// there first if it is not. From then on, [`UpperFile::kernel_change`] tells what the
    /// kernel wrote.
    #[cfg(unix)]
    pub fn lend(&self, promote: bool) -> Option<std::os::fd::BorrowedFd<'_>> {
        if self.is_partial() {
            return None;
        }
        let data = self.data.data();
        if promote {
            match data.make_backing() {
                Ok(true) => {}
                Ok(false) => return None,
                Err(e) => {
                    tracing::warn!(%e, "could not move a file where the kernel may write it; serving it through the daemon");
                    return None;
                }
            }
        }
        let fd = data.backing_fd()?;
        let mut seen = self.seen.lock();
        if !self.lent.swap(true, Ordering::AcqRel) {
            *seen = data.modified();
        }
        Some(fd)
    }

    /// Whether the data was lent to the kernel (see [`UpperFile::lend`]); it stays so.
    pub fn is_lent(&self) -> bool {
        self.lent.load(Ordering::Acquire)
    }

    /// When the kernel last changed lent data, if it did since the last call; the budget's
    /// charge is then brought up to what the data holds.
    pub fn kernel_change(&self) -> Option<Timestamp> {
        if !self.lent.load(Ordering::Acquire) {
            return None;
        }
        let now = self.data.data().modified();
        {
            let mut seen = self.seen.lock();
            if now == *seen {
                return None;
            }
            *seen = now;
        }
        self.data.resettle();
        now
    }

    /// After a change made here, the data's new time is not the kernel's doing.
    fn own_change(&self) {
        if self.lent.load(Ordering::Acquire) {
            *self.seen.lock() = self.data.data().modified();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::budget::Budget;
    use crate::store::heap::HeapFile;

    struct Pattern(u64);

    impl LowerFile for Pattern {
        fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<usize> {
            let n = buf.len().min(self.0.saturating_sub(offset) as usize);
            for (i, b) in buf[..n].iter_mut().enumerate() {
                *b = ((offset + i as u64) % 251) as u8;
            }
            Ok(n)
        }
        fn seek_data(&self, o: u64) -> Result<u64> {
            Ok(o)
        }
        fn seek_hole(&self, _: u64) -> Result<u64> {
            Ok(self.0)
        }
    }

    fn partial(size: u64) -> (Arc<Budget>, UpperFile) {
        let b = Budget::new(1 << 30);
        let data = ChargedData::new(Box::new(HeapFile::default()), &b);
        (Arc::clone(&b), UpperFile::partial(data, Arc::new(Pattern(size)), size, size).unwrap())
    }

    fn read(f: &UpperFile, off: u64, n: usize) -> Vec<u8> {
        let mut v = vec![0xEE; n];
        let got = f.read_at(&mut v, off).unwrap();
        v.truncate(got);
        v
    }

    fn pattern(off: u64, n: usize) -> Vec<u8> {
        (0..n as u64).map(|i| ((off + i) % 251) as u8).collect()
    }

    #[test]
    fn reads_mix_written_ranges_and_the_lower_file() {
        let (budget, f) = partial(1 << 20);
        f.write_at(b"HELLO", 1000).unwrap();
        let got = read(&f, 990, 20);
        let mut want = pattern(990, 20);
        want[10..15].copy_from_slice(b"HELLO");
        assert_eq!(got, want);
        assert!(budget.used() < 2000, "only the written bytes are in RAM: {}", budget.used());
    }

    #[test]
    fn appending_to_a_large_lower_file_costs_kilobytes() {
        let size = 1u64 << 30;
        let (budget, f) = partial(size);
        f.write_at(b"!", size).unwrap();
        assert_eq!(f.len(), size + 1);
        assert!(budget.used() <= 64 * 1024, "used {}", budget.used());
        assert_eq!(read(&f, size - 2, 3), [pattern(size - 2, 2), b"!".to_vec()].concat());
        assert!(f.is_partial());
    }

    #[test]
    fn truncation_hides_lower_bytes_for_good() {
        let (_b, f) = partial(100_000);
        f.set_len(10).unwrap();
        f.set_len(50).unwrap();
        assert_eq!(read(&f, 0, 50), [pattern(0, 10), vec![0; 40]].concat());
        assert!(f.is_partial());
        f.write_at(&[1; 10], 0).unwrap();
        assert!(!f.is_partial(), "the whole lower part was rewritten");
    }

    #[test]
    fn punching_zeroes_lower_bytes() {
        let (_b, f) = partial(10_000);
        f.punch_hole(100, 50).unwrap();
        assert_eq!(read(&f, 95, 60), [pattern(95, 5), vec![0; 50], pattern(150, 5)].concat());
    }
}
