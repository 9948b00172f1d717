//! The metric families the pipeline's happenings feed: records in, events out, alerts
//! raised, lag and latency.
//!
//! They answer the platform team's first questions (is kvwatch keeping up, is it
//! losing records, are alerts going out) and carry the vault activity the SOC board
//! shows. The families are defined here, once, with their help text; the hot path
//! that increments them is [`super::observer::MetricsObserver`].

use std::sync::Arc;

use prometheus::{
    Gauge, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
};

use super::ages::NewestAge;
use crate::clock::Clock;

/// Histogram buckets for latencies, in seconds: milliseconds for decoding and
/// detection, up to an hour because events wait in the reorder buffer for the
/// watermark (the allowed lateness, 15 minutes by default).
pub const LATENCY_BUCKETS: [f64; 22] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
    120.0, 300.0, 600.0, 900.0, 1200.0, 1800.0, 3600.0,
];

/// `stage` label of [`PipelineMetrics::latency`]: received → reached the detectors.
pub const STAGE_PROCESSED: &str = "processed";
/// `stage` label of [`PipelineMetrics::latency`]: received → alert written to the sink.
pub const STAGE_ALERT_WRITTEN: &str = "alert_written";

/// The pipeline's families.
#[derive(Clone)]
pub struct PipelineMetrics {
    /// `kvwatch_records_received_total{shape,category}`.
    pub received: IntCounterVec,
    /// `kvwatch_records_decoded_total{shape,category}`.
    pub decoded: IntCounterVec,
    /// `kvwatch_records_rejected_total{shape,reason,category}`.
    pub rejected: IntCounterVec,
    /// `kvwatch_records_skipped_total{shape,reason,category}`.
    pub skipped: IntCounterVec,
    /// `kvwatch_duplicates_dropped_total`.
    pub duplicates: IntCounter,
    /// `kvwatch_events_filtered_total`.
    pub filtered: IntCounter,
    /// `kvwatch_events_late_total`.
    pub late: IntCounter,
    /// `kvwatch_events_total{vault,class,outcome,category}`.
    pub events: IntCounterVec,
    /// `kvwatch_alerts_total{detector,severity}`.
    pub alerts: IntCounterVec,
    /// `kvwatch_vault_writes_without_change_total{vault}`.
    pub writes_without_change: IntCounterVec,
    /// `kvwatch_processing_latency_seconds{stage}`.
    pub latency: HistogramVec,
    /// `kvwatch_event_lag_seconds` and `kvwatch_newest_event_timestamp_seconds`.
    pub newest: NewestAge,
    /// `kvwatch_watermark_timestamp_seconds`.
    pub watermark: Gauge,
    /// `kvwatch_reorder_buffer_events`.
    pub buffered: IntGauge,
    /// `kvwatch_pipeline_lateness_seconds`.
    pub lateness: Gauge,
    /// `kvwatch_vault_labels`.
    pub vault_labels: IntGauge,
    /// `kvwatch_vault_labels_max`.
    pub vault_labels_max: IntGauge,
}

fn counter_vec(
    r: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
) -> prometheus::Result<IntCounterVec> {
    let c = IntCounterVec::new(Opts::new(name, help), labels)?;
    r.register(Box::new(c.clone()))?;
    Ok(c)
}

fn counter(r: &Registry, name: &str, help: &str) -> prometheus::Result<IntCounter> {
    let c = IntCounter::new(name, help)?;
    r.register(Box::new(c.clone()))?;
    Ok(c)
}

fn gauge(r: &Registry, name: &str, help: &str) -> prometheus::Result<Gauge> {
    let g = Gauge::new(name, help)?;
    r.register(Box::new(g.clone()))?;
    Ok(g)
}

fn int_gauge(r: &Registry, name: &str, help: &str) -> prometheus::Result<IntGauge> {
    let g = IntGauge::new(name, help)?;
    r.register(Box::new(g.clone()))?;
    Ok(g)
}

impl PipelineMetrics {
    /// The families for one of several pipelines in a process (the partitions of a
    /// balanced `kvwatch run`): counters shared, the watermark and reorder-buffer
    /// gauges its own (unregistered), for the owner to sum up
    /// ([`PipelineMetrics::sum_up`]).
    pub fn for_partition(&self) -> prometheus::Result<PipelineMetrics> {
        Ok(PipelineMetrics {
            watermark: Gauge::new(
                "kvwatch_watermark_timestamp_seconds",
                "One partition's watermark.",
            )?,
            buffered: IntGauge::new(
                "kvwatch_reorder_buffer_events",
                "One partition's reorder buffer.",
            )?,
            ..self.clone()
        })
    }

    /// Sets the shared gauges from the partitions' own: the watermark is the
    /// lowest of the `held` partitions that have one (the one furthest behind), the
    /// reorder buffer the sum over `held`.
    pub fn sum_up(&self, held: &[&PipelineMetrics]) {
        let lowest = held
            .iter()
            .map(|p| p.watermark.get())
            .filter(|w| *w > 0.0)
            .fold(f64::INFINITY, f64::min);
        if lowest.is_finite() {
            self.watermark.set(lowest);
        }
        self.buffered
            .set(held.iter().map(|p| p.buffered.get()).sum());
    }

    /// Creates the families and registers them.
    pub fn register(
        r: &Registry,
        clock: Arc<dyn Clock>,
        max_vault_labels: usize,
    ) -> prometheus::Result<Self> {
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "kvwatch_processing_latency_seconds",
                "Wall-clock seconds from an input's arrival to a stage: stage=\"processed\" when its event reached \
                 the detectors (reorder wait included), stage=\"alert_written\" when an alert the event raised was \
                 written to the sink.",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["stage"],
        )?;
        r.register(Box::new(latency.clone()))?;
        let newest = NewestAge::new(
            Opts::new(
                "kvwatch_event_lag_seconds",
                "Now minus the newest event time processed (event-time lag, computed at scrape; the reorder wait \
                 for the allowed lateness is part of it).",
            ),
            Opts::new(
                "kvwatch_newest_event_timestamp_seconds",
                "The newest event time processed, as a Unix timestamp.",
            ),
            clock,
        )?;
        r.register(Box::new(newest.clone()))?;
        let vault_labels_max = int_gauge(
            r,
            "kvwatch_vault_labels_max",
            "The most vaults counted under their own vault label ([metrics] max_vault_labels); further vaults \
             count as vault=\"other\".",
        )?;
        vault_labels_max.set(i64::try_from(max_vault_labels).unwrap_or(i64::MAX));
        Ok(PipelineMetrics {
            received: counter_vec(
                r,
                "kvwatch_records_received_total",
                "Records read, by input shape and log category (decoded, rejected and skipped alike).",
                &["shape", "category"],
            )?,
            decoded: counter_vec(
                r,
                "kvwatch_records_decoded_total",
                "Records decoded into events, by input shape and log category (audit_event, activity_log).",
                &["shape", "category"],
            )?,
            rejected: counter_vec(
                r,
                "kvwatch_records_rejected_total",
                "Records rejected as bad input, by input shape, reason and log category (unknown when it could not be read).",
                &["shape", "reason", "category"],
            )?,
            skipped: counter_vec(
                r,
                "kvwatch_records_skipped_total",
                "Valid records kvwatch does not analyse (another category or resource, an unrelated Activity Log operation), by shape, reason and log category.",
                &["shape", "reason", "category"],
            )?,
            duplicates: counter(r, "kvwatch_duplicates_dropped_total", "Exact duplicate events dropped.")?,
            filtered: counter(
                r,
                "kvwatch_events_filtered_total",
                "Events outside the run's time range or vault selection (replay --since/--until/--vault).",
            )?,
            late: counter(
                r,
                "kvwatch_events_late_total",
                "Events that arrived behind the watermark and were processed out of order.",
            )?,
            events: counter_vec(
                r,
                "kvwatch_events_total",
                "Events that reached the detectors, by vault (capped; empty for an Activity Log change naming no vault), operation class, outcome class and log category.",
                &["vault", "class", "outcome", "category"],
            )?,
            alerts: counter_vec(
                r,
                "kvwatch_alerts_total",
                "Alerts raised (escalations included) and written to the sink, by detector and severity.",
                &["detector", "severity"],
            )?,
            writes_without_change: counter_vec(
                r,
                "kvwatch_vault_writes_without_change_total",
                "Successful vault writes (VaultPut, VaultPatch) that changed nothing visible: the configuration the record shows is the last one seen for the vault, or none, and no access policy was edited (infrastructure as code re-applying identical settings, tag-only edits). They raise no alert. By vault (capped).",
                &["vault"],
            )?,
            latency,
            newest,
            watermark: gauge(
                r,
                "kvwatch_watermark_timestamp_seconds",
                "The pipeline's watermark (events at or before it have been released), as a Unix timestamp.",
            )?,
            buffered: int_gauge(r, "kvwatch_reorder_buffer_events", "Events waiting in the reorder buffer for the watermark.")?,
            lateness: gauge(
                r,
                "kvwatch_pipeline_lateness_seconds",
                "The configured allowed lateness: how long (event time) events wait for stragglers.",
            )?,
            vault_labels: int_gauge(r, "kvwatch_vault_labels", "Vaults counted under their own vault label so far.")?,
            vault_labels_max,
        })
    }

    /// Publishes the configured allowed lateness (alert rules compare lag with it).
    pub fn set_lateness(&self, lateness: chrono::Duration) {
        self.lateness
            .set(lateness.num_milliseconds() as f64 / 1000.0);
    }
}
