//! The report's bounded map: [`Capped`] keeps at most its cap of distinct keys and
//! counts the sightings of the others, and [`Seen`] is what most of its lists keep
//! per key (a count, the first and the last time).
//!
//! Split from [`super::stats`], which holds what the report keeps per principal,
//! vault and object in these maps. Every event of a replay passes through here
//! several times, so a sighting of a known key hashes it once and copies nothing.

use std::hash::{Hash, RandomState};

use chrono::{DateTime, Utc};
use hashbrown::hash_map::EntryRef;

/// The table behind a [`Capped`] map: hashbrown's, whose `entry_ref` finds a borrowed
/// key, or inserts it, with one hash (std's map hashes a borrowed key twice: once to
/// look, once to fetch or insert); keyed by std's random SipHash keys, so names an
/// attacker chooses cannot be made to collide.
pub type Table<K, V> = hashbrown::HashMap<K, V, RandomState>;

/// An empty [`Table`].
pub fn table<K, V>() -> Table<K, V> {
    Table::with_hasher(RandomState::new())
}

/// First and last sighting plus a count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seen {
    /// How many times.
    pub count: u64,
    /// The first time.
    pub first: DateTime<Utc>,
    /// The last time.
    pub last: DateTime<Utc>,
}

impl Seen {
    /// Seen once, at `t`.
    pub fn at(t: DateTime<Utc>) -> Seen {
        Seen {
            count: 1,
            first: t,
            last: t,
        }
    }

    /// Seen again at `t`.
    pub fn again(&mut self, t: DateTime<Utc>) {
        self.count += 1;
        self.first = self.first.min(t);
        self.last = self.last.max(t);
    }
}

/// A map that keeps at most `cap` keys; further new keys are only counted.
#[derive(Debug, Clone)]
pub struct Capped<K, V> {
    cap: usize,
    /// The kept entries.
    pub map: Table<K, V>,
    /// Sightings of keys that did not fit.
    pub more: u64,
}

impl<K: Eq + Hash, V> Capped<K, V> {
    /// An empty map keeping at most `cap` keys.
    pub fn new(cap: usize) -> Self {
        Capped {
            cap,
            map: table(),
            more: 0,
        }
    }

    /// The entry for `key` (built from `make_key` and `init` if new and there is
    /// room), or `None` when the map is full. The key is hashed once, and owned only
    /// when it is new: a sighting of a known key allocates nothing.
    pub fn entry_with<Q>(
        &mut self,
        key: &Q,
        make_key: impl FnOnce(&Q) -> K,
        init: impl FnOnce() -> V,
    ) -> Option<&mut V>
    where
        K: std::borrow::Borrow<Q>,
        Q: Eq + Hash + ?Sized,
    {
        let full = self.map.len() >= self.cap;
        match self.map.entry_ref(key) {
            EntryRef::Occupied(entry) => Some(entry.into_mut()),
            EntryRef::Vacant(_) if full => {
                self.more += 1;
                None
            }
            EntryRef::Vacant(entry) => Some(entry.insert_with_key(make_key(key), init())),
        }
    }

    /// The number of kept keys.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether nothing was kept.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

impl Capped<String, Seen> {
    /// Counts a sighting of `key` at `t`.
    pub fn see(&mut self, key: &str, t: DateTime<Utc>) {
        if let Some(seen) = self.entry_with(key, str::to_owned, || Seen {
            count: 0,
            first: t,
            last: t,
        }) {
            seen.again(t);
        }
    }

    /// The entries, most seen first (ties by key), at most `n`.
    pub fn top(&self, n: usize) -> Vec<(&str, Seen)> {
        let mut items: Vec<(&str, Seen)> = self.map.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        items.sort_by(|a, b| b.1.count.cmp(&a.1.count).then_with(|| a.0.cmp(b.0)));
        items.truncate(n);
        items
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hour(h: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + h * 3600, 0).unwrap()
    }

    #[test]
    fn a_full_map_counts_new_keys_and_still_updates_known_ones() {
        let mut m: Capped<String, Seen> = Capped::new(2);
        for (key, h) in [("a", 1), ("b", 2), ("a", 3), ("c", 4), ("b", 5), ("d", 6)] {
            m.see(key, hour(h));
        }
        assert_eq!((m.len(), m.more), (2, 2), "c and d did not fit");
        let seen = |count, first, last| Seen {
            count,
            first: hour(first),
            last: hour(last),
        };
        assert_eq!(m.top(5), vec![("a", seen(2, 1, 3)), ("b", seen(2, 2, 5))]);
    }

    #[test]
    fn a_key_is_made_owned_once_when_it_is_new() {
        let mut m: Capped<String, u32> = Capped::new(10);
        let mut made = 0;
        for _ in 0..3 {
            let make = |k: &str| {
                made += 1;
                k.to_owned()
            };
            if let Some(v) = m.entry_with("k", make, || 0) {
                *v += 1;
            }
        }
        assert_eq!((made, m.map.get("k").copied()), (1, Some(3)));
    }
}
