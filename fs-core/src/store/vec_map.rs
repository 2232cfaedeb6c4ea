//! A map from u64 keys kept as a sorted vector: one small allocation for a map of one entry
//! (a B-tree allocates a whole node for it), which is what most small files' data is.

use std::ops::{Bound, RangeBounds};

#[derive(Debug)]
pub struct VecMap<V> {
    items: Vec<(u64, V)>,
}

impl<V> Default for VecMap<V> {
    fn default() -> Self {
        VecMap { items: Vec::new() }
    }
}

impl<V> VecMap<V> {
    fn find(&self, key: u64) -> Result<usize, usize> {
        self.items.binary_search_by_key(&key, |(k, _)| *k)
    }

    pub fn get(&self, key: &u64) -> Option<&V> {
        self.find(*key).ok().map(|i| &self.items[i].1)
    }

    pub fn get_mut(&mut self, key: &u64) -> Option<&mut V> {
        self.find(*key).ok().map(|i| &mut self.items[i].1)
    }

    /// The value at `key`, made with `V::default()` if missing.
    pub fn entry_or_default(&mut self, key: u64) -> &mut V
    where
        V: Default,
    {
        let i = match self.find(key) {
            Ok(i) => i,
            Err(i) => {
                self.items.insert(i, (key, V::default()));
                i
            }
        };
        &mut self.items[i].1
    }

    pub fn insert(&mut self, key: u64, value: V) {
        match self.find(key) {
            Ok(i) => self.items[i].1 = value,
            Err(i) => self.items.insert(i, (key, value)),
        }
    }

    pub fn remove(&mut self, key: &u64) -> Option<V> {
        let i = self.find(*key).ok()?;
        let v = self.items.remove(i).1;
        if self.items.is_empty() {
            self.items = Vec::new();
        }
        Some(v)
    }

    /// Entries with keys in `range`, in key order.
    pub fn range(&self, range: impl RangeBounds<u64>) -> impl Iterator<Item = (&u64, &V)> {
        let start = match range.start_bound() {
            Bound::Included(k) => self.find(*k).unwrap_or_else(|i| i),
            Bound::Excluded(k) => self.find(*k).map_or_else(|i| i, |i| i + 1),
            Bound::Unbounded => 0,
        };
        let end = match range.end_bound() {
            Bound::Included(k) => self.find(*k).map_or_else(|i| i, |i| i + 1),
            Bound::Excluded(k) => self.find(*k).unwrap_or_else(|i| i),
            Bound::Unbounded => self.items.len(),
        };
        self.items[start..end.max(start)].iter().map(|(k, v)| (k, v))
    }

    pub fn retain(&mut self, mut keep: impl FnMut(&u64, &mut V) -> bool) {
        self.items.retain_mut(|(k, v)| keep(k, v));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn behaves_as_a_sorted_map() {
        let mut m = VecMap::default();
        for k in [5u64, 1, 9, 3] {
            m.insert(k, k * 10);
        }
        *m.entry_or_default(7) += 1;
        assert_eq!(m.get(&7), Some(&1));
        let keys: Vec<u64> = m.range(3..=7).map(|(k, _)| *k).collect();
        assert_eq!(keys, [3, 5, 7]);
        let keys: Vec<u64> = m.range(4..).map(|(k, _)| *k).collect();
        assert_eq!(keys, [5, 7, 9]);
        assert_eq!(m.remove(&5), Some(50));
        m.retain(|k, _| *k < 8);
        let keys: Vec<u64> = m.range(..).map(|(k, _)| *k).collect();
        assert_eq!(keys, [1, 3, 7]);
    }
}
