//! A map from principal key to a large value, that wastes little memory.
//!
//! A hash table keeps empty buckets: hashbrown runs between 7/16 and 7/8 full, so
//! a table of 500-byte profiles spends, on average, a few hundred bytes per
//! principal on buckets that hold nothing, and while it grows it briefly holds the
//! old and the new table at once. At a million principals that slack was most of
//! the gap between kvwatch and its memory target. [`KeyedSlab`] keeps the values
//! densely in fixed-size chunks, and the hash table maps a key to a slot number
//! only (24 bytes a bucket), so the slack costs tens of bytes per principal and a
//! growing table never copies a profile. Removal moves the last value into the
//! freed slot, so the values stay dense; iteration order is therefore arbitrary.

use std::hash::{Hash, Hasher};

use super::cap::{self, Rank};
use super::keys::FastMap;

/// Values per chunk: large enough that chunk headers do not matter, small enough
/// that the last, partly filled chunk does not either. The first chunk grows to
/// this size as an ordinary vector does, so a small tenant pays for what it has.
const CHUNK: usize = 1024;

/// A principal key in the index, as two words (8-byte aligned, so an index bucket
/// is 24 bytes rather than the 32 a 16-byte-aligned `u128` would take).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Key(u64, u64);

impl Key {
    fn of(key: u128) -> Self {
        Key(key as u64, (key >> 64) as u64)
    }
}

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.0 ^ self.1);
    }
}

/// Values keyed by principal, stored densely.
#[derive(Debug, Clone)]
pub struct KeyedSlab<V> {
    index: FastMap<Key, u32>,
    chunks: Vec<Vec<(u128, V)>>,
    len: usize,
}

impl<V> Default for KeyedSlab<V> {
    fn default() -> Self {
        KeyedSlab {
            index: FastMap::default(),
            chunks: Vec::new(),
            len: 0,
        }
    }
}

impl<V> KeyedSlab<V> {
    /// How many values.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn slot(&self, at: usize) -> &(u128, V) {
        &self.chunks[at / CHUNK][at % CHUNK]
    }

    fn slot_mut(&mut self, at: usize) -> &mut (u128, V) {
        &mut self.chunks[at / CHUNK][at % CHUNK]
    }

    /// The value of `key`.
    pub fn get(&self, key: u128) -> Option<&V> {
        let at = *self.index.get(&Key::of(key))?;
        Some(&self.slot(at as usize).1)
    }

    /// The value of `key`, mutably.
    pub fn get_mut(&mut self, key: u128) -> Option<&mut V> {
        let at = *self.index.get(&Key::of(key))?;
        Some(&mut self.slot_mut(at as usize).1)
    }

    /// Whether `key` has a value.
    pub fn contains_key(&self, key: u128) -> bool {
        self.index.contains_key(&Key::of(key))
    }

    /// The value of `key`, inserting `make()` first when there is none.
    pub fn get_or_insert_with(&mut self, key: u128, make: impl FnOnce() -> V) -> &mut V {
        let at = match self.index.get(&Key::of(key)) {
            Some(at) => *at as usize,
            None => self.push(key, make()),
        };
        &mut self.slot_mut(at).1
    }

    fn push(&mut self, key: u128, value: V) -> usize {
        let at = self.len;
        match self.chunks.last() {
            None => self.chunks.push(Vec::new()),
            Some(c) if c.len() == CHUNK => self.chunks.push(Vec::with_capacity(CHUNK)),
            Some(_) => {}
        }
        if let Some(chunk) = self.chunks.last_mut() {
            chunk.push((key, value));
        }
        // More than u32::MAX principals would not fit in memory long before.
        self.index.insert(Key::of(key), at as u32);
        self.len += 1;
        at
    }

    /// Removes `key`'s value and returns it.
    pub fn remove(&mut self, key: u128) -> Option<V> {
        let at = self.index.remove(&Key::of(key))? as usize;
        let (last_key, last_value) = self.chunks.last_mut()?.pop()?;
        if self.chunks.last().is_some_and(Vec::is_empty) {
            self.chunks.pop();
        }
        self.len -= 1;
        if at == self.len {
            return Some(last_value);
        }
        // The last value fills the freed slot.
        self.index.insert(Key::of(last_key), at as u32);
        let (_, removed) = std::mem::replace(self.slot_mut(at), (last_key, last_value));
        Some(removed)
    }

    /// Keeps the values for which `keep` holds.
    pub fn retain(&mut self, mut keep: impl FnMut(u128, &mut V) -> bool) {
        // From the end: a removal moves the last value, already visited and kept,
        // into the freed slot.
        for at in (0..self.len).rev() {
            let (key, value) = self.slot_mut(at);
            let key = *key;
            if !keep(key, value) {
                self.remove(key);
            }
        }
    }

    /// Makes room for one new key under `cap` (see [`cap`]): evicts the
    /// lowest-ranked values, a batch at a time, and returns them.
    pub fn make_room(&mut self, cap: usize, rank: impl Fn(&V) -> Rank) -> Vec<(u128, V)> {
        let count = cap::excess(self.len, cap);
        if count == 0 {
            return Vec::new();
        }
        let ranked: Vec<(Rank, u128)> = self.iter().map(|(k, v)| (rank(v), k)).collect();
        cap::lowest(ranked, count)
            .into_iter()
            .filter_map(|k| self.remove(k).map(|v| (k, v)))
            .collect()
    }

    /// Every key and value.
    pub fn iter(&self) -> impl Iterator<Item = (u128, &V)> {
        self.chunks.iter().flatten().map(|(k, v)| (*k, v))
    }

    /// Every value.
    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.chunks.iter().flatten().map(|(_, v)| v)
    }

    /// How many values the index holds without growing.
    pub fn capacity(&self) -> usize {
        self.index.capacity()
    }

    /// Returns spare index capacity to the allocator.
    pub fn shrink_to_fit(&mut self) {
        self.index.shrink_to_fit();
        self.chunks.shrink_to_fit();
    }

    /// Bytes held: the chunks allocated and the index's buckets.
    pub fn memory_bytes(&self) -> usize {
        let bucket = std::mem::size_of::<(Key, u32)>() + 1;
        // hashbrown allocates 8/7 buckets per unit of capacity (a power of two).
        let buckets = (self.index.capacity() * 8).div_ceil(7);
        self.chunks.iter().map(Vec::capacity).sum::<usize>() * std::mem::size_of::<(u128, V)>()
            + self.chunks.capacity() * std::mem::size_of::<Vec<(u128, V)>>()
            + buckets * bucket
    }
}

impl<V> FromIterator<(u128, V)> for KeyedSlab<V> {
    fn from_iter<I: IntoIterator<Item = (u128, V)>>(items: I) -> Self {
        let mut slab = KeyedSlab::default();
        for (key, value) in items {
            match slab.get_mut(key) {
                Some(v) => *v = value,
                None => {
                    slab.push(key, value);
                }
            }
        }
        slab
    }
}

/// A slab saves as a sequence of `(key, value)` pairs, chunk by chunk, borrowed:
/// the same form as a `Vec<(u128, V)>`, so snapshots that held one still load.
impl<V: serde::Serialize> serde::Serialize for KeyedSlab<V> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        // The length first: compact formats need it, and a flattened iterator
        // does not know it.
        let mut seq = s.serialize_seq(Some(self.len))?;
        for (k, v) in self.chunks.iter().flatten() {
            seq.serialize_element(&(k, v))?;
        }
        seq.end()
    }
}

/// A slab loads from a sequence of `(key, value)` pairs, straight into its chunks.
impl<'de, V: serde::Deserialize<'de>> serde::Deserialize<'de> for KeyedSlab<V> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Pairs<V>(std::marker::PhantomData<V>);
        impl<'de, V: serde::Deserialize<'de>> serde::de::Visitor<'de> for Pairs<V> {
            type Value = KeyedSlab<V>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a sequence of (principal key, value) pairs")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Self::Value, A::Error> {
                let mut slab = KeyedSlab::default();
                while let Some((key, value)) = seq.next_element::<(u128, V)>()? {
                    match slab.get_mut(key) {
                        Some(v) => *v = value,
                        None => {
                            slab.push(key, value);
                        }
                    }
                }
                Ok(slab)
            }
        }
        d.deserialize_seq(Pairs(std::marker::PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// The slab behaves as a map, through growth past several chunks, removals
    /// from the middle, the end and the start, and retain.
    #[test]
    fn behaves_as_a_map() {
        let mut slab: KeyedSlab<u64> = KeyedSlab::default();
        let mut model: HashMap<u128, u64> = HashMap::new();
        let key = |i: u64| u128::from(i) << 64 | u128::from(i * 7919);
        for i in 0..5000u64 {
            *slab.get_or_insert_with(key(i), || i) += 1;
            *model.entry(key(i)).or_insert(i) += 1;
        }
        for i in (0..5000u64).step_by(3) {
            assert_eq!(slab.remove(key(i)), model.remove(&key(i)));
        }
        assert_eq!(slab.remove(key(0)), None);
        slab.retain(|_, v| *v % 2 == 0);
        model.retain(|_, v| *v % 2 == 0);
        assert_eq!(slab.len(), model.len());
        for (k, v) in &model {
            assert_eq!(slab.get(*k), Some(v));
        }
        let mut seen: Vec<(u128, u64)> = slab.iter().map(|(k, v)| (k, *v)).collect();
        seen.sort_unstable();
        let mut expected: Vec<(u128, u64)> = model.into_iter().collect();
        expected.sort_unstable();
        assert_eq!(seen, expected);
        for (k, _) in expected {
            assert!(slab.remove(k).is_some());
        }
        assert!(slab.is_empty());
        assert_eq!(slab.chunks.len(), 0, "empty chunks are released");
    }

    /// Keys that differ only in their high or low half stay apart.
    #[test]
    fn both_halves_of_the_key_count() {
        let slab: KeyedSlab<u8> = [(1u128, 1u8), (1u128 << 64, 2), ((1u128 << 64) | 1, 3)]
            .into_iter()
            .collect();
        assert_eq!(slab.get(1), Some(&1));
        assert_eq!(slab.get(1 << 64), Some(&2));
        assert_eq!(slab.get((1 << 64) | 1), Some(&3));
    }
}
