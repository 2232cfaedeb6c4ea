//! Which READDIRPLUS replies carry the attributes of the files they list.
//!
//! Attributes in a listing cost a stat of every listed file in the lower layer, cold on a
//! fresh mount. A walker that uses them (`ls -l`, `rm -rf`, `grep -r`, `du`, `git status`)
//! saves a LOOKUP per file; one that does not (`find` without tests on files) pays for the
//! stats and never reads them: 1.35 s against 0.55 s for a cold `find` of 51k files. The
//! kernel cannot tell the two apart; the daemon learns it per listing thread (the request's
//! pid). A thread's first listing carries everything. Its later ones leave the files out (a
//! record with node id 0, which the kernel reads as "no attributes for this one") until files
//! are looked up in directories it listed that way, by itself or by anyone else (`find |
//! xargs stat`): from then on its listings carry them again, and so do the listings of a
//! thread that looked them up. Directories always carry theirs, since every walker descends
//! into them.
//!
//! The kernel keeps listings in its cache and lists from there until the directory changes,
//! so later walkers would get the listing without attributes too. The same lookups that
//! teach a lister therefore also return the directories listed that way, for the caller to
//! drop from the kernel's cache: their next listing comes to the daemon, with attributes for
//! a walker that uses them.
//!
//! Only the io_uring transport can encode a record without attributes (fuser's reply takes
//! the node id from the attributes), so the classic transport never asks.

use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// File lookups in directories a thread listed without file attributes, after which its
/// listings carry them again: the files of part of one directory, not one odd open.
const LEARN_AFTER: u32 = 8;
/// Directories listed without file attributes and not yet handed out as stale, at most:
/// past that, listings carry attributes (a listing left in the kernel's cache without them
/// and forgotten here could never be dropped). About 2.5 MiB when full.
const LEAN_DIRS: usize = 65536;
/// Threads tracked at most; past that, the ones not seen lately are forgotten.
const MAX_TRACKED: usize = 4096;
/// A thread not seen for this long starts afresh (its pid may be another process's now).
const FORGET_AFTER: Duration = Duration::from_secs(30);
/// A listing not seen to end this long after its last page without attributes is taken as
/// over (its reader stopped early) and may be dropped from the kernel's cache.
const LISTING_OVER_AFTER: Duration = Duration::from_secs(10);

#[derive(Default)]
pub struct Walkers {
    state: Mutex<State>,
    /// Some listing left file attributes out: until then lookups need not be noted.
    any_lean: AtomicBool,
}

/// Directories whose cached listings lack their files' attributes, to drop from the kernel's
/// listing cache.
pub type StaleListings = Vec<u64>;

#[derive(Default)]
struct State {
    by_pid: HashMap<u32, Walker>,
    /// Directories listed without file attributes.
    lean: HashMap<u64, LeanListing>,
    /// Files looked up in those directories since they were last handed out as stale.
    lean_lookups: u32,
}

/// A directory listed without its files' attributes.
struct LeanListing {
    /// The thread that listed it.
    lister: u32,
    /// Its end was listed since: the kernel has stored every page in its cache, so dropping
    /// the cache now cannot leave it half filled (the kernel adds to it only at its end, and
    /// a cache dropped while it is filled is never filled again until the inode goes).
    ended: bool,
    /// When its last page without attributes went out.
    noted: Instant,
}

struct Walker {
    /// Listings it started (from offset 0).
    listings: u32,
    /// Files looked up in the directories it listed without file attributes, by anyone, and
    /// by it in directories anyone listed so.
    file_lookups: u32,
    /// Its listings carry file attributes.
    uses_attrs: bool,
    seen: Instant,
}

impl Walker {
    fn new(now: Instant) -> Walker {
        Walker { listings: 0, file_lookups: 0, uses_attrs: false, seen: now }
    }

    /// A file of a listing without attributes was looked up: evidence that they are used.
    fn used(&mut self) {
        if !self.uses_attrs {
            self.file_lookups += 1;
            self.uses_attrs = self.file_lookups >= LEARN_AFTER;
        }
    }
}

impl Walkers {
    /// Whether a page of the listing of directory `dir` from `offset` by thread `pid` carries
    /// the attributes of the files in it.
    pub fn file_attrs(&self, pid: u32, dir: u64, offset: u64) -> bool {
        // pid 0: a request the kernel makes on its own, no walker behind it.
        if pid == 0 {
            return true;
        }
        let now = Instant::now();
        let mut st = self.state.lock();
        let w = st.walker(pid, now);
        if offset == 0 {
            w.listings = w.listings.saturating_add(1);
        }
        if w.uses_attrs || w.listings <= 1 {
            return true;
        }
        // Past the bound, a directory not noted yet gets a full listing.
        !st.lean.contains_key(&dir) && st.lean.len() >= LEAN_DIRS
    }

    /// Notes a page of the listing of `dir` by thread `pid` once it went out: `lean` if some
    /// entry in it had no attributes, `end` if it was empty (the listing's end).
    pub fn listed(&self, pid: u32, dir: u64, lean: bool, end: bool) {
        let ends_a_lean_listing = end && self.any_lean.load(Ordering::Relaxed);
        if !lean && !ends_a_lean_listing {
            return;
        }
        let mut st = self.state.lock();
        if lean {
            st.lean.insert(dir, LeanListing { lister: pid, ended: false, noted: Instant::now() });
            self.any_lean.store(true, Ordering::Relaxed);
        } else if let Some(l) = st.lean.get_mut(&dir) {
            l.ended = true;
        }
    }

    /// Notes that thread `pid` looked up a file (anything but a directory) in directory
    /// `dir`. Every [`LEARN_AFTER`] such lookups in directories listed without file
    /// attributes, returns those of them whose listing is over, forgotten here, to drop from
    /// the kernel's listing cache.
    pub fn looked_up_file(&self, pid: u32, dir: u64) -> Option<StaleListings> {
        if !self.any_lean.load(Ordering::Relaxed) {
            return None;
        }
        let now = Instant::now();
        let mut st = self.state.lock();
        let lister = st.lean.get(&dir)?.lister;
        if let Some(w) = st.by_pid.get_mut(&lister) {
            w.used();
        }
        if pid != lister && pid != 0 {
            st.walker(pid, now).used();
        }
        st.lean_lookups += 1;
        if st.lean_lookups < LEARN_AFTER {
            return None;
        }
        st.lean_lookups = 0;
        let mut stale = StaleListings::new();
        st.lean.retain(|&dir, l| {
            let over = l.ended || now.duration_since(l.noted) >= LISTING_OVER_AFTER;
            if over {
                stale.push(dir);
            }
            !over
        });
        if st.lean.is_empty() {
            self.any_lean.store(false, Ordering::Relaxed);
        }
        (!stale.is_empty()).then_some(stale)
    }
}

impl State {
    /// The walker of thread `pid`, made or started afresh as needed; the table stays bounded.
    fn walker(&mut self, pid: u32, now: Instant) -> &mut Walker {
        if self.by_pid.len() >= MAX_TRACKED && !self.by_pid.contains_key(&pid) {
            self.by_pid.retain(|_, w| now.duration_since(w.seen) < FORGET_AFTER);
            if self.by_pid.len() >= MAX_TRACKED {
                self.by_pid.clear();
            }
        }
        let w = self.by_pid.entry(pid).or_insert_with(|| Walker::new(now));
        if now.duration_since(w.seen) >= FORGET_AFTER {
            *w = Walker::new(now);
        }
        w.seen = now;
        w
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A whole listing of `dir` by `pid` (a page, then the empty end); whether files carried
    /// attributes.
    fn list(w: &Walkers, pid: u32, dir: u64) -> bool {
        let full = list_partly(w, pid, dir);
        w.file_attrs(pid, dir, 100);
        w.listed(pid, dir, false, true);
        full
    }

    /// The first page of a listing, whose reader has not read to the end yet.
    fn list_partly(w: &Walkers, pid: u32, dir: u64) -> bool {
        let full = w.file_attrs(pid, dir, 0);
        w.listed(pid, dir, !full, false);
        full
    }

    #[test]
    fn a_first_listing_carries_attributes_and_later_ones_do_not() {
        let w = Walkers::default();
        assert!(list(&w, 7, 1));
        assert!(!list(&w, 7, 2));
        assert!(!list(&w, 7, 1), "a second listing of the first directory");
        assert!(list(&w, 8, 2), "another thread learns on its own");
    }

    #[test]
    fn file_lookups_in_a_lean_directory_bring_the_attributes_back_to_its_lister() {
        let w = Walkers::default();
        list(&w, 7, 1);
        list(&w, 8, 1);
        assert!(!list(&w, 7, 2));
        assert!(!list(&w, 8, 3));
        for _ in 0..LEARN_AFTER - 1 {
            assert_eq!(w.looked_up_file(9, 2), None);
            assert_eq!(w.looked_up_file(9, 9), None, "not a directory listed lean: no evidence");
        }
        assert!(!list(&w, 7, 4));
        // The eighth: the lister learns, and the directories listed lean are handed out.
        let mut stale = w.looked_up_file(9, 2).unwrap();
        stale.sort_unstable();
        assert_eq!(stale, vec![2, 3, 4]);
        assert!(list(&w, 7, 5));
        assert!(!list(&w, 8, 6), "the other lister's files were not used");
        // The thread that looked them up uses attributes: its listings carry them from the
        // first (it has listed nothing yet) and after.
        assert!(list(&w, 9, 7));
        assert!(list(&w, 9, 8));
        assert_eq!(w.looked_up_file(9, 2), None, "handed out once, then forgotten");
    }

    #[test]
    fn a_listing_still_going_is_handed_out_only_once_it_ended() {
        let w = Walkers::default();
        list(&w, 7, 1);
        assert!(!list_partly(&w, 7, 2));
        assert!(!list(&w, 7, 3));
        for _ in 0..LEARN_AFTER - 1 {
            w.looked_up_file(9, 2);
        }
        assert_eq!(w.looked_up_file(9, 2), Some(vec![3]), "2 is still being listed");
        // Its reader goes on, with attributes now that the lister learnt, to the end.
        assert!(w.file_attrs(7, 2, 100));
        w.listed(7, 2, false, false);
        w.listed(7, 2, false, true);
        for _ in 0..LEARN_AFTER - 1 {
            assert_eq!(w.looked_up_file(9, 2), None);
        }
        assert_eq!(w.looked_up_file(9, 2), Some(vec![2]));
        assert_eq!(w.looked_up_file(9, 2), None, "nothing listed lean is left");
    }

    #[test]
    fn requests_of_the_kernel_itself_always_carry_attributes() {
        let w = Walkers::default();
        for _ in 0..3 {
            assert!(list(&w, 0, 1));
        }
    }

    #[test]
    fn the_tables_stay_bounded() {
        let w = Walkers::default();
        for pid in 1..=(MAX_TRACKED as u32 * 2) {
            list(&w, pid, 1);
            list(&w, pid, u64::from(pid) + 10);
        }
        let st = w.state.lock();
        assert!(st.by_pid.len() <= MAX_TRACKED);
        assert!(st.lean.len() <= LEAN_DIRS);
    }

    #[test]
    fn past_the_bound_listings_carry_attributes() {
        let w = Walkers::default();
        list(&w, 7, 0);
        for dir in 1..=LEAN_DIRS as u64 {
            assert!(!list(&w, 7, dir));
        }
        assert!(list(&w, 7, LEAN_DIRS as u64 + 1), "one more would be forgotten");
        assert!(!w.file_attrs(7, 5, 4096), "a directory already noted goes on as it started");
        for _ in 0..LEARN_AFTER {
            w.looked_up_file(8, 5);
        }
        assert!(list(&w, 9, 0), "its first listing");
        assert!(!list(&w, 9, LEAN_DIRS as u64 + 2), "room again once the set was handed out");
    }
}
