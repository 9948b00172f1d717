//! Coordination: several `kvwatch run` instances on one set of Event Hubs
//! partitions, one active and the others hot standbys, through an Azure Blob Storage
//! container.
//!
//! Why: a SOC runs kvwatch around the clock on machines that come and go. An
//! instance that dies must be replaced within a minute, with its detector state and
//! positions, and an instance that was only frozen or cut off must stop acting
//! before its replacement starts. The Event Hubs SDK's processor spreads partitions
//! over instances and knows nothing of state or fencing, so kvwatch coordinates
//! itself, in the standard checkpoint-store layout other tools read ([`layout`]).
//!
//! The flow, as the live service drives it:
//! 1. [`Coordinator::start`] reads the ownership blobs. When every partition is free
//!    or expired (on the service's clock) it claims them all in order
//!    ([`ownership`]), raises the epoch in the manifest ([`manifest`]) and loads the
//!    last snapshot ([`snapshot`], [`store`]): [`Started::Active`]. Otherwise
//!    [`Started::Standby`], whose [`Standby::wait_for_takeover`] polls until the
//!    owner's ownership expires and then does the same.
//! 2. [`Active`] renews the ownership in the background and publishes a [`Fence`]:
//!    check [`Fence::permits`] before each delivery; the fence pauses on a failed
//!    renewal and is lost for good on a steal, a fenced commit or the deadline.
//! 3. [`Active::commit`] writes the pipeline's opaque [`Sections`] and the
//!    partitions' positions: snapshot, then the manifest (the commit point,
//!    conditioned on our last write), then the standard checkpoint blobs.
//! 4. [`Active::epoch`] is the owner level for the Event Hubs receivers, so the
//!    service cuts off the previous owner's receivers too.
//! 5. [`Active::extend`] claims partitions the group gained (a hub that answered
//!    late, partitions added to a hub); [`Active::release`] gives the partitions
//!    back at shutdown.

mod active;
pub mod balance;
pub mod blob;
pub mod fence;
pub mod layout;
mod lease;
pub mod manifest;
pub mod ownership;
mod setup;
pub mod snapshot;
mod standby;
pub mod store;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

pub use active::Active;
pub use balance::{Membership, Share, ShareView};
pub use blob::{BlobAuth, BlobClient, BlobClientOptions, BlobError};
pub use fence::{Fence, FenceState, LostReason};
pub use layout::{GroupLayout, PartitionRef};
pub use manifest::{ManifestError, MirrorPosition};
pub use setup::{client_from_config, owner_id, settings_from_config};
pub use snapshot::{Sections, SnapshotError};
pub use standby::Standby;
pub use store::{Committed, Restored, Resume};

use crate::metrics::coordination::CoordinationMetrics;
use crate::pipeline::clock::Clock;
use fence::Deadline;
use ownership::{Claim, Held, Observed};
use store::GroupStore;

/// Why coordination failed.
#[derive(Debug, thiserror::Error)]
pub enum CoordinateError {
    /// A Blob Storage call failed.
    #[error(transparent)]
    Blob(#[from] BlobError),
    /// The manifest cannot be read or used.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// The snapshot cannot be used.
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
    /// The ownership is gone: stop acting.
    #[error("ownership lost: {0}")]
    Lost(LostReason),
    /// The coordinator is set up wrongly.
    #[error("coordination: {0}")]
    Setup(String),
}

impl CoordinateError {
    /// A fault that may pass by itself: try again later.
    pub fn is_transient(&self) -> bool {
        match self {
            CoordinateError::Blob(e) | CoordinateError::Manifest(ManifestError::Blob(e)) => {
                e.is_transient()
            }
            _ => false,
        }
    }
}

/// What an instance is, for metrics and status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Waiting for the active instance's ownership to expire.
    Standby,
    /// Holding the group.
    Active,
    /// Held it and no longer does (lost or released): must stop.
    Lost,
}

/// The coordinator's settings (see `[coordination]`).
#[derive(Debug, Clone)]
pub struct CoordinatorSettings {
    /// The group's blobs.
    pub layout: GroupLayout,
    /// This instance's owner id: unique to this process ([`owner_id`]), since a
    /// blob naming it is taken as written by this process.
    pub owner_id: String,
    /// How long an ownership lasts without renewal (service clock).
    pub ownership_expiry: Duration,
    /// How often the owner renews.
    pub renew_interval: Duration,
    /// The owner stops acting this long before its ownership could expire.
    pub safety_margin: Duration,
    /// How often a standby looks.
    pub standby_poll: Duration,
    /// Snapshots kept, the newest included.
    pub snapshots_kept: usize,
    /// The largest snapshot written or loaded.
    pub max_snapshot_bytes: u64,
}

/// Starts coordination for one ownership group.
pub struct Coordinator {
    client: BlobClient,
    settings: Arc<CoordinatorSettings>,
    partitions: Vec<PartitionRef>,
    metrics: Option<CoordinationMetrics>,
    clock: Arc<dyn Clock>,
    /// In balanced mode: this instance's share, reserved before each claim.
    share: Option<Share>,
}

/// What [`Coordinator::start`] found.
pub enum Started {
    /// This instance holds the group.
    Active(Box<Active>),
    /// Another instance does; wait with [`Standby::wait_for_takeover`].
    Standby(Standby),
}

impl Coordinator {
    /// A coordinator for `partitions` (every partition the group reads).
    pub fn new(
        client: BlobClient,
        settings: CoordinatorSettings,
        partitions: &[PartitionRef],
        metrics: Option<CoordinationMetrics>,
        clock: Arc<dyn Clock>,
    ) -> Result<Coordinator, CoordinateError> {
        let partitions = layout::claim_order(partitions);
        if partitions.is_empty() {
            return Err(CoordinateError::Setup("no partitions to coordinate".into()));
        }
        Ok(Coordinator {
            client,
            settings: Arc::new(settings),
            partitions,
            metrics,
            clock,
            share: None,
        })
    }

    /// In balanced mode: claims only within this instance's fair `share` (see
    /// [`balance`]).
    pub fn with_share(mut self, share: Share) -> Coordinator {
        self.share = Some(share);
        self
    }

    /// Takes the group when it is free (or expired); else becomes a standby. A
    /// transient storage fault also makes a standby (it keeps polling); only what
    /// waiting cannot fix is an error: a refused credential, a missing container,
    /// an unusable manifest or snapshot.
    pub async fn start(self) -> Result<Started, CoordinateError> {
        let group = self.settings.layout.group().to_owned();
        let observed = match ownership::observe(&self.client, &self.partitions).await {
            Ok(observed) => observed,
            Err(e) if e.is_transient() => {
                tracing::warn!("group {group}: reading the ownership: {e}; standing by");
                Vec::new()
            }
            Err(e) => return Err(e.into()),
        };
        if !observed.is_empty() {
            match self.try_take(&observed, false).await {
                Ok(Some(active)) => return Ok(Started::Active(Box::new(active))),
                Ok(None) | Err(CoordinateError::Lost(_)) => {}
                Err(e) if e.is_transient() => {
                    tracing::warn!("group {group}: taking the group: {e}; standing by");
                }
                Err(e) => return Err(e),
            }
        }
        self.set_role(Role::Standby);
        Ok(Started::Standby(Standby::new(self, observed)))
    }

    /// Claims and activates when every partition is claimable (and, in balanced
    /// mode, the share allows it, or the partition is `overdue`); `None` when
    /// another owner holds one or wins the race.
    async fn try_take(
        &self,
        observed: &[Observed],
        overdue: bool,
    ) -> Result<Option<Active>, CoordinateError> {
        let s = &self.settings;
        if !observed
            .iter()
            .all(|o| o.claimable(&s.owner_id, s.ownership_expiry))
        {
            return Ok(None);
        }
        let group = s.layout.group();
        if let Some(share) = &self.share {
            if !share.reserve(group, overdue) {
                return Ok(None);
            }
        }
        let taken = self.claim_and_activate(observed).await;
        if let (Some(share), false) = (&self.share, matches!(taken, Ok(Some(_)))) {
            share.release(group);
        }
        taken
    }

    async fn claim_and_activate(
        &self,
        observed: &[Observed],
    ) -> Result<Option<Active>, CoordinateError> {
        let s = &self.settings;
        match ownership::claim_all(&self.client, observed, &s.owner_id).await? {
            Claim::Lost { blob } => {
                tracing::info!(
                    "group {}: another instance claimed {blob} first",
                    s.layout.group()
                );
                Ok(None)
            }
            Claim::Taken(held) => self.activate(held).await.map(Some),
        }
    }

    async fn activate(&self, held: Vec<Held>) -> Result<Active, CoordinateError> {
        let s = &self.settings;
        let deadline = Deadline::new(ownership::deadline(
            &held,
            s.ownership_expiry,
            s.safety_margin,
        ));
        let (tx, rx) = watch::channel(FenceState::Open);
        let state = Arc::new(tx);
        let cancel = CancellationToken::new();
        let (added, added_rx) = tokio::sync::mpsc::unbounded_channel();
        // Renew from now on: loading a large snapshot must not cost the ownership.
        let lease = lease::Lease {
            client: self.client.clone(),
            settings: s.clone(),
            held,
            state: state.clone(),
            deadline: deadline.clone(),
            metrics: self.metrics.clone(),
            added: added_rx,
        };
        let task = tokio::spawn(lease.run(cancel.clone()));
        let activated = GroupStore::activate(
            self.client.clone(),
            s.clone(),
            self.clock.clone(),
            &self.partitions,
        )
        .await;
        let (store, resume) = match activated {
            Ok(found) => found,
            Err(e) => {
                cancel.cancel();
                if let Ok(held) = task.await {
                    ownership::release(&self.client, &held, &s.owner_id).await;
                }
                return Err(e);
            }
        };
        tracing::info!(
            "group {}: active as {} under epoch {}",
            s.layout.group(),
            s.owner_id,
            store.epoch()
        );
        if let Some(m) = &self.metrics {
            m.epoch(store.epoch());
            m.held(self.partitions.len());
            m.fence(&FenceState::Open);
        }
        self.set_role(Role::Active);
        Ok(Active {
            client: self.client.clone(),
            settings: s.clone(),
            partitions: self.partitions.clone(),
            store,
            resume: Some(resume),
            fence: Fence::new(rx, deadline),
            state,
            lease: Some(task),
            added,
            cancel,
            metrics: self.metrics.clone(),
        })
    }

    fn set_role(&self, role: Role) {
        if let Some(m) = &self.metrics {
            m.role(role);
        }
    }
}
