//! The active owner of a group: its epoch, where it resumes from, its fence, its
//! commits, and its release. The renewal task runs beside it until it is released,
//! lost or dropped.

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::blob::BlobClient;
use super::fence::{Fence, FenceState, LostReason};
use super::layout::PartitionRef;
use super::manifest::MirrorPosition;
use super::ownership::{self, Held};
use super::snapshot::Sections;
use super::store::{Committed, GroupStore, Resume};
use super::{CoordinateError, CoordinatorSettings, Role};
use crate::metrics::coordination::{CommitResult, CoordinationMetrics};

/// The active owner of a group.
pub struct Active {
    pub(super) client: BlobClient,
    pub(super) settings: Arc<CoordinatorSettings>,
    pub(super) partitions: Vec<PartitionRef>,
    pub(super) store: GroupStore,
    pub(super) resume: Option<Resume>,
    pub(super) fence: Fence,
    pub(super) state: Arc<watch::Sender<FenceState>>,
    pub(super) lease: Option<JoinHandle<Vec<Held>>>,
    /// Hands blobs claimed by [`Active::extend`] to the renewal task.
    pub(super) added: mpsc::UnboundedSender<Vec<Held>>,
    pub(super) cancel: CancellationToken,
    pub(super) metrics: Option<CoordinationMetrics>,
}

impl Drop for Active {
    /// Stops the renewals: the ownership then expires (a release needs
    /// [`Active::release`], which can wait for the storage service).
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

impl Active {
    /// The epoch this owner raised the manifest to: its fencing token.
    pub fn epoch(&self) -> u64 {
        self.store.epoch()
    }

    /// The epoch as an Event Hubs owner level.
    pub fn owner_level(&self) -> i64 {
        i64::try_from(self.epoch()).unwrap_or(i64::MAX)
    }

    /// This instance's owner id.
    pub fn owner_id(&self) -> &str {
        &self.settings.owner_id
    }

    /// The group's name.
    pub fn group(&self) -> &str {
        self.settings.layout.group()
    }

    /// The partitions held.
    pub fn partitions(&self) -> &[PartitionRef] {
        &self.partitions
    }

    /// The last commit number (0 before the group's first commit).
    pub fn last_commit(&self) -> u64 {
        self.store.commit_number()
    }

    /// Where to resume from (given once: the pipeline is built from it).
    pub fn take_resume(&mut self) -> Option<Resume> {
        self.resume.take()
    }

    /// The fence every delivery and commit checks.
    pub fn fence(&self) -> Fence {
        self.fence.clone()
    }

    /// Commits the pipeline's state and the partitions' positions (the last event
    /// handled in each). An error that [`CoordinateError::is_transient`] leaves
    /// the previous commit in force: try again at the next interval.
    /// [`CoordinateError::Lost`] means stop.
    pub async fn commit(
        &mut self,
        sections: Sections,
        positions: &BTreeMap<PartitionRef, MirrorPosition>,
    ) -> Result<Committed, CoordinateError> {
        let started = std::time::Instant::now();
        let result = self.store.commit(sections, positions, &self.fence).await;
        let outcome = match &result {
            Ok(c) => {
                if let Some(m) = &self.metrics {
                    m.snapshot_bytes(c.bytes);
                }
                CommitResult::Ok
            }
            Err(CoordinateError::Lost(reason)) => {
                self.lose(reason.clone());
                CommitResult::Fenced
            }
            Err(e) => {
                tracing::warn!("group {}: commit failed: {e}", self.group());
                CommitResult::Failed
            }
        };
        if let Some(m) = &self.metrics {
            m.commit(outcome, started.elapsed());
        }
        result
    }

    /// Claims `partitions` too (those not held yet): a hub that answered after the
    /// group was taken, or partitions added to a hub. They are renewed with the
    /// others from then on. A partition another owner holds, or wins the race for,
    /// loses the whole group (a foreign reader in the consumer group, or a newer
    /// owner): [`CoordinateError::Lost`]. A transient error claims nothing: try again.
    pub async fn extend(&mut self, partitions: &[PartitionRef]) -> Result<(), CoordinateError> {
        let new: Vec<PartitionRef> = partitions
            .iter()
            .filter(|p| !self.partitions.contains(p))
            .cloned()
            .collect();
        if new.is_empty() {
            return Ok(());
        }
        if let FenceState::Lost(reason) = self.fence.state() {
            return Err(CoordinateError::Lost(reason));
        }
        let me = self.settings.owner_id.clone();
        let expiry = self.settings.ownership_expiry;
        let observed = ownership::observe(&self.client, &new).await?;
        if let Some(o) = observed.iter().find(|o| !o.claimable(&me, expiry)) {
            let reason = LostReason::Stolen {
                blob: o.partition.ownership_blob(),
                by: o.other_owner(&me, expiry).map(str::to_owned),
            };
            self.lose(reason.clone());
            return Err(CoordinateError::Lost(reason));
        }
        match ownership::claim_all(&self.client, &observed, &me).await? {
            ownership::Claim::Taken(held) => {
                tracing::info!(
                    "group {}: claimed {} more partitions ({})",
                    self.group(),
                    held.len(),
                    new.iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                if self.added.send(held).is_err() {
                    return Err(CoordinateError::Lost(LostReason::Released));
                }
                self.partitions.extend(new);
                Ok(())
            }
            ownership::Claim::Lost { blob } => {
                let reason = LostReason::Stolen { blob, by: None };
                self.lose(reason.clone());
                Err(CoordinateError::Lost(reason))
            }
        }
    }

    fn lose(&self, reason: LostReason) {
        if let Some(m) = &self.metrics {
            m.role(Role::Lost);
            m.fence(&FenceState::Lost(reason.clone()));
        }
        self.state.send_if_modified(|current| {
            if matches!(current, FenceState::Lost(_)) {
                false
            } else {
                tracing::error!(
                    "group {}: ownership lost: {reason}",
                    self.settings.layout.group()
                );
                *current = FenceState::Lost(reason);
                true
            }
        });
        self.cancel.cancel();
    }

    /// Stops renewing and gives the partitions back (`ownerid=""`), so a standby
    /// takes over at its next poll instead of after the expiry.
    pub async fn release(mut self) -> Result<(), CoordinateError> {
        self.cancel.cancel();
        let held = match self.lease.take() {
            Some(task) => task
                .await
                .map_err(|e| CoordinateError::Setup(format!("the renewal task failed: {e}")))?,
            None => Vec::new(),
        };
        let was_lost = self.fence.is_lost();
        self.state
            .send_replace(FenceState::Lost(LostReason::Released));
        if let Some(m) = &self.metrics {
            m.fence(&FenceState::Lost(LostReason::Released));
            m.role(Role::Lost);
        }
        if !was_lost {
            ownership::release(&self.client, &held, &self.settings.owner_id).await;
        }
        Ok(())
    }
}
