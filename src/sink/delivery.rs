//! The delivery workers: one tokio task per sink reads that sink's due deliveries from
//! the outbox, sends them (a digest as one email), and records the outcome: delivered
//! (removed), retry later (backoff with jitter, or the receiver's `Retry-After`), or
//! dead-lettered. While a receiver fails, the sink as a whole backs off too, so one
//! probe (not the whole queue) goes per backoff step. Workers wake on every outbox
//! commit, and at least every `poll_interval`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::enqueue::{OutboxSink, Router};
use super::observe::{AttemptOutcome, DeliveryEvent, DeliveryObserver};
use super::outbox::{Outbox, OutboxError, Pending};
use super::retry::{Decision, Pace, RetryPolicy};
use super::transport::{self, AttemptError, BuildError, Job, Transport, TransportOptions};
use crate::alert::Alert;
use crate::config::Config;
use crate::pipeline::clock::Clock;

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
}

impl Delivery {
    /// Opens the configured outbox, builds every enabled sink and starts its worker.
    /// Must be called inside a tokio runtime.
    pub fn from_config(config: &Config, clock: Arc<dyn Clock>, observer: Arc<dyn DeliveryObserver>) -> Result<Delivery, DeliveryError> {
        let opts = WorkerOptions::from_config(&config.outbox);
        let mut sinks = Vec::new();
        for (i, sink) in config.sinks.iter().enumerate().filter(|(_, s)| s.enabled) {
            let transport = transport::build(i, sink, TransportOptions { timeout: opts.timeout })?;
            let per_minute = sink.max_per_minute.or_else(|| transport::default_rate(sink.kind()));
            sinks.push(SinkHandle { name: sink.name.clone(), transport, per_minute });
        }
        let outbox = Arc::new(Outbox::open(&config.outbox.resolved_path())?);
        Ok(Delivery::start(outbox, sinks, opts, clock, observer))
    }

    /// Starts one worker per sink on the current runtime.
    pub fn start(
        outbox: Arc<Outbox>,
        sinks: Vec<SinkHandle>,
        opts: WorkerOptions,
        clock: Arc<dyn Clock>,
        observer: Arc<dyn DeliveryObserver>,
    ) -> Delivery {
        let wake = Arc::new(Notify::new());
        let cancel = CancellationToken::new();
        let names = sinks.iter().map(|s| s.name.clone()).collect();
        let tasks = sinks
            .into_iter()
            .map(|sink| {
                let worker = Worker {
                    pace: Pace::new(sink.per_minute),
                    sink,
                    outbox: outbox.clone(),
                    clock: clock.clone(),
                    observer: observer.clone(),
                    opts,
                    failures: 0,
                };
                tokio::spawn(worker.run(wake.clone(), cancel.clone()))
            })
            .collect();
        Delivery { outbox, wake, cancel, tasks, sinks: names, clock, observer, timeout: opts.timeout }
    }

    /// The outbox.
    pub fn outbox(&self) -> &Arc<Outbox> {
        &self.outbox
    }

    /// The pipeline's sink in front of this outbox, routed per `config`.
    pub fn sink(&self, config: &Config) -> OutboxSink {
        OutboxSink::new(
            self.outbox.clone(),
            Arc::new(Router::new(&config.sinks)),
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
        if tokio::time::timeout(self.timeout + Duration::from_secs(1), join).await.is_err() {
            tracing::warn!("a delivery attempt was still running at shutdown; it will be retried");
        }
        let outbox = self.outbox.clone();
        blocking(move || outbox.sync()).await
    }
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T, OutboxError> + Send + 'static) -> Result<T, OutboxError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| OutboxError::Storage(format!("outbox task failed: {e}")))?
}

struct Worker {
    sink: SinkHandle,
    outbox: Arc<Outbox>,
    clock: Arc<dyn Clock>,
    observer: Arc<dyn DeliveryObserver>,
    opts: WorkerOptions,
    pace: Pace,
    /// Consecutive retryable failures: the sink-wide backoff step.
    failures: u32,
}

impl Worker {
    async fn run(mut self, wake: Arc<Notify>, cancel: CancellationToken) {
        while !cancel.is_cancelled() {
            let notified = wake.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let wait = match self.round(&cancel).await {
                Ok(wait) => wait,
                Err(e) => {
                    tracing::error!(sink = %self.sink.name, "outbox: {e}");
                    self.opts.poll
                }
            };
            if wait.is_zero() {
                continue;
            }
            tokio::select! {
                () = &mut notified => {}
                () = tokio::time::sleep(wait) => {}
                () = cancel.cancelled() => {}
            }
        }
    }

    /// One look at the outbox and the attempts it allows; returns how long to wait.
    async fn round(&mut self, cancel: &CancellationToken) -> Result<Duration, OutboxError> {
        let now = self.clock.now();
        let paced = self.pace.wait(now);
        if !paced.is_zero() {
            return Ok(paced.min(self.opts.poll));
        }
        let (outbox, name, batch) = (self.outbox.clone(), self.sink.name.clone(), self.opts.batch);
        let scan = blocking(move || outbox.scan(&name, now, batch)).await?;
        self.observer.observe(&DeliveryEvent::Depth {
            sink: &self.sink.name,
            pending: scan.pending,
            dead: scan.dead,
            oldest_age: scan.oldest.and_then(|o| (now - o).to_std().ok()),
        });
        if scan.due.is_empty() {
            let until_due = scan.next_due.and_then(|n| (n - now).to_std().ok()).unwrap_or(self.opts.poll);
            return Ok(until_due.clamp(Duration::from_millis(1), self.opts.poll));
        }
        let (digest, single): (Vec<Pending>, Vec<Pending>) =
            scan.due.into_iter().partition(|p| p.state.digest && self.sink.transport.digests());
        let mut jobs: Vec<Vec<Pending>> = Vec::new();
        if !digest.is_empty() {
            jobs.push(digest);
        }
        jobs.extend(single.into_iter().map(|p| vec![p]));
        for job in jobs {
            if cancel.is_cancelled() || !self.pace.wait(self.clock.now()).is_zero() {
                break;
            }
            self.attempt(job).await?;
        }
        Ok(Duration::ZERO)
    }

    async fn attempt(&mut self, items: Vec<Pending>) -> Result<(), OutboxError> {
        let (items, missing): (Vec<Pending>, Vec<Pending>) = items.into_iter().partition(|p| p.alert.is_some());
        if !missing.is_empty() {
            let err = AttemptError::permanent("the alert is missing from the outbox");
            self.failed(&missing, &err).await?;
        }
        if items.is_empty() {
            return Ok(());
        }
        let alerts: Vec<Alert> = items.iter().filter_map(|p| p.alert.clone()).collect();
        let job = if items[0].state.digest && self.sink.transport.digests() { Job::Digest(&alerts) } else { Job::One(&alerts[0]) };
        let started = Instant::now();
        self.pace.sent(self.clock.now());
        let result = match tokio::time::timeout(self.opts.timeout, self.sink.transport.send(job)).await {
            Ok(result) => result,
            Err(_) => Err(AttemptError::retryable(format!("timed out after {}", humantime::format_duration(self.opts.timeout)))),
        };
        let latency = started.elapsed();
        let kind = self.sink.transport.kind();
        match result {
            Ok(()) => {
                self.failures = 0;
                self.observer.observe(&DeliveryEvent::Attempt {
                    sink: &self.sink.name,
                    kind,
                    alerts: alerts.len(),
                    outcome: AttemptOutcome::Succeeded,
                    latency,
                    error: None,
                });
                let (outbox, name) = (self.outbox.clone(), self.sink.name.clone());
                let seqs: Vec<u64> = items.iter().map(|p| p.seq).collect();
                blocking(move || outbox.succeeded(&name, &seqs)).await
            }
            Err(mut err) => {
                err.message = self.sink.transport.redactor().clean(&err.message);
                self.observer.observe(&DeliveryEvent::Attempt {
                    sink: &self.sink.name,
                    kind,
                    alerts: alerts.len(),
                    outcome: AttemptOutcome::Failed { retryable: err.retryable },
                    latency,
                    error: Some(&err.message),
                });
                if err.retryable {
                    // The receiver, not this alert, is the likely problem: back the whole sink off.
                    self.failures += u32::from(!err.rate_limited);
                    let pause = match err.retry_after {
                        Some(asked) if err.rate_limited => asked,
                        asked => self.opts.policy.delay(self.failures.max(1)).max(asked.unwrap_or(Duration::ZERO)),
                    };
                    if err.rate_limited {
                        self.observer.observe(&DeliveryEvent::RateLimited { sink: &self.sink.name, pause });
                    }
                    self.pace.pause_until(self.clock.now() + chrono::Duration::from_std(pause).unwrap_or(chrono::Duration::MAX));
                }
                self.failed(&items, &err).await
            }
        }
    }

    async fn failed(&mut self, items: &[Pending], err: &AttemptError) -> Result<(), OutboxError> {
        let now = self.clock.now();
        let mut states = Vec::with_capacity(items.len());
        for p in items {
            let mut state = p.state.clone();
            match self.opts.policy.decide(&state, err, now) {
                Decision::Retry { tries, delay, at } => {
                    state.tries = tries;
                    state.next_at = at.timestamp_micros();
                    state.last_error = Some(err.message.clone());
                    self.observer.observe(&DeliveryEvent::Retried { sink: &self.sink.name, alert_id: &state.alert_id, tries, delay });
                }
                Decision::Dead { tries, reason } => {
                    state.tries = tries;
                    state.dead = true;
                    state.last_error = Some(reason.clone());
                    self.observer.observe(&DeliveryEvent::DeadLettered {
                        sink: &self.sink.name,
                        alert_id: &state.alert_id,
                        tries,
                        reason: &reason,
                    });
                }
            }
            states.push((p.seq, state));
        }
        let (outbox, name) = (self.outbox.clone(), self.sink.name.clone());
        blocking(move || outbox.update(&name, &states)).await
    }
}
