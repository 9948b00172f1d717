//! `kvwatch route`: re-publishes every record of the diagnostic-setting hub to a
//! second hub, keyed by principal, so several `kvwatch run` processes can each own
//! some partitions of the keyed hub and still see all of a principal's events.
//!
//! Diagnostic settings spread records over partitions with no key, so one principal's
//! records land everywhere; per-principal detector state needs them in one place.
//! This is the Kafka-Streams repartition step, on Event Hubs itself: records are
//! grouped by principal key (`ip:<address>` for anonymous callers), each group is sent
//! as `{"records":[…]}` bodies with the key as the partition key
//! ([`super::route_publish`]), and a source position is checkpointed only after the
//! keyed hub accepted everything up to it. Nothing is dropped: a record that does not
//! decode goes on under the key `unparsed`, a body that is not an envelope goes on
//! whole. A crash between sending and checkpointing sends some records again;
//! `kvwatch run` drops exact duplicates.
//!
//! Route reads as `run` does (each hub listed on its own, partitions added while it
//! runs, gaps counted) with the same Event Hubs metrics, is ready once the keyed hub
//! accepts a producer and every source partition is read, and ends (exit 3) once
//! another reader with a higher owner level took every partition it read.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use azure_core::credentials::TokenCredential;
use azure_messaging_eventhubs::ProducerClient;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::metrics::{MetricsOptions, RunMetrics};
use super::route_publish::publish;
pub use super::route_publish::{group_by_key, UNPARSED_KEY};
use crate::config::Config;
use crate::metrics::{checks, ReadinessCheck};
use crate::pipeline::clock::Clock;
use crate::source::eventhubs::{
    read_hubs, ticks, Activity, Auth, Connector, Discovery, KnownPosition, PartitionSlot,
    ReaderSettings, SourceMsg, WatchedHub,
};
use crate::state::{Checkpoint, CheckpointMeta, PartitionPosition, StateStore};

/// Bodies taken from the channel per publishing round.
const ROUND: usize = 256;
/// The readiness check of the keyed hub's producer.
pub const TARGET_CONNECTED: &str = "target_connected";

/// Everything `kvwatch route` needs.
#[derive(Clone)]
pub struct RouteOptions {
    /// The configuration: `[[eventhubs.hubs]]` to read, `[route]` to write.
    pub config: Config,
    /// Use this credential for every hub instead of the configured ones (tests).
    pub credential: Option<Arc<dyn TokenCredential>>,
    /// The wall clock.
    pub clock: Arc<dyn Clock>,
    /// The metrics endpoint and snapshot.
    pub metrics: MetricsOptions,
}

/// What a running route has done.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RouteStatus {
    /// Bodies read.
    pub bodies: u64,
    /// Records re-published.
    pub records: u64,
    /// Events (keyed bodies) sent.
    pub sent: u64,
    /// Checkpoints committed.
    pub checkpoints: u64,
    /// Source partitions read.
    pub owned: usize,
    /// Source partitions taken over by another reader.
    pub lost: usize,
    /// Gaps found in the source partitions.
    pub gaps: u64,
    /// Positions of the last checkpoint.
    pub positions: BTreeMap<String, PartitionPosition>,
}

/// How route ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteEnd {
    /// Asked to stop.
    Stopped,
    /// Another reader took every source partition (exit 3).
    AllLost,
}

/// A running `kvwatch route`.
pub struct Router {
    cancel: CancellationToken,
    status: watch::Receiver<RouteStatus>,
    task: JoinHandle<Result<(RouteEnd, RouteStatus)>>,
}

impl Router {
    /// Connects and starts routing in the background.
    pub async fn start(opts: RouteOptions) -> Result<Router> {
        let config = &opts.config;
        let Some(target) = &config.route.target else {
            bail!("the config has no [route.target]: nowhere to publish")
        };
        if config.eventhubs.hubs.is_empty() {
            bail!("the config has no [[eventhubs.hubs]]: nothing to read");
        }
        let eh = &config.eventhubs;
        let backoff = (eh.reconnect_initial.as_std(), eh.reconnect_max.as_std());
        let auth = |c, key: &str| match &opts.credential {
            Some(t) => Ok(Auth::Token(t.clone())),
            None => Auth::from_config(c, key),
        };
        let target = Connector::for_target(
            target,
            auth(&target.credential, "route.target.credential")?,
            eh.operation_timeout.as_std(),
            backoff,
        );
        let mut sources = Vec::new();
        for (i, hub) in eh.hubs.iter().enumerate() {
            let a = auth(&hub.credential, &format!("eventhubs.hubs[{i}].credential"))?;
            sources.push(Connector::for_hub(
                hub,
                a,
                eh.operation_timeout.as_std(),
                backoff,
            ));
        }
        let path = config.route.resolved_state_path();
        let store = StateStore::open(&path)
            .context("cannot open route's checkpoint store ([route] state_path)")?;
        let metrics = RunMetrics::start(&opts.metrics, config)?;
        let cancel = CancellationToken::new();
        let (tx, status) = watch::channel(RouteStatus::default());
        let task = tokio::spawn(serve(
            opts,
            target,
            sources,
            store,
            metrics,
            tx,
            cancel.clone(),
        ));
        Ok(Router {
            cancel,
            status,
            task,
        })
    }

    /// Asks route to stop after the bodies it holds are sent and checkpointed.
    pub fn shutdown(&self) {
        self.cancel.cancel();
    }

    /// Route's progress.
    pub fn status(&self) -> watch::Receiver<RouteStatus> {
        self.status.clone()
    }

    /// Waits for route to end: why, and what it did.
    pub async fn wait(self) -> Result<(RouteEnd, RouteStatus)> {
        self.task.await.context("route panicked")?
    }
}

/// One source partition: where it stands and whether it is still read here.
struct Slot {
    partition: PartitionSlot,
    position: Option<i64>,
    started: bool,
    lost: bool,
}

async fn serve(
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
    let watched: Vec<WatchedHub> = eh
        .hubs
        .iter()
        .zip(&sources)
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
                metrics: live_metrics.clone(),
            },
            wanted: hub.partitions.clone(),
            known: None,
        })
        .collect();
    let restored: BTreeMap<String, KnownPosition> = checkpoint
        .iter()
        .flat_map(|c| c.partitions.iter())
        .map(|(k, p)| {
            let known = KnownPosition {
                position: p.clone(),
                offset: None,
            };
            (k.clone(), known)
        })
        .collect();
    let (tx, mut rx) = mpsc::channel(eh.queue_bodies);
    let discovery = Discovery::new(
        eh.relist_interval.as_std(),
        restored,
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
    let mut dirty = false;
    let mut slots: Vec<Slot> = Vec::new();
    let mut listed = vec![false; eh.hubs.len()];
    let mut end = RouteEnd::Stopped;
    let mut failure = None;
    while let Some(first) = rx.recv().await {
        let mut round = vec![first];
        while round.len() < ROUND {
            match rx.try_recv() {
                Ok(msg) => round.push(msg),
                Err(_) => break,
            }
        }
        let mut bodies = Vec::new();
        for msg in round {
            match msg {
                SourceMsg::Added {
                    partition, known, ..
                } => slots.push(Slot {
                    partition,
                    position: known.and_then(|k| k.position.resume_after),
                    started: false,
                    lost: false,
                }),
                SourceMsg::Listed { hub } => {
                    if let Some(l) = listed.get_mut(hub) {
                        *l = true;
                    }
                }
                SourceMsg::Started { slot, resume_after } => {
                    if let Some(s) = slots.get_mut(slot) {
                        s.position = s.position.or(resume_after);
                        s.started = true;
                        dirty = true;
                    }
                }
                SourceMsg::Body(body) => bodies.push(body),
                SourceMsg::Lost { slot, reason } => {
                    if let Some(s) = slots.get_mut(slot) {
                        tracing::warn!(hub = %s.partition.hub_name, partition = %s.partition.partition, "partition lost: {reason}");
                        s.lost = true;
                        if let Some(m) = &live_metrics {
                            m.released(&s.partition.hub_name, &s.partition.partition);
                        }
                    }
                }
                SourceMsg::Gap { .. } => status.send_modify(|s| s.gaps += 1),
                SourceMsg::Failed(why) => failure = Some(why),
                SourceMsg::Tick => {}
            }
        }
        report_sources(sources_check.as_ref(), &slots, &listed);
        let lost = slots.iter().filter(|s| s.lost).count();
        status.send_modify(|s| {
            s.owned = slots.len() - lost;
            s.lost = lost;
        });
        if failure.is_some() {
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
            for b in &bodies {
                if let Some(s) = slots.get_mut(b.slot) {
                    s.position = Some(b.sequence);
                    if let Some(m) = &live_metrics {
                        m.received(&s.partition.hub_name, &s.partition.partition);
                    }
                }
            }
            dirty = true;
            status.send_modify(|s| {
                s.bodies += bodies.len() as u64;
                s.records += records;
                s.sent += sent;
            });
        }
        if dirty && opts.clock.now() - last_checkpoint >= interval {
            commit(&store, &slots, &status, opts.clock.now())?;
            last_checkpoint = opts.clock.now();
            dirty = false;
        }
        if lost > 0 && lost == slots.len() {
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
    if dirty {
        commit(&store, &slots, &status, opts.clock.now())?;
    }
    let _ = target
        .bounded("closing the producer".to_owned(), producer.close())
        .await;
    if let Some(m) = &metrics {
        m.write_snapshot()?;
    }
    if let Some(why) = failure {
        bail!(why);
    }
    let final_status = status.borrow().clone();
    Ok((end, final_status))
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
