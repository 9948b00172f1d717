//! What the slow thief leaves: objects a principal never read before, a few an hour,
//! across its vaults. No ten-minute or six-hour window of one vault looks unusual;
//! the day does, and so does how much of each vault's inventory the principal has
//! now touched.
//!
//! Per principal, a [`Novelty`] keeps the novel reads of the sliding window (a day by
//! default: time, vault, whether the vault was new to it) and, per closed UTC day
//! with reads, the largest sliding count reached that day (sum, days, largest): the
//! history `daily_novelty` compares the sliding count with (`novelty_judge.rs`), so a
//! steady ten new objects a day, which a sliding day sees twice over, is its own
//! usual. Per vault, an [`Inventory`]
//! approximates how many distinct objects anyone read there (a 4096-bit Bloom filter
//! and a counter: accurate to a few per cent up to about a thousand objects, an
//! undercount beyond), the denominator of "share of the vault's known inventory".
//!
//! On the hot path a read costs one lookup in each table and three bit tests; the
//! judgement runs only on reads of objects new to the principal.

use serde::{Deserialize, Serialize};

/// The most novel reads kept per principal in the window (beyond, they are counted).
const MAX_RECENT: usize = 512;
/// Object names kept for evidence.
const SAMPLES: usize = 10;
/// Vault names kept for evidence.
const VAULT_NAMES: usize = 8;

/// One read of an object new to the principal.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct NovelRead {
    /// When (seconds).
    pub at: u32,
    /// The vault's key.
    pub vault: u64,
    /// The principal had never read from this vault before.
    pub new_vault: bool,
}

/// One principal's novelty: today's, the window's and its usual day.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Novelty {
    /// The UTC day (index) `today` counts.
    pub day: u32,
    /// The largest sliding count reached on `day`.
    pub today: u32,
    /// Closed days with reads.
    pub days: u32,
    /// Their largest sliding counts, summed.
    pub sum: u64,
    /// The most new objects on one of them.
    pub max: u32,
    /// Novel reads in the window, oldest first.
    pub recent: Vec<NovelRead>,
    /// Novel reads beyond [`MAX_RECENT`] in the current streak.
    pub overflow: u32,
    /// The first object names of the current streak (`secret/name`).
    pub samples: Vec<String>,
    /// The vaults of the current streak: (key, name).
    pub vaults: Vec<(u64, String)>,
    /// The count at the last finding of the streak (0: none).
    pub reported: u32,
    /// Last read (seconds), for forgetting.
    pub last: u32,
    /// The principal's kind index.
    pub kind: u8,
}

impl Novelty {
    /// Moves to the day of `now`, closing the previous one into the history; returns
    /// the closed day's count when a day closed.
    pub fn roll(&mut self, now: u32) -> Option<u32> {
        let day = now / 86_400;
        self.last = self.last.max(now);
        if day == self.day {
            return None;
        }
        let closed =
            (self.days > 0 || self.sum > 0 || self.today > 0 || self.day > 0).then_some(self.today);
        if let Some(n) = closed {
            self.days += 1;
            self.sum += u64::from(n);
            self.max = self.max.max(n);
        }
        self.day = day;
        self.today = 0;
        closed
    }

    /// The principal's mean new objects a day (0 without closed days).
    pub fn mean(&self) -> f64 {
        if self.days == 0 {
            0.0
        } else {
            self.sum as f64 / f64::from(self.days)
        }
    }

    /// Records a read of an object new to the principal, forgetting reads older than
    /// `window` seconds; returns the count in the window.
    pub fn add(&mut self, read: NovelRead, window: u32, object: &str, vault: &str) -> u32 {
        let since = read.at.saturating_sub(window);
        let old = self.recent.partition_point(|r| r.at < since);
        self.recent.drain(..old);
        if self.recent.is_empty() {
            // A quiet window: a new streak.
            self.overflow = 0;
            self.reported = 0;
            self.samples.clear();
            self.vaults.clear();
        }
        if self.recent.len() < MAX_RECENT {
            self.recent.push(read);
        } else {
            self.overflow = self.overflow.saturating_add(1);
        }
        if self.samples.len() < SAMPLES {
            self.samples.push(object.to_owned());
        }
        if self.vaults.len() < VAULT_NAMES && !self.vaults.iter().any(|(k, _)| *k == read.vault) {
            self.vaults.push((read.vault, vault.to_owned()));
        }
        let count = self.count();
        self.today = self.today.max(count);
        count
    }

    /// Forgets novel reads older than `window` seconds; a quiet window releases the
    /// streak's names (upkeep, so an idle principal holds no heap).
    pub fn expire(&mut self, now: u32, window: u32) {
        let since = now.saturating_sub(window);
        let old = self.recent.partition_point(|r| r.at < since);
        if old > 0 {
            self.recent.drain(..old);
        }
        if self.recent.is_empty() && (self.recent.capacity() > 0 || !self.samples.is_empty()) {
            self.recent = Vec::new();
            self.samples = Vec::new();
            self.vaults = Vec::new();
            self.overflow = 0;
            self.reported = 0;
        }
    }

    /// New objects in the window.
    pub fn count(&self) -> u32 {
        (self.recent.len() as u32).saturating_add(self.overflow)
    }

    /// Per vault of the window: (key, new objects, new to the principal), by count.
    pub fn per_vault(&self) -> Vec<(u64, u32, bool)> {
        let mut out: Vec<(u64, u32, bool)> = Vec::new();
        for r in &self.recent {
            match out.iter_mut().find(|v| v.0 == r.vault) {
                Some(v) => {
                    v.1 += 1;
                    v.2 |= r.new_vault;
                }
                None => out.push((r.vault, 1, r.new_vault)),
            }
        }
        out.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        out
    }

    /// A vault's name, when the streak kept it.
    pub fn vault_name(&self, key: u64) -> Option<&str> {
        self.vaults
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, n)| n.as_str())
    }

    /// Whether a finding should report `n` now (the streak's first, or doubled).
    pub fn report(&mut self, n: u32) -> bool {
        if self.reported == 0 || n >= self.reported.saturating_mul(2) {
            self.reported = n;
            true
        } else {
            false
        }
    }

    /// Heap bytes held.
    pub fn heap_bytes(&self) -> usize {
        self.recent.capacity() * std::mem::size_of::<NovelRead>()
            + self.samples.iter().map(|s| s.len() + 24).sum::<usize>()
            + self.vaults.iter().map(|(_, s)| s.len() + 32).sum::<usize>()
    }
}

/// The distinct objects anyone read in one vault, approximately.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Inventory {
    bloom: Vec<u64>,
    /// Distinct objects counted.
    pub known: u32,
}

impl Default for Inventory {
    fn default() -> Self {
        Inventory {
            bloom: vec![0; 64],
            known: 0,
        }
    }
}

impl Inventory {
    fn bits(h: u64) -> [usize; 3] {
        let h = h.rotate_left(17) ^ 0x9e37_79b9_7f4a_7c15;
        [
            (h & 4095) as usize,
            ((h >> 12) & 4095) as usize,
            ((h >> 24) & 4095) as usize,
        ]
    }

    /// Counts `object` (a hash) if it was not counted before.
    pub fn learn(&mut self, object: u64) {
        if self.bloom.len() != 64 {
            self.bloom.resize(64, 0);
        }
        let mut fresh = false;
        for b in Self::bits(object) {
            let (word, bit) = (b / 64, 1u64 << (b % 64));
            fresh |= self.bloom[word] & bit == 0;
            self.bloom[word] |= bit;
        }
        if fresh {
            self.known = self.known.saturating_add(1);
        }
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        std::mem::size_of::<Self>() + self.bloom.capacity() * 8
    }
}

/// The share of a vault's known inventory that `n` objects are (1 when unknown).
pub fn share(n: u32, known: u32) -> f64 {
    f64::from(n) / f64::from(known.max(n).max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(at: u32, vault: u64) -> NovelRead {
        NovelRead {
            at,
            vault,
            new_vault: vault == 2,
        }
    }

    #[test]
    fn days_close_into_the_history_and_the_window_slides() {
        let mut n = Novelty::default();
        n.roll(10);
        assert_eq!(n.add(read(10, 1), 86_400, "secret/a", "v1"), 1);
        assert_eq!(n.add(read(20, 2), 86_400, "secret/b", "v2"), 2);
        // The next day closes the first: 2 new objects on 1 day.
        assert_eq!(n.roll(86_400 + 5), Some(2));
        assert_eq!((n.days, n.sum, n.max), (1, 2, 2));
        // Still in the window a day later minus a bit; gone after.
        assert_eq!(n.add(read(86_400 + 5, 1), 86_400, "secret/c", "v1"), 3);
        assert_eq!(n.per_vault(), vec![(1, 2, false), (2, 1, true)]);
        // The day's peak of the sliding count closes into the history.
        assert_eq!(n.roll(200_000), Some(3));
        assert_eq!(n.add(read(200_000, 1), 86_400, "secret/d", "v1"), 1);
        // A day without novelty still counts as a day.
        assert_eq!(n.roll(3 * 86_400), Some(1));
        assert_eq!(n.roll(4 * 86_400), Some(0));
        assert_eq!((n.days, n.sum, n.max), (4, 6, 3));
        assert!((n.mean() - 1.5).abs() < 1e-9);
    }

    #[test]
    fn a_quiet_window_starts_a_new_streak_and_reports_double() {
        let mut n = Novelty::default();
        n.add(read(10, 1), 3600, "secret/a", "v1");
        assert!(n.report(15));
        assert!(!n.report(20));
        assert!(n.report(30));
        n.add(read(10 + 7200, 1), 3600, "secret/b", "v1");
        assert_eq!(n.reported, 0);
        assert_eq!(n.samples, vec!["secret/b".to_owned()]);
        // Upkeep releases a quiet window's reads and names.
        n.expire(10 + 7200 + 3599, 3600);
        assert_eq!(n.count(), 1);
        n.expire(10 + 7200 + 3601, 3600);
        assert_eq!((n.count(), n.recent.capacity(), n.samples.len()), (0, 0, 0));
    }

    #[test]
    fn the_inventory_counts_distinct_objects() {
        let mut inv = Inventory::default();
        for i in 0..300u64 {
            inv.learn(crate::detect::baseline::keys::hash64(&i.to_le_bytes()));
            inv.learn(crate::detect::baseline::keys::hash64(&i.to_le_bytes()));
        }
        assert!((285..=300).contains(&inv.known), "{}", inv.known);
        assert!((share(30, 60) - 0.5).abs() < 1e-9);
        assert!((share(30, 0) - 1.0).abs() < 1e-9);
    }
}
