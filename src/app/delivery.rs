//! Alert delivery for the commands: a small tokio runtime that runs the outbox workers
//! beside the synchronous pipeline, and the drain-then-stop that ends a run.
//!
//! `kvwatch replay` with `[[sinks]]` in its config still prints JSON Lines; it also
//! commits every routed alert to the outbox (its completion waits for that commit),
//! then waits up to `[outbox] drain_timeout` for the sinks to take them. What is left
//! stays in the outbox, and the next kvwatch run with the same outbox delivers it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};

use crate::config::Config;
use crate::pipeline::clock::SystemClock;
use crate::sink::delivery::Delivery;
use crate::sink::observe::{DeliveryEvent, DeliveryObserver, Fanout, LogObserver};
use crate::sink::AlertSink;

/// Counts dead letters during a run, for the closing message.
#[derive(Debug, Default)]
struct DeadCount(AtomicU64);

impl DeliveryObserver for DeadCount {
    fn observe(&self, event: &DeliveryEvent<'_>) {
        if matches!(event, DeliveryEvent::DeadLettered { .. }) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The delivery workers and the runtime they run on.
pub struct DeliveryRuntime {
    rt: tokio::runtime::Runtime,
    delivery: Delivery,
    dead: Arc<DeadCount>,
}

/// How delivery ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DrainReport {
    /// Deliveries still waiting when the drain timeout passed.
    pub waiting: u64,
    /// Deliveries dead-lettered during the run.
    pub dead_lettered: u64,
}

impl DeliveryRuntime {
    /// Starts delivery when the config has enabled sinks (`None` otherwise). `extra`
    /// observers (metrics) see every delivery event; failures are also logged.
    pub fn start(config: &Config, extra: Vec<Arc<dyn DeliveryObserver>>) -> Result<Option<Self>> {
        if !config.sinks.iter().any(|s| s.enabled) {
            return Ok(None);
        }
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("kvwatch-delivery")
            .enable_all()
            .build()
            .context("cannot start the delivery runtime")?;
        let dead = Arc::new(DeadCount::default());
        let mut observers: Vec<Arc<dyn DeliveryObserver>> =
            vec![Arc::new(LogObserver), dead.clone()];
        observers.extend(extra);
        let delivery = {
            let _entered = rt.enter();
            Delivery::from_config(config, Arc::new(SystemClock), Arc::new(Fanout(observers)))
                .context("cannot start alert delivery")?
        };
        Ok(Some(DeliveryRuntime { rt, delivery, dead }))
    }

    /// The pipeline's sink in front of the outbox.
    pub fn sink(&self, config: &Config) -> Box<dyn AlertSink> {
        Box::new(self.delivery.sink(config))
    }

    /// The running delivery.
    pub fn delivery(&self) -> &Delivery {
        &self.delivery
    }

    /// Waits up to `limit` for the outbox to drain, stops the workers, and says what
    /// is left (logging a warning when something is).
    pub fn finish(self, limit: Duration) -> Result<DrainReport> {
        let path = self.delivery.outbox().path().display().to_string();
        let waiting = self
            .rt
            .block_on(self.delivery.drain(limit))
            .context("cannot read the outbox")?;
        self.rt
            .block_on(self.delivery.stop())
            .context("cannot sync the outbox")?;
        let dead_lettered = self.dead.0.load(Ordering::Relaxed);
        if waiting > 0 {
            tracing::warn!(
                "{waiting} alert deliveries still waiting after {}; they stay in the outbox {path} and go out with the next kvwatch run (see `kvwatch outbox list`)",
                humantime::format_duration(limit)
            );
        }
        if dead_lettered > 0 {
            tracing::warn!("{dead_lettered} alert deliveries were dead-lettered; see `kvwatch outbox list --dead`");
        }
        Ok(DrainReport {
            waiting,
            dead_lettered,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_secret_is_reported_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let text = format!(
            "[outbox]\npath = {:?}\n[[sinks]]\nkind = \"slack\"\nurl = {{ env = \"KVWATCH_TEST_NEVER_SET_1\" }}\n",
            dir.path().join("o.redb").display().to_string()
        );
        let config = Config::parse(&text, std::path::Path::new("kv.toml")).expect("config");
        let err = match DeliveryRuntime::start(&config, Vec::new()) {
            Ok(_) => panic!("started without its secret"),
            Err(e) => crate::cli::error_text(&e),
        };
        assert_eq!(err.matches("KVWATCH_TEST_NEVER_SET_1").count(), 1, "{err}");
        assert!(err.contains("sinks[0].url"), "{err}");
    }
}
