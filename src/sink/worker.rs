//! One sink's delivery loop: look for due deliveries, send them (a digest as one
//! email), record the outcome, and wait: until the next delivery falls due, the pace
//! or a receiver's pause allows, an outbox commit wakes it, or `poll_interval` passes.
//! While a receiver fails, the sink as a whole backs off, so one probe (not the whole
//! queue) goes out per backoff step. Nothing goes out while the delivery gate is
//! closed; it is asked again just before each send.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::delivery::{blocking, SinkHandle, WorkerOptions};
use super::gate::Gate;
use super::observe::{AttemptOutcome, DeliveryEvent, DeliveryObserver};
use super::outbox::{Outbox, OutboxError, Pending};
use super::retry::{Decision, Pace};
use super::transport::{AttemptError, Job};
use crate::alert::Alert;
use crate::clock::Clock;

pub(super) struct Worker {
    pub(super) sink: SinkHandle,
    pub(super) outbox: Arc<Outbox>,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) observer: Arc<dyn DeliveryObserver>,
    pub(super) opts: WorkerOptions,
    pub(super) pace: Pace,
    /// Consecutive retryable failures: the sink-wide backoff step.
    pub(super) failures: u32,
    /// Whether this process may send now.
    pub(super) gate: Gate,
}

impl Worker {
    pub(super) async fn run(mut self, wake: Arc<Notify>, cancel: CancellationToken) {
        while !cancel.is_cancelled() {
            if !self.gate.permits() {
                self.gate.wait(&cancel).await;
                continue;
            }
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
            let outbox = self.outbox.clone();
            blocking(move || outbox.settle()).await?;
            let until_due = scan
                .next_due
                .and_then(|n| (n - now).to_std().ok())
                .unwrap_or(self.opts.poll);
            return Ok(until_due.clamp(Duration::from_millis(1), self.opts.poll));
        }
        let (digest, single): (Vec<Pending>, Vec<Pending>) = scan
            .due
            .into_iter()
            .partition(|p| p.state.digest && self.sink.transport.digests());
        let mut jobs: Vec<Vec<Pending>> = Vec::new();
        if !digest.is_empty() {
            jobs.push(digest);
        }
        jobs.extend(single.into_iter().map(|p| vec![p]));
        for job in jobs {
            if cancel.is_cancelled()
                || !self.gate.permits()
                || !self.pace.wait(self.clock.now()).is_zero()
            {
                break;
            }
            self.attempt(job).await?;
        }
        Ok(Duration::ZERO)
    }

    async fn attempt(&mut self, items: Vec<Pending>) -> Result<(), OutboxError> {
        let (items, missing): (Vec<Pending>, Vec<Pending>) =
            items.into_iter().partition(|p| p.alert.is_some());
        if !missing.is_empty() {
            let err = AttemptError::permanent("the alert is missing from the outbox");
            self.failed(&missing, &err).await?;
        }
        if items.is_empty() {
            return Ok(());
        }
        let alerts: Vec<Alert> = items.iter().filter_map(|p| p.alert.clone()).collect();
        let job = if items[0].state.digest && self.sink.transport.digests() {
            Job::Digest(&alerts)
        } else {
            Job::One(&alerts[0])
        };
        if let Some(why) = self.gate.why_not() {
            // Not ours to send any more (or not now): the deliveries stay due.
            tracing::debug!(sink = %self.sink.name, "delivery held back: {why}");
            return Ok(());
        }
        let started = Instant::now();
        self.pace.sent(self.clock.now());
        let result =
            match tokio::time::timeout(self.opts.timeout, self.sink.transport.send(job)).await {
                Ok(result) => result,
                Err(_) => Err(AttemptError::retryable(format!(
                    "timed out after {}",
                    humantime::format_duration(self.opts.timeout)
                ))),
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
                    outcome: AttemptOutcome::Failed {
                        retryable: err.retryable,
                    },
                    latency,
                    error: Some(&err.message),
                });
                if err.retryable {
                    // The receiver, not this alert, is the likely problem: back the whole sink off.
                    self.failures += u32::from(!err.rate_limited);
                    let pause = match err.retry_after {
                        Some(asked) if err.rate_limited => asked,
                        asked => self
                            .opts
                            .policy
                            .delay(self.failures.max(1))
                            .max(asked.unwrap_or(Duration::ZERO)),
                    };
                    if err.rate_limited {
                        self.observer.observe(&DeliveryEvent::RateLimited {
                            sink: &self.sink.name,
                            pause,
                        });
                    }
                    self.pace.pause_until(
                        self.clock.now()
                            + chrono::Duration::from_std(pause).unwrap_or(chrono::Duration::MAX),
                    );
                }
                self.failed(&items, &err).await
            }
        }
    }

    /// Records the outcome of a failed attempt in the outbox first, and only then tells the
    /// observer: an event that says "dead-lettered" or "retried" is true of the outbox by the time
    /// anyone sees it (a listing right after the event shows the same state).
    async fn failed(&mut self, items: &[Pending], err: &AttemptError) -> Result<(), OutboxError> {
        let now = self.clock.now();
        let mut states = Vec::with_capacity(items.len());
        let mut decisions = Vec::with_capacity(items.len());
        for p in items {
            let mut state = p.state.clone();
            let decision = self.opts.policy.decide(&state, err, now);
            match &decision {
                Decision::Retry { tries, at, .. } => {
                    state.tries = *tries;
                    state.next_at = at.timestamp_micros();
                    state.last_error = Some(err.message.clone());
                }
                Decision::Dead { tries, reason } => {
                    state.tries = *tries;
                    state.dead = true;
                    state.last_error = Some(reason.clone());
                }
            }
            decisions.push((state.alert_id.clone(), decision));
            states.push((p.seq, state));
        }
        let (outbox, name) = (self.outbox.clone(), self.sink.name.clone());
        blocking(move || outbox.update(&name, &states)).await?;
        for (alert_id, decision) in &decisions {
            let event = match decision {
                Decision::Retry { tries, delay, .. } => DeliveryEvent::Retried {
                    sink: &self.sink.name,
                    alert_id,
                    tries: *tries,
                    delay: *delay,
                },
                Decision::Dead { tries, reason } => DeliveryEvent::DeadLettered {
                    sink: &self.sink.name,
                    alert_id,
                    tries: *tries,
                    reason,
                },
            };
            self.observer.observe(&event);
        }
        Ok(())
    }
}
