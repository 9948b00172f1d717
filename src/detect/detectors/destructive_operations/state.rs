//! What `destructive_operations` counts and learns.
//!
//! Per principal and vault, an [`Episode`] holds the distinct objects deleted or
//! purged in the window (hashed, with their last time), from which the sliding count
//! is taken. Learning uses tumbling windows of the same length: the peak count of each
//! tumble with deletions goes into the principal's [`History`] and its kind's
//! population when the tumble closes, with the purges it made, so an episode is
//! judged against what came *before* it. Vault deletions are learned as they happen.
//! Episodes quiet for a window are closed at the next upkeep (run with deletions,
//! at most every ten minutes); histories follow the baselines' forgetting.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use super::rule::Rule;
use crate::detect::baseline::keys::FastMap;
use crate::detect::baseline::stats::LogHist;
use crate::detect::baseline::KeyedSlab;
use crate::detect::detector::DetectorMemory;
use crate::detect::stateful::DetectorState;
use crate::detect::windows::DistinctWindow;

/// Names, addresses and operations kept per episode, for summaries and evidence.
pub const SAMPLES: usize = 10;

/// What one principal destroyed before.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    /// Peak distinct objects destroyed per tumble with deletions.
    pub windows: LogHist,
    /// Purges made (saturating).
    pub purges: u32,
    /// Vaults deleted or purged (saturating).
    pub vault_deletes: u16,
    /// Last destructive operation (seconds).
    pub last: u32,
    /// The principal's kind index.
    pub kind: u8,
}

/// One principal's deletions on one vault in the current episode.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Episode {
    /// Distinct objects deleted or purged (hash, last time).
    pub objects: DistinctWindow,
    /// Distinct objects purged.
    pub purged: DistinctWindow,
    /// Index of the current tumble.
    pub tumble: u32,
    /// Peak count in the current tumble.
    pub peak: u32,
    /// Purges in the current tumble.
    pub purges_in_tumble: u32,
    /// Episode start (seconds).
    pub first: u32,
    /// Latest deletion (seconds).
    pub last: u32,
    /// Counts at the last finding, by rule slot.
    reported: [u32; Rule::COUNT],
    /// Whether the last `bulk_delete` finding already counted purges.
    reported_purged: bool,
    /// Objects (first ones), as `kind/name`.
    pub samples: Vec<String>,
    /// Objects purged (first ones), as `kind/name`.
    pub purged_samples: Vec<String>,
    /// Caller addresses (first ones).
    pub addresses: Vec<IpAddr>,
    /// Operations used (first ones).
    pub operations: Vec<String>,
    /// The principal's kind index.
    pub kind: u8,
}

impl Episode {
    /// A new episode starting at `now`, in tumble `tumble`.
    pub fn starting(now: u32, tumble: u32, kind: u8) -> Self {
        Episode {
            tumble,
            first: now,
            kind,
            ..Default::default()
        }
    }

    /// Whether `rule` should report `n` now: its first report, or `n` doubled.
    pub fn report(&mut self, rule: Rule, n: u32) -> bool {
        let prev = &mut self.reported[rule.slot()];
        if *prev == 0 || n >= prev.saturating_mul(2) {
            *prev = n;
            true
        } else {
            false
        }
    }

    /// As [`Episode::report`] for `bulk_delete`, which also reports again when
    /// purges first appear (the deletions can no longer be undone).
    pub fn report_bulk(&mut self, n: u32, purged: bool) -> bool {
        let slot = Rule::BulkDelete.slot();
        let escalates = purged && !self.reported_purged && self.reported[slot] > 0;
        if !(self.report(Rule::BulkDelete, n) || escalates) {
            return false;
        }
        self.reported[slot] = self.reported[slot].max(n);
        self.reported_purged |= purged;
        true
    }

    /// Remembers a sample, up to [`SAMPLES`].
    pub fn remember<T: PartialEq>(list: &mut Vec<T>, item: T) {
        if list.len() < SAMPLES && !list.contains(&item) {
            list.push(item);
        }
    }
}

/// Everything the detector holds.
#[derive(Debug, Default)]
pub struct State {
    /// Learned, per principal.
    pub history: KeyedSlab<History>,
    /// Transient, per principal and vault.
    pub active: FastMap<(u128, u64), Episode>,
    /// Peak counts of tumbles with deletions, per principal kind.
    pub population: [LogHist; 4],
    /// Last upkeep (seconds).
    pub last_prune: u32,
}

impl State {
    /// Records an episode's finished tumble into the histories.
    pub fn record(&mut self, key: u128, a: &mut Episode) {
        let kind = usize::from(a.kind).min(3);
        let h = self.history.get_or_insert_with(key, History::default);
        h.kind = a.kind;
        if a.peak > 0 {
            h.windows.record(a.peak);
            self.population[kind].record(a.peak);
        }
        h.purges = h.purges.saturating_add(a.purges_in_tumble);
        a.peak = 0;
        a.purges_in_tumble = 0;
    }
}

/// The saved form of [`State`].
#[derive(Serialize, Deserialize)]
pub struct Snapshot {
    history: Vec<(u128, History)>,
    active: Vec<(u128, u64, Episode)>,
    population: [LogHist; 4],
    last_prune: u32,
}

impl DetectorState for State {
    type Saved<'a> = Snapshot;
    type Restored = Snapshot;

    fn saved(&self) -> Snapshot {
        Snapshot {
            history: self.history.iter().map(|(k, v)| (k, v.clone())).collect(),
            active: self
                .active
                .iter()
                .map(|((k, v), a)| (*k, *v, a.clone()))
                .collect(),
            population: self.population.clone(),
            last_prune: self.last_prune,
        }
    }

    fn restored(s: Snapshot) -> State {
        State {
            history: s.history.into_iter().collect(),
            active: s.active.into_iter().map(|(k, v, a)| ((k, v), a)).collect(),
            population: s.population,
            last_prune: s.last_prune,
        }
    }

    fn memory(&self) -> DetectorMemory {
        let transient: usize = self
            .active
            .values()
            .map(|a| {
                std::mem::size_of::<((u128, u64), Episode)>()
                    + a.objects.heap_bytes()
                    + a.purged.heap_bytes()
                    + a.samples.iter().map(|s| s.len() + 24).sum::<usize>()
                    + a.purged_samples.iter().map(|s| s.len() + 24).sum::<usize>()
            })
            .sum();
        DetectorMemory {
            learned_entries: self.history.len(),
            learned_bytes: self.history.memory_bytes(),
            transient_entries: self.active.len(),
            transient_bytes: transient,
        }
    }
}
