//! `kvwatch run`: the replay pipeline fed by Event Hubs, alerting seconds after Azure
//! exports a record instead of when a SIEM gets round to it.
//!
//! Nothing here decodes or detects: the partition readers (`source::eventhubs`) feed
//! the same [`Pipeline`] replay uses, on its own thread ([`super::live_pipeline`]),
//! with the same bounded-lateness watermark taken over partitions instead of input
//! groups, so a day consumed live and the same day replayed give the same alerts.
//! Alerts go to the configured `[[sinks]]` through the durable outbox (or as JSON
//! Lines to a file or standard output).
//!
//! Where state lives decides how a run starts ([`super::live_serve`]): a single
//! instance restores its local checkpoint (`[state]`); with `[coordination]`,
//! instances sharing a config take the group in turn through a Blob Storage
//! container ([`super::live_coordination`]), and only the active one reads,
//! delivers and commits. Shutdown stops the readers, lets the pipeline take what is
//! queued, checkpoints, and gives the outbox `[outbox] drain_timeout` to deliver.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use azure_core::credentials::TokenCredential;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::delivery::DrainReport;
use super::live_pipeline::{AlertCounter, LiveStatus, LoopEnd};
use super::live_serve::{Serve, Start};
use super::metrics::{MetricsOptions, RunMetrics};
use super::summary::RejectLog;
use crate::config::Config;
use crate::coordinate::Share;
use crate::detect::enrichment::Enricher;
use crate::detect::Engine;
use crate::metrics::{checks, Metrics};
use crate::pipeline::clock::Clock;
use crate::pipeline::{ArrivalMode, Observers, Pipeline, PipelineSettings};
use crate::sink::delivery::Delivery;
use crate::sink::enqueue::Tee;
use crate::sink::gate::Gate;
use crate::sink::json_lines::{JsonLinesSink, SharedLines};
use crate::sink::observe::{DeliveryEvent, DeliveryObserver, Fanout, LogObserver};
use crate::sink::AlertSink;
use crate::source::eventhubs::{Auth, Connector};
use crate::state::StateStore;

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
    /// Set for one partition's run inside a balanced instance
    /// ([`super::live_balanced`]); `None` for a run of its own.
    pub part: Option<PartOptions>,
}

/// What one partition's run shares with the balanced instance around it.
#[derive(Clone)]
pub struct PartOptions {
    /// The instance's share: reserved before a claim, asked whether to leave.
    pub share: Share,
    /// The partition's group (its name in the share).
    pub group: String,
    /// The instance's owner id, the same on every partition it holds.
    pub owner_id: String,
    /// The instance's registry, seen as one partition ([`Metrics::for_partition`]).
    pub metrics: Option<Arc<Metrics>>,
    /// Where alert lines go (the instance's `--output` or standard output), when
    /// anywhere.
    pub lines: Option<SharedLines>,
    /// The enrichment every partition's engine shares (one GeoIP database in
    /// memory).
    pub enricher: Enricher,
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
    /// Builds the pipeline and the sinks, restores the local checkpoint (without
    /// `[coordination]`), then starts in the background: reading, or first standing
    /// by for the coordination group. Must be called inside a tokio runtime.
    pub async fn start(opts: LiveOptions) -> Result<Live> {
        let config = &opts.config;
        if config.eventhubs.hubs.is_empty() {
            bail!("the config has no [[eventhubs.hubs]]: nothing to read");
        }
        let connectors = connectors(config, opts.credential.as_ref())?;
        let (run_metrics, metrics) = match &opts.part {
            Some(part) => (None, part.metrics.clone()),
            None => {
                let run = RunMetrics::start(&opts.metrics, config)?;
                let metrics = run.as_ref().map(|m| m.metrics().clone());
                (run, metrics)
            }
        };
        let start = match &config.coordination {
            None => {
                let state_path = config.state.resolved_path();
                let store = StateStore::open(&state_path)
                    .context("cannot open the checkpoint store ([state] path)")?;
                let checkpoint = store.load().with_context(|| {
                    format!("cannot read the checkpoint in {}", state_path.display())
                })?;
                Start::Local {
                    store,
                    checkpoint,
                    path: state_path,
                }
            }
            Some(c) => Start::Coordinated(c.clone()),
        };

        let alerts = Arc::new(AtomicU64::new(0));
        let mut observers = Observers::default();
        observers.push(Box::new(AlertCounter(alerts.clone())));
        observers.push(Box::new(RejectLog::new(5)));
        if let Some(m) = &metrics {
            observers.push(Box::new(m.observer()));
        }
        let dead = Arc::new(DeadLetters::default());
        let gate = match &start {
            Start::Local { .. } => Gate::open(),
            Start::Coordinated(_) => Gate::closed("not the active instance of the group"),
        };
        let delivery = start_delivery(config, &opts.clock, metrics.as_ref(), dead.clone(), gate)?;
        let lines = opts.part.as_ref().and_then(|p| p.lines.as_ref());
        let sink = build_sink(config, opts.output.as_ref(), lines, delivery.as_ref())?;
        let engine = match opts.part.as_ref().map(|p| p.enricher.clone()) {
            Some(shared) => Engine::from_config_sharing(config, shared),
            None => Engine::from_config(config),
        }
        .context("cannot load the detectors")?;
        let pipeline = Pipeline::new(settings(config), engine, sink, observers);
        if let (Some(m), Some(_)) = (&metrics, &delivery) {
            m.readiness().check(checks::OUTBOX_WRITABLE).ready();
        }
        let cancel = CancellationToken::new();
        let finishing = Arc::new(AtomicBool::new(false));
        let (status_tx, status) = watch::channel(LiveStatus::default());
        let serve = Serve {
            finishing: finishing.clone(),
            opts,
            connectors,
            start,
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

    /// Waits for the run to end (after [`Live::shutdown`], when every partition was
    /// taken over, or when its coordination ownership was lost).
    pub async fn wait(self) -> Result<LiveOutcome> {
        self.task.await.context("the live run panicked")?
    }
}

/// A connector per configured hub, with `credential` instead of the configured
/// ones when given.
pub(super) fn connectors(
    config: &Config,
    credential: Option<&Arc<dyn TokenCredential>>,
) -> Result<Vec<Connector>> {
    let eh = &config.eventhubs;
    let backoff = (eh.reconnect_initial.as_std(), eh.reconnect_max.as_std());
    let mut connectors = Vec::new();
    for (i, hub) in eh.hubs.iter().enumerate() {
        let auth = match credential {
            Some(c) => Auth::Token(c.clone()),
            None => Auth::from_config(&hub.credential, &format!("eventhubs.hubs[{i}].credential"))?,
        };
        connectors.push(Connector::for_hub(
            hub,
            auth,
            eh.operation_timeout.as_std(),
            backoff,
        ));
    }
    Ok(connectors)
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
        arrival: ArrivalMode::Paced,
    }
}

fn start_delivery(
    config: &Config,
    clock: &Arc<dyn Clock>,
    metrics: Option<&Arc<Metrics>>,
    dead: Arc<DeadLetters>,
    gate: Gate,
) -> Result<Option<Delivery>> {
    if !config.sinks.iter().any(|s| s.enabled) {
        return Ok(None);
    }
    let mut observers: Vec<Arc<dyn DeliveryObserver>> = vec![Arc::new(LogObserver), dead];
    observers.extend(metrics.map(|m| m.delivery_observer()));
    let delivery =
        Delivery::from_config_gated(config, clock.clone(), Arc::new(Fanout(observers)), gate)
            .context("cannot start alert delivery")?;
    Ok(Some(delivery))
}

fn build_sink(
    config: &Config,
    output: Option<&PathBuf>,
    lines: Option<&SharedLines>,
    delivery: Option<&Delivery>,
) -> Result<Box<dyn AlertSink>> {
    if let Some(lines) = lines {
        let shared = Box::new(JsonLinesSink::new(
            "the alert lines",
            Box::new(lines.writer()),
        ));
        return Ok(match delivery {
            Some(d) => Box::new(Tee(vec![shared, Box::new(d.sink(config))])),
            None => shared,
        });
    }
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

/// Counts dead-lettered deliveries during a run.
#[derive(Debug, Default)]
pub(super) struct DeadLetters(pub(super) AtomicU64);

impl DeliveryObserver for DeadLetters {
    fn observe(&self, event: &DeliveryEvent<'_>) {
        if matches!(event, DeliveryEvent::DeadLettered { .. }) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }
}
