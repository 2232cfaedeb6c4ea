//! The entries of one directory node, as the overlay shows them.
//!
//! A directory that comes from the lower layer is "loaded" the first time anything needs its
//! entries: its lower listing is read once (the lower layer is immutable) and from then on the
//! map below is the merged view. Deleting a lower entry removes it from the map, which is the
//! whole of a whiteout; a directory created anew has no lower listing, which is the whole of an
//! opaque directory.
//!
//! Every entry carries a cookie, given once when the entry appears and never reused, and
//! `readdir` continues after a cookie. So an offset stays valid while other entries come and go,
//! and no untouched entry is skipped or repeated.

use crate::lower::LowerPath;
use crate::types::FileKind;
use std::collections::{BTreeMap, HashMap};
use std::ffi::OsStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Cookie of ".".
pub const DOT_COOKIE: u64 = 1;
/// Cookie of "..".
pub const DOTDOT_COOKIE: u64 = 2;
const FIRST_COOKIE: u64 = 3;

pub type Name = Arc<OsStr>;

/// What a name points to.
#[derive(Clone, Debug)]
pub struct Entry {
    pub id: u64,
    pub kind: FileKind,
    /// The lower object this node was made from, to build the node again after it was dropped.
    pub origin: Option<LowerPath>,
    cookie: u64,
}

impl Entry {
    pub fn cookie(&self) -> u64 {
        self.cookie
    }
}

#[derive(Debug)]
pub struct DirBody {
    /// The lower directory merged into this one, until loaded.
    lower: Option<LowerPath>,
    loaded: bool,
    entries: HashMap<Name, Entry>,
    order: BTreeMap<u64, Name>,
    next_cookie: u64,
    /// Set by rmdir: nothing may be created in a removed directory.
    pub removed: bool,
    /// When the lower listing was read, and whether the overlay changed the directory since:
    /// with a live lower layer, an unchanged directory re-reads its listing when it is old.
    loaded_at: Option<Instant>,
    changed: bool,
}

impl DirBody {
    /// A new, empty directory of the upper layer.
    pub fn new_upper() -> DirBody {
        DirBody {
            lower: None,
            loaded: true,
            entries: HashMap::new(),
            order: BTreeMap::new(),
            next_cookie: FIRST_COOKIE,
            removed: false,
            loaded_at: None,
            changed: false,
        }
    }

    /// A directory whose entries are those of the lower directory at `path`, read on first use.
    pub fn from_lower(path: LowerPath) -> DirBody {
        DirBody { lower: Some(path), loaded: false, ..DirBody::new_upper() }
    }

    pub fn is_loaded(&self) -> bool {
        self.loaded
    }

    /// Whether an entry was added, removed or pointed elsewhere since the lower listing was read.
    pub fn is_changed(&self) -> bool {
        self.changed
    }

    /// The lower directory still to be read, if not loaded yet.
    pub fn pending_lower(&self) -> Option<&LowerPath> {
        if self.loaded { None } else { self.lower.as_ref() }
    }

    /// Fills in the lower entries; called once, before any other change.
    pub fn load(&mut self, lower: Vec<(Name, u64, FileKind, LowerPath)>) {
        if self.loaded {
            return;
        }
        self.entries.reserve(lower.len());
        for (name, id, kind, origin) in lower {
            self.insert(name, id, kind, Some(origin));
        }
        self.lower = None;
        self.loaded = true;
        self.loaded_at = Some(Instant::now());
        self.changed = false;
    }

    /// Whether a live lower listing should be read again: loaded more than `ttl` ago and never
    /// changed through the overlay.
    pub fn is_stale(&self, ttl: Duration) -> bool {
        self.loaded && !self.changed && self.loaded_at.is_some_and(|t| t.elapsed() > ttl)
    }

    /// Replaces the entries by a fresh lower listing; entries that stay keep their cookies.
    pub fn reload(&mut self, lower: Vec<(Name, u64, FileKind, LowerPath)>) {
        let mut keep: HashMap<Name, Entry> = HashMap::with_capacity(lower.len());
        let mut order = BTreeMap::new();
        for (name, id, kind, origin) in lower {
            let cookie = match self.entries.get(&name) {
                Some(e) if e.id == id => e.cookie,
                _ => {
                    self.next_cookie += 1;
                    self.next_cookie - 1
                }
            };
            order.insert(cookie, Arc::clone(&name));
            keep.insert(name, Entry { id, kind, origin: Some(origin), cookie });
        }
        self.entries = keep;
        self.order = order;
        self.loaded_at = Some(Instant::now());
    }

    pub fn get(&self, name: &OsStr) -> Option<&Entry> {
        self.entries.get(name)
    }

    /// Adds an entry with a fresh cookie, replacing any entry of that name.
    pub fn insert(&mut self, name: Name, id: u64, kind: FileKind, origin: Option<LowerPath>) {
        self.changed = self.loaded;
        let cookie = self.next_cookie;
        self.next_cookie += 1;
        if let Some(old) = self.entries.insert(Arc::clone(&name), Entry { id, kind, origin, cookie }) {
            self.order.remove(&old.cookie);
        }
        self.order.insert(cookie, name);
    }

    pub fn remove(&mut self, name: &OsStr) -> Option<Entry> {
        let e = self.entries.remove(name)?;
        self.changed = true;
        self.order.remove(&e.cookie);
        Some(e)
    }

    /// Points `name` at another object, keeping its cookie (used by RENAME_EXCHANGE).
    pub fn retarget(&mut self, name: &OsStr, id: u64, kind: FileKind, origin: Option<LowerPath>) {
        self.changed = true;
        if let Some(e) = self.entries.get_mut(name) {
            e.id = id;
            e.kind = kind;
            e.origin = origin;
        }
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Entries whose cookie is greater than `offset`, in cookie order.
    pub fn after(&self, offset: u64) -> impl Iterator<Item = (&Name, &Entry)> {
        self.order.range(offset.saturating_add(1).max(FIRST_COOKIE)..).filter_map(|(_, name)| {
            let e = self.entries.get(name)?;
            Some((name, e))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(d: &DirBody, offset: u64) -> Vec<String> {
        d.after(offset).map(|(n, _)| n.to_string_lossy().into_owned()).collect()
    }

    #[test]
    fn cookies_survive_unrelated_changes() {
        let mut d = DirBody::new_upper();
        for (i, n) in ["a", "b", "c", "d"].iter().enumerate() {
            d.insert(Arc::from(OsStr::new(n)), i as u64 + 10, FileKind::Regular, None);
        }
        let b = d.get(OsStr::new("b")).unwrap().cookie();
        d.remove(OsStr::new("a"));
        d.insert(Arc::from(OsStr::new("e")), 20, FileKind::Regular, None);
        assert_eq!(names(&d, b), vec!["c", "d", "e"]);
        assert_eq!(names(&d, 0), vec!["b", "c", "d", "e"]);
    }
}
