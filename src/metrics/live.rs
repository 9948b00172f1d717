//! Event Hubs consumer metrics, for the live service: how far behind each partition
//! is, how old its checkpoint is, how often the connection drops, and what arrives.
//!
//! The consumer owns these facts, the pipeline never sees them, so this is a small
//! typed API the consumer calls rather than a pipeline observer. Hubs come from the
//! configuration and partition ids are short numbers (an Event Hubs namespace has at
//! most a few hundred partitions per hub), so both are bounded labels; anything else
//! is counted as `other`.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use prometheus::{IntCounterVec, IntGaugeVec, Opts, Registry};

use super::ages::AgeVec;
use super::labels::{LabelCap, LabelForm, OTHER};
use crate::pipeline::clock::Clock;

/// The most hubs counted under their own label.
const MAX_HUB_LABELS: usize = 16;
/// The most partition ids counted under their own label (across hubs).
const MAX_PARTITION_LABELS: usize = 1024;

/// The Event Hubs families.
#[derive(Clone)]
pub struct LiveMetrics {
    lag: IntGaugeVec,
    checkpoint_age: AgeVec,
    reconnects: IntCounterVec,
    cut_loose: IntGaugeVec,
    bodies: IntCounterVec,
    records: IntCounterVec,
    gaps: IntCounterVec,
    gap_events: IntCounterVec,
    hubs: LabelCap,
    partitions: LabelCap,
}

fn partition_family(r: &Registry, name: &str, help: &str) -> prometheus::Result<IntCounterVec> {
    let c = IntCounterVec::new(Opts::new(name, help), &["hub", "partition"])?;
    r.register(Box::new(c.clone()))?;
    Ok(c)
}

impl LiveMetrics {
    /// Creates the families and registers them.
    pub fn register(r: &Registry, clock: Arc<dyn Clock>) -> prometheus::Result<Self> {
        let lag = IntGaugeVec::new(
            Opts::new(
                "kvwatch_eventhubs_partition_lag_events",
                "Events enqueued in a partition that kvwatch has not received yet (last enqueued sequence number \
                 minus last received).",
            ),
            &["hub", "partition"],
        )?;
        r.register(Box::new(lag.clone()))?;
        let checkpoint_age = AgeVec::new(
            Opts::new(
                "kvwatch_eventhubs_checkpoint_age_seconds",
                "Seconds since a partition's checkpoint was last written (computed at scrape).",
            ),
            &["hub", "partition"],
            clock,
        )?;
        r.register(Box::new(checkpoint_age.clone()))?;
        let reconnects = IntCounterVec::new(
            Opts::new(
                "kvwatch_eventhubs_reconnects_total",
                "Times the consumer reconnected to a hub.",
            ),
            &["hub"],
        )?;
        r.register(Box::new(reconnects.clone()))?;
        let cut_loose = IntGaugeVec::new(
            Opts::new(
                "kvwatch_eventhubs_hub_cut_loose",
                "1 while a hub reading what the service has just received is more than [eventhubs] hub_lag_limit \
                 behind the most advanced hub: it no longer holds the watermark back, and its older records are \
                 processed as they arrive (counted late).",
            ),
            &["hub"],
        )?;
        r.register(Box::new(cut_loose.clone()))?;
        Ok(LiveMetrics {
            lag,
            checkpoint_age,
            reconnects,
            cut_loose,
            bodies: partition_family(
                r,
                "kvwatch_eventhubs_bodies_total",
                "Event Hubs event bodies received, by hub and partition.",
            )?,
            records: partition_family(
                r,
                "kvwatch_eventhubs_records_total",
                "Records found in the bodies received, by hub and partition.",
            )?,
            gaps: partition_family(
                r,
                "kvwatch_eventhubs_gaps_total",
                "Gaps found: a partition no longer had the events after kvwatch's position (retention expired \
                 while kvwatch was behind or stopped).",
            )?,
            gap_events: partition_family(
                r,
                "kvwatch_eventhubs_gap_events_total",
                "Events skipped in gaps: never read, never analysed.",
            )?,
            hubs: LabelCap::new(LabelForm::Identifier, MAX_HUB_LABELS),
            partitions: LabelCap::new(LabelForm::PartitionId, MAX_PARTITION_LABELS),
        })
    }

    fn labels(&self, hub: &str, partition: &str) -> [Arc<str>; 2] {
        let hub = self.hubs.label(hub);
        let partition = if &*hub == OTHER {
            Arc::from(OTHER)
        } else {
            self.partitions.label(partition)
        };
        [hub, partition]
    }

    /// The partition's lag: events enqueued but not yet received.
    pub fn partition_lag(&self, hub: &str, partition: &str, events: u64) {
        let [h, p] = self.labels(hub, partition);
        self.lag
            .with_label_values(&[&*h, &*p])
            .set(i64::try_from(events).unwrap_or(i64::MAX));
    }

    /// The partition's checkpoint was written at `at`.
    pub fn checkpointed(&self, hub: &str, partition: &str, at: DateTime<Utc>) {
        let [h, p] = self.labels(hub, partition);
        self.checkpoint_age.set(&[&*h, &*p], at);
    }

    /// The consumer lost and re-established its connection to `hub`.
    pub fn reconnected(&self, hub: &str) {
        self.reconnects
            .with_label_values(&[&*self.hubs.label(hub)])
            .inc();
    }

    /// Whether `hub` is cut loose from the watermark (see `hub_lag_limit`).
    pub fn hub_cut_loose(&self, hub: &str, cut: bool) {
        self.cut_loose
            .with_label_values(&[&*self.hubs.label(hub)])
            .set(i64::from(cut));
    }

    /// One event body holding `records` records arrived from a partition.
    pub fn body(&self, hub: &str, partition: &str, records: u64) {
        let [h, p] = self.labels(hub, partition);
        self.bodies.with_label_values(&[&*h, &*p]).inc();
        self.records.with_label_values(&[&*h, &*p]).inc_by(records);
    }

    /// A body was received whose records are not counted here (`kvwatch route`
    /// re-publishes them without decoding every one).
    pub fn received(&self, hub: &str, partition: &str) {
        let [h, p] = self.labels(hub, partition);
        self.bodies.with_label_values(&[&*h, &*p]).inc();
    }

    /// A partition's reader started: its gap counters exist from now on, at 0, so
    /// an alert rule sees the first gap as an increase.
    pub fn reading(&self, hub: &str, partition: &str) {
        let [h, p] = self.labels(hub, partition);
        self.gaps.with_label_values(&[&*h, &*p]);
        self.gap_events.with_label_values(&[&*h, &*p]);
    }

    /// A gap of `events` events was found in a partition.
    pub fn gap(&self, hub: &str, partition: &str, events: u64) {
        let [h, p] = self.labels(hub, partition);
        self.gaps.with_label_values(&[&*h, &*p]).inc();
        self.gap_events
            .with_label_values(&[&*h, &*p])
            .inc_by(events);
    }

    /// The partition is no longer owned by this consumer: its gauges go away.
    pub fn released(&self, hub: &str, partition: &str) {
        let [h, p] = self.labels(hub, partition);
        let _ = self.lag.remove_label_values(&[&*h, &*p]);
        self.checkpoint_age.clear(&[&*h, &*p]);
    }
}
