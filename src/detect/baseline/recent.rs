//! Small fixed-capacity sets that remember when each member was last seen.
//!
//! Baselines keep "countries seen", "networks seen", "vaults touched", "user agents"
//! per principal. Real principals have a handful of each, attackers and roaming users
//! a few more; an unbounded set per principal would let one noisy identity grow
//! memory without limit. [`Recent`] holds at most `N` members inline (no heap) and,
//! when full, replaces the one seen longest ago, so what it forgets is what matters
//! least. Serialised as a plain list.

use serde::{Deserialize, Serialize};

/// One member and when it was last seen. (Snapshots written before 0.1 also
/// carry a sighting count, which nothing used; it is ignored.)
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Seen<T> {
    /// The member.
    pub item: T,
    /// When it was last seen (seconds).
    pub last: u32,
}

/// At most `N` members, least recently seen evicted first.
#[derive(Debug, Clone, PartialEq)]
pub struct Recent<T: Copy + Default + PartialEq, const N: usize> {
    slots: [Seen<T>; N],
    len: u8,
}

impl<T: Copy + Default + PartialEq, const N: usize> Default for Recent<T, N> {
    fn default() -> Self {
        Recent {
            slots: [Seen::default(); N],
            len: 0,
        }
    }
}

impl<T: Copy + Default + PartialEq, const N: usize> Recent<T, N> {
    /// The members.
    pub fn iter(&self) -> impl Iterator<Item = &Seen<T>> {
        self.slots[..usize::from(self.len)].iter()
    }

    /// How many members.
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The entry for `item`, if present.
    pub fn get(&self, item: T) -> Option<&Seen<T>> {
        self.iter().find(|s| s.item == item)
    }

    /// Whether `item` is present.
    pub fn contains(&self, item: T) -> bool {
        self.get(item).is_some()
    }

    /// Records a sighting; returns whether `item` was new.
    pub fn touch(&mut self, item: T, now: u32) -> bool {
        let len = usize::from(self.len);
        if let Some(s) = self.slots[..len].iter_mut().find(|s| s.item == item) {
            s.last = s.last.max(now);
            return false;
        }
        let fresh = Seen { item, last: now };
        if len < N {
            self.slots[len] = fresh;
            self.len += 1;
        } else if let Some(oldest) = self.slots.iter_mut().min_by_key(|s| s.last) {
            *oldest = fresh;
        }
        true
    }

    /// A set of the first `N` of `members`.
    pub fn from_members(members: impl IntoIterator<Item = Seen<T>>) -> Self {
        let mut r = Recent::default();
        for (slot, member) in r.slots.iter_mut().zip(members) {
            *slot = member;
            r.len += 1;
        }
        r
    }

    /// Drops members last seen before `t`; returns them.
    pub fn forget_before(&mut self, t: u32) -> Vec<T> {
        let mut gone = Vec::new();
        let mut kept = 0usize;
        for i in 0..usize::from(self.len) {
            let s = self.slots[i];
            if s.last >= t {
                self.slots[kept] = s;
                kept += 1;
            } else {
                gone.push(s.item);
            }
        }
        self.len = kept as u8;
        gone
    }
}

impl<T: Copy + Default + PartialEq + Serialize, const N: usize> Serialize for Recent<T, N> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

impl<'de, T: Copy + Default + PartialEq + Deserialize<'de>, const N: usize> Deserialize<'de>
    for Recent<T, N>
{
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let items: Vec<Seen<T>> = Vec::deserialize(d)?;
        Ok(Recent::from_members(items))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_and_least_recent_goes() {
        let mut r: Recent<u64, 3> = Recent::default();
        assert!(r.touch(1, 10));
        assert!(r.touch(2, 20));
        assert!(r.touch(3, 30));
        assert!(!r.touch(1, 40));
        assert!(r.touch(4, 50)); // evicts 2 (last seen 20)
        assert!(!r.contains(2) && r.contains(1) && r.contains(4));
        assert_eq!(r.get(1).map(|s| s.last), Some(40));
        let json = serde_json::to_string(&r).unwrap();
        let back: Recent<u64, 3> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, r);
        assert_eq!(r.forget_before(35), vec![3]);
        assert_eq!(r.len(), 2);
    }
}
