//! The principal cap, enforced when a principal is inserted, so a flood of new
//! identities (a tenant's automation, or an attacker minting them) can never grow
//! the baselines or a detector's per-principal state past `max_principals`.
//!
//! Checking on insertion alone would make every new principal past the cap pay for a
//! scan of the whole table. Instead, when a table is full, one scan evicts a batch
//! ([`headroom`]: a tenth of the cap), so the scan is paid once per that many
//! insertions: a handful of comparisons per new principal, amortised.
//!
//! Which entries go ([`Rank`], smallest first) is the eviction policy:
//! 1. entries that are *not busy*: quiet for an hour, or seen only once, go first,
//!    least recently seen first;
//! 2. only then busy entries (more than one event within the last hour), least
//!    recently seen first.
//!
//! So a flood of one-record identities evicts other one-record identities, and a
//! principal in the middle of something (a burst of reads or failures, which is
//! what alerts need) keeps its state as long as the table holds anything else. The
//! rank ends with the key, so ties are broken the same way on every run: the
//! eviction depends on the events alone (event time, never the wall clock or a hash
//! table's order), and replay on one core and on all cores evicts the same entries.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash};

/// How long (seconds) a principal with more than one event counts as busy.
pub const BUSY_SECS: u32 = 3600;

/// Where an entry stands for eviction: the smallest rank goes first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Rank {
    /// Busy: more than one event, the last within [`BUSY_SECS`].
    busy: bool,
    /// When it was last seen (seconds).
    last: u32,
}

impl Rank {
    /// The rank of an entry last seen at `last` with `events` events, at `now`.
    pub fn of(last: u32, events: u32, now: u32) -> Rank {
        Rank {
            busy: events > 1 && last.saturating_add(BUSY_SECS) >= now,
            last,
        }
    }
}

/// How many entries one eviction removes beyond the one that makes room: a tenth
/// of the cap, so a full table is scanned once per that many insertions.
pub fn headroom(cap: usize) -> usize {
    cap / 10
}

/// How many entries to evict before inserting a new one into a table of `len`
/// entries under `cap` (0 while there is room).
pub fn excess(len: usize, cap: usize) -> usize {
    if len < cap.max(1) {
        0
    } else {
        len + 1 - cap.max(1) + headroom(cap)
    }
}

/// The `count` lowest-ranked keys among `entries` (rank, then key), in that order.
pub fn lowest<K: Ord + Copy>(mut entries: Vec<(Rank, K)>, count: usize) -> Vec<K> {
    let count = count.min(entries.len());
    if count == 0 {
        return Vec::new();
    }
    if count < entries.len() {
        entries.select_nth_unstable(count - 1);
        entries.truncate(count);
    }
    entries.sort_unstable();
    entries.into_iter().map(|(_, k)| k).collect()
}

/// Makes room for one new key in `map` under `cap`, evicting the lowest-ranked
/// entries (see the module doc); returns how many went.
pub fn make_room<K, V, S>(
    map: &mut HashMap<K, V, S>,
    cap: usize,
    rank: impl Fn(&V) -> Rank,
) -> usize
where
    K: Hash + Eq + Ord + Copy,
    S: BuildHasher,
{
    let count = excess(map.len(), cap);
    if count == 0 {
        return 0;
    }
    let ranked: Vec<(Rank, K)> = map.iter().map(|(k, v)| (rank(v), *k)).collect();
    let gone = lowest(ranked, count);
    for k in &gone {
        map.remove(k);
    }
    gone.len()
}

/// Counts evictions and logs them once per burst (at most once an hour of event
/// time), never once per principal.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EvictionLog {
    /// Evicted since start.
    pub total: u64,
    /// Evicted since the last log line.
    unlogged: u64,
    /// When the last line was logged (event time, seconds; 0 = never).
    logged_at: u32,
}

impl EvictionLog {
    /// Counts `n` evictions from `table` at `now` under `cap`, logging a warning if
    /// none was logged within the last hour of event time.
    pub fn count(&mut self, table: &'static str, n: usize, cap: usize, now: u32) {
        if n == 0 {
            return;
        }
        self.total += n as u64;
        self.unlogged += n as u64;
        if self.logged_at == 0 || now >= self.logged_at.saturating_add(3600) {
            tracing::warn!(
                table,
                evicted = self.unlogged,
                evicted_total = self.total,
                max_principals = cap,
                "more principals than [detectors] max_principals: the least recently seen \
                 (quiet or one-event ones first) were evicted to stay within it; \
                 logged at most once an hour"
            );
            self.unlogged = 0;
            self.logged_at = now.max(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The policy as a table: which entries a full table of four gives up first.
    #[test]
    fn quiet_and_one_event_entries_go_before_busy_ones() {
        let now = 10_000;
        // (key, last seen, events)
        let entries = [
            (1u32, now - 10, 5), // busy: several events, recent
            (2, now - 5000, 50), // quiet for over an hour
            (3, now - 1, 1),     // one event, recent
            (4, now - 20, 1),    // one event, a little older
            (5, now - 3000, 2),  // busy, the least recent of the busy
        ];
        let ranked: Vec<(Rank, u32)> = entries
            .iter()
            .map(|&(k, last, n)| (Rank::of(last, n, now), k))
            .collect();
        assert_eq!(lowest(ranked.clone(), 3), vec![2, 4, 3]);
        assert_eq!(lowest(ranked, 5), vec![2, 4, 3, 5, 1]);
    }

    #[test]
    fn a_full_table_evicts_a_tenth_of_its_cap() {
        assert_eq!(excess(999, 1000), 0);
        assert_eq!(excess(1000, 1000), 101);
        assert_eq!(excess(5, 5), 1);
        assert_eq!(excess(0, 0), 0);
        assert_eq!(excess(1, 0), 1);
    }

    #[test]
    fn make_room_keeps_a_map_under_its_cap_whatever_its_order() {
        let mut map: HashMap<u64, (u32, u32)> = HashMap::new();
        for i in 0..10_000u64 {
            let gone = make_room(&mut map, 100, |&(last, n)| Rank::of(last, n, i as u32));
            assert!(gone == 0 || map.len() < 100);
            map.insert(i, (i as u32, 1));
            assert!(map.len() <= 100);
        }
        // The most recent stay.
        assert!(map.contains_key(&9_999) && !map.contains_key(&0));
    }
}
