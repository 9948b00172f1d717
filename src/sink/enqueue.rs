//! The pipeline's side of the outbox: routing alerts to sinks (by detector and minimum
//! severity, low ones into an email digest) and the [`OutboxSink`], the synchronous
//! [`AlertSink`] whose `flush` is the durability point the pipeline's caller waits for
//! before it acknowledges anything upstream (a checkpoint, a replay's completion).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::sync::Notify;

use super::observe::{DeliveryEvent, DeliveryObserver};
use super::outbox::{Outbox, Route};
use super::{AlertSink, SinkError};
use crate::alert::{Alert, Severity};
use crate::clock::Clock;
use crate::config::{SinkConfig, SinkSettings};

#[derive(Debug, Clone)]
struct Rule {
    sink: String,
    config: SinkConfig,
    digest: Option<(chrono::Duration, Severity)>,
}

/// Decides which sinks an alert goes to.
#[derive(Debug, Clone, Default)]
pub struct SinkRouting {
    rules: Vec<Rule>,
}

impl SinkRouting {
    /// The routing of the configured sinks.
    pub fn new(sinks: &[SinkConfig]) -> Self {
        let rules = sinks
            .iter()
            .map(|s| Rule {
                sink: s.name.clone(),
                config: s.clone(),
                digest: match &s.settings {
                    SinkSettings::Email(e) => e
                        .digest_every
                        .map(|d| (d.as_chrono(), e.digest_max_severity)),
                    _ => None,
                },
            })
            .collect();
        SinkRouting { rules }
    }

    /// The sinks `alert` goes to, as of `now`.
    pub fn routes(&self, alert: &Alert, now: DateTime<Utc>) -> Vec<Route> {
        self.rules
            .iter()
            .filter(|r| r.config.routes(&alert.detector, alert.severity))
            .map(|r| Route {
                sink: r.sink.clone(),
                digest_at: r
                    .digest
                    .filter(|(_, max)| alert.severity <= *max)
                    .map(|(every, _)| now + every),
            })
            .collect()
    }

    /// The enabled sinks' names.
    pub fn sinks(&self) -> Vec<String> {
        self.rules
            .iter()
            .filter(|r| r.config.enabled)
            .map(|r| r.sink.clone())
            .collect()
    }

    /// Whether any sink is enabled.
    pub fn is_empty(&self) -> bool {
        self.sinks().is_empty()
    }
}

/// Appends routed alerts to the outbox; `flush` commits them durably and wakes the
/// delivery workers. It also commits on its own every `batch` alerts, so a long
/// replay starts delivering before it ends.
pub struct OutboxSink {
    outbox: Arc<Outbox>,
    router: Arc<SinkRouting>,
    clock: Arc<dyn Clock>,
    wake: Arc<Notify>,
    observer: Arc<dyn DeliveryObserver>,
    batch: usize,
    buffer: Vec<(Alert, Vec<Route>)>,
}

impl OutboxSink {
    /// A sink in front of `outbox`.
    pub fn new(
        outbox: Arc<Outbox>,
        router: Arc<SinkRouting>,
        clock: Arc<dyn Clock>,
        wake: Arc<Notify>,
        observer: Arc<dyn DeliveryObserver>,
        batch: usize,
    ) -> Self {
        OutboxSink {
            outbox,
            router,
            clock,
            wake,
            observer,
            batch: batch.max(1),
            buffer: Vec::new(),
        }
    }

    fn commit(&mut self) -> Result<(), SinkError> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let queued = self.outbox.enqueue(&self.buffer, self.clock.now())?;
        self.buffer.clear();
        for (sink, alert_id) in &queued {
            self.observer
                .observe(&DeliveryEvent::Enqueued { sink, alert_id });
        }
        self.wake.notify_waiters();
        Ok(())
    }
}

impl AlertSink for OutboxSink {
    fn deliver(&mut self, alert: &Alert) -> Result<(), SinkError> {
        let routes = self.router.routes(alert, self.clock.now());
        if routes.is_empty() {
            return Ok(());
        }
        self.buffer.push((alert.clone(), routes));
        if self.buffer.len() >= self.batch {
            self.commit()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        self.commit()
    }
}

/// Hands each alert to several sinks in turn (standard output and the outbox).
pub struct Tee(pub Vec<Box<dyn AlertSink>>);

impl AlertSink for Tee {
    fn deliver(&mut self, alert: &Alert) -> Result<(), SinkError> {
        self.0.iter_mut().try_for_each(|s| s.deliver(alert))
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        self.0.iter_mut().try_for_each(|s| s.flush())
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::Config;
    use crate::sink::sample;

    #[test]
    fn routes_by_detector_severity_and_digest() {
        let text = r#"
[[sinks]]
kind = "email"
host = "smtp.example.com"
from = "k@example.com"
to = ["soc@example.com"]
min_severity = "low"
digest_every = "10m"
[[sinks]]
kind = "file"
path = "a.jsonl"
detectors = ["unusual_geo"]
[[sinks]]
kind = "file"
name = "off"
path = "b.jsonl"
enabled = false
"#;
        let config = Config::parse(text, Path::new("t.toml")).unwrap();
        let router = SinkRouting::new(&config.sinks);
        assert_eq!(router.sinks(), ["email", "file"]);
        let now = sample::epoch();
        let low = sample::alert(1, Severity::Low);
        let routes = router.routes(&low, now);
        assert_eq!(
            routes,
            [Route {
                sink: "email".into(),
                digest_at: Some(now + chrono::Duration::minutes(10))
            }]
        );
        let high = router.routes(&sample::alert(2, Severity::High), now);
        assert_eq!(
            high,
            [Route {
                sink: "email".into(),
                digest_at: None
            }]
        );
        assert!(router
            .routes(&sample::alert(3, Severity::Info), now)
            .is_empty());
        let mut geo = sample::alert(4, Severity::Medium);
        geo.detector = "unusual_geo".into();
        let names: Vec<String> = router
            .routes(&geo, now)
            .into_iter()
            .map(|r| r.sink)
            .collect();
        assert_eq!(names, ["email", "file"]);
    }
}
