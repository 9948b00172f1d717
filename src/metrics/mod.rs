//! Prometheus metrics: one [`Metrics`] per process owns a registry with every family
//! kvwatch exports, and hands out the parts that feed it.
//!
//! Platform teams watch kvwatch in Grafana (is it keeping up, is it losing records,
//! are alerts going out) and SOC leads follow the vaults' activity there. The
//! pipeline feeds its families through a [`MetricsObserver`] (one per pipeline); the
//! outbox through [`DeliveryMetrics`] (a `DeliveryObserver`); the Event Hubs consumer
//! through [`LiveMetrics`]; detectors through [`StateMetrics`]; the coordinator
//! through [`CoordinationMetrics`]; and every part that
//! decides readiness through [`Readiness`]. [`http`] serves it all.
//!
//! There is no global registry and no global mutable state: tests and benchmarks
//! create as many independent `Metrics` as they like. Label values never come from
//! free text (see [`labels`]); `docs/metrics.md` documents every family.

pub mod ages;
pub mod coordination;
pub mod delivery;
pub mod http;
pub mod labels;
pub mod live;
pub mod observer;
pub mod pipeline;
pub mod readiness;
pub mod state;

use std::path::Path;
use std::sync::Arc;

use prometheus::{Encoder, IntGaugeVec, Opts, Registry, TextEncoder};

pub use coordination::CoordinationMetrics;
pub use delivery::{DeliveryMetrics, DeliveryResult};
pub use labels::{LabelCap, LabelForm, OTHER};
pub use live::LiveMetrics;
pub use observer::MetricsObserver;
pub use pipeline::PipelineMetrics;
pub use readiness::{checks, CheckState, Readiness, ReadinessCheck, ReadinessReport};
pub use state::StateMetrics;

use crate::clock::Clock;
use crate::config::MetricsConfig;

/// The content type of the Prometheus text exposition format.
pub const TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Why metrics could not be set up, rendered, written or served.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    /// A family could not be created or registered (a bug: names are fixed).
    #[error("cannot register the metrics: {0}")]
    Register(#[from] prometheus::Error),
    /// The snapshot file could not be written.
    #[error("cannot write the metrics snapshot to {path}: {source}")]
    Write {
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The endpoint could not listen.
    #[error("cannot serve metrics on {addr}: {source}")]
    Listen {
        /// The address.
        addr: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The endpoint's thread failed.
    #[error("the metrics endpoint failed: {0}")]
    Serve(String),
}

/// Every metric family kvwatch exports, in one registry.
pub struct Metrics {
    registry: Registry,
    pipeline: PipelineMetrics,
    delivery: DeliveryMetrics,
    live: LiveMetrics,
    state: StateMetrics,
    coordination: CoordinationMetrics,
    readiness: Readiness,
    vault_labels: LabelCap,
}

impl Metrics {
    /// A registry with every family, reading "now" from `clock` (event-time lag and
    /// ages are computed at scrape time).
    pub fn new(
        config: &MetricsConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<Arc<Metrics>, MetricsError> {
        let registry = Registry::new();
        let build = IntGaugeVec::new(
            Opts::new(
                "kvwatch_build_info",
                "Always 1; the labels say which kvwatch build runs.",
            ),
            &["version"],
        )?;
        registry.register(Box::new(build.clone()))?;
        build.with_label_values(&[env!("CARGO_PKG_VERSION")]).set(1);
        let pipeline =
            PipelineMetrics::register(&registry, clock.clone(), config.max_vault_labels)?;
        let delivery = DeliveryMetrics::register(&registry, clock.clone())?;
        let live = LiveMetrics::register(&registry, clock)?;
        let state = StateMetrics::register(&registry)?;
        let coordination = CoordinationMetrics::register(&registry)?;
        let readiness = Readiness::register(&registry)?;
        Ok(Arc::new(Metrics {
            registry,
            pipeline,
            delivery,
            live,
            state,
            coordination,
            readiness,
            vault_labels: LabelCap::new(LabelForm::VaultName, config.max_vault_labels),
        }))
    }

    /// The registry as one partition's run sees it in balanced mode: the same
    /// families (its counters add up with the other partitions'), the group-wide
    /// coordination gauges left to the balancer, and readiness checks of its own
    /// (the balancer reads them and sums them up in the process's `/readyz`).
    pub fn for_partition(&self) -> Result<Arc<Metrics>, MetricsError> {
        let detached = Registry::new();
        Ok(Arc::new(Metrics {
            registry: self.registry.clone(),
            pipeline: self.pipeline.for_partition()?,
            delivery: self.delivery.clone(),
            live: self.live.clone(),
            state: self.state.for_partition()?,
            coordination: self.coordination.for_partition(),
            readiness: Readiness::register(&detached)?,
            vault_labels: self.vault_labels.clone(),
        }))
    }

    /// Balanced mode: sets the gauges each partition keeps to itself from the
    /// partitions' views ([`Metrics::for_partition`]) of the partitions this
    /// instance holds: the watermark of the one furthest behind, reorder buffers
    /// and detector state summed.
    pub fn sum_up(&self, held: &[&Metrics]) {
        let pipelines: Vec<&PipelineMetrics> = held.iter().map(|m| &m.pipeline).collect();
        self.pipeline.sum_up(&pipelines);
        let states: Vec<&StateMetrics> = held.iter().map(|m| &m.state).collect();
        self.state.sum_up(&states);
    }

    /// A new observer feeding the pipeline families (one per pipeline; observers of
    /// one `Metrics` share the vault cap).
    pub fn observer(&self) -> MetricsObserver {
        MetricsObserver::new(self)
    }

    /// The pipeline's families.
    pub fn pipeline(&self) -> &PipelineMetrics {
        &self.pipeline
    }

    /// The delivery families; as a `DeliveryObserver`, give the outbox
    /// [`Metrics::delivery_observer`].
    pub fn delivery(&self) -> &DeliveryMetrics {
        &self.delivery
    }

    /// The delivery families as an observer the outbox can hold.
    pub fn delivery_observer(&self) -> Arc<dyn crate::sink::observe::DeliveryObserver> {
        Arc::new(self.delivery.clone())
    }

    /// The Event Hubs consumer's families.
    pub fn live(&self) -> &LiveMetrics {
        &self.live
    }

    /// The detectors' state gauges.
    pub fn state(&self) -> &StateMetrics {
        &self.state
    }

    /// The coordination families (`[coordination]`: role, renewals, fence, commits).
    pub fn coordination(&self) -> &CoordinationMetrics {
        &self.coordination
    }

    /// The readiness checks `/readyz` reports.
    pub fn readiness(&self) -> &Readiness {
        &self.readiness
    }

    /// The vault label cap.
    pub fn vault_labels(&self) -> &LabelCap {
        &self.vault_labels
    }

    /// The registry (to add families of one's own).
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Every family, in the Prometheus text exposition format.
    pub fn render(&self) -> Result<String, MetricsError> {
        let mut out = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut out)?;
        Ok(String::from_utf8_lossy(&out).into_owned())
    }

    /// Writes [`Metrics::render`] to `path` (through a temporary file, so a reader
    /// never sees half a snapshot).
    pub fn write_snapshot(&self, path: &Path) -> Result<(), MetricsError> {
        let text = self.render()?;
        let write_err = |source| MetricsError::Write {
            path: path.display().to_string(),
            source,
        };
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = std::path::PathBuf::from(tmp);
        std::fs::write(&tmp, text).map_err(write_err)?;
        std::fs::rename(&tmp, path).map_err(write_err)
    }
}

#[cfg(test)]
#[path = "partitions_tests.rs"]
mod partitions_tests;
