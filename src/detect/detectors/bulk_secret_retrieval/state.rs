//! What `bulk_secret_retrieval` counts and learns.
//!
//! Per principal and vault, an [`Active`] episode holds the distinct objects read in
//! the long window (hashed, with their last read time), from which both sliding
//! counts are taken. Learning uses tumbling windows: the *peak* sliding count seen in
//! each short and long tumble is recorded into the principal's [`History`] and its
//! kind's population, so a burst that straddles a tumble boundary is still learned
//! whole. History also keeps the hours of the day at which large reads happened (to
//! tell a scheduled job from one running off schedule) and a 512-bit Bloom filter of
//! objects read before (to tell "its usual secrets" from new ones). Episodes are
//! dropped when quiet for the long window; histories follow the baselines' forgetting.
//!
//! `daily_novelty` adds, per principal, its [`Novelty`] and, per vault, its
//! [`Inventory`] (`novelty.rs`). Snapshots write them after everything else, so a
//! snapshot of a build without them still loads (postcard reads fields in order: the
//! older bytes are the newer ones cut before the novelty), with nothing learned yet.
//!
//! The run-to-run baseline adds, per service principal or managed identity and vault,
//! its [`Runs`] (`runs.rs`): written after the novelty, for the same reason.

use std::net::IpAddr;

use std::fmt;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

use super::novelty::{Inventory, Novelty};
use super::rule::Report;
use super::runs::Runs;
use crate::detect::baseline::cap::{self, Rank};
use crate::detect::baseline::keys::FastMap;
use crate::detect::baseline::stats::LogHist;
use crate::detect::baseline::KeyedSlab;
use crate::detect::detector::DetectorMemory;
use crate::detect::stateful::DetectorState;
use crate::detect::windows::{CountWindow, DistinctWindow};

/// What one principal's reads looked like before.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    /// Peak distinct objects per short tumble with reads.
    pub short: LogHist,
    /// Peak distinct objects per long tumble with reads.
    pub long: LogHist,
    /// Hours of the day (bit per hour, UTC) with a large short window.
    pub large_hours: u32,
    /// Large short windows seen.
    pub large_windows: u16,
    bloom: [u64; 8],
    /// Last read (seconds).
    pub last: u32,
    /// First read (seconds).
    pub first: u32,
    /// The principal's kind index.
    pub kind: u8,
}

impl History {
    fn bits(h: u64) -> [usize; 3] {
        [
            (h & 511) as usize,
            ((h >> 9) & 511) as usize,
            ((h >> 18) & 511) as usize,
        ]
    }

    /// Whether the object was (probably) read before.
    pub fn knows(&self, h: u64) -> bool {
        Self::bits(h)
            .iter()
            .all(|&b| self.bloom[b / 64] & (1 << (b % 64)) != 0)
    }

    /// Remembers an object.
    pub fn learn_object(&mut self, h: u64) {
        for b in Self::bits(h) {
            self.bloom[b / 64] |= 1 << (b % 64);
        }
    }

    /// Whether large reads happen on a schedule (few hours of the day).
    pub fn scheduled(&self, max_hours: u32, min_windows: u32) -> bool {
        u32::from(self.large_windows) >= min_windows && self.large_hours.count_ones() <= max_hours
    }

    /// Whether `hour` is within `slack` of an hour with large reads.
    pub fn on_schedule(&self, hour: u32, slack: u32) -> bool {
        (0..=2 * slack).any(|i| self.large_hours & (1 << ((hour + 24 + i - slack) % 24)) != 0)
    }

    /// The hours with large reads, for evidence (`02:00`).
    pub fn hours(&self) -> Vec<String> {
        (0..24)
            .filter(|h| self.large_hours & (1 << h) != 0)
            .map(|h| format!("{h:02}:00"))
            .collect()
    }
}

/// One principal's reads on one vault in the current episode.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Active {
    /// Distinct objects read (hash, last read, read before this episode).
    pub objects: DistinctWindow,
    /// Index of the current short tumble.
    pub short_tumble: u32,
    /// Index of the current long tumble.
    pub long_tumble: u32,
    /// Peak short count in the current short tumble.
    pub short_peak: u32,
    /// Peak long count in the current long tumble.
    pub long_peak: u32,
    /// The last List (seconds; 0 = none).
    pub last_list: u32,
    /// 429 responses.
    pub throttled: CountWindow,
    /// Reads in the episode.
    pub reads: u32,
    /// Episode start (seconds).
    pub first: u32,
    /// Latest read or list (seconds).
    pub last: u32,
    /// Counts at the last finding, by [`Report`] slot.
    reported: [u32; Report::COUNT],
    /// Object names (first ones).
    pub samples: Vec<String>,
    /// Caller addresses (first ones).
    pub addresses: Vec<IpAddr>,
    /// The principal's kind index.
    pub kind: u8,
    /// Some read of the episode came from a place the principal had never used.
    pub new_place: bool,
}

impl Active {
    /// A new episode starting at `now`, in the given tumbles.
    pub fn starting(now: u32, short_tumble: u32, long_tumble: u32, kind: u8) -> Self {
        Active {
            short_tumble,
            long_tumble,
            first: now,
            kind,
            ..Default::default()
        }
    }

    /// Whether a finding should report `n` under `slot` now (its first report, or
    /// `n` doubled since); remembers `n` if so.
    pub fn report(&mut self, slot: Report, n: u32) -> bool {
        let prev = &mut self.reported[slot.slot()];
        if *prev == 0 || n >= *prev * 2 {
            *prev = n;
            true
        } else {
            false
        }
    }

    /// Whether anything was reported under `slot` in this episode.
    pub fn reported(&self, slot: Report) -> bool {
        self.reported[slot.slot()] > 0
    }
}

/// Everything the detector holds.
#[derive(Debug, Default)]
pub struct State {
    /// Learned, per principal.
    pub history: KeyedSlab<History>,
    /// Transient, per principal and vault.
    pub active: FastMap<(u128, u64), Active>,
    /// Population short peaks per principal kind.
    pub pop_short: [LogHist; 4],
    /// Population long peaks per principal kind.
    pub pop_long: [LogHist; 4],
    /// Per-vault short peaks (for evidence).
    pub vault_short: FastMap<u64, LogHist>,
    /// Per kind: the population quantile of principals' largest short and long windows.
    pub pop_principal: [[u32; 2]; 4],
    /// Per kind: principals with read history.
    pub pop_principals: [u32; 4],
    /// Last upkeep (seconds).
    pub last_prune: u32,
    /// Last population refresh (seconds).
    pub last_population: u32,
    /// Per principal: objects new to it, today, in the window and on its past days.
    pub novelty: FastMap<u128, Novelty>,
    /// Per vault: the distinct objects anyone read there (approximately).
    pub inventory: FastMap<u64, Inventory>,
    /// Per kind: new objects over all principals' closed days, and those days.
    pub pop_novelty: [(u64, u64); 4],
    /// Per automated principal and vault: its runs (bounded kinds of run).
    pub runs: FastMap<(u128, u64), Runs>,
}

/// What `daily_novelty` saves, after the rest.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct NoveltySnapshot {
    novelty: Vec<(u128, Novelty)>,
    inventory: Vec<(u64, Inventory)>,
    pop_novelty: [(u64, u64); 4],
}

/// What the run-to-run baseline saves, after the novelty.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct RunsSnapshot {
    runs: Vec<(u128, u64, Runs)>,
}

/// A snapshot read back: this build's, or an older one without the novelty or the runs.
pub struct Restored {
    main: Snapshot<KeyedSlab<History>>,
    novelty: NoveltySnapshot,
    runs: RunsSnapshot,
}

impl<'de> Deserialize<'de> for Restored {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if d.is_human_readable() {
            // JSON parts come from format 1 snapshots only, written by builds
            // without the novelty.
            return Ok(Restored {
                main: Snapshot::deserialize(d)?,
                novelty: NoveltySnapshot::default(),
                runs: RunsSnapshot::default(),
            });
        }
        struct Parts;
        impl<'de> Visitor<'de> for Parts {
            type Value = Restored;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("bulk_secret_retrieval's state, then its novelty and runs")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Restored, A::Error> {
                let main = seq
                    .next_element()?
                    .ok_or_else(|| de::Error::invalid_length(0, &self))?;
                // Older snapshots end before the novelty, or before the runs.
                let novelty = seq.next_element().ok().flatten().unwrap_or_default();
                let runs = seq.next_element().ok().flatten().unwrap_or_default();
                Ok(Restored {
                    main,
                    novelty,
                    runs,
                })
            }
        }
        d.deserialize_tuple(3, Parts)
    }
}

/// The saved form of [`State`]: the histories borrowed when saving, read straight
/// into their slab when restoring (never copied whole).
#[derive(Serialize, Deserialize)]
pub struct Snapshot<H> {
    history: H,
    active: Vec<(u128, u64, Active)>,
    pop_short: [LogHist; 4],
    pop_long: [LogHist; 4],
    vault_short: Vec<(u64, LogHist)>,
    pop_principal: [[u32; 2]; 4],
    pop_principals: [u32; 4],
    last_prune: u32,
    last_population: u32,
}

/// The most vaults with their own peak histogram.
const MAX_VAULT_HISTS: usize = 20_000;

impl State {
    /// Recomputes, per kind, the quantile `q` over principals of their largest windows.
    pub fn refresh_population(&mut self, q: f64, now: u32) {
        self.last_population = now;
        let mut maxes: [[Vec<u32>; 2]; 4] = Default::default();
        for h in self.history.values() {
            let k = usize::from(h.kind).min(3);
            if h.short.total() > 0 {
                maxes[k][0].push(h.short.max());
                maxes[k][1].push(h.long.max());
            }
        }
        for (k, pair) in maxes.iter_mut().enumerate() {
            self.pop_principals[k] = pair[0].len() as u32;
            for (w, v) in pair.iter_mut().enumerate() {
                v.sort_unstable();
                let idx = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len().max(1)) - 1;
                self.pop_principal[k][w] = v.get(idx).copied().unwrap_or(0);
            }
        }
    }

    /// Records the finished tumbles of an episode into the histories.
    pub fn record(
        &mut self,
        key: u128,
        vault: u64,
        kind: usize,
        a: &mut Active,
        short_secs: u32,
        large_at: u32,
    ) {
        let h = self.history.get_or_insert_with(key, History::default);
        h.kind = kind as u8;
        if a.short_peak > 0 {
            h.short.record(a.short_peak);
            self.pop_short[kind.min(3)].record(a.short_peak);
            if self.vault_short.len() < MAX_VAULT_HISTS || self.vault_short.contains_key(&vault) {
                self.vault_short
                    .entry(vault)
                    .or_default()
                    .record(a.short_peak);
            }
            if a.short_peak >= large_at {
                let hour = (a.short_tumble.wrapping_mul(short_secs) % 86_400) / 3600;
                h.large_hours |= 1 << hour;
                h.large_windows = h.large_windows.saturating_add(1);
            }
            a.short_peak = 0;
        }
    }

    /// Records a finished long tumble.
    pub fn record_long(&mut self, key: u128, kind: usize, a: &mut Active) {
        if a.long_peak > 0 {
            self.history
                .get_or_insert_with(key, History::default)
                .long
                .record(a.long_peak);
            self.pop_long[kind.min(3)].record(a.long_peak);
            a.long_peak = 0;
        }
    }
}

impl DetectorState for State {
    type Saved<'a> = (
        Snapshot<&'a KeyedSlab<History>>,
        NoveltySnapshot,
        RunsSnapshot,
    );
    type Restored = Restored;

    fn saved(&self) -> Self::Saved<'_> {
        let novelty = NoveltySnapshot {
            novelty: self.novelty.iter().map(|(k, n)| (*k, n.clone())).collect(),
            inventory: self
                .inventory
                .iter()
                .map(|(k, i)| (*k, i.clone()))
                .collect(),
            pop_novelty: self.pop_novelty,
        };
        let main = Snapshot {
            history: &self.history,
            active: self
                .active
                .iter()
                .map(|((k, v), a)| (*k, *v, a.clone()))
                .collect(),
            pop_short: self.pop_short.clone(),
            pop_long: self.pop_long.clone(),
            vault_short: self
                .vault_short
                .iter()
                .map(|(k, v)| (*k, v.clone()))
                .collect(),
            pop_principal: self.pop_principal,
            pop_principals: self.pop_principals,
            last_prune: self.last_prune,
            last_population: self.last_population,
        };
        let runs = RunsSnapshot {
            runs: self
                .runs
                .iter()
                .map(|((k, v), r)| (*k, *v, r.clone()))
                .collect(),
        };
        (main, novelty, runs)
    }

    fn restored(r: Self::Restored) -> State {
        let s = r.main;
        State {
            history: s.history,
            active: s.active.into_iter().map(|(k, v, a)| ((k, v), a)).collect(),
            pop_short: s.pop_short,
            pop_long: s.pop_long,
            vault_short: s.vault_short.into_iter().collect(),
            pop_principal: s.pop_principal,
            pop_principals: s.pop_principals,
            last_prune: s.last_prune,
            last_population: s.last_population,
            novelty: r.novelty.novelty.into_iter().collect(),
            inventory: r.novelty.inventory.into_iter().collect(),
            pop_novelty: r.novelty.pop_novelty,
            runs: r
                .runs
                .runs
                .into_iter()
                .map(|(k, v, r)| ((k, v), r))
                .collect(),
        }
    }

    fn enforce_cap(&mut self, cap: usize, now: u32) {
        if self.history.len() > cap {
            self.history.make_room(cap, |h| {
                let repeat = h.short.total() > 0 || h.first != h.last;
                Rank::of(h.last, 1 + u32::from(repeat), now)
            });
        }
        if self.active.len() > cap {
            cap::make_room(&mut self.active, cap, |a| Rank::of(a.last, a.reads, now));
        }
        if self.novelty.len() > cap {
            cap::make_room(&mut self.novelty, cap, |n| {
                Rank::of(n.last, 1 + n.days.min(1), now)
            });
        }
        if self.runs.len() > cap {
            cap::make_room(&mut self.runs, cap, |r| Rank::of(r.last, r.learned, now));
        }
    }

    fn memory(&self) -> DetectorMemory {
        let transient: usize = self
            .active
            .values()
            .map(|a| {
                std::mem::size_of::<((u128, u64), Active)>()
                    + a.objects.heap_bytes()
                    + a.throttled.heap_bytes()
                    + a.samples.iter().map(|s| s.len() + 24).sum::<usize>()
            })
            .sum();
        let novelty: usize = self
            .novelty
            .values()
            .map(|n| std::mem::size_of::<(u128, Novelty)>() + n.heap_bytes())
            .sum();
        let inventory: usize = self.inventory.values().map(Inventory::bytes).sum();
        let runs: usize = self
            .runs
            .values()
            .map(|r| std::mem::size_of::<((u128, u64), Runs)>() + r.heap_bytes())
            .sum();
        DetectorMemory {
            learned_entries: self.history.len(),
            learned_bytes: self.history.memory_bytes() + novelty + inventory + runs,
            transient_entries: self.active.len(),
            transient_bytes: transient,
        }
    }
}

#[cfg(test)]
#[path = "state_tests.rs"]
mod tests;
