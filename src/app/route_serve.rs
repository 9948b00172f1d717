//! The loop behind `kvwatch route`: read every source partition, publish what it
//! read to the keyed hub in rounds, and checkpoint a source position only once the
//! keyed hub accepted everything up to it. Split from `route.rs` (options, status,
//! start and stop) so the loop reads as its steps: take a round of messages
//! ([`RouteLoop::absorb`]), publish its bodies, commit, decide whether to go on.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Result};
use azure_messaging_eventhubs::ProducerClient;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::metrics::RunMetrics;
use super::route::{RouteEnd, RouteOptions, RouteStatus, TARGET_CONNECTED};
use super::route_publish::{group_by_key, publish};
use crate::metrics::{checks, LiveMetrics, ReadinessCheck};
use crate::source::eventhubs::{
    read_hubs, ticks, Activity, Body, Connector, Discovery, KnownPosition, PartitionSlot,
    ReaderSettings, SourceMsg, WatchedHub,
};
use crate::state::{Checkpoint, CheckpointMeta, PartitionPosition, StateStore};

/// Bodies taken from the channel per publishing round.
const ROUND: usize = 256;

/// One source partition: where it stands and whether it is still read here.
struct Slot {
    partition: PartitionSlot,
    position: Option<i64>,
    started: bool,
    lost: bool,
}

/// What the loop knows of its sources between rounds.
struct RouteLoop {
    slots: Vec<Slot>,
    listed: Vec<bool>,
    /// Positions moved since the last commit.
    dirty: bool,
    /// The partitions cannot be read as configured.
    failure: Option<String>,
    status: watch::Sender<RouteStatus>,
    metrics: Option<LiveMetrics>,
}

impl RouteLoop {
    /// Takes one message; bodies go to `bodies` for this round's publishing.
    fn absorb(&mut self, msg: SourceMsg, bodies: &mut Vec<Body>) {
        match msg {
            SourceMsg::Added {
                partition, known, ..
            } => self.slots.push(Slot {
                partition,
                position: known.and_then(|k| k.position.resume_after),
                started: false,
                lost: false,
            }),
            SourceMsg::Listed { hub } => {
                if let Some(l) = self.listed.get_mut(hub) {
                    *l = true;
                }
            }
            SourceMsg::Started { slot, resume_after } => {
                if let Some(s) = self.slots.get_mut(slot) {
                    s.position = s.position.or(resume_after);
                    s.started = true;
                    self.dirty = true;
                }
            }
            SourceMsg::Body(body) => bodies.push(body),
            SourceMsg::Lost { slot, reason } => {
                if let Some(s) = self.slots.get_mut(slot) {
                    tracing::warn!(hub = %s.partition.hub_name, partition = %s.partition.partition, "partition lost: {reason}");
                    s.lost = true;
                    if let Some(m) = &self.metrics {
                        m.released(&s.partition.hub_name, &s.partition.partition);
                    }
                }
            }
            SourceMsg::Gap { .. } => self.status.send_modify(|s| s.gaps += 1),
            SourceMsg::Failed(why) => self.failure = Some(why),
            SourceMsg::Tick => {}
        }
    }

    /// Source partitions taken over by another reader; the status says so.
    fn count_lost(&self) -> usize {
        let lost = self.slots.iter().filter(|s| s.lost).count();
        let owned = self.slots.len() - lost;
        self.status.send_modify(|s| {
            s.owned = owned;
            s.lost = lost;
        });
        lost
    }

    /// The keyed hub accepted `bodies`: their positions may be committed.
    fn published(&mut self, bodies: &[Body], sent: u64, records: u64) {
        for b in bodies {
            if let Some(s) = self.slots.get_mut(b.slot) {
                s.position = Some(b.sequence);
                if let Some(m) = &self.metrics {
                    m.received(&s.partition.hub_name, &s.partition.partition);
                }
            }
        }
        self.dirty = true;
        self.status.send_modify(|s| {
            s.bodies += bodies.len() as u64;
            s.records += records;
            s.sent += sent;
        });
    }

    /// Commits the positions when they moved; whether it did.
    fn commit(&mut self, store: &StateStore, now: chrono::DateTime<chrono::Utc>) -> Result<bool> {
        if !self.dirty {
            return Ok(false);
        }
        commit(store, &self.slots, &self.status, now)?;
        self.dirty = false;
        Ok(true)
    }
}

/// Route's background task: until stopped, every source partition lost, or a
/// failure.
pub(super) async fn serve(
    opts: RouteOptions,
    target: Connector,
    sources: Vec<Connector>,
    store: StateStore,
    metrics: Option<RunMetrics>,
    status: watch::Sender<RouteStatus>,
    cancel: CancellationToken,
) -> Result<(RouteEnd, RouteStatus)> {
    let config = &opts.config;
    let eh = &config.eventhubs;
    let backoff = (eh.reconnect_initial.as_std(), eh.reconnect_max.as_std());
    let checkpoint = store.load()?;
    let readiness = metrics.as_ref().map(|m| m.metrics().readiness().clone());
    let target_check = readiness.as_ref().map(|r| r.check(TARGET_CONNECTED));
    let sources_check = readiness
        .as_ref()
        .map(|r| r.check(checks::SOURCES_CONNECTED));
    if let Some(r) = &readiness {
        r.check(checks::STATE_LOADED).ready();
    }
    let Some(producer) = connect(&target, backoff, &cancel).await else {
        return Ok((RouteEnd::Stopped, status.borrow().clone()));
    };
    if let Some(c) = &target_check {
        c.ready();
    }
    let live_metrics = metrics.as_ref().map(|m| m.metrics().live().clone());
    let watched = watched_hubs(&opts, &sources, backoff, live_metrics.as_ref());
    let (tx, mut rx) = mpsc::channel(eh.queue_bodies);
    let discovery = Discovery::new(
        eh.relist_interval.as_std(),
        restored(checkpoint.as_ref()),
        None,
        tx.clone(),
        cancel.clone(),
    );
    let readers = tokio::spawn(read_hubs(watched, discovery));
    let every = (config.route.checkpoint_interval.as_std() / 4)
        .clamp(Duration::from_millis(20), Duration::from_secs(1));
    let ticker = tokio::spawn(ticks(tx, every, cancel.clone()));
    let interval = config.route.checkpoint_interval.as_chrono();
    let mut last_checkpoint = opts.clock.now();
    let mut state = RouteLoop {
        slots: Vec::new(),
        listed: vec![false; eh.hubs.len()],
        dirty: false,
        failure: None,
        status,
        metrics: live_metrics,
    };
    let mut end = RouteEnd::Stopped;
    while let Some(first) = rx.recv().await {
        let mut bodies = Vec::new();
        state.absorb(first, &mut bodies);
        for _ in 1..ROUND {
            match rx.try_recv() {
                Ok(msg) => state.absorb(msg, &mut bodies),
                Err(_) => break,
            }
        }
        report_sources(sources_check.as_ref(), &state.slots, &state.listed);
        let lost = state.count_lost();
        if state.failure.is_some() {
            break;
        }
        if !bodies.is_empty() {
            let groups = group_by_key(
                bodies.iter().map(|b| b.bytes.as_slice()),
                config.route.max_records_per_body,
            );
            let Some((sent, records)) = publish(&producer, &target, groups, backoff, &cancel).await
            else {
                break;
            };
            state.published(&bodies, sent, records);
        }
        if opts.clock.now() - last_checkpoint >= interval
            && state.commit(&store, opts.clock.now())?
        {
            last_checkpoint = opts.clock.now();
        }
        if lost > 0 && lost == state.slots.len() {
            tracing::error!("every source partition was taken over by another reader: route stops");
            end = RouteEnd::AllLost;
            break;
        }
    }
    cancel.cancel();
    let bound = eh.operation_timeout.as_std() * 2 + Duration::from_secs(1);
    if tokio::time::timeout(bound, readers).await.is_err() {
        tracing::warn!("some partition readers did not close in time");
    }
    ticker.abort();
    state.commit(&store, opts.clock.now())?;
    let _ = target
        .bounded("closing the producer".to_owned(), producer.close())
        .await;
    if let Some(m) = &metrics {
        m.write_snapshot()?;
    }
    if let Some(why) = state.failure {
        bail!(why);
    }
    let final_status = state.status.borrow().clone();
    Ok((end, final_status))
}

/// The source hubs as the readers take them.
fn watched_hubs(
    opts: &RouteOptions,
    sources: &[Connector],
    backoff: (Duration, Duration),
    metrics: Option<&LiveMetrics>,
) -> Vec<WatchedHub> {
    let eh = &opts.config.eventhubs;
    eh.hubs
        .iter()
        .zip(sources)
        .enumerate()
        .map(|(i, (hub, connector))| WatchedHub {
            hub: i,
            template: ReaderSettings {
                slot: 0,
                partition: String::new(),
                connector: connector.clone(),
                start: hub.start,
                resume_after: None,
                prefetch: hub.prefetch,
                owner_level: hub.owner_level,
                backoff,
                lag_interval: eh.lag_interval.as_std(),
                activity: Arc::new(Activity::new(opts.clock.now())),
                clock: opts.clock.clone(),
                metrics: metrics.cloned(),
            },
            wanted: hub.partitions.clone(),
            known: None,
        })
        .collect()
}

/// The positions of route's last checkpoint, by partition key.
fn restored(checkpoint: Option<&Checkpoint>) -> BTreeMap<String, KnownPosition> {
    checkpoint
        .iter()
        .flat_map(|c| c.partitions.iter())
        .map(|(k, p)| {
            let known = KnownPosition {
                position: p.clone(),
                offset: None,
            };
            (k.clone(), known)
        })
        .collect()
}

/// Ready once every hub is listed and every partition reader started.
fn report_sources(check: Option<&ReadinessCheck>, slots: &[Slot], listed: &[bool]) {
    let Some(check) = check else { return };
    let hubs = listed.iter().filter(|l| !**l).count();
    let readers = slots.iter().filter(|s| !s.started && !s.lost).count();
    if hubs > 0 {
        check.not_ready(format!("{hubs} of {} hubs not listed yet", listed.len()));
    } else if readers > 0 {
        check.not_ready(format!("{readers} partition readers not started yet"));
    } else if slots.iter().all(|s| s.lost) && !slots.is_empty() {
        check.not_ready("every partition was taken over by another reader");
    } else {
        check.ready();
    }
}

async fn connect(
    target: &Connector,
    (initial, max): (Duration, Duration),
    cancel: &CancellationToken,
) -> Option<ProducerClient> {
    let mut delay = initial;
    loop {
        match target.producer().await {
            Ok(p) => return Some(p),
            Err(e) => tracing::error!("{e}; retrying in {}", humantime::format_duration(delay)),
        }
        tokio::select! {
            () = cancel.cancelled() => return None,
            () = tokio::time::sleep(delay) => {}
        }
        delay = (delay * 2).min(max);
    }
}

fn commit(
    store: &StateStore,
    slots: &[Slot],
    status: &watch::Sender<RouteStatus>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<()> {
    let partitions: BTreeMap<String, PartitionPosition> = slots
        .iter()
        .map(|s| {
            let position = PartitionPosition {
                resume_after: s.position,
                replay: Vec::new(),
            };
            (s.partition.key.clone(), position)
        })
        .collect();
    let meta = CheckpointMeta {
        written_at: Some(now),
        ..Default::default()
    };
    store.commit(&Checkpoint {
        meta,
        partitions: partitions.clone(),
        detectors: Vec::new(),
        dedup: Vec::new(),
    })?;
    status.send_modify(|s| {
        s.checkpoints += 1;
        s.positions = partitions;
    });
    Ok(())
}
