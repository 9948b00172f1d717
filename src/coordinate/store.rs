//! The group's state in the container: taking over (raise the epoch, load the last
//! snapshot) and committing (snapshot, then manifest, then the standard checkpoint
//! mirrors, then old snapshots collected).
//!
//! The manifest write is the commit: a snapshot nobody points at is harmless, a
//! manifest never points at a snapshot that was not fully written, and the
//! checkpoint mirrors only ever trail it. Snapshot names carry our epoch, which is
//! ours alone once the manifest says so, so a snapshot write needs no condition: the
//! only blob of that name can be our own earlier attempt whose manifest write was
//! lost, and after an ambiguous manifest write (an error after sending) the next
//! commit first re-reads the manifest to learn whether it landed.

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::future::join_all;

use super::blob::{BlobClient, BlobError, Condition, ETag, Metadata};
use super::fence::{Fence, FenceState, LostReason};
use super::layout::{PartitionRef, FORMAT, OFFSET, SEQUENCE_NUMBER};
use super::manifest::{self, Manifest, MirrorPosition, SnapshotRef, MANIFEST_FORMAT};
use super::snapshot::{self, Sections, SNAPSHOT_FORMAT};
use super::{CoordinateError, CoordinatorSettings};
use crate::pipeline::clock::Clock;

/// Where a new owner resumes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resume {
    /// kvwatch's last commit.
    Snapshot(Restored),
    /// No kvwatch state yet: the standard checkpoints found (written by another
    /// Event Hubs tool, or none), by partition.
    Checkpoints(BTreeMap<PartitionRef, MirrorPosition>),
}

/// The state of the last commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restored {
    /// The commit number.
    pub commit: u64,
    /// The snapshot blob it came from.
    pub snapshot: String,
    /// Its sections, checked against the manifest's hash.
    pub sections: Sections,
    /// The committed positions by partition key.
    pub positions: BTreeMap<String, MirrorPosition>,
    /// The owner that committed it.
    pub committed_by: String,
}

/// What a commit wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Committed {
    /// The commit number.
    pub commit: u64,
    /// The snapshot blob.
    pub snapshot: String,
    /// Its size in bytes (compressed).
    pub bytes: u64,
}

/// The group's manifest as this owner last wrote it.
pub(crate) struct GroupStore {
    client: BlobClient,
    settings: Arc<CoordinatorSettings>,
    clock: Arc<dyn Clock>,
    manifest: Manifest,
    etag: ETag,
    /// A manifest write failed after it may have been sent: re-read first.
    resync: bool,
    mirrored: BTreeMap<PartitionRef, MirrorPosition>,
}

/// Attempts at raising the epoch when the old owner commits at the same moment.
const TAKEOVER_ATTEMPTS: usize = 5;

impl GroupStore {
    /// Takes the group over: reads the manifest and its snapshot (checked), then
    /// writes the manifest back under the next epoch.
    pub(crate) async fn activate(
        client: BlobClient,
        settings: Arc<CoordinatorSettings>,
        clock: Arc<dyn Clock>,
        partitions: &[PartitionRef],
    ) -> Result<(GroupStore, Resume), CoordinateError> {
        let layout = &settings.layout;
        for _ in 0..TAKEOVER_ATTEMPTS {
            let found = manifest::load(&client, layout).await?;
            let (previous, condition) = match &found {
                Some((m, etag)) => (Some(m), Condition::IfMatch(etag.clone())),
                None => (None, Condition::IfAbsent),
            };
            let resume = match previous.and_then(|m| m.snapshot.as_ref().map(|s| (m, s))) {
                Some((m, s)) => Resume::Snapshot(load_snapshot(&client, &settings, m, s).await?),
                None => Resume::Checkpoints(read_checkpoints(&client, partitions).await?),
            };
            let next = Manifest {
                format: MANIFEST_FORMAT.to_owned(),
                group: layout.group().to_owned(),
                epoch: previous.map_or(1, |m| m.epoch + 1),
                owner_id: settings.owner_id.clone(),
                commit: previous.map_or(0, |m| m.commit),
                written_at: clock.now(),
                snapshot: previous.and_then(|m| m.snapshot.clone()),
                positions: previous.map(|m| m.positions.clone()).unwrap_or_default(),
            };
            match manifest::store(&client, layout, &next, &condition).await {
                Ok(etag) => {
                    let store = GroupStore {
                        client,
                        settings: settings.clone(),
                        clock,
                        manifest: next,
                        etag,
                        resync: false,
                        mirrored: BTreeMap::new(),
                    };
                    return Ok((store, resume));
                }
                // The old owner committed (or another claimant raced us): read again.
                Err(e) if e.is_lost_race() => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(CoordinateError::Lost(LostReason::Fenced {
            blob: layout.manifest_blob(),
        }))
    }

    pub(crate) fn epoch(&self) -> u64 {
        self.manifest.epoch
    }

    pub(crate) fn commit_number(&self) -> u64 {
        self.manifest.commit
    }

    /// Commits `sections` and `positions` (merged into the previous ones).
    pub(crate) async fn commit(
        &mut self,
        sections: Sections,
        positions: &BTreeMap<PartitionRef, MirrorPosition>,
        fence: &Fence,
    ) -> Result<Committed, CoordinateError> {
        check(fence)?;
        if self.resync {
            self.resync_manifest().await?;
        }
        let layout = &self.settings.layout;
        let commit = self.manifest.commit + 1;
        let name = layout.snapshot_blob(self.manifest.epoch, commit);
        let limit = self.settings.max_snapshot_bytes;
        let blob = name.clone();
        let bytes = tokio::task::spawn_blocking(move || snapshot::encode(&sections, &blob, limit))
            .await
            .map_err(|e| CoordinateError::Setup(format!("encoding the snapshot failed: {e}")))??;
        let snapshot_ref = SnapshotRef {
            name: name.clone(),
            sha256: snapshot::sha256_hex(&bytes),
            bytes: bytes.len() as u64,
            format: SNAPSHOT_FORMAT.to_owned(),
        };
        check(fence)?;
        let metadata = Metadata::from([(FORMAT.to_owned(), SNAPSHOT_FORMAT.to_owned())]);
        self.client
            .put(
                &name,
                bytes,
                "application/octet-stream",
                &metadata,
                &Condition::Always,
            )
            .await?;
        let mut next = self.manifest.clone();
        next.commit = commit;
        next.written_at = self.clock.now();
        next.snapshot = Some(snapshot_ref.clone());
        for (p, pos) in positions {
            next.positions.insert(p.key(), pos.clone());
        }
        check(fence)?;
        let condition = Condition::IfMatch(self.etag.clone());
        match manifest::store(&self.client, layout, &next, &condition).await {
            Ok(etag) => {
                self.etag = etag;
                self.manifest = next;
            }
            Err(BlobError::PreconditionFailed { .. } | BlobError::NotFound { .. }) => {
                return Err(CoordinateError::Lost(LostReason::Fenced {
                    blob: layout.manifest_blob(),
                }))
            }
            Err(e) => {
                self.resync = true;
                return Err(e.into());
            }
        }
        self.mirror(positions, fence).await;
        self.collect_snapshots(fence).await;
        Ok(Committed {
            commit,
            snapshot: name,
            bytes: snapshot_ref.bytes,
        })
    }

    /// After an ambiguous manifest write: adopt the manifest if it is still ours.
    async fn resync_manifest(&mut self) -> Result<(), CoordinateError> {
        let blob = self.settings.layout.manifest_blob();
        match manifest::load(&self.client, &self.settings.layout).await? {
            Some((m, etag))
                if m.epoch == self.manifest.epoch && m.owner_id == self.manifest.owner_id =>
            {
                self.manifest = m;
                self.etag = etag;
                self.resync = false;
                Ok(())
            }
            _ => Err(CoordinateError::Lost(LostReason::Fenced { blob })),
        }
    }

    /// Writes the standard checkpoint blobs that changed (unconditionally, as
    /// every Event Hubs checkpoint store does). Failures wait for the next commit.
    async fn mirror(&mut self, positions: &BTreeMap<PartitionRef, MirrorPosition>, fence: &Fence) {
        let changed: Vec<(&PartitionRef, &MirrorPosition)> = positions
            .iter()
            .filter(|(p, pos)| self.mirrored.get(*p) != Some(*pos))
            .collect();
        if changed.is_empty() || !fence.permits() {
            return;
        }
        let client = &self.client;
        let writes = changed.into_iter().map(|(p, pos)| async move {
            let blob = p.checkpoint_blob();
            let metadata = Metadata::from([
                (SEQUENCE_NUMBER.to_owned(), pos.sequence_number.to_string()),
                (OFFSET.to_owned(), pos.offset.clone()),
            ]);
            let mut result = client
                .set_metadata(&blob, &metadata, &Condition::Always)
                .await;
            if let Err(BlobError::NotFound { .. }) = result {
                let empty = "application/octet-stream";
                result = match client
                    .put(&blob, Vec::new(), empty, &metadata, &Condition::IfAbsent)
                    .await
                {
                    Err(BlobError::Conflict { .. }) => {
                        client
                            .set_metadata(&blob, &metadata, &Condition::Always)
                            .await
                    }
                    other => other,
                };
            }
            (p, pos, blob, result)
        });
        for (p, pos, blob, result) in join_all(writes).await {
            match result {
                Ok(_) => {
                    self.mirrored.insert(p.clone(), pos.clone());
                }
                Err(e) => {
                    tracing::warn!("checkpoint mirror {blob}: {e}; retried at the next commit");
                }
            }
        }
    }

    /// Deletes the group's snapshots older than the newest `snapshots_kept` at or
    /// below the one just committed (never a newer one: that could be a newer
    /// owner's).
    async fn collect_snapshots(&self, fence: &Fence) {
        let layout = &self.settings.layout;
        let newest = (self.manifest.epoch, self.manifest.commit);
        let listed = match self.client.list(&layout.snapshot_prefix()).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!("listing old snapshots: {e}; collected at a later commit");
                return;
            }
        };
        let mut ours: Vec<((u64, u64), _)> = listed
            .into_iter()
            .filter_map(|b| layout.parse_snapshot_blob(&b.name).map(|k| (k, b)))
            .filter(|(k, _)| *k <= newest)
            .collect();
        ours.sort_by_key(|b| std::cmp::Reverse(b.0));
        for (_, old) in ours.into_iter().skip(self.settings.snapshots_kept) {
            if !fence.permits() {
                return;
            }
            match self
                .client
                .delete(&old.name, &Condition::IfMatch(old.etag.clone()))
                .await
            {
                Ok(()) | Err(BlobError::NotFound { .. } | BlobError::PreconditionFailed { .. }) => {
                }
                Err(e) => tracing::warn!("deleting old snapshot {}: {e}", old.name),
            }
        }
    }
}

fn check(fence: &Fence) -> Result<(), CoordinateError> {
    match fence.state() {
        FenceState::Lost(reason) => Err(CoordinateError::Lost(reason)),
        _ => Ok(()),
    }
}

async fn load_snapshot(
    client: &BlobClient,
    settings: &CoordinatorSettings,
    manifest: &Manifest,
    snapshot: &SnapshotRef,
) -> Result<Restored, CoordinateError> {
    let limit = settings.max_snapshot_bytes;
    let downloaded = client.get(&snapshot.name, limit).await?;
    let sections = snapshot::decode(
        &downloaded.body,
        &snapshot.name,
        Some(&snapshot.sha256),
        limit,
    )?;
    Ok(Restored {
        commit: manifest.commit,
        snapshot: snapshot.name.clone(),
        sections,
        positions: manifest.positions.clone(),
        committed_by: manifest.owner_id.clone(),
    })
}

/// The standard checkpoints of the partitions, where they exist and parse.
async fn read_checkpoints(
    client: &BlobClient,
    partitions: &[PartitionRef],
) -> Result<BTreeMap<PartitionRef, MirrorPosition>, BlobError> {
    let heads = partitions.iter().map(|p| async move {
        let blob = p.checkpoint_blob();
        match client.properties(&blob).await {
            Ok(props) => {
                let sequence = props
                    .metadata
                    .get(SEQUENCE_NUMBER)
                    .and_then(|s| s.parse().ok());
                let offset = props.metadata.get(OFFSET).filter(|o| !o.is_empty());
                match (sequence, offset) {
                    (Some(sequence_number), Some(offset)) => Ok(Some((
                        p.clone(),
                        MirrorPosition {
                            sequence_number,
                            offset: offset.clone(),
                        },
                    ))),
                    _ => {
                        tracing::warn!(
                            "checkpoint {blob}: no usable sequencenumber and offset; ignored"
                        );
                        Ok(None)
                    }
                }
            }
            Err(BlobError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    });
    let found: Result<Vec<_>, BlobError> = join_all(heads).await.into_iter().collect();
    Ok(found?.into_iter().flatten().collect())
}
