//! Running delivery: opens the outbox, builds each enabled sink's transport, starts one
//! worker task per sink ([`super::worker`]), hands the pipeline its [`OutboxSink`], and
//! ends a run with a bounded drain and a clean stop. Each delivery ends delivered
//! (removed), retried later (backoff with jitter, or the receiver's `Retry-After`), or
//! dead-lettered; workers wake on every outbox commit and at least every
//! `poll_interval`, and send only while the [`Gate`] permits.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::enqueue::{OutboxSink, SinkRouting};
use super::gate::Gate;
use super::observe::DeliveryObserver;
use super::outbox::{Outbox, OutboxError};
use super::retry::{Pace, RetryPolicy};
use super::transport::{self, BuildError, Transport, TransportOptions};
use crate::clock::Clock;
use crate::config::Config;

/// Why delivery could not start.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// A sink could not be set up.
    #[error("cannot set up sink: {0}")]
    Build(#[from] BuildError),
    /// The outbox could not be opened.
    #[error(transparent)]
    Outbox(#[from] OutboxError),
}

/// How the workers behave.
#[derive(Debug, Clone, Copy)]
pub struct WorkerOptions {
    /// Retry and dead-letter rules.
    pub policy: RetryPolicy,
    /// The longest idle wait between looks at the outbox.
    pub poll: Duration,
    /// The longest one attempt may take.
    pub timeout: Duration,
    /// The most deliveries read per look.
    pub batch: usize,
}

impl WorkerOptions {
    /// The options `[outbox]` sets.
    pub fn from_config(c: &crate::config::OutboxConfig) -> Self {
        WorkerOptions {
            policy: RetryPolicy::from_config(c),
            poll: c.poll_interval.as_std(),
            timeout: c.attempt_timeout.as_std(),
            batch: 64,
        }
    }
}

/// One sink to serve.
pub struct SinkHandle {
    /// The sink's name.
    pub name: String,
    /// Its transport.
    pub transport: Arc<dyn Transport>,
    /// Its request rate limit (per minute).
    pub per_minute: Option<u32>,
}

/// Running delivery: the outbox, its workers, and what the pipeline needs to feed it.
pub struct Delivery {
    outbox: Arc<Outbox>,
    wake: Arc<Notify>,
    cancel: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
    sinks: Vec<String>,
    clock: Arc<dyn Clock>,
    observer: Arc<dyn DeliveryObserver>,
    timeout: Duration,
    gate: Gate,
}

impl Delivery {
    /// Opens the configured outbox, builds every enabled sink and starts its worker.
    /// Must be called inside a tokio runtime.
    pub fn from_config(
        config: &Config,
        clock: Arc<dyn Clock>,
        observer: Arc<dyn DeliveryObserver>,
    ) -> Result<Delivery, DeliveryError> {
        Delivery::from_config_gated(config, clock, observer, Gate::open())
    }

    /// [`Delivery::from_config`] whose workers send only while `gate` permits.
    pub fn from_config_gated(
        config: &Config,
        clock: Arc<dyn Clock>,
        observer: Arc<dyn DeliveryObserver>,
        gate: Gate,
    ) -> Result<Delivery, DeliveryError> {
        let opts = WorkerOptions::from_config(&config.outbox);
        let mut sinks = Vec::new();
        for (i, sink) in config.sinks.iter().enumerate().filter(|(_, s)| s.enabled) {
            let transport = transport::build(
                i,
                sink,
                TransportOptions {
                    timeout: opts.timeout,
                },
            )?;
            let per_minute = sink
                .max_per_minute
                .or_else(|| transport::default_rate(sink.kind()));
            sinks.push(SinkHandle {
                name: sink.name.clone(),
                transport,
                per_minute,
            });
        }
        let outbox = Arc::new(Outbox::open(&config.outbox.resolved_path())?);
        Ok(Delivery::start_gated(
            outbox, sinks, opts, clock, observer, gate,
        ))
    }

    /// Starts one worker per sink on the current runtime.
    pub fn start(
        outbox: Arc<Outbox>,
        sinks: Vec<SinkHandle>,
        opts: WorkerOptions,
        clock: Arc<dyn Clock>,
        observer: Arc<dyn DeliveryObserver>,
    ) -> Delivery {
        Delivery::start_gated(outbox, sinks, opts, clock, observer, Gate::open())
    }

    /// [`Delivery::start`] whose workers send only while `gate` permits.
    pub fn start_gated(
        outbox: Arc<Outbox>,
        sinks: Vec<SinkHandle>,
        opts: WorkerOptions,
        clock: Arc<dyn Clock>,
        observer: Arc<dyn DeliveryObserver>,
        gate: Gate,
    ) -> Delivery {
        let wake = Arc::new(Notify::new());
        let cancel = CancellationToken::new();
        let names = sinks.iter().map(|s| s.name.clone()).collect();
        let tasks = sinks
            .into_iter()
            .map(|sink| {
                let worker = super::worker::Worker {
                    pace: Pace::new(sink.per_minute),
                    sink,
                    outbox: outbox.clone(),
                    clock: clock.clone(),
                    observer: observer.clone(),
                    opts,
                    failures: 0,
                    gate: gate.clone(),
                };
                tokio::spawn(worker.run(wake.clone(), cancel.clone()))
            })
            .collect();
        Delivery {
            outbox,
            wake,
            cancel,
            tasks,
            sinks: names,
            clock,
            observer,
            timeout: opts.timeout,
            gate,
        }
    }

    /// The gate the workers check (close it, or make it follow a fence).
    pub fn gate(&self) -> &Gate {
        &self.gate
    }

    /// The outbox.
    pub fn outbox(&self) -> &Arc<Outbox> {
        &self.outbox
    }

    /// The pipeline's sink in front of this outbox, routed per `config`.
    pub fn sink(&self, config: &Config) -> OutboxSink {
        OutboxSink::new(
            self.outbox.clone(),
            Arc::new(SinkRouting::new(&config.sinks)),
            self.clock.clone(),
            self.wake.clone(),
            self.observer.clone(),
            config.outbox.commit_batch,
        )
    }

    /// Wakes the workers (after something else changed the outbox).
    pub fn wake(&self) {
        self.wake.notify_waiters();
    }

    /// Deliveries still waiting for the served sinks.
    pub async fn waiting(&self) -> Result<u64, OutboxError> {
        let (outbox, sinks) = (self.outbox.clone(), self.sinks.clone());
        blocking(move || outbox.waiting(&sinks)).await
    }

    /// Waits until nothing is waiting (dead letters aside) or `limit` passes;
    /// returns how many deliveries are still waiting.
    pub async fn drain(&self, limit: Duration) -> Result<u64, OutboxError> {
        let deadline = Instant::now() + limit;
        loop {
            let left = self.waiting().await?;
            if left == 0 || Instant::now() >= deadline {
                return Ok(left);
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Stops the workers (an attempt in flight may finish first) and syncs the outbox.
    pub async fn stop(self) -> Result<(), OutboxError> {
        self.cancel.cancel();
        let join = futures::future::join_all(self.tasks);
        if tokio::time::timeout(self.timeout + Duration::from_secs(1), join)
            .await
            .is_err()
        {
            tracing::warn!("a delivery attempt was still running at shutdown; it will be retried");
        }
        let outbox = self.outbox.clone();
        blocking(move || outbox.sync()).await
    }
}

pub(super) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, OutboxError> + Send + 'static,
) -> Result<T, OutboxError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| OutboxError::Storage(format!("outbox task failed: {e}")))?
}
