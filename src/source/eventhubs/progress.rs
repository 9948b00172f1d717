//! Event-time progress across partitions: the watermark, and how far each partition's
//! position may be checkpointed.
//!
//! Records arrive late and out of order across partitions, so no partition alone says
//! how far event time has come. The watermark is the oldest "newest event time" over
//! the active partitions, minus the allowed lateness, the rule replay applies to its
//! input groups. A partition that delivered nothing for `idle_after` (wall clock) and
//! has nothing waiting stops holding the watermark back; when every partition is idle,
//! the watermark jumps to the newest event seen, releasing everything (as the end of a
//! replay does). A partition that is not idle but has delivered nothing yet (a reader
//! still connecting, with a backlog maybe) holds the watermark where it is.
//!
//! A position is checkpointed only up to bodies whose every event the watermark has
//! released; later bodies taken before the checkpoint are read again after a restart,
//! with a cut (see [`crate::state::PartitionPosition`]) so nothing counts twice.

use std::collections::VecDeque;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

use super::Activity;
use crate::state::{PartitionPosition, ReplayCut};

/// A body taken but not all released.
#[derive(Debug)]
struct Pending {
    sequence: i64,
    offset: Option<String>,
    newest: Option<DateTime<Utc>>,
}

/// One partition's progress.
#[derive(Debug)]
struct Partition {
    activity: Arc<Activity>,
    lost: bool,
    newest: Option<DateTime<Utc>>,
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
    lateness: Duration,
    idle_after: Duration,
    watermark: Option<DateTime<Utc>>,
}

impl Progress {
    /// No partitions yet (they come with [`Progress::add`]).
    pub fn new(lateness: Duration, idle_after: Duration) -> Self {
        Progress {
            partitions: Vec::new(),
            holds: Vec::new(),
            lateness,
            idle_after,
            watermark: None,
        }
    }

    /// Partitions watched through their readers' `activities`, none restored.
    pub fn with_partitions(
        activities: Vec<Arc<Activity>>,
        lateness: Duration,
        idle_after: Duration,
    ) -> Self {
        let mut progress = Progress::new(lateness, idle_after);
        for activity in activities {
            progress.add(activity, None, None);
        }
        progress
    }

    /// A partition, at the next slot, watched through its reader's `activity`;
    /// `restored` is its checkpointed position (with the offset of its
    /// `resume_after` event, when known).
    pub fn add(
        &mut self,
        activity: Arc<Activity>,
        restored: Option<PartitionPosition>,
        offset: Option<String>,
    ) {
        self.partitions.push(Partition {
            activity,
            lost: false,
            newest: None,
            pending: VecDeque::new(),
            taken: None,
            position: restored.unwrap_or_default(),
            offset,
        });
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

    /// A body was taken; `newest` is its newest event time.
    pub fn taken(
        &mut self,
        slot: usize,
        sequence: i64,
        offset: Option<String>,
        newest: Option<DateTime<Utc>>,
    ) {
        if let Some(p) = self.partitions.get_mut(slot) {
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

    /// The watermark to move to as of `now` (wall clock), if it moves forward.
    pub fn next_watermark(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let mut oldest: Option<DateTime<Utc>> = None;
        let mut newest_seen: Option<DateTime<Utc>> = None;
        let mut active = false;
        if self
            .holds
            .iter()
            .any(|(_, a)| !a.is_idle(now, self.idle_after))
        {
            return None; // a source still connecting, not idle yet: hold
        }
        for p in self.partitions.iter().filter(|p| !p.lost) {
            newest_seen = newest_seen.max(p.newest);
            if p.activity.is_idle(now, self.idle_after) {
                continue;
            }
            let n = p.newest?; // active, nothing delivered yet: hold
            oldest = Some(oldest.map_or(n, |o| o.min(n)));
            active = true;
        }
        let candidate = if active {
            oldest.map(|o| o - self.lateness)
        } else {
            newest_seen
        };
        candidate.filter(|c| self.watermark.is_none_or(|w| *c > w))
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
mod tests {
    use super::*;

    fn t(min: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + min * 60, 0).unwrap()
    }

    fn progress(n: usize, now: DateTime<Utc>) -> (Progress, Vec<Arc<Activity>>) {
        let activities: Vec<_> = (0..n).map(|_| Arc::new(Activity::new(now))).collect();
        (
            Progress::with_partitions(
                activities.clone(),
                Duration::minutes(15),
                Duration::minutes(1),
            ),
            activities,
        )
    }

    #[test]
    fn the_slowest_active_partition_sets_the_watermark() {
        let (mut p, _) = progress(2, t(0));
        p.taken(0, 0, None, Some(t(100)));
        assert_eq!(
            p.next_watermark(t(0)),
            None,
            "partition 1 has delivered nothing and is not idle"
        );
        p.taken(1, 0, None, Some(t(60)));
        assert_eq!(p.next_watermark(t(0)), Some(t(45)));
        p.advanced(t(45));
        assert_eq!(p.next_watermark(t(0)), None, "no progress, no move");
        p.taken(1, 1, None, Some(t(90)));
        assert_eq!(p.next_watermark(t(0)), Some(t(75)));
    }

    #[test]
    fn idle_partitions_stop_holding_back_and_all_idle_releases_everything() {
        let (mut p, activities) = progress(2, t(0));
        p.taken(0, 0, None, Some(t(100)));
        p.taken(1, 0, None, Some(t(60)));
        activities[0].touch(t(0) + Duration::seconds(40));
        assert_eq!(
            p.next_watermark(t(0) + Duration::seconds(50)),
            Some(t(45)),
            "partition 1 is quiet but not idle yet"
        );
        assert_eq!(
            p.next_watermark(t(1) + Duration::seconds(30)),
            Some(t(85)),
            "partition 1 is idle"
        );
        assert_eq!(
            p.next_watermark(t(3)),
            Some(t(100)),
            "every partition is idle"
        );
        activities[1].set_waiting(true);
        assert_eq!(
            p.next_watermark(t(3)),
            Some(t(45)),
            "held back by backpressure is not idle"
        );
        p.lost(1);
        assert_eq!(
            p.next_watermark(t(1)),
            Some(t(85)),
            "lost partitions do not count"
        );
        assert_eq!(p.owned(), 1);
    }

    #[test]
    fn positions_cover_only_released_bodies_and_cut_the_rest() {
        let (mut p, _) = progress(1, t(0));
        p.started(0, Some(4));
        p.taken(0, 5, None, Some(t(10)));
        p.taken(0, 6, None, None);
        p.taken(0, 7, None, Some(t(30)));
        p.taken(0, 8, None, Some(t(12)));
        p.advanced(t(20));
        let cut = ReplayCut {
            through: 8,
            watermark: t(20),
        };
        assert_eq!(
            p.positions(),
            [PartitionPosition {
                resume_after: Some(6),
                replay: vec![cut]
            }]
        );
        p.advanced(t(30));
        assert_eq!(
            p.positions()[0],
            PartitionPosition {
                resume_after: Some(8),
                replay: vec![]
            }
        );
    }

    #[test]
    fn restored_cuts_survive_until_the_bodies_are_read_again() {
        let restored = PartitionPosition {
            resume_after: Some(4),
            replay: vec![ReplayCut {
                through: 9,
                watermark: t(20),
            }],
        };
        let mut p = Progress::new(Duration::minutes(15), Duration::minutes(1));
        p.restore_watermark(Some(t(20)));
        p.add(
            Arc::new(Activity::new(t(0))),
            Some(restored.clone()),
            Some("4096".into()),
        );
        assert_eq!(p.mirror_positions(), [Some((4, "4096".to_owned()))]);
        p.started(0, Some(4));
        assert_eq!(
            p.positions()[0],
            restored,
            "nothing read yet: the checkpoint stays as it was"
        );
        assert_eq!((p.cut_for(0, 5), p.cut_for(0, 10)), (Some(t(20)), None));
        p.taken(0, 5, None, Some(t(30)));
        p.taken(0, 6, None, Some(t(50)));
        p.advanced(t(35));
        let expected = PartitionPosition {
            resume_after: Some(5),
            replay: vec![
                ReplayCut {
                    through: 6,
                    watermark: t(35),
                },
                ReplayCut {
                    through: 9,
                    watermark: t(20),
                },
            ],
        };
        assert_eq!(p.positions()[0], expected);
    }

    #[test]
    fn offsets_follow_the_released_position() {
        let (mut p, _) = progress(1, t(0));
        p.started(0, Some(4));
        assert_eq!(p.mirror_positions(), [None], "no offset known for 4");
        p.taken(0, 5, Some("500".into()), Some(t(10)));
        p.taken(0, 6, Some("600".into()), Some(t(30)));
        p.advanced(t(20));
        assert_eq!(p.mirror_positions(), [Some((5, "500".to_owned()))]);
    }

    #[test]
    fn a_source_not_listed_yet_holds_the_watermark_until_it_is_idle() {
        let (mut p, activities) = progress(1, t(0));
        p.hold(7, Arc::new(Activity::new(t(0))));
        p.taken(0, 0, None, Some(t(100)));
        assert_eq!(p.next_watermark(t(0)), None, "hub 7 may have older events");
        activities[0].touch(t(1));
        assert_eq!(
            p.next_watermark(t(1)),
            Some(t(85)),
            "idle for idle_after: it holds no more"
        );
        p.release_hold(7);
        assert_eq!(p.next_watermark(t(0)), Some(t(85)));
    }
}
