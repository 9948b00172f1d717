//! Event-time progress across partitions: the watermark, and how far each partition's
//! position may be checkpointed.
//!
//! Each body taken moves its partition's newest event time; [`super::watermark`]
//! says where the watermark may move from those (per hub, with the lag limit across
//! hubs), and this module keeps what it needs: which partitions are read here, which
//! hub each belongs to, when its last body was enqueued, and whether its reader is
//! idle.
//!
//! A position is checkpointed only up to bodies whose every event the watermark has
//! released; later bodies taken before the checkpoint are read again after a restart,
//! with a cut (see [`crate::state::PartitionPosition`]) so nothing counts twice.

use std::collections::VecDeque;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::watermark::{PartitionView, Verdict, WatermarkRule};
use super::Activity;
use crate::state::{PartitionPosition, ReplayCut};

/// A body taken but not all released.
#[derive(Debug)]
struct Pending {
    sequence: i64,
    offset: Option<String>,
    newest: Option<DateTime<Utc>>,
}

/// A body just taken from a partition, as progress needs it.
#[derive(Debug, Clone, Default)]
pub struct TakenBody {
    /// Its sequence number.
    pub sequence: i64,
    /// Its offset, when the service gave one.
    pub offset: Option<String>,
    /// The newest event time among its records (`None`: no event in it).
    pub newest: Option<DateTime<Utc>>,
    /// When the service enqueued it, when known.
    pub enqueued: Option<DateTime<Utc>>,
}

/// One partition's progress.
#[derive(Debug)]
struct Partition {
    /// Its hub (the `[[eventhubs.hubs]]` index).
    hub: usize,
    activity: Arc<Activity>,
    lost: bool,
    newest: Option<DateTime<Utc>>,
    /// When the last body taken was enqueued, when known.
    enqueued: Option<DateTime<Utc>>,
    pending: VecDeque<Pending>,
    /// The last body taken by this process.
    taken: Option<i64>,
    /// The checkpointed position (restored, then advanced).
    position: PartitionPosition,
    /// The offset of the event at `position.resume_after`, when known.
    offset: Option<String>,
}

/// Progress of every partition this process reads.
#[derive(Debug)]
pub struct Progress {
    partitions: Vec<Partition>,
    /// Sources not listed yet (a hub still connecting): each holds the watermark
    /// back as a partition with nothing delivered does, until it is idle.
    holds: Vec<(usize, Arc<Activity>)>,
    rule: WatermarkRule,
    watermark: Option<DateTime<Utc>>,
}

impl Progress {
    /// No partitions yet (they come with [`Progress::add`]); the watermark moves by
    /// `rule`.
    pub fn new(rule: WatermarkRule) -> Self {
        Progress {
            partitions: Vec::new(),
            holds: Vec::new(),
            rule,
            watermark: None,
        }
    }

    /// A partition of hub `hub`, at the next slot, watched through its reader's
    /// `activity`; `restored` is its checkpointed position (with the offset of its
    /// `resume_after` event, when known).
    pub fn add(
        &mut self,
        hub: usize,
        activity: Arc<Activity>,
        restored: Option<PartitionPosition>,
        offset: Option<String>,
    ) {
        self.partitions.push(Partition {
            hub,
            activity,
            lost: false,
            newest: None,
            enqueued: None,
            pending: VecDeque::new(),
            taken: None,
            position: restored.unwrap_or_default(),
            offset,
        });
    }

    /// How long every partition still read has failed to reach Event Hubs, as of
    /// `now`: the shortest of their outages (`None` when one is connected, or none
    /// is read).
    pub fn all_down_for(&self, now: DateTime<Utc>) -> Option<chrono::Duration> {
        let mut read = self.partitions.iter().filter(|p| !p.lost).peekable();
        read.peek()?;
        read.map(|p| p.activity.down_for(now))
            .try_fold(chrono::Duration::MAX, |shortest, down| {
                Some(shortest.min(down?))
            })
    }

    /// Restores a checkpoint's watermark.
    pub fn restore_watermark(&mut self, watermark: Option<DateTime<Utc>>) {
        self.watermark = watermark;
    }

    /// Source `key` (a hub) is not listed yet: it holds the watermark back until it
    /// is, or until `activity` has been idle for `idle_after`.
    pub fn hold(&mut self, key: usize, activity: Arc<Activity>) {
        self.holds.push((key, activity));
    }

    /// Source `key` is listed: its partitions speak for it now.
    pub fn release_hold(&mut self, key: usize) {
        self.holds.retain(|(k, _)| *k != key);
    }

    /// The current watermark.
    pub fn watermark(&self) -> Option<DateTime<Utc>> {
        self.watermark
    }

    /// A reader starts after `resume_after`: the position, when none was restored.
    pub fn started(&mut self, slot: usize, resume_after: Option<i64>) {
        if let Some(p) = self.partitions.get_mut(slot) {
            if p.position.resume_after.is_none() && p.position.replay.is_empty() {
                p.position.resume_after = resume_after;
                p.offset = None;
            }
        }
    }

    /// The cut for a body about to be taken: `Some(t)` when it is read again after a
    /// restart and its events at or before `t` were already processed.
    pub fn cut_for(&self, slot: usize, sequence: i64) -> Option<DateTime<Utc>> {
        self.partitions
            .get(slot)
            .and_then(|p| p.position.cut_for(sequence))
    }

    /// A body was taken; `newest` is its newest event time, `enqueued` when the
    /// service received it.
    pub fn taken(&mut self, slot: usize, body: TakenBody) {
        let TakenBody {
            sequence,
            offset,
            newest,
            enqueued,
        } = body;
        if let Some(p) = self.partitions.get_mut(slot) {
            p.enqueued = enqueued.or(p.enqueued);
            if newest.is_some_and(|n| p.newest.is_none_or(|m| n > m)) {
                p.newest = newest;
            }
            p.pending.push_back(Pending {
                sequence,
                offset,
                newest,
            });
            p.taken = Some(sequence);
        }
    }

    /// The partition is no longer read here.
    pub fn lost(&mut self, slot: usize) {
        if let Some(p) = self.partitions.get_mut(slot) {
            p.lost = true;
        }
    }

    /// Whether the partition is no longer read here.
    pub fn is_lost(&self, slot: usize) -> bool {
        self.partitions.get(slot).is_some_and(|p| p.lost)
    }

    /// Partitions still read here.
    pub fn owned(&self) -> usize {
        self.partitions.iter().filter(|p| !p.lost).count()
    }

    /// The newest event time taken from any partition still read here.
    pub fn newest_seen(&self) -> Option<DateTime<Utc>> {
        self.partitions
            .iter()
            .filter(|p| !p.lost)
            .filter_map(|p| p.newest)
            .max()
    }

    /// Where the watermark moves as of `now` (wall clock; `candidate` is `None`
    /// unless it moves forward), and which hubs the lag limit cut loose (see
    /// [`super::watermark`]).
    pub fn judge(&self, now: DateTime<Utc>) -> Verdict {
        let idle_after = self.rule.idle_after;
        let holding = self.holds.iter().any(|(_, a)| !a.is_idle(now, idle_after));
        let views = self
            .partitions
            .iter()
            .filter(|p| !p.lost)
            .map(|p| PartitionView {
                hub: p.hub,
                newest: p.newest,
                idle: p.activity.is_idle(now, idle_after),
                enqueued: p.enqueued,
            });
        let mut verdict = self.rule.judge(now, views, holding);
        verdict.candidate = verdict
            .candidate
            .filter(|c| self.watermark.is_none_or(|w| *c > w));
        verdict
    }

    /// The watermark to move to as of `now` (wall clock), if it moves forward.
    pub fn next_watermark(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.judge(now).candidate
    }

    /// The pipeline released every event at or before `watermark`: bodies whose events
    /// are all released become checkpointable.
    pub fn advanced(&mut self, watermark: DateTime<Utc>) {
        self.watermark = Some(watermark);
        for p in &mut self.partitions {
            while let Some(front) = p.pending.front() {
                if front.newest.is_some_and(|n| n > watermark) {
                    break;
                }
                if let Some(done) = p.pending.pop_front() {
                    p.position.resume_after = Some(done.sequence);
                    p.offset = done.offset;
                }
            }
        }
    }

    /// Each partition's `resume_after` with the offset of that event, when both are
    /// known (the standard checkpoint blobs need both).
    pub fn mirror_positions(&self) -> Vec<Option<(i64, String)>> {
        self.partitions
            .iter()
            .map(|p| Some((p.position.resume_after?, p.offset.clone()?)))
            .collect()
    }

    /// Each partition's position for a checkpoint at the current watermark.
    pub fn positions(&self) -> Vec<PartitionPosition> {
        self.partitions
            .iter()
            .map(|p| {
                let mut position = PartitionPosition {
                    resume_after: p.position.resume_after,
                    replay: Vec::new(),
                };
                if let (Some(taken), Some(watermark)) = (p.taken, self.watermark) {
                    if position.resume_after.is_none_or(|r| taken > r) {
                        position.replay.push(ReplayCut {
                            through: taken,
                            watermark,
                        });
                    }
                }
                let done = p.taken.max(position.resume_after);
                position.replay.extend(
                    p.position
                        .replay
                        .iter()
                        .filter(|c| done.is_none_or(|d| c.through > d)),
                );
                position
            })
            .collect()
    }
}

#[cfg(test)]
#[path = "progress_tests.rs"]
mod tests;
