//! The active owner's renewal task: renews the ownership blobs every
//! `renew_interval`, moves the [`Fence`](super::Fence), and hands the held blobs
//! back when it stops (for a release).
//!
//! A failed renewal pauses the fence at once and retries quickly (every
//! `renew_interval`, at most every 2 seconds); a success reopens it with the same
//! chain of tags, so a short storage outage costs a delay, not a takeover. A blob
//! written by another owner, or the deadline passing without a renewal, loses the
//! ownership for good.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::blob::BlobClient;
use super::fence::{Deadline, FenceState, LostReason};
use super::ownership::{self, Held, Renewal};
use super::{CoordinatorSettings, Role};
use crate::metrics::coordination::{CoordinationMetrics, RenewalResult};

/// What the renewal task needs.
pub(crate) struct Lease {
    pub client: BlobClient,
    pub settings: Arc<CoordinatorSettings>,
    pub held: Vec<Held>,
    pub state: Arc<watch::Sender<FenceState>>,
    pub deadline: Arc<Deadline>,
    pub metrics: Option<CoordinationMetrics>,
    /// Blobs claimed since (partitions added to the group while it is held).
    pub added: mpsc::UnboundedReceiver<Vec<Held>>,
}

impl Lease {
    /// Renews until cancelled or lost; returns the held blobs (with their last tags).
    pub(crate) async fn run(mut self, cancel: CancellationToken) -> Vec<Held> {
        let mut held = self.renew_until(cancel).await;
        while let Ok(more) = self.added.try_recv() {
            held.extend(more);
        }
        held
    }

    async fn renew_until(&mut self, cancel: CancellationToken) -> Vec<Held> {
        let s = self.settings.clone();
        let retry = s.renew_interval.min(Duration::from_secs(2));
        let mut next = Instant::now() + s.renew_interval;
        loop {
            let deadline = self.deadline.get();
            tokio::select! {
                _ = cancel.cancelled() => return std::mem::take(&mut self.held),
                _ = tokio::time::sleep_until(next.min(deadline)) => {}
            }
            if self.deadline.passed() {
                self.lose(LostReason::Deadline);
                return std::mem::take(&mut self.held);
            }
            if Instant::now() < next {
                continue;
            }
            while let Ok(more) = self.added.try_recv() {
                self.held.extend(more);
            }
            let renewal = tokio::select! {
                _ = cancel.cancelled() => return std::mem::take(&mut self.held),
                r = ownership::renew(&self.client, &mut self.held, &s.owner_id) => r,
            };
            match renewal {
                Renewal::Renewed => {
                    self.count(RenewalResult::Ok);
                    self.deadline.set(ownership::deadline(
                        &self.held,
                        s.ownership_expiry,
                        s.safety_margin,
                    ));
                    if self.deadline.passed() {
                        self.lose(LostReason::Deadline);
                        return std::mem::take(&mut self.held);
                    }
                    self.set(FenceState::Open);
                    next = Instant::now() + s.renew_interval;
                }
                Renewal::Failed(e) => {
                    self.count(RenewalResult::Failed);
                    tracing::warn!(
                        "renewing the ownership of group {}: {e}; delivery paused until a renewal succeeds",
                        s.layout.group()
                    );
                    self.set(FenceState::Paused {
                        reason: e.to_string(),
                    });
                    next = Instant::now() + retry;
                }
                Renewal::Stolen { blob, by } => {
                    self.count(RenewalResult::Stolen);
                    self.lose(LostReason::Stolen { blob, by });
                    return std::mem::take(&mut self.held);
                }
            }
        }
    }

    fn count(&self, result: RenewalResult) {
        if let Some(m) = &self.metrics {
            m.renewal(result);
        }
    }

    fn set(&self, state: FenceState) {
        if let Some(m) = &self.metrics {
            m.fence(&state);
        }
        self.state.send_if_modified(|current| {
            if *current == state {
                false
            } else {
                *current = state;
                true
            }
        });
    }

    fn lose(&self, reason: LostReason) {
        tracing::error!(
            "group {}: ownership lost: {reason}; this instance must stop delivering and committing",
            self.settings.layout.group()
        );
        if let Some(m) = &self.metrics {
            m.role(Role::Lost);
        }
        self.set(FenceState::Lost(reason));
    }
}
