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
//!
//! A listing also ends where the directory ended when it began: entries that appear later (a
//! renamed entry gets a fresh cookie) are not listed by it, as POSIX allows. Without that, a
//! program that renames every entry it reads would read forever (xfstests generic/736). The
//! limit travels inside the offsets handed out (see [`ListingPos`]), because the kernel lists
//! without opening the directory.

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
/// Cookies stay below 2^COOKIE_BITS (renumbered when they would not). An offset is the cookie
/// in its high bits and the span of its listing (how far it may go) in the SPAN_BITS below, so
/// offsets are ordered like the entries they follow: a program that seeks to any value between
/// two offsets it was given lands between those entries, as on ext4 or tmpfs (xfstests
/// generic/676 seeks to random values below the last offset and expects entries).
const COOKIE_BITS: u32 = 40;
const COOKIE_MASK: u64 = (1 << COOKIE_BITS) - 1;
const SPAN_BITS: u32 = 63 - COOKIE_BITS;
/// Largest span an offset can carry (keeps offsets below 2^63: the kernel stores them signed).
const SPAN_MAX: u64 = (1 << SPAN_BITS) - 1;

/// Where a listing is: after which cookie it continues, and the first cookie it must not list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListingPos {
    pub after: u64,
    pub limit: u64,
}

impl ListingPos {
    /// The position an offset from [`ListingPos::offset`] or [`ListingPos::start_after`] names.
    /// An offset without a span (0, or the offset of "." or "..") starts a listing: it may go up
    /// to `next_cookie`.
    pub fn decode(offset: u64, next_cookie: u64) -> ListingPos {
        let (after, span) = ((offset >> SPAN_BITS) & COOKIE_MASK, offset & SPAN_MAX);
        let limit = if span == 0 { next_cookie } else { after.saturating_add(span) };
        ListingPos { after, limit }
    }

    /// The offset to hand out with the entry of `cookie`, for a listing limited by `limit`. A
    /// span too large to carry is cut short (the listing then ends earlier, never later).
    pub fn offset(cookie: u64, limit: u64) -> u64 {
        let span = limit.saturating_sub(cookie).clamp(1, SPAN_MAX);
        ((cookie & COOKIE_MASK) << SPAN_BITS) | span
    }

    /// The offset of an entry that starts a listing after it ("." and ".."): no span yet.
    pub fn start_after(cookie: u64) -> u64 {
        (cookie & COOKIE_MASK) << SPAN_BITS
    }
}

pub type Name = Arc<OsStr>;

/// What a name points to.
#[derive(Clone, Debug)]
pub struct Entry {
    pub id: u64,
    cookie: u64,
    /// The lower object this entry names when it is not the one at this place of the lower
    /// listing (a moved or linked lower object); see [`DirBody::origin_of`].
    moved_from: Option<LowerPath>,
    pub kind: FileKind,
    /// The entry is the lower object at this place: its lower path is the directory's plus
    /// its name, made only when needed (most entries of a big tree never need it).
    in_place: bool,
}

impl Entry {
    pub fn cookie(&self) -> u64 {
        self.cookie
    }

    /// Whether the entry is the lower object listed at its place.
    pub fn in_place(&self) -> bool {
        self.in_place
    }

    /// The lower object this entry, named `name` in a directory whose lower directory is
    /// `dir_lower`, shows, if any.
    pub fn origin_in(&self, dir_lower: Option<&LowerPath>, name: &OsStr) -> Option<LowerPath> {
        if self.in_place { dir_lower.map(|b| b.child(name)) } else { self.moved_from.clone() }
    }
}

#[derive(Debug)]
pub struct DirBody {
    /// The lower directory merged into this one (read on first use).
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
    pub fn load(&mut self, lower: Vec<(Name, u64, FileKind)>) {
        if self.loaded {
            return;
        }
        self.entries.reserve(lower.len());
        for (name, id, kind) in lower {
            self.add(name, Entry { id, cookie: 0, moved_from: None, kind, in_place: true });
        }
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
    pub fn reload(&mut self, lower: Vec<(Name, u64, FileKind)>) {
        let mut keep: HashMap<Name, Entry> = HashMap::with_capacity(lower.len());
        let mut order = BTreeMap::new();
        for (name, id, kind) in lower {
            let cookie = match self.entries.get(&name) {
                Some(e) if e.id == id => e.cookie,
                _ => {
                    self.next_cookie += 1;
                    self.next_cookie - 1
                }
            };
            order.insert(cookie, Arc::clone(&name));
            keep.insert(name, Entry { id, cookie, moved_from: None, kind, in_place: true });
        }
        self.entries = keep;
        self.order = order;
        self.loaded_at = Some(Instant::now());
    }

    pub fn get(&self, name: &OsStr) -> Option<&Entry> {
        self.entries.get(name)
    }

    /// Adds an entry for node `id`, whose lower object (if any) is `origin`, with a fresh
    /// cookie, replacing any entry of that name.
    pub fn insert(&mut self, name: Name, id: u64, kind: FileKind, origin: Option<LowerPath>) {
        self.changed = self.loaded;
        let in_place =
            origin.is_some() && self.lower.as_ref().zip(origin.as_ref()).is_some_and(|(b, o)| o.is_child_of(b, &name));
        let moved_from = if in_place { None } else { origin };
        self.add(name, Entry { id, cookie: 0, moved_from, kind, in_place });
    }

    /// Enters `e` under a fresh cookie.
    fn add(&mut self, name: Name, mut e: Entry) {
        if self.next_cookie > COOKIE_MASK {
            self.renumber();
        }
        e.cookie = self.next_cookie;
        self.next_cookie += 1;
        if let Some(old) = self.entries.insert(Arc::clone(&name), e) {
            self.order.remove(&old.cookie);
        }
        self.order.insert(self.next_cookie - 1, name);
    }

    /// The lower object entry `e` (named `name` here) shows, if any.
    pub fn origin_of(&self, name: &OsStr, e: &Entry) -> Option<LowerPath> {
        e.origin_in(self.lower.as_ref(), name)
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
        let in_place = self.lower.as_ref().zip(origin.as_ref()).is_some_and(|(b, o)| o.is_child_of(b, name));
        if let Some(e) = self.entries.get_mut(name) {
            e.id = id;
            e.kind = kind;
            e.in_place = in_place;
            e.moved_from = if in_place { None } else { origin };
        }
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Gives the entries cookies from the first one again, in their order (after 2^40 cookies
    /// were used; listings in progress may then see an entry twice or not at all).
    fn renumber(&mut self) {
        let order = std::mem::take(&mut self.order);
        self.next_cookie = FIRST_COOKIE;
        for name in order.into_values() {
            if let Some(e) = self.entries.get_mut(&name) {
                e.cookie = self.next_cookie;
                self.order.insert(self.next_cookie, name);
                self.next_cookie += 1;
            }
        }
    }

    /// Where a listing continuing from `offset` (0 for a new one) is.
    pub fn position(&self, offset: u64) -> ListingPos {
        ListingPos::decode(offset, self.next_cookie)
    }

    /// Entries of the listing at `pos` still to come, in cookie order.
    pub fn listing(&self, pos: ListingPos) -> impl Iterator<Item = (&Name, &Entry)> {
        let from = pos.after.saturating_add(1).max(FIRST_COOKIE);
        self.order.range(from..pos.limit.max(from)).filter_map(|(_, name)| {
            let e = self.entries.get(name)?;
            Some((name, e))
        })
    }

    /// Every entry, in cookie order.
    pub fn entries(&self) -> impl Iterator<Item = (&Name, &Entry)> {
        self.listing(ListingPos { after: 0, limit: u64::MAX })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(d: &DirBody, offset: u64) -> Vec<String> {
        d.listing(d.position(offset)).map(|(n, _)| n.to_string_lossy().into_owned()).collect()
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
        assert_eq!(names(&d, ListingPos::start_after(b)), vec!["c", "d", "e"]);
        assert_eq!(names(&d, 0), vec!["b", "c", "d", "e"]);
    }

    /// A listing ends where the directory ended when it began, so renaming every entry read
    /// (each gets a fresh cookie) cannot make it go on forever.
    #[test]
    fn a_listing_does_not_list_what_appeared_after_it_began() {
        let mut d = DirBody::new_upper();
        for i in 0..100u64 {
            d.insert(Arc::from(OsStr::new(&format!("f{i}"))), i + 10, FileKind::Regular, None);
        }
        let mut offset = 0;
        let mut seen = 0;
        loop {
            let pos = d.position(offset);
            let Some((name, e)) = d.listing(pos).next() else { break };
            let (name, id, cookie) = (Arc::clone(name), e.id, e.cookie());
            offset = ListingPos::offset(cookie, pos.limit);
            seen += 1;
            assert!(seen <= 100, "listed more entries than there are");
            d.remove(&name);
            d.insert(Arc::from(OsStr::new("TEMP")), id, FileKind::Regular, None);
            d.remove(OsStr::new("TEMP"));
            d.insert(name, id, FileKind::Regular, None);
        }
        assert_eq!(seen, 100);
        assert_eq!(names(&d, 0).len(), 100, "a new listing sees every entry");
    }

    #[test]
    fn offsets_carry_cookie_and_limit() {
        for (cookie, limit) in [(3u64, 4u64), (1000, 5000), (COOKIE_MASK - 1, COOKIE_MASK)] {
            let off = ListingPos::offset(cookie, limit);
            assert!(off < 1 << 63);
            assert_eq!(ListingPos::decode(off, 99), ListingPos { after: cookie, limit });
        }
        assert_eq!(ListingPos::decode(0, 77), ListingPos { after: 0, limit: 77 });
        let dotdot = ListingPos::start_after(DOTDOT_COOKIE);
        assert_eq!(ListingPos::decode(dotdot, 77), ListingPos { after: DOTDOT_COOKIE, limit: 77 });
        // A span too wide to carry ends the listing early, never late.
        let far = ListingPos::decode(ListingPos::offset(5, u64::MAX), 0);
        assert_eq!((far.after, far.limit), (5, 5 + SPAN_MAX));
    }

    /// Offsets grow with the entries, and a value anywhere between two offsets handed out
    /// continues between those entries (xfstests generic/676).
    #[test]
    fn any_value_below_the_last_offset_lands_on_an_entry() {
        let mut d = DirBody::new_upper();
        for i in 0..1000u64 {
            d.insert(Arc::from(OsStr::new(&format!("f{i}"))), i + 10, FileKind::Regular, None);
        }
        let pos = d.position(0);
        let offsets: Vec<u64> = d.listing(pos).map(|(_, e)| ListingPos::offset(e.cookie(), pos.limit)).collect();
        assert!(offsets.windows(2).all(|w| w[0] < w[1]), "offsets are ordered like the entries");
        let last = *offsets.last().unwrap();
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..10_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let at = x % last;
            let before = offsets.iter().filter(|o| **o <= at).count();
            let listed = d.listing(d.position(at)).count();
            assert!(listed >= 1000 - before - 1, "from {at:#x}: {listed} entries after {before} offsets");
            assert!(listed > 0, "from {at:#x}: nothing listed");
        }
    }
}
