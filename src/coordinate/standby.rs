//! The hot standby: polls the ownership blobs and takes the group over as soon as
//! every partition is free or its owner's ownership expired.
//!
//! Polls are jittered (±20% of `standby_poll`) so several standbys do not ask in
//! lockstep; when two see the expiry at once, the ordered claim lets exactly one of
//! them win. Transient storage faults only delay the next poll; a refused
//! credential or an unusable snapshot ends the wait with an error, since waiting
//! cannot fix either.

use std::time::Duration;

use rand::RngExt;
use tokio_util::sync::CancellationToken;

use super::ownership::{self, Observed};
use super::{Active, CoordinateError, Coordinator};

/// A standby instance.
pub struct Standby {
    coordinator: Coordinator,
    observed: Vec<Observed>,
}

impl Standby {
    pub(super) fn new(coordinator: Coordinator, observed: Vec<Observed>) -> Standby {
        Standby {
            coordinator,
            observed,
        }
    }

    /// The ownership blobs as last observed.
    pub fn observed(&self) -> &[Observed] {
        &self.observed
    }

    /// The live owners seen at the last poll (for status and logs).
    pub fn owners(&self) -> Vec<String> {
        let s = &self.coordinator.settings;
        let mut owners: Vec<String> = self
            .observed
            .iter()
            .filter_map(|o| o.other_owner(&s.owner_id, s.ownership_expiry))
            .map(str::to_owned)
            .collect();
        owners.sort();
        owners.dedup();
        owners
    }

    /// Waits until this instance can take the group over, then does; `None` when
    /// cancelled first.
    pub async fn wait_for_takeover(
        mut self,
        cancel: &CancellationToken,
    ) -> Result<Option<Active>, CoordinateError> {
        let group = self.coordinator.settings.layout.group().to_owned();
        tracing::info!(
            "group {group}: standing by (held by {})",
            self.owners().join(", ")
        );
        // Since when every partition has been claimable: a balanced instance over its
        // share claims anyway once nobody else did for a whole expiry.
        let mut claimable_since: Option<std::time::Instant> = None;
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return Ok(None),
                _ = tokio::time::sleep(self.pause()) => {}
            }
            let c = &self.coordinator;
            match ownership::observe(&c.client, &c.partitions).await {
                Ok(observed) => self.observed = observed,
                Err(e) if e.is_transient() => {
                    tracing::warn!("group {group}: standby poll: {e}");
                    continue;
                }
                Err(e) => return Err(e.into()),
            }
            let s = &self.coordinator.settings;
            let all_claimable = self
                .observed
                .iter()
                .all(|o| o.claimable(&s.owner_id, s.ownership_expiry));
            claimable_since = if all_claimable {
                claimable_since.or(Some(std::time::Instant::now()))
            } else {
                None
            };
            let overdue = claimable_since.is_some_and(|t| t.elapsed() >= s.ownership_expiry);
            match self.coordinator.try_take(&self.observed, overdue).await {
                Ok(Some(active)) => return Ok(Some(active)),
                // Another standby won the race for the manifest: keep watching.
                Ok(None) | Err(CoordinateError::Lost(_)) => {}
                Err(e) if e.is_transient() => {
                    tracing::warn!("group {group}: takeover attempt: {e}; trying again");
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn pause(&self) -> Duration {
        let poll = self.coordinator.settings.standby_poll;
        let jitter = rand::rng().random_range(0.8..1.2);
        poll.mul_f64(jitter)
    }
}
