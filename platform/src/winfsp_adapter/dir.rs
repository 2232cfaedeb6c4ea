//! Directory listings, resumed after a marker name.

use super::Adapter;
use super::handle::Handle;
use super::info::{self, FileInfo};
use super::names;
use super::status::Result;
use agentfs_core::ROOT_ID;
use std::sync::Arc;

/// One entry of a listing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirItem {
    pub name: Vec<u16>,
    pub info: FileInfo,
}

const DOT: [u16; 1] = [b'.' as u16];
const DOTDOT: [u16; 2] = [b'.' as u16, b'.' as u16];

fn is_dot(name: &[u16]) -> bool {
    name == DOT || name == DOTDOT
}

/// Sorts a listing: "." and ".." first, then by name (upper-cased when case is ignored).
pub fn sort(items: &mut [DirItem], ignore_case: bool) {
    items.sort_by(|a, b| {
        (!is_dot(&a.name), a.name != DOT)
            .cmp(&(!is_dot(&b.name), b.name != DOT))
            .then_with(|| names::compare(&a.name, &b.name, ignore_case))
    });
}

/// Where a sorted listing resumes after `marker` (the name last returned): past the dots it
/// names, or at the first other name that sorts after it (it may have been deleted since).
pub fn resume_at(items: &[DirItem], marker: Option<&[u16]>, ignore_case: bool) -> usize {
    let Some(marker) = marker else { return 0 };
    let dots = items.iter().take_while(|i| is_dot(&i.name)).count();
    if marker == DOT {
        return items.iter().position(|i| i.name != DOT).unwrap_or(items.len());
    }
    if marker == DOTDOT {
        return dots;
    }
    let key = names::key(marker, ignore_case);
    dots + items[dots..].partition_point(|i| names::key(&i.name, ignore_case) <= key)
}

impl Adapter {
    /// The sorted listing of directory `id` ("." and ".." except at the root).
    fn listing(&self, id: u64) -> Result<Vec<DirItem>> {
        let mut raw = Vec::new();
        self.engine.readdirplus(id, 0, |e, a| {
            raw.push((e.name.clone(), *a));
            true
        })?;
        let mut items = Vec::with_capacity(raw.len());
        for (name, a) in raw {
            let dot = name == "." || name == "..";
            if !(dot && id == ROOT_ID) {
                items.push(DirItem { name: names::to_wide(&name), info: info::file_info(&a, self.kept(a.ino)) });
            }
            if !dot {
                // readdirplus counted a reference to every entry but the dots.
                self.engine.forget(a.ino, 1);
            }
        }
        sort(&mut items, self.cfg.ignore_case);
        Ok(items)
    }

    /// Passes the entries of the directory of `h` after `marker` to `add`, in order, until it
    /// returns false (its buffer is full). A listing starts (no marker) from a fresh look at the
    /// directory; later calls resume in the same listing.
    pub fn read_dir(&self, h: &Handle, marker: Option<&[u16]>, mut add: impl FnMut(&DirItem) -> bool) -> Result<()> {
        let items = {
            let mut cached = h.listing.lock();
            match (&*cached, marker) {
                (Some(items), Some(_)) => Arc::clone(items),
                _ => {
                    let items = Arc::new(self.listing(h.id())?);
                    *cached = Some(Arc::clone(&items));
                    items
                }
            }
        };
        for item in &items[resume_at(&items, marker, self.cfg.ignore_case)..] {
            if !add(item) {
                break;
            }
        }
        Ok(())
    }
}
