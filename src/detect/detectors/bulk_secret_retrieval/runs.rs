//! The runs of a scheduled or automated principal (a release pipeline, a job) on a
//! vault: what
//! `bulk_secret_retrieval` learns so that a window holding two or three of its usual
//! runs back to back is not taken for a dump.
//!
//! A run is a burst of reads separated from the next by an idle gap (`[runs] gap`).
//! Each run keeps a 512-bit sketch (a Bloom filter) of the objects it read and its
//! distinct size; when it ends it joins the *kind* of run whose read set it resembles
//! (a release definition: Jaccard similarity of the sketches), or starts a new kind.
//! A kind keeps its runs' size distribution (count, mean, spread, largest) and the
//! union of their read sets. A principal holds at most `[runs] max_kinds` kinds (the
//! weakest goes), so its memory is bounded whatever it does. The judgement over a
//! window is in `runs_judge.rs`.

use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, StudentsT};

use crate::config::ConfigDuration;
use crate::detect::definition::{require, secs, Source};
use crate::detect::detector::DetectorError;

/// A run is made of known kinds when it holds this share of each one's set and
/// their sets hold this share of it.
const COMPOSITE_SHARE: f64 = 0.9;

/// The most kinds of run a principal may keep (`[runs] max_kinds` is at most this).
pub const MAX_KINDS: usize = 8;

/// `[runs]`: a workload's run-to-run baseline, for the pipeline that deploys twice.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RunSettings {
    /// An idle gap this long between two reads of a service principal or managed
    /// identity ends its run.
    pub gap: ConfigDuration,
    /// Runs of fewer distinct objects are not learned (one secret read by an hourly
    /// job is not a run to compare a window with).
    pub min_objects: u32,
    /// A run whose read set is at least this similar (Jaccard, on the sketches) to a
    /// kind's joins that kind; otherwise it starts a kind of its own.
    pub similarity: f64,
    /// Kinds of run kept per principal (the one with the fewest and oldest runs goes).
    pub max_kinds: u32,
    /// Runs a kind needs before it can explain a window.
    pub min_runs_per_kind: u32,
    /// A kind is in a window when at least this share of its usual size was read there.
    pub presence_share: f64,
    /// Most runs that may follow one another in one window and still be normal.
    pub max_back_to_back: u32,
    /// At least this share of the window's objects must have been read by earlier runs.
    pub min_known_share: f64,
    /// A window that holds one of its usual runs, is larger than any one run, and has
    /// at least this many objects no run read alerts (`unfamiliar_objects`), even when
    /// it is no larger than its largest window: its runs, not its largest window, are
    /// the baseline.
    pub min_unread: u32,
    /// A kind's run size is usual up to this quantile of its predictive distribution
    /// (Student's t over its runs' sizes; never below its largest run).
    pub size_quantile: f64,
    /// The kinds in a window allow the sum of their usual sizes times this (a run's
    /// size is counted in its sketch and can fall an object or two short).
    pub size_slack: f64,
}

impl RunSettings {
    /// Refuses impossible values, naming the file and `runs.<key>`.
    pub fn validate(&self, src: &Source) -> Result<(), DetectorError> {
        let gap = self.gap.as_std().as_secs();
        require(
            (10..=6 * 3600).contains(&gap),
            src,
            "runs.gap",
            "must be between 10s and 6h",
        )?;
        require(
            self.min_objects >= 2,
            src,
            "runs.min_objects",
            "must be at least 2",
        )?;
        for (key, v) in [
            ("runs.similarity", self.similarity),
            ("runs.presence_share", self.presence_share),
            ("runs.min_known_share", self.min_known_share),
        ] {
            require(v > 0.0 && v <= 1.0, src, key, "must be in (0, 1]")?;
        }
        require(
            (1..=MAX_KINDS as u32).contains(&self.max_kinds),
            src,
            "runs.max_kinds",
            "must be between 1 and 8",
        )?;
        require(
            self.min_unread >= 1,
            src,
            "runs.min_unread",
            "must be at least 1",
        )?;
        require(
            self.min_runs_per_kind >= 1,
            src,
            "runs.min_runs_per_kind",
            "must be at least 1",
        )?;
        require(
            (1..=MAX_KINDS as u32).contains(&self.max_back_to_back),
            src,
            "runs.max_back_to_back",
            "must be between 1 and 8",
        )?;
        require(
            self.size_quantile >= 0.5 && self.size_quantile < 1.0,
            src,
            "runs.size_quantile",
            "must be in [0.5, 1)",
        )?;
        require(
            (1.0..=2.0).contains(&self.size_slack),
            src,
            "runs.size_slack",
            "must be between 1 and 2",
        )
    }

    /// The gap in seconds.
    pub fn gap_secs(&self) -> u32 {
        secs(self.gap)
    }
}

/// A 512-bit Bloom filter of object hashes (three probes, from the hash's high
/// bits: the principal's own filter in `state.rs` uses the low ones).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sketch([u64; 8]);

impl Sketch {
    fn bits(h: u64) -> [usize; 3] {
        [
            ((h >> 32) & 511) as usize,
            ((h >> 41) & 511) as usize,
            ((h >> 50) & 511) as usize,
        ]
    }

    /// Whether the object is (probably) in the set.
    pub fn contains(&self, h: u64) -> bool {
        Self::bits(h)
            .iter()
            .all(|&b| self.0[b / 64] & (1 << (b % 64)) != 0)
    }

    /// Adds the object; returns whether it was (probably) new.
    pub fn insert(&mut self, h: u64) -> bool {
        let mut new = false;
        for b in Self::bits(h) {
            let (w, m) = (b / 64, 1u64 << (b % 64));
            new |= self.0[w] & m == 0;
            self.0[w] |= m;
        }
        new
    }

    /// Jaccard similarity of the two bit sets (0 when both are empty).
    pub fn similarity(&self, other: &Sketch) -> f64 {
        let (mut both, mut either) = (0u32, 0u32);
        for (a, b) in self.0.iter().zip(&other.0) {
            both += (a & b).count_ones();
            either += (a | b).count_ones();
        }
        if either == 0 {
            0.0
        } else {
            f64::from(both) / f64::from(either)
        }
    }

    /// The share of this set's bits that `other` holds (1 for an empty set).
    fn within(&self, other: &Sketch) -> f64 {
        let (mut both, mut mine) = (0u32, 0u32);
        for (a, b) in self.0.iter().zip(&other.0) {
            both += (a & b).count_ones();
            mine += a.count_ones();
        }
        if mine == 0 {
            1.0
        } else {
            f64::from(both) / f64::from(mine)
        }
    }

    fn union(&mut self, other: &Sketch) {
        for (a, b) in self.0.iter_mut().zip(&other.0) {
            *a |= b;
        }
    }
}

/// One kind of run (a release definition): its read set and its sizes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunKind {
    /// The union of its runs' read sets.
    set: Sketch,
    /// Runs of this kind.
    pub runs: u32,
    /// Sum of their sizes (distinct objects).
    sum: f64,
    /// Sum of their squared sizes.
    sum_sq: f64,
    /// Its largest run.
    pub max: u32,
    /// Its last run's end (seconds).
    pub last: u32,
}

impl RunKind {
    /// Whether its runs read the object.
    pub fn reads(&self, h: u64) -> bool {
        self.set.contains(h)
    }

    /// Mean run size.
    pub fn mean(&self) -> f64 {
        if self.runs == 0 {
            0.0
        } else {
            self.sum / f64::from(self.runs)
        }
    }

    /// Sample standard deviation of the run sizes (0 with one run).
    pub fn spread(&self) -> f64 {
        if self.runs < 2 {
            return 0.0;
        }
        let n = f64::from(self.runs);
        ((self.sum_sq - self.sum * self.sum / n) / (n - 1.0))
            .max(0.0)
            .sqrt()
    }

    /// The largest usual size of its next run: the `q` quantile of the predictive
    /// distribution of a new run's size (Student's t with runs − 1 degrees of
    /// freedom), never below its largest run.
    pub fn upper(&self, q: f64) -> f64 {
        let max = f64::from(self.max);
        if self.runs < 2 {
            return max;
        }
        let n = f64::from(self.runs);
        let t = StudentsT::new(0.0, 1.0, n - 1.0).map_or(3.0, |d| d.inverse_cdf(q));
        (self.mean() + t * self.spread() * (1.0 + 1.0 / n).sqrt()).max(max)
    }

    fn add(&mut self, size: u32, set: &Sketch, now: u32) {
        self.set.union(set);
        self.runs = self.runs.saturating_add(1);
        let v = f64::from(size);
        self.sum += v;
        self.sum_sq += v * v;
        self.max = self.max.max(size);
        self.last = now;
    }
}

/// One principal's runs: the one in progress and the kinds learned.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Runs {
    /// The run in progress: its read set ...
    cur: Sketch,
    /// ... its distinct size ...
    cur_size: u32,
    /// ... and its first read (seconds).
    cur_first: u32,
    /// The latest read (seconds).
    pub last: u32,
    /// The kinds of run learned (at most `[runs] max_kinds`).
    pub kinds: Vec<RunKind>,
    /// Runs learned (ended with at least `min_objects`).
    pub learned: u32,
}

impl Runs {
    /// Adds a read of object `h` at `now`, ending the run in progress first when the
    /// principal was idle for the gap. No allocation but a new kind's.
    pub fn read(&mut self, rs: &RunSettings, h: u64, now: u32) {
        if self.cur_size > 0 && now > self.last.saturating_add(rs.gap_secs()) {
            self.close(rs);
        }
        if self.cur_size == 0 {
            self.cur_first = now;
        }
        if self.cur.insert(h) {
            self.cur_size += 1;
        }
        self.last = self.last.max(now);
    }

    /// The run in progress, when it has reads: (first read, distinct size).
    pub fn current(&self) -> Option<(u32, u32)> {
        (self.cur_size > 0).then_some((self.cur_first, self.cur_size))
    }

    /// Ends the run in progress when idle for the gap at `now` (upkeep).
    pub fn close_idle(&mut self, rs: &RunSettings, now: u32) {
        if self.cur_size > 0 && now > self.last.saturating_add(rs.gap_secs()) {
            self.close(rs);
        }
    }

    /// Ends the run in progress: it joins the kind it resembles most, or starts one.
    fn close(&mut self, rs: &RunSettings) {
        let (set, size) = (self.cur, self.cur_size);
        self.cur = Sketch::default();
        self.cur_size = 0;
        if size < rs.min_objects {
            return;
        }
        self.learned = self.learned.saturating_add(1);
        if self.composite(&set) {
            return;
        }
        let best = self
            .kinds
            .iter()
            .enumerate()
            .map(|(i, k)| (i, k.set.similarity(&set)))
            .filter(|(_, sim)| *sim >= rs.similarity)
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(i, _)| i);
        let slot = match best {
            Some(i) => i,
            None if self.kinds.len() < rs.max_kinds as usize => {
                self.kinds.push(RunKind::default());
                self.kinds.len() - 1
            }
            None => {
                // The weakest kind goes: fewest runs, then the oldest.
                let weakest = self
                    .kinds
                    .iter()
                    .enumerate()
                    .min_by_key(|(_, k)| (k.runs, k.last))
                    .map_or(0, |(i, _)| i);
                self.kinds[weakest] = RunKind::default();
                weakest
            }
        };
        self.kinds[slot].add(size, &set, self.last);
    }

    /// Whether a run is two or more known kinds back to back (nearly all of each
    /// kind's set in it, and nearly nothing else): counted, never a kind of its own,
    /// so that it neither joins nor stretches the kinds it is made of.
    fn composite(&self, set: &Sketch) -> bool {
        let mut union = Sketch::default();
        let mut parts = 0;
        for k in self
            .kinds
            .iter()
            .filter(|k| k.set.within(set) >= COMPOSITE_SHARE)
        {
            union.union(&k.set);
            parts += 1;
        }
        parts >= 2 && set.within(&union) >= COMPOSITE_SHARE
    }

    /// Bytes on the heap.
    pub fn heap_bytes(&self) -> usize {
        self.kinds.capacity() * std::mem::size_of::<RunKind>()
    }
}
