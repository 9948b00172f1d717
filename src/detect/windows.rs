//! Sliding windows over event time: distinct items with their last sighting, and
//! plain event counts. Both are bounded so that one flooding principal cannot grow
//! a detector's memory without limit (past the cap, the oldest sighting goes, which
//! can only under-count, never invent activity).

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

/// Distinct items (hashed) with the last time each was seen and one flag bit.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DistinctWindow {
    items: Vec<(u64, u32, bool)>,
}

impl DistinctWindow {
    /// Records `item` at `now`; returns whether it is new to the window. `flag` is
    /// stored with a new item (callers use it for "known before").
    pub fn touch(&mut self, item: u64, now: u32, flag: bool, cap: usize) -> bool {
        if let Some(e) = self.items.iter_mut().find(|e| e.0 == item) {
            e.1 = e.1.max(now);
            return false;
        }
        if self.items.len() >= cap.max(1) {
            if let Some(i) = self
                .items
                .iter()
                .enumerate()
                .min_by_key(|(_, e)| e.1)
                .map(|(i, _)| i)
            {
                self.items.swap_remove(i);
            }
        }
        self.items.push((item, now, flag));
        true
    }

    /// Items seen at or after `since`.
    pub fn count_since(&self, since: u32) -> usize {
        self.items.iter().filter(|e| e.1 >= since).count()
    }

    /// Items seen at or after `since` whose flag is set.
    pub fn flagged_since(&self, since: u32) -> usize {
        self.items.iter().filter(|e| e.1 >= since && e.2).count()
    }

    /// The items seen at or after `since` (no allocation).
    pub fn items_since(&self, since: u32) -> impl Iterator<Item = u64> + '_ {
        self.items.iter().filter(move |e| e.1 >= since).map(|e| e.0)
    }

    /// Whether `item` is in the window (at or after `since`).
    pub fn contains_since(&self, item: u64, since: u32) -> bool {
        self.items.iter().any(|e| e.0 == item && e.1 >= since)
    }

    /// Drops items last seen before `before`.
    pub fn prune(&mut self, before: u32) {
        self.items.retain(|e| e.1 >= before);
        if self.items.capacity() > 4 * self.items.len().max(8) {
            self.items.shrink_to_fit();
        }
    }

    /// Items held.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether empty.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Bytes on the heap.
    pub fn heap_bytes(&self) -> usize {
        self.items.capacity() * std::mem::size_of::<(u64, u32, bool)>()
    }
}

/// Event times in a sliding window (bounded).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CountWindow {
    times: VecDeque<u32>,
}

impl CountWindow {
    /// Records an event at `now`, forgetting those before `now - window`.
    pub fn add(&mut self, now: u32, window: u32, cap: usize) {
        self.prune(now.saturating_sub(window));
        if self.times.len() >= cap.max(1) {
            self.times.pop_front();
        }
        self.times.push_back(now);
    }

    /// Events at or after `since`.
    pub fn count_since(&self, since: u32) -> usize {
        self.times.iter().rev().take_while(|&&t| t >= since).count()
    }

    /// The first event time still held.
    pub fn first(&self) -> Option<u32> {
        self.times.front().copied()
    }

    /// Drops events before `before`.
    pub fn prune(&mut self, before: u32) {
        while self.times.front().is_some_and(|&t| t < before) {
            self.times.pop_front();
        }
    }

    /// Events held.
    pub fn len(&self) -> usize {
        self.times.len()
    }

    /// Whether empty.
    pub fn is_empty(&self) -> bool {
        self.times.is_empty()
    }

    /// Bytes on the heap.
    pub fn heap_bytes(&self) -> usize {
        self.times.capacity() * 4
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_slide_and_stay_bounded() {
        let mut d = DistinctWindow::default();
        for i in 0..10u64 {
            d.touch(i % 4, 100 + i as u32, i == 0, 3);
        }
        assert_eq!(d.len(), 3);
        assert_eq!(d.count_since(107), 3);
        d.prune(108);
        assert_eq!(d.len(), 2);
        let mut c = CountWindow::default();
        for t in [0u32, 10, 20, 700] {
            c.add(t, 600, 100);
        }
        assert_eq!((c.len(), c.count_since(650)), (1, 1));
    }
}
