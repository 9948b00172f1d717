//! Alert-delivery metrics: what the outbox and the sinks did with the alerts.
//!
//! "Are alerts going out" is the question that matters most after "is kvwatch
//! running": an alert stuck in the outbox is an attack nobody hears about. The
//! outbox and its workers report typed [`DeliveryEvent`]s to a [`DeliveryObserver`];
//! [`DeliveryMetrics`] is that observer for Prometheus. The sink label is capped
//! (sinks come from the configuration, a handful at most).

use std::sync::Arc;
use std::time::Duration;

use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry};

use super::ages::AgeVec;
use super::labels::{LabelCap, LabelForm};
use crate::clock::Clock;
use crate::sink::observe::{AttemptOutcome, DeliveryEvent, DeliveryObserver};

/// The most sinks counted under their own label.
const MAX_SINK_LABELS: usize = 32;

/// Buckets for one delivery attempt, in seconds (an SMTP handshake, a webhook, a
/// timeout at the configured attempt limit).
const ATTEMPT_BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 15.0, 60.0,
];

/// `result` label of `kvwatch_alert_deliveries_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryResult {
    /// The receiver accepted the alerts.
    Delivered,
    /// The attempt failed and will be retried.
    RetryableError,
    /// The receiver refused for good.
    PermanentError,
}

impl DeliveryResult {
    /// The stable label.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryResult::Delivered => "delivered",
            DeliveryResult::RetryableError => "retryable_error",
            DeliveryResult::PermanentError => "permanent_error",
        }
    }
}

impl From<AttemptOutcome> for DeliveryResult {
    fn from(o: AttemptOutcome) -> Self {
        match o {
            AttemptOutcome::Succeeded => DeliveryResult::Delivered,
            AttemptOutcome::Failed { retryable: true } => DeliveryResult::RetryableError,
            AttemptOutcome::Failed { retryable: false } => DeliveryResult::PermanentError,
        }
    }
}

/// The delivery families.
#[derive(Clone)]
pub struct DeliveryMetrics {
    enqueued: IntCounterVec,
    deliveries: IntCounterVec,
    attempt_seconds: HistogramVec,
    retries: IntCounterVec,
    rate_limited: IntCounterVec,
    dead_letters: IntCounterVec,
    pending: IntGaugeVec,
    dead: IntGaugeVec,
    oldest: AgeVec,
    sinks: LabelCap,
    clock: Arc<dyn Clock>,
}

fn counter_vec(r: &Registry, name: &str, help: &str) -> prometheus::Result<IntCounterVec> {
    let c = IntCounterVec::new(Opts::new(name, help), &["sink"])?;
    r.register(Box::new(c.clone()))?;
    Ok(c)
}

fn gauge_vec(r: &Registry, name: &str, help: &str) -> prometheus::Result<IntGaugeVec> {
    let g = IntGaugeVec::new(Opts::new(name, help), &["sink"])?;
    r.register(Box::new(g.clone()))?;
    Ok(g)
}

impl DeliveryMetrics {
    /// Creates the families and registers them.
    pub fn register(r: &Registry, clock: Arc<dyn Clock>) -> prometheus::Result<Self> {
        let deliveries = IntCounterVec::new(
            Opts::new(
                "kvwatch_alert_deliveries_total",
                "Alerts carried by delivery attempts, by sink and result (delivered, retryable_error, permanent_error).",
            ),
            &["sink", "result"],
        )?;
        r.register(Box::new(deliveries.clone()))?;
        let attempt_seconds = HistogramVec::new(
            HistogramOpts::new(
                "kvwatch_alert_delivery_duration_seconds",
                "Wall-clock seconds one delivery attempt took, by sink.",
            )
            .buckets(ATTEMPT_BUCKETS.to_vec()),
            &["sink"],
        )?;
        r.register(Box::new(attempt_seconds.clone()))?;
        let oldest = AgeVec::new(
            Opts::new(
                "kvwatch_outbox_oldest_age_seconds",
                "Age of the oldest alert waiting in the outbox for a sink (absent when none waits).",
            ),
            &["sink"],
            clock.clone(),
        )?;
        r.register(Box::new(oldest.clone()))?;
        Ok(DeliveryMetrics {
            enqueued: counter_vec(
                r,
                "kvwatch_outbox_enqueued_total",
                "Alerts committed to the outbox, by sink.",
            )?,
            deliveries,
            attempt_seconds,
            retries: counter_vec(
                r,
                "kvwatch_alert_delivery_retries_total",
                "Failed deliveries scheduled again, by sink.",
            )?,
            rate_limited: counter_vec(
                r,
                "kvwatch_alert_delivery_rate_limited_total",
                "Times a receiver asked kvwatch to slow down (429, Retry-After), by sink.",
            )?,
            dead_letters: counter_vec(
                r,
                "kvwatch_alert_dead_letters_total",
                "Deliveries given up (too many tries, too old, or refused for good), by sink.",
            )?,
            pending: gauge_vec(
                r,
                "kvwatch_outbox_pending_alerts",
                "Deliveries waiting in the outbox, by sink.",
            )?,
            dead: gauge_vec(
                r,
                "kvwatch_outbox_dead_letter_alerts",
                "Dead-lettered deliveries kept in the outbox, by sink.",
            )?,
            oldest,
            sinks: LabelCap::new(LabelForm::Identifier, MAX_SINK_LABELS),
            clock,
        })
    }

    fn sink(&self, name: &str) -> Arc<str> {
        self.sinks.label(name)
    }

    /// An alert was committed to the outbox for `sink`.
    pub fn enqueued(&self, sink: &str) {
        self.enqueued.with_label_values(&[&*self.sink(sink)]).inc();
    }

    /// One attempt carrying `alerts` alerts ended with `result` after `took`.
    pub fn attempt(&self, sink: &str, alerts: usize, result: DeliveryResult, took: Duration) {
        let sink = self.sink(sink);
        self.deliveries
            .with_label_values(&[&*sink, result.as_str()])
            .inc_by(alerts as u64);
        self.attempt_seconds
            .with_label_values(&[&*sink])
            .observe(took.as_secs_f64());
    }

    /// A failed delivery was scheduled again.
    pub fn retried(&self, sink: &str) {
        self.retries.with_label_values(&[&*self.sink(sink)]).inc();
    }

    /// The receiver asked to slow down.
    pub fn rate_limited(&self, sink: &str) {
        self.rate_limited
            .with_label_values(&[&*self.sink(sink)])
            .inc();
    }

    /// A delivery was given up.
    pub fn dead_lettered(&self, sink: &str) {
        self.dead_letters
            .with_label_values(&[&*self.sink(sink)])
            .inc();
    }

    /// The outbox's state for `sink`: waiting deliveries, dead letters kept, and how
    /// long the oldest waiting one has waited (its age keeps growing until the next
    /// report).
    pub fn outbox(&self, sink: &str, pending: u64, dead: u64, oldest_age: Option<Duration>) {
        let sink = self.sink(sink);
        self.pending
            .with_label_values(&[&*sink])
            .set(i64::try_from(pending).unwrap_or(i64::MAX));
        self.dead
            .with_label_values(&[&*sink])
            .set(i64::try_from(dead).unwrap_or(i64::MAX));
        match oldest_age.and_then(|a| chrono::Duration::from_std(a).ok()) {
            Some(age) => self.oldest.set(&[&*sink], self.clock.now() - age),
            None => self.oldest.clear(&[&*sink]),
        }
    }
}

impl DeliveryObserver for DeliveryMetrics {
    fn observe(&self, event: &DeliveryEvent<'_>) {
        match *event {
            DeliveryEvent::Enqueued { sink, .. } => self.enqueued(sink),
            DeliveryEvent::Attempt {
                sink,
                alerts,
                outcome,
                latency,
                ..
            } => self.attempt(sink, alerts, outcome.into(), latency),
            DeliveryEvent::Retried { sink, .. } => self.retried(sink),
            DeliveryEvent::RateLimited { sink, .. } => self.rate_limited(sink),
            DeliveryEvent::DeadLettered { sink, .. } => self.dead_lettered(sink),
            DeliveryEvent::Depth {
                sink,
                pending,
                dead,
                oldest_age,
            } => self.outbox(sink, pending, dead, oldest_age),
        }
    }
}
