//! A set of byte ranges, kept merged and sorted.

use std::collections::BTreeMap;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Extents {
    /// start -> end (exclusive); ranges never touch or overlap.
    ranges: BTreeMap<u64, u64>,
}

impl Extents {
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// Adds `[start, end)`, merging with neighbours.
    pub fn insert(&mut self, mut start: u64, mut end: u64) {
        if start >= end {
            return;
        }
        // A range starting at or before `start` that reaches it.
        if let Some((&s, &e)) = self.ranges.range(..=start).next_back() {
            if e >= start {
                start = s;
                end = end.max(e);
                self.ranges.remove(&s);
            }
        }
        // Ranges starting inside [start, end].
        let inside: Vec<u64> = self.ranges.range(start..=end).map(|(s, _)| *s).collect();
        for s in inside {
            if let Some(e) = self.ranges.remove(&s) {
                end = end.max(e);
            }
        }
        self.ranges.insert(start, end);
    }

    /// Drops everything at or past `limit`.
    pub fn truncate(&mut self, limit: u64) {
        let beyond: Vec<u64> = self.ranges.range(limit..).map(|(s, _)| *s).collect();
        for s in beyond {
            self.ranges.remove(&s);
        }
        if let Some((&s, e)) = self.ranges.range_mut(..limit).next_back() {
            if *e > limit {
                *e = limit;
            }
            if s >= *e {
                self.ranges.remove(&s);
            }
        }
    }

    /// Whether `[start, end)` is covered entirely.
    pub fn covers(&self, start: u64, end: u64) -> bool {
        start >= end || self.ranges.range(..=start).next_back().is_some_and(|(_, &e)| e >= end)
    }

    /// The parts of `[start, end)` that are not covered, in order.
    pub fn gaps(&self, start: u64, end: u64) -> Vec<(u64, u64)> {
        let mut out = Vec::new();
        let mut pos = start;
        if let Some((_, &e)) = self.ranges.range(..=start).next_back() {
            pos = pos.max(e.min(end));
        }
        for (&s, &e) in self.ranges.range(start..end) {
            if s > pos {
                out.push((pos, s));
            }
            pos = pos.max(e.min(end));
        }
        if pos < end {
            out.push((pos, end));
        }
        out
    }

    /// The covered ranges, in order.
    pub fn ranges(&self) -> Vec<(u64, u64)> {
        self.ranges.iter().map(|(s, e)| (*s, *e)).collect()
    }

    /// Number of separate ranges.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.ranges.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_merge_and_gaps_are_what_is_left() {
        let mut x = Extents::default();
        x.insert(10, 20);
        x.insert(30, 40);
        assert_eq!(x.gaps(0, 50), vec![(0, 10), (20, 30), (40, 50)]);
        x.insert(20, 30);
        assert_eq!(x.len(), 1);
        assert!(x.covers(10, 40) && !x.covers(9, 40) && !x.covers(10, 41));
        x.insert(5, 12);
        x.insert(38, 60);
        assert_eq!(x.gaps(0, 70), vec![(0, 5), (60, 70)]);
        assert_eq!(x.gaps(7, 50), vec![]);
        x.truncate(25);
        assert_eq!(x.gaps(0, 30), vec![(0, 5), (25, 30)]);
        x.truncate(3);
        assert!(x.is_empty());
    }

    #[test]
    fn matches_a_bitmap_model() {
        let mut x = Extents::default();
        let mut bits = [false; 200];
        let mut seed = 12345u64;
        for _ in 0..2000 {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let a = (seed >> 33) % 200;
            let b = ((seed >> 13) % 200).max(a);
            if seed % 7 == 0 {
                x.truncate(a);
                bits[a as usize..].fill(false);
            } else {
                x.insert(a, b);
                bits[a as usize..b as usize].fill(true);
            }
            let gaps = x.gaps(0, 200);
            let mut model = Vec::new();
            let mut i = 0;
            while i < 200 {
                if !bits[i] {
                    let s = i;
                    while i < 200 && !bits[i] {
                        i += 1;
                    }
                    model.push((s as u64, i as u64));
                } else {
                    i += 1;
                }
            }
            assert_eq!(gaps, model);
        }
    }
}
