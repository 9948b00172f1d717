//! `kvwatch run`: the replay pipeline fed by Event Hubs, alerting seconds after Azure
//! exports a record instead of when a SIEM gets round to it.
//!
//! Nothing here decodes or detects: the partition readers (`source::eventhubs`) feed
//! the same [`Pipeline`] replay uses, on its own thread ([`super::live_pipeline`]),
//! with the same bounded-lateness watermark taken over partitions instead of input
//! groups, so a day consumed live and the same day replayed give the same alerts.
//! Alerts go to the configured `[[sinks]]` through the durable outbox (or as JSON
//! Lines to a file or standard output). Startup restores the last checkpoint (detector
//! state and positions); shutdown stops the readers, lets the pipeline take what is
//! queued, checkpoints, and gives the outbox `[outbox] drain_timeout` to deliver.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use azure_core::credentials::TokenCredential;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::delivery::DrainReport;
use super::live_pipeline::{AlertCounter, LiveLoop, LiveStatus, LoopEnd};
use super::metrics::{MetricsOptions, RunMetrics};
use super::summary::RejectLog;
use crate::config::Config;
use crate::detect::Engine;
use crate::metrics::{checks, Metrics};
use crate::pipeline::clock::Clock;
use crate::pipeline::{Observers, Pipeline, PipelineSettings, SavedState};
use crate::sink::delivery::Delivery;
use crate::sink::enqueue::Tee;
use crate::sink::json_lines::JsonLinesSink;
use crate::sink::observe::{DeliveryObserver, Fanout, LogObserver};
use crate::sink::AlertSink;
use crate::source::eventhubs::{
    discover_partitions, list_partitions, read_partition, ticks, Activity, Auth, Connector,
    PartitionSlot, Progress, ReaderSettings, WatchedHub,
};
use crate::state::{Checkpoint, StateStore};

/// Everything `kvwatch run` needs, validated.
#[derive(Clone)]
pub struct LiveOptions {
    /// The configuration (at least one `[[eventhubs.hubs]]`).
    pub config: Config,
    /// Also write alerts here as JSON Lines. Without it, and without `[[sinks]]`,
    /// alerts go to standard output.
    pub output: Option<PathBuf>,
    /// The metrics endpoint and snapshot.
    pub metrics: MetricsOptions,
    /// Use this credential for every hub instead of the configured ones (tests).
    pub credential: Option<Arc<dyn TokenCredential>>,
    /// The wall clock (idle partitions, checkpoint ages, outbox times).
    pub clock: Arc<dyn Clock>,
}

/// How a run ended.
#[derive(Debug)]
pub struct LiveOutcome {
    /// Why the pipeline stopped.
    pub end: LoopEnd,
    /// What the run did.
    pub status: LiveStatus,
    /// What the outbox still holds, with `[[sinks]]`.
    pub delivery: Option<DrainReport>,
    /// The run's metrics, when asked for.
    pub metrics: Option<RunMetrics>,
}

/// A running `kvwatch run`.
pub struct Live {
    cancel: CancellationToken,
    finishing: Arc<AtomicBool>,
    status: watch::Receiver<LiveStatus>,
    metrics: Option<Arc<Metrics>>,
    task: JoinHandle<Result<LiveOutcome>>,
}

impl Live {
    /// Opens the state, restores the checkpoint, builds the pipeline and the sinks,
    /// then starts reading in the background. Must be called inside a tokio runtime.
    pub async fn start(opts: LiveOptions) -> Result<Live> {
        let config = &opts.config;
        if config.eventhubs.hubs.is_empty() {
            bail!("the config has no [[eventhubs.hubs]]: nothing to read");
        }
        let eh = &config.eventhubs;
        let backoff = (eh.reconnect_initial.as_std(), eh.reconnect_max.as_std());
        let mut connectors = Vec::new();
        for (i, hub) in eh.hubs.iter().enumerate() {
            let auth = match &opts.credential {
                Some(c) => Auth::Token(c.clone()),
                None => {
                    Auth::from_config(&hub.credential, &format!("eventhubs.hubs[{i}].credential"))?
                }
            };
            connectors.push(Connector::for_hub(
                hub,
                auth,
                eh.operation_timeout.as_std(),
                backoff,
            ));
        }
        let run_metrics = RunMetrics::start(&opts.metrics, config)?;
        let metrics = run_metrics.as_ref().map(|m| m.metrics().clone());
        let state_path = config.state.resolved_path();
        let store = StateStore::open(&state_path)
            .context("cannot open the checkpoint store ([state] path)")?;
        let checkpoint = store
            .load()
            .with_context(|| format!("cannot read the checkpoint in {}", state_path.display()))?;

        let alerts = Arc::new(AtomicU64::new(0));
        let mut observers = Observers::default();
        observers.push(Box::new(AlertCounter(alerts.clone())));
        observers.push(Box::new(RejectLog::new(5)));
        if let Some(m) = &metrics {
            observers.push(Box::new(m.observer()));
        }
        let dead = Arc::new(DeadLetters::default());
        let delivery = start_delivery(config, &opts.clock, metrics.as_ref(), dead.clone())?;
        let sink = build_sink(config, opts.output.as_ref(), delivery.as_ref())?;
        let engine = Engine::from_config(config).context("cannot load the detectors")?;
        let mut pipeline = Pipeline::new(settings(config), engine, sink, observers);
        if let Some(c) = &checkpoint {
            let saved = SavedState {
                detectors: c.detectors.clone(),
                dedup: c.dedup.clone(),
            };
            pipeline
                .restore_state(&saved, c.meta.released_up_to)
                .with_context(|| {
                    format!(
                        "cannot restore the detector state from {}",
                        state_path.display()
                    )
                })?;
            tracing::info!(watermark = ?c.meta.watermark, "restored the checkpoint of {}", state_path.display());
        }
        if let Some(m) = &metrics {
            m.readiness().check(checks::STATE_LOADED).ready();
            if delivery.is_some() {
                m.readiness().check(checks::OUTBOX_WRITABLE).ready();
            }
        }
        let cancel = CancellationToken::new();
        let finishing = Arc::new(AtomicBool::new(false));
        let (status_tx, status) = watch::channel(LiveStatus::default());
        let serve = Serve {
            finishing: finishing.clone(),
            opts,
            connectors,
            store,
            checkpoint,
            pipeline,
            delivery,
            alerts,
            status: status_tx,
            dead,
        };
        let task = tokio::spawn(serve.run(cancel.clone(), run_metrics));
        Ok(Live {
            cancel,
            finishing,
            status,
            metrics,
            task,
        })
    }

    /// Asks the run to stop: readers stop, the queue drains, a checkpoint is written.
    pub fn shutdown(&self) {
        self.cancel.cancel();
    }

    /// Stops as a replay ends its inputs: the readers stop, the queue drains, and
    /// everything the watermark still holds back is released to the detectors before
    /// the last checkpoint. For a source that has ended (`kvwatch run --embedded` once
    /// its inputs are consumed); a service stops with [`Live::shutdown`], which keeps
    /// the held-back records for the next start.
    pub fn finish(&self) {
        self.finishing.store(true, Ordering::Release);
        self.cancel.cancel();
    }

    /// The run's progress, updated as it goes.
    pub fn status(&self) -> watch::Receiver<LiveStatus> {
        self.status.clone()
    }

    /// The run's metrics registry, when metrics were asked for.
    pub fn metrics(&self) -> Option<&Arc<Metrics>> {
        self.metrics.as_ref()
    }

    /// Waits for the run to end (after [`Live::shutdown`], or when every partition was
    /// taken over).
    pub async fn wait(self) -> Result<LiveOutcome> {
        self.task.await.context("the live run panicked")?
    }
}

/// The pipeline settings `[pipeline]` sets (the same as replay's).
fn settings(config: &Config) -> PipelineSettings {
    PipelineSettings {
        lateness: config.pipeline.lateness.as_chrono(),
        dedup_window: config.pipeline.dedup_window.as_std(),
        reorder_capacity: config.pipeline.reorder_capacity,
        limits: config.limits(),
        strict: false,
        filter: Default::default(),
    }
}

fn start_delivery(
    config: &Config,
    clock: &Arc<dyn Clock>,
    metrics: Option<&Arc<Metrics>>,
    dead: Arc<DeadLetters>,
) -> Result<Option<Delivery>> {
    if !config.sinks.iter().any(|s| s.enabled) {
        return Ok(None);
    }
    let mut observers: Vec<Arc<dyn DeliveryObserver>> = vec![Arc::new(LogObserver), dead];
    observers.extend(metrics.map(|m| m.delivery_observer()));
    let delivery = Delivery::from_config(config, clock.clone(), Arc::new(Fanout(observers)))
        .context("cannot start alert delivery")?;
    Ok(Some(delivery))
}

fn build_sink(
    config: &Config,
    output: Option<&PathBuf>,
    delivery: Option<&Delivery>,
) -> Result<Box<dyn AlertSink>> {
    let file = match output {
        Some(p) => {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .with_context(|| format!("cannot open {}", p.display()))?;
            Some(Box::new(JsonLinesSink::new(
                p.display().to_string(),
                Box::new(std::io::BufWriter::new(file)),
            )) as Box<dyn AlertSink>)
        }
        None => None,
    };
    Ok(match (file, delivery) {
        (Some(f), Some(d)) => Box::new(Tee(vec![f, Box::new(d.sink(config))])),
        (Some(f), None) => f,
        (None, Some(d)) => Box::new(d.sink(config)),
        (None, None) => Box::new(JsonLinesSink::new(
            "standard output",
            Box::new(std::io::BufWriter::new(std::io::stdout())),
        )),
    })
}

/// The background part of a run.
struct Serve {
    finishing: Arc<AtomicBool>,
    opts: LiveOptions,
    connectors: Vec<Connector>,
    store: StateStore,
    checkpoint: Option<Checkpoint>,
    pipeline: Pipeline,
    delivery: Option<Delivery>,
    alerts: Arc<AtomicU64>,
    status: watch::Sender<LiveStatus>,
    dead: Arc<DeadLetters>,
}

/// Counts dead-lettered deliveries during a run.
#[derive(Debug, Default)]
struct DeadLetters(AtomicU64);

impl DeliveryObserver for DeadLetters {
    fn observe(&self, event: &crate::sink::observe::DeliveryEvent<'_>) {
        if matches!(
            event,
            crate::sink::observe::DeliveryEvent::DeadLettered { .. }
        ) {
            self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }
}

impl Serve {
    async fn run(
        self,
        cancel: CancellationToken,
        run_metrics: Option<RunMetrics>,
    ) -> Result<LiveOutcome> {
        let Serve {
            finishing,
            opts,
            connectors,
            store,
            checkpoint,
            pipeline,
            delivery,
            alerts,
            status,
            dead,
        } = self;
        let config = &opts.config;
        let eh = &config.eventhubs;
        let backoff = (eh.reconnect_initial.as_std(), eh.reconnect_max.as_std());
        let live_metrics = run_metrics.as_ref().map(|m| m.metrics().live().clone());
        let final_status = status.subscribe();

        let mut slots = Vec::new();
        let mut readers = Vec::new();
        let mut watched = Vec::new();
        for (i, (hub, connector)) in eh.hubs.iter().zip(&connectors).enumerate() {
            let Some(ids) = list_partitions(connector, &hub.partitions, backoff, &cancel).await?
            else {
                break;
            };
            if hub.partitions.is_empty() {
                watched.push(WatchedHub {
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
                    known: ids.clone(),
                });
            }
            for id in ids {
                let slot = PartitionSlot::new(i, connector, &id);
                let resume_after = checkpoint
                    .as_ref()
                    .and_then(|c| c.partitions.get(&slot.key))
                    .and_then(|p| p.resume_after);
                readers.push(ReaderSettings {
                    slot: slots.len(),
                    partition: id,
                    connector: connector.clone(),
                    start: hub.start,
                    resume_after,
                    prefetch: hub.prefetch,
                    owner_level: hub.owner_level,
                    backoff,
                    lag_interval: eh.lag_interval.as_std(),
                    activity: Arc::new(Activity::new(opts.clock.now())),
                    clock: opts.clock.clone(),
                    metrics: live_metrics.clone(),
                });
                slots.push(slot);
            }
        }
        let end = if cancel.is_cancelled() {
            LoopEnd::Drained
        } else {
            let mut progress = Progress::new(
                readers.iter().map(|r| r.activity.clone()).collect(),
                config.pipeline.lateness.as_chrono(),
                eh.idle_after.as_chrono(),
            );
            if let Some(c) = &checkpoint {
                progress.restore(
                    c.meta.watermark,
                    slots
                        .iter()
                        .map(|s| c.partitions.get(&s.key).cloned())
                        .collect(),
                );
            }
            let (tx, rx) = mpsc::channel(eh.queue_bodies);
            let live_loop = LiveLoop {
                pipeline,
                progress,
                slots,
                store,
                clock: opts.clock.clone(),
                interval: config.state.checkpoint_interval.as_chrono(),
                metrics: live_metrics,
                connected: run_metrics
                    .as_ref()
                    .map(|m| m.metrics().readiness().check(checks::SOURCES_CONNECTED)),
                alerts,
                status,
                finishing,
            };
            let pipeline_thread = tokio::task::spawn_blocking(move || live_loop.run(rx));
            let tasks: Vec<_> = readers
                .into_iter()
                .map(|r| tokio::spawn(read_partition(r, tx.clone(), cancel.clone())))
                .collect();
            let tick = (eh
                .idle_after
                .as_std()
                .min(config.state.checkpoint_interval.as_std())
                / 4)
            .clamp(Duration::from_millis(20), Duration::from_secs(1));
            let discovery = tokio::spawn(discover_partitions(
                watched,
                tasks.len(),
                eh.relist_interval.as_std(),
                tx.clone(),
                cancel.clone(),
            ));
            let ticker = tokio::spawn(ticks(tx, tick, cancel.clone()));
            let ended = pipeline_thread
                .await
                .context("the pipeline thread panicked");
            // Whatever ended the pipeline (shutdown, every partition lost, a failure),
            // the readers stop now; each one's close is bounded by the operation timeout.
            cancel.cancel();
            let bound = eh.operation_timeout.as_std() * 2 + Duration::from_secs(1);
            let stopped = async {
                futures::future::join_all(tasks).await;
                let _ = discovery.await;
            };
            if tokio::time::timeout(bound, stopped).await.is_err() {
                tracing::warn!("some partition readers did not close in time");
            }
            ticker.abort();
            ended??
        };
        let drained = match delivery {
            Some(d) => {
                let limit = config.outbox.drain_timeout.as_std();
                let waiting = d.drain(limit).await.context("cannot read the outbox")?;
                d.stop().await.context("cannot sync the outbox")?;
                if waiting > 0 {
                    tracing::warn!("{waiting} alert deliveries still waiting; they stay in the outbox for the next run");
                }
                Some(DrainReport {
                    waiting,
                    dead_lettered: dead.0.load(std::sync::atomic::Ordering::Relaxed),
                })
            }
            None => None,
        };
        if let Some(m) = &run_metrics {
            m.write_snapshot()?;
        }
        let status = final_status.borrow().clone();
        Ok(LiveOutcome {
            end,
            status,
            delivery: drained,
            metrics: run_metrics,
        })
    }
}
