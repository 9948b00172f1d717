//! Balanced mode: the partitions of a keyed hub spread over the instances, each
//! partition a coordination group of its own whose state follows it.
//!
//! Why: on the hub `kvwatch route` keys by principal, a principal's records all land
//! in one partition, so a partition's detector state is complete on its own and the
//! partitions can be read by different instances. One instance holding the whole
//! hub (the active/standby mode) would leave the others idle.
//!
//! How the instances agree without talking to each other, the Event Hubs load
//! balancer's way, on the same container:
//! - every instance writes its own membership blob at each renewal
//!   ([`Membership`]); a blob younger than the ownership expiry (on the service's
//!   clock) is a live member;
//! - an instance's **fair share** is `ceil(partitions / members)`; it claims a free
//!   or expired partition only while it holds fewer ([`Share::reserve`]), unless the
//!   partition has been left unclaimed for a whole expiry (a member that cannot
//!   read must not orphan it);
//! - an instance holding more than its share gives the surplus up cleanly (last
//!   checkpoint, delivery, release: [`Share::should_leave`]), and the instances
//!   under their share claim them at their next poll.
//!
//! A partition never moves by theft: a claimed one moves only when its holder
//! releases it or stops renewing, so the fencing of the active/standby mode (each
//! partition's manifest epoch, its ownership deadline) applies unchanged.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

use super::blob::{BlobClient, Condition, Metadata};
use super::layout::{GroupLayout, FORMAT};
use super::CoordinateError;
use crate::metrics::coordination::CoordinationMetrics;

/// What this instance holds of a balanced hub, shared by its partitions' runs.
/// Cloning shares it.
#[derive(Debug, Clone)]
pub struct Share {
    inner: Arc<Mutex<ShareState>>,
}

#[derive(Debug, Default)]
struct ShareState {
    partitions: usize,
    members: usize,
    held: BTreeSet<String>,
    leaving: BTreeSet<String>,
}

/// A look at a [`Share`] (status, readiness, metrics).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareView {
    /// Partitions of the hub.
    pub partitions: usize,
    /// Live members seen at the last heartbeat (this one included).
    pub members: usize,
    /// The most partitions this instance should hold.
    pub fair: usize,
    /// The groups this instance holds (or is claiming), by name.
    pub held: Vec<String>,
}

impl Share {
    /// A share of `partitions`, with this instance its only known member.
    pub fn new(partitions: usize) -> Share {
        Share {
            inner: Arc::new(Mutex::new(ShareState {
                partitions,
                members: 1,
                ..ShareState::default()
            })),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut ShareState) -> T) -> T {
        // A poisoned lock only means another thread panicked mid-update of plain
        // sets; their content is still consistent enough to go on with.
        let mut state = match self.inner.lock() {
            Ok(s) => s,
            Err(poisoned) => poisoned.into_inner(),
        };
        f(&mut state)
    }

    /// The hub has this many partitions now.
    pub fn set_partitions(&self, partitions: usize) {
        self.with(|s| s.partitions = partitions);
    }

    /// This many members are alive (at least this one).
    pub fn set_members(&self, members: usize) {
        self.with(|s| s.members = members.max(1));
    }

    /// Reserves `group` before claiming it: `true` when this instance already holds
    /// it, holds fewer than its fair share, or the partition is `overdue` (left
    /// unclaimed for a whole expiry). Undo with [`Share::release`] when the claim
    /// fails.
    pub fn reserve(&self, group: &str, overdue: bool) -> bool {
        self.with(|s| {
            if s.held.contains(group) {
                return true;
            }
            if s.held.len() < s.fair() || overdue {
                s.held.insert(group.to_owned());
                return true;
            }
            false
        })
    }

    /// `group` is no longer held (released, lost, or the claim failed).
    pub fn release(&self, group: &str) {
        self.with(|s| {
            s.held.remove(group);
            s.leaving.remove(group);
        });
    }

    /// Whether the run holding `group` should give it up: this instance holds more
    /// than its fair share, and `group` is among the surplus (the last ones by
    /// name, so the instance agrees with itself). Once `true`, stays `true` until
    /// [`Share::release`].
    pub fn should_leave(&self, group: &str) -> bool {
        self.with(|s| {
            if s.leaving.contains(group) {
                return true;
            }
            if !s.held.contains(group) {
                return false;
            }
            let fair = s.fair();
            let staying: Vec<&String> = s.held.difference(&s.leaving).collect();
            let Some(surplus) = staying.len().checked_sub(fair).filter(|n| *n > 0) else {
                return false;
            };
            let leaves = staying[staying.len() - surplus..]
                .iter()
                .any(|g| g.as_str() == group);
            if leaves {
                s.leaving.insert(group.to_owned());
            }
            leaves
        })
    }

    /// How things stand.
    pub fn view(&self) -> ShareView {
        self.with(|s| ShareView {
            partitions: s.partitions,
            members: s.members,
            fair: s.fair(),
            held: s.held.iter().cloned().collect(),
        })
    }
}

impl ShareState {
    fn fair(&self) -> usize {
        self.partitions.div_ceil(self.members.max(1)).max(1)
    }
}

/// This instance's membership of a balanced group: a blob per instance under
/// `kvwatch/{group}/members/`, rewritten every renewal.
pub struct Membership {
    client: BlobClient,
    layout: GroupLayout,
    owner_id: String,
    expiry: Duration,
}

/// Other instances' membership blobs older than this many expiries are deleted.
const STALE_EXPIRIES: u32 = 20;

impl Membership {
    /// The membership of `owner_id` in the balanced group `layout`.
    pub fn new(
        client: BlobClient,
        layout: GroupLayout,
        owner_id: String,
        expiry: Duration,
    ) -> Membership {
        Membership {
            client,
            layout,
            owner_id,
            expiry,
        }
    }

    /// Says this instance is alive, and counts the live members (this one
    /// included), judging ages on the service's clock. Deletes other members' blobs
    /// long dead (best effort).
    pub async fn beat(&self) -> Result<usize, CoordinateError> {
        let mut metadata = Metadata::new();
        metadata.insert(FORMAT.to_owned(), "kvwatch-member/1".to_owned());
        let written = self
            .client
            .put(
                &self.layout.member_blob(&self.owner_id),
                Vec::new(),
                "application/octet-stream",
                &metadata,
                &Condition::Always,
            )
            .await?;
        let now = written.server_date.max(written.last_modified);
        let listed = self.client.list(&self.layout.members_prefix()).await?;
        let mut alive = 1;
        for blob in listed {
            if blob.name == self.layout.member_blob(&self.owner_id) {
                continue;
            }
            match age(now, blob.last_modified) {
                Some(a) if a < self.expiry => alive += 1,
                Some(a) if a > self.expiry * STALE_EXPIRIES => {
                    let gone = self
                        .client
                        .delete(&blob.name, &Condition::IfMatch(blob.etag.clone()))
                        .await;
                    if let Err(e) = gone {
                        tracing::debug!("deleting the stale membership {}: {e}", blob.name);
                    }
                }
                _ => {}
            }
        }
        Ok(alive)
    }

    /// Beats every `interval` until cancelled, keeping `share`'s member count (and
    /// the metrics) up to date; a failed beat keeps the last count. Leaves the group
    /// (deletes this instance's blob) when cancelled.
    pub async fn run(
        self,
        share: Share,
        interval: Duration,
        metrics: Option<CoordinationMetrics>,
        cancel: CancellationToken,
    ) {
        loop {
            match self.beat().await {
                Ok(members) => {
                    share.set_members(members);
                    if let Some(m) = &metrics {
                        m.balance(&share.view());
                    }
                }
                Err(e) => tracing::warn!(
                    "group {}: membership heartbeat: {e}; keeping the last member count",
                    self.layout.group()
                ),
            }
            tokio::select! {
                () = cancel.cancelled() => break,
                () = tokio::time::sleep(interval) => {}
            }
        }
        self.leave().await;
    }

    /// Deletes this instance's membership blob, so the others count it out at once.
    pub async fn leave(&self) {
        let blob = self.layout.member_blob(&self.owner_id);
        if let Err(e) = self.client.delete(&blob, &Condition::Always).await {
            tracing::warn!("leaving the group: deleting {blob}: {e}; it will expire instead");
        }
    }
}

fn age(now: DateTime<Utc>, then: Option<DateTime<Utc>>) -> Option<Duration> {
    (now - then?).to_std().ok().or(Some(Duration::ZERO))
}

#[cfg(test)]
#[path = "balance_tests.rs"]
mod tests;
