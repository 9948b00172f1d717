//! The pipeline thread of `kvwatch run`: takes bodies from the partition readers'
//! channel, feeds them to the shared pipeline, moves the watermark, and checkpoints.
//!
//! The pipeline is synchronous, so it runs on its own thread; the readers are async
//! tasks that block when the bounded channel is full (backpressure). Each round takes
//! what is waiting (up to a bound), moves the watermark, and flushes the sink so the
//! alerts raised go out at once. Every `[state] checkpoint_interval`, and at the end,
//! it checkpoints in this order: alerts flushed to the sink (durable in the outbox),
//! then positions and detector state committed together (to the local file or the
//! coordination container: a [`CheckpointStore`]). A position never covers a body
//! with an event the watermark has not released (see `source::eventhubs::progress`).
//! Once the store says the ownership is lost, the loop stops without writing again.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use tokio::sync::{mpsc, watch};

use crate::coordinate::Share;
use crate::decode::Format;
use crate::metrics::{LiveMetrics, ReadinessCheck};
use crate::pipeline::clock::Clock;
use crate::pipeline::{Origin, Pipeline};
use crate::source::eventhubs::{PartitionSlot, Progress, SourceMsg, TakenBody};
use crate::state::{
    Checkpoint, CheckpointMeta, CheckpointStore, CommitOutcome, PartitionPosition, StateError,
};

pub use super::live_status::{AlertCounter, LiveStatus, LoopEnd, LoopError};

/// The most channel messages handled in one round before the watermark moves.
const ROUND: usize = 256;

/// Bodies taken since the status was last published: published together with the
/// watermark they moved, so a watcher never sees one without the other.
#[derive(Debug, Default)]
struct Taken {
    bodies: u64,
    records: u64,
    refused: u64,
    skipped: u64,
}

/// The pipeline thread's state.
pub struct LiveLoop {
    /// The shared pipeline.
    pub pipeline: Pipeline,
    /// Event-time progress per partition.
    pub progress: Progress,
    /// The partitions, by slot.
    pub slots: Vec<PartitionSlot>,
    /// How many hubs are read (readiness waits for each to be listed).
    pub hubs: usize,
    /// The checkpoint store.
    pub store: Box<dyn CheckpointStore>,
    /// The wall clock (idle partitions, checkpoint interval).
    pub clock: Arc<dyn Clock>,
    /// How often to checkpoint.
    pub interval: chrono::Duration,
    /// Consumer metrics.
    pub metrics: Option<LiveMetrics>,
    /// Marked ready once every hub is listed and every reader has started.
    pub connected: Option<ReadinessCheck>,
    /// With `[coordination]`: give the group up once every partition has failed to
    /// reach Event Hubs for this long (`None`: never, as a single instance).
    pub hand_over_after: Option<chrono::Duration>,
    /// The hubs the lag limit cut loose at the last round.
    pub cut_loose: Vec<usize>,
    /// In balanced mode: the instance's share and this partition's group; the run
    /// gives the partition up when the share says it is surplus.
    pub leave: Option<(Share, String)>,
    /// Alerts counted by an [`AlertCounter`] among the pipeline's observers.
    pub alerts: Arc<AtomicU64>,
    /// Where the status goes.
    pub status: watch::Sender<LiveStatus>,
    /// Set when the run finishes as a replay does: at the end, everything held back
    /// is released (see `Live::finish`).
    pub finishing: Arc<AtomicBool>,
}

impl LiveLoop {
    /// Runs until the channel closes (every reader stopped) or every partition is lost;
    /// then checkpoints one last time.
    pub fn run(mut self, mut rx: mpsc::Receiver<SourceMsg>) -> Result<LoopEnd, LoopError> {
        let mut last_checkpoint = self.clock.now();
        let mut started = vec![false; self.slots.len()];
        let mut listed = vec![false; self.hubs];
        let mut lost_any = false;
        let mut taken = Taken::default();
        self.status.send_modify(|s| s.owned = self.slots.len());
        self.report_connected(&started, &listed);
        let end = loop {
            let Some(first) = rx.blocking_recv() else {
                break LoopEnd::Drained;
            };
            let mut next = Some(first);
            let mut handled = 0;
            let mut sources_changed = false;
            while let Some(msg) = next.take() {
                lost_any |= matches!(msg, SourceMsg::Lost { .. });
                sources_changed |= matches!(
                    msg,
                    SourceMsg::Added { .. } | SourceMsg::Started { .. } | SourceMsg::Listed { .. }
                );
                if let SourceMsg::Listed { hub } = msg {
                    self.progress.release_hold(hub);
                    if let Some(l) = listed.get_mut(hub) {
                        *l = true;
                    }
                    let count = listed.iter().filter(|l| **l).count();
                    self.status.send_modify(|s| s.hubs_listed = count);
                } else {
                    self.handle(msg, &mut started, &mut taken)?;
                }
                handled += 1;
                if handled < ROUND {
                    next = rx.try_recv().ok();
                }
            }
            if sources_changed {
                self.report_connected(&started, &listed);
            }
            if let Some(why) = self.store.lost() {
                tracing::error!("the pipeline stops: {why}");
                return Ok(LoopEnd::OwnershipLost);
            }
            self.advance()?;
            self.pipeline.flush()?;
            if lost_any && self.progress.owned() == 0 {
                break LoopEnd::AllLost;
            }
            if self.cut_off_too_long() {
                break LoopEnd::HandedOver;
            }
            if let Some((share, group)) = &self.leave {
                if share.should_leave(group) {
                    tracing::info!(
                        "group {group}: more than this instance's fair share is held; writing the last checkpoint and releasing it for another instance"
                    );
                    break LoopEnd::Rebalanced;
                }
            }
            if self.clock.now() - last_checkpoint >= self.interval {
                if !self.checkpoint()? {
                    return Ok(LoopEnd::OwnershipLost);
                }
                last_checkpoint = self.clock.now();
            }
            self.publish_status(&mut taken);
        };
        if self.store.lost().is_some() {
            return Ok(LoopEnd::OwnershipLost);
        }
        self.advance()?;
        if self.finishing.load(Ordering::Acquire) {
            self.release_all()?;
        }
        let still_owner = self.checkpoint()?;
        self.publish_status(&mut taken);
        Ok(if still_owner {
            end
        } else {
            LoopEnd::OwnershipLost
        })
    }

    /// Whether this instance should hand its group over: every partition it reads
    /// has failed to reach Event Hubs for `hand_over_after` (a standby elsewhere
    /// may reach them; storage, where the checkpoint goes, still answers).
    fn cut_off_too_long(&self) -> bool {
        let Some(limit) = self.hand_over_after else {
            return false;
        };
        let Some(down) = self.progress.all_down_for(self.clock.now()) else {
            return false;
        };
        if down < limit {
            return false;
        }
        tracing::error!(
            "every partition has failed to reach Event Hubs for {}s (hand_over_after {}s): \
             writing the last checkpoint and handing the group over to a standby",
            down.num_seconds(),
            limit.num_seconds()
        );
        true
    }

    /// Ready once every hub is listed and every reader started; else says what
    /// is missing.
    fn report_connected(&self, started: &[bool], listed: &[bool]) {
        let Some(check) = &self.connected else { return };
        let missing_hubs = listed.iter().filter(|l| !**l).count();
        let missing_readers = started.iter().filter(|s| !**s).count();
        if missing_hubs == 0 && missing_readers == 0 {
            check.ready();
        } else if missing_hubs > 0 {
            check.not_ready(format!(
                "{missing_hubs} of {} hubs not listed yet (unreachable or starting)",
                listed.len()
            ));
        } else {
            check.not_ready(format!(
                "{missing_readers} of {} partition readers not started yet",
                started.len()
            ));
        }
    }

    fn handle(
        &mut self,
        msg: SourceMsg,
        started: &mut Vec<bool>,
        taken: &mut Taken,
    ) -> Result<(), LoopError> {
        match msg {
            SourceMsg::Added {
                slot,
                partition,
                activity,
                known,
            } => {
                if slot != self.slots.len() {
                    tracing::error!(slot, "a partition was added out of order; not read");
                    return Ok(());
                }
                tracing::info!(hub = %partition.hub_name, partition = %partition.partition, "reading a partition");
                let hub = partition.hub;
                self.slots.push(partition);
                let (position, offset) = match known {
                    Some(k) => (Some(k.position), k.offset),
                    None => (None, None),
                };
                self.progress.add(hub, activity, position, offset);
                started.push(false);
                let owned = self.progress.owned();
                self.status.send_modify(|s| s.owned = owned);
            }
            SourceMsg::Started { slot, resume_after } => {
                self.progress.started(slot, resume_after);
                if let Some(s) = started.get_mut(slot) {
                    *s = true;
                }
                let count = started.iter().filter(|s| **s).count();
                self.status.send_modify(|s| s.started = count);
            }
            SourceMsg::Body(body) => {
                let Some(slot) = self.slots.get(body.slot) else {
                    return Ok(());
                };
                let origin = Origin::Partition {
                    hub: slot.hub_name.clone(),
                    partition: slot.partition.clone(),
                    sequence: body.sequence,
                };
                let cut = self.progress.cut_for(body.slot, body.sequence);
                let seen =
                    self.pipeline
                        .ingest_resumed(&origin, &body.bytes, Format::EventHubs, cut)?;
                if let Some(m) = &self.metrics {
                    m.body(&slot.hub_name, &slot.partition, seen.records);
                }
                self.progress.taken(
                    body.slot,
                    TakenBody {
                        sequence: body.sequence,
                        offset: body.offset,
                        newest: seen.newest,
                        enqueued: body.enqueued,
                    },
                );
                taken.bodies += 1;
                taken.records += seen.records;
                taken.refused += seen.refused;
                taken.skipped += seen.skipped;
            }
            SourceMsg::Lost { slot, reason } => {
                self.progress.lost(slot);
                if let Some(p) = self.slots.get(slot) {
                    tracing::warn!(hub = %p.hub_name, partition = %p.partition, "partition lost: {reason}");
                    if let Some(m) = &self.metrics {
                        m.released(&p.hub_name, &p.partition);
                    }
                }
                let owned = self.progress.owned();
                self.status.send_modify(|s| {
                    s.lost += 1;
                    s.owned = owned;
                });
            }
            SourceMsg::Gap { gap, .. } => {
                self.status.send_modify(|s| {
                    s.gaps += 1;
                    s.gap_events += gap.events();
                });
            }
            SourceMsg::Failed(why) => return Err(LoopError::Source(why)),
            SourceMsg::Tick | SourceMsg::Listed { .. } => {}
        }
        Ok(())
    }

    fn advance(&mut self) -> Result<(), LoopError> {
        let verdict = self.progress.judge(self.clock.now());
        if verdict.cut_loose != self.cut_loose {
            self.report_cut_loose(&verdict.cut_loose);
        }
        if let Some(watermark) = verdict.candidate {
            self.pipeline.advance_to(watermark)?;
            self.progress.advanced(watermark);
        }
        Ok(())
    }

    /// Logs and exposes the hubs that start or stop being cut loose by the lag limit.
    fn report_cut_loose(&mut self, now: &[usize]) {
        let name = |hub: usize| {
            self.slots
                .iter()
                .find(|s| s.hub == hub)
                .map_or("?", |s| s.hub_name.as_str())
        };
        for &hub in now.iter().filter(|h| !self.cut_loose.contains(h)) {
            tracing::warn!(
                hub = name(hub),
                "hub more than hub_lag_limit behind the others while reading its newest events: \
                 it no longer holds the watermark back; its older records are processed as they arrive (late)"
            );
            if let Some(m) = &self.metrics {
                m.hub_cut_loose(name(hub), true);
            }
        }
        for &hub in self.cut_loose.iter().filter(|h| !now.contains(h)) {
            tracing::info!(
                hub = name(hub),
                "hub back within hub_lag_limit: it holds the watermark again"
            );
            if let Some(m) = &self.metrics {
                m.hub_cut_loose(name(hub), false);
            }
        }
        self.cut_loose = now.to_vec();
    }

    /// Moves the watermark to the newest event taken: the end of the inputs.
    fn release_all(&mut self) -> Result<(), LoopError> {
        if let Some(newest) = self.progress.newest_seen() {
            if self.progress.watermark().is_none_or(|w| newest > w) {
                self.pipeline.advance_to(newest)?;
                self.progress.advanced(newest);
            }
        }
        Ok(())
    }

    /// Alerts durable first, then positions and state in one commit. `false` when
    /// the store says the ownership is lost (nothing was written).
    fn checkpoint(&mut self) -> Result<bool, LoopError> {
        self.pipeline.flush()?;
        let state = self.pipeline.save_state();
        let now = self.clock.now();
        let partitions: BTreeMap<String, PartitionPosition> = self
            .slots
            .iter()
            .map(|s| s.key.clone())
            .zip(self.progress.positions())
            .collect();
        let offsets: BTreeMap<String, String> = self
            .slots
            .iter()
            .zip(self.progress.mirror_positions())
            .filter_map(|(s, m)| m.map(|(_, offset)| (s.key.clone(), offset)))
            .collect();
        let checkpoint = Checkpoint {
            meta: CheckpointMeta {
                watermark: self.progress.watermark(),
                released_up_to: self.pipeline.released_up_to(),
                written_at: Some(now),
            },
            partitions,
            detectors: state.detectors,
            dedup: state.dedup,
        };
        match self.store.commit(&checkpoint, &offsets) {
            Ok(CommitOutcome::Committed) => {}
            Ok(CommitOutcome::Deferred(why)) => {
                tracing::warn!(
                    "checkpoint not written this time: {why}; trying again at the next interval"
                );
                self.status.send_modify(|s| s.deferred += 1);
                return Ok(true);
            }
            Err(StateError::Lost(why)) => {
                tracing::error!("checkpoint refused: {why}");
                return Ok(false);
            }
            Err(e) => return Err(e.into()),
        }
        if let Some(m) = &self.metrics {
            for (_, slot) in self
                .slots
                .iter()
                .enumerate()
                .filter(|(i, _)| !self.progress.is_lost(*i))
            {
                m.checkpointed(&slot.hub_name, &slot.partition, now);
            }
        }
        self.status.send_modify(|s| {
            s.checkpoints += 1;
            s.positions = checkpoint.partitions;
        });
        Ok(true)
    }

    /// Publishes the round's bodies with the watermark and alerts they led to.
    fn publish_status(&self, taken: &mut Taken) {
        let watermark = self.progress.watermark();
        let alerts = self.alerts.load(Ordering::Relaxed);
        let round = std::mem::take(taken);
        self.status.send_if_modified(|s| {
            let changed = s.watermark != watermark || s.alerts != alerts || round.bodies > 0;
            s.watermark = watermark;
            s.alerts = alerts;
            s.bodies += round.bodies;
            s.records += round.records;
            s.refused += round.refused;
            s.skipped += round.skipped;
            changed
        });
    }
}
