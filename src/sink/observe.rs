//! One typed event per delivery happening, for whoever watches (metrics, logs, tests).
//!
//! The outbox and the delivery workers never count or log by themselves: they report
//! a [`DeliveryEvent`] to a [`DeliveryObserver`]. The Prometheus exporter implements
//! the trait elsewhere; [`LogObserver`] writes log lines; [`Recorder`] keeps events for
//! tests. Every text in an event has already been through the sink's redactor.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::config::SinkKind;

/// How an attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// The receiver accepted it.
    Succeeded,
    /// It failed; `retryable` says whether another attempt may succeed.
    Failed {
        /// A timeout, a refused connection, a 5xx or 429: try again later.
        retryable: bool,
    },
}

/// Something that happened on the way to a receiver.
#[derive(Debug, Clone, PartialEq)]
pub enum DeliveryEvent<'a> {
    /// An alert was committed to the outbox for a sink.
    Enqueued {
        /// The sink's name.
        sink: &'a str,
        /// The alert id.
        alert_id: &'a str,
    },
    /// One delivery attempt (a digest email carries several alerts in one attempt).
    Attempt {
        /// The sink's name.
        sink: &'a str,
        /// Its kind.
        kind: SinkKind,
        /// The alerts it carried.
        alerts: usize,
        /// How it ended.
        outcome: AttemptOutcome,
        /// Wall time from start to answer.
        latency: Duration,
        /// Why it failed (redacted), when it did.
        error: Option<&'a str>,
    },
    /// A failed delivery was scheduled again.
    Retried {
        /// The sink's name.
        sink: &'a str,
        /// The alert id.
        alert_id: &'a str,
        /// Attempts so far.
        tries: u32,
        /// How long until the next attempt.
        delay: Duration,
    },
    /// The receiver asked kvwatch to slow down (429, `Retry-After`).
    RateLimited {
        /// The sink's name.
        sink: &'a str,
        /// How long the sink pauses.
        pause: Duration,
    },
    /// A delivery gave up: too many tries, too old, or a permanent refusal.
    DeadLettered {
        /// The sink's name.
        sink: &'a str,
        /// The alert id.
        alert_id: &'a str,
        /// Attempts made.
        tries: u32,
        /// The last error (redacted).
        reason: &'a str,
    },
    /// The queue of a sink, after each change worth reporting.
    Depth {
        /// The sink's name.
        sink: &'a str,
        /// Deliveries waiting (not dead-lettered).
        pending: u64,
        /// Dead-lettered deliveries.
        dead: u64,
        /// How long the oldest pending delivery has waited.
        oldest_age: Option<Duration>,
    },
}

/// Watches deliveries. Called from the pipeline thread and from worker tasks: keep it
/// cheap and never block.
pub trait DeliveryObserver: Send + Sync {
    /// Called for each event.
    fn observe(&self, event: &DeliveryEvent<'_>);
}

/// Ignores everything.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoObserver;

impl DeliveryObserver for NoObserver {
    fn observe(&self, _: &DeliveryEvent<'_>) {}
}

/// Fans an event out to several observers.
#[derive(Default, Clone)]
pub struct Fanout(pub Vec<Arc<dyn DeliveryObserver>>);

impl DeliveryObserver for Fanout {
    fn observe(&self, event: &DeliveryEvent<'_>) {
        for o in &self.0 {
            o.observe(event);
        }
    }
}

/// Logs failures, retries and dead letters (warn), successes (debug).
#[derive(Debug, Default, Clone, Copy)]
pub struct LogObserver;

impl DeliveryObserver for LogObserver {
    fn observe(&self, event: &DeliveryEvent<'_>) {
        match event {
            DeliveryEvent::Attempt {
                sink,
                outcome: AttemptOutcome::Failed { retryable },
                error,
                latency,
                ..
            } => {
                tracing::warn!(
                    sink,
                    retryable,
                    latency_ms = latency.as_millis() as u64,
                    error = error.unwrap_or(""),
                    "delivery attempt failed"
                );
            }
            DeliveryEvent::Attempt {
                sink,
                alerts,
                latency,
                ..
            } => {
                tracing::debug!(
                    sink,
                    alerts,
                    latency_ms = latency.as_millis() as u64,
                    "delivered"
                );
            }
            DeliveryEvent::DeadLettered {
                sink,
                alert_id,
                tries,
                reason,
            } => {
                tracing::error!(
                    sink,
                    alert_id,
                    tries,
                    reason,
                    "alert dead-lettered; see `kvwatch outbox list`"
                );
            }
            DeliveryEvent::RateLimited { sink, pause } => {
                tracing::info!(
                    sink,
                    pause_ms = pause.as_millis() as u64,
                    "receiver asked to slow down"
                );
            }
            _ => {}
        }
    }
}

/// An owned copy of an event (tests, reports).
#[derive(Debug, Clone, PartialEq)]
pub enum Recorded {
    /// See [`DeliveryEvent::Enqueued`].
    Enqueued(String, String),
    /// See [`DeliveryEvent::Attempt`]: sink, outcome, error.
    Attempt(String, AttemptOutcome, Option<String>),
    /// See [`DeliveryEvent::Retried`]: sink, alert id, tries.
    Retried(String, String, u32),
    /// See [`DeliveryEvent::RateLimited`]: sink, pause.
    RateLimited(String, Duration),
    /// See [`DeliveryEvent::DeadLettered`]: sink, alert id, reason.
    DeadLettered(String, String, String),
    /// See [`DeliveryEvent::Depth`]: sink, pending, dead.
    Depth(String, u64, u64),
}

/// Keeps every event (tests).
#[derive(Debug, Default, Clone)]
pub struct Recorder(pub Arc<Mutex<Vec<Recorded>>>);

impl Recorder {
    /// The events so far.
    pub fn events(&self) -> Vec<Recorded> {
        self.0.lock().map(|v| v.clone()).unwrap_or_default()
    }
}

impl DeliveryObserver for Recorder {
    fn observe(&self, event: &DeliveryEvent<'_>) {
        let owned = match *event {
            DeliveryEvent::Enqueued { sink, alert_id } => {
                Recorded::Enqueued(sink.into(), alert_id.into())
            }
            DeliveryEvent::Attempt {
                sink,
                outcome,
                error,
                ..
            } => Recorded::Attempt(sink.into(), outcome, error.map(str::to_owned)),
            DeliveryEvent::Retried {
                sink,
                alert_id,
                tries,
                ..
            } => Recorded::Retried(sink.into(), alert_id.into(), tries),
            DeliveryEvent::RateLimited { sink, pause } => Recorded::RateLimited(sink.into(), pause),
            DeliveryEvent::DeadLettered {
                sink,
                alert_id,
                reason,
                ..
            } => Recorded::DeadLettered(sink.into(), alert_id.into(), reason.into()),
            DeliveryEvent::Depth {
                sink,
                pending,
                dead,
                ..
            } => Recorded::Depth(sink.into(), pending, dead),
        };
        if let Ok(mut v) = self.0.lock() {
            v.push(owned);
        }
    }
}
