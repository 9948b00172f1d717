//! The manifest: the single commit point of an ownership group, and its fencing
//! token.
//!
//! One small JSON blob per group says which snapshot holds the state, at which
//! commit, written by which owner under which epoch. It is only ever replaced with
//! `If-Match` on the tag its writer last saw, so exactly one writer wins each step:
//! a new owner raises the epoch on taking over, and from then on every write of the
//! old owner gets 412 — the old owner is fenced even if it does not know yet. The
//! epoch is also the owner level the new owner's Event Hubs receivers claim with,
//! so the service disconnects the old owner's receivers as well. The `positions`
//! summary is for people and other tools; kvwatch's own positions live in the
//! snapshot.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::blob::{BlobClient, BlobError, Condition, ETag, Metadata};
use super::layout::{GroupLayout, FORMAT};

/// The manifest format this build writes and reads.
pub const MANIFEST_FORMAT: &str = "kvwatch-coordination/1";
/// The largest manifest read (it is small: a few hundred bytes per partition).
const MAX_MANIFEST_BYTES: u64 = 4 << 20;

/// A partition's position as the standard checkpoint blob records it: the last
/// event handled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MirrorPosition {
    /// Its sequence number.
    pub sequence_number: i64,
    /// Its offset, as the service gave it.
    pub offset: String,
}

/// The snapshot a commit points at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SnapshotRef {
    /// The blob.
    pub name: String,
    /// The hex SHA-256 of its bytes.
    pub sha256: String,
    /// Its size in bytes.
    pub bytes: u64,
    /// Its format (`kvwatch-state/1`).
    pub format: String,
}

/// The manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Always [`MANIFEST_FORMAT`].
    pub format: String,
    /// The ownership group.
    pub group: String,
    /// Raised by one at every takeover: the fencing token and the Event Hubs owner
    /// level.
    pub epoch: u64,
    /// Who wrote it.
    pub owner_id: String,
    /// Raised by one at every commit (kept across takeovers).
    pub commit: u64,
    /// When it was written (the writer's clock; informational).
    pub written_at: DateTime<Utc>,
    /// The state, once a commit wrote one.
    pub snapshot: Option<SnapshotRef>,
    /// The last handled position of each partition, by partition key.
    pub positions: BTreeMap<String, MirrorPosition>,
}

/// Why the manifest cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// Reading or writing it failed.
    #[error(transparent)]
    Blob(#[from] BlobError),
    /// It is not a manifest this kvwatch can read.
    #[error("manifest {blob}: {message}")]
    Unreadable {
        /// The blob.
        blob: String,
        /// What is wrong.
        message: String,
    },
}

/// Reads the group's manifest and its tag; `None` when there is none yet.
pub async fn load(
    client: &BlobClient,
    layout: &GroupLayout,
) -> Result<Option<(Manifest, ETag)>, ManifestError> {
    let blob = layout.manifest_blob();
    let downloaded = match client.get(&blob, MAX_MANIFEST_BYTES).await {
        Ok(d) => d,
        Err(BlobError::NotFound { .. }) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let manifest = parse(&downloaded.body, &blob, layout.group())?;
    Ok(Some((manifest, downloaded.props.etag)))
}

/// Parses a manifest; the format is checked before the fields, so a newer
/// kvwatch's manifest is reported as such rather than as unknown fields.
pub fn parse(bytes: &[u8], blob: &str, group: &str) -> Result<Manifest, ManifestError> {
    let unreadable = |message: String| ManifestError::Unreadable {
        blob: blob.to_owned(),
        message,
    };
    #[derive(Deserialize)]
    struct Format {
        format: Option<String>,
    }
    let format: Format =
        serde_json::from_slice(bytes).map_err(|e| unreadable(format!("not JSON: {e}")))?;
    match format.format.as_deref() {
        Some(MANIFEST_FORMAT) => {}
        Some(other) => {
            return Err(unreadable(format!(
                "format {other:?} is unknown to this kvwatch (it reads {MANIFEST_FORMAT}); upgrade kvwatch"
            )))
        }
        None => return Err(unreadable("no format field: not a kvwatch manifest".into())),
    }
    let manifest: Manifest =
        serde_json::from_slice(bytes).map_err(|e| unreadable(e.to_string()))?;
    if manifest.group != group {
        return Err(unreadable(format!(
            "it belongs to group {:?}, not {group:?}",
            manifest.group
        )));
    }
    Ok(manifest)
}

/// Writes the manifest under `condition`; returns its new tag.
pub async fn store(
    client: &BlobClient,
    layout: &GroupLayout,
    manifest: &Manifest,
    condition: &Condition,
) -> Result<ETag, BlobError> {
    let body = serde_json::to_vec_pretty(manifest).map_err(|e| BlobError::Setup {
        message: format!("cannot encode the manifest: {e}"),
    })?;
    let metadata = Metadata::from([(FORMAT.to_owned(), MANIFEST_FORMAT.to_owned())]);
    client
        .put(
            &layout.manifest_blob(),
            body,
            "application/json",
            &metadata,
            condition,
        )
        .await
        .map(|w| w.etag)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest() -> Manifest {
        Manifest {
            format: MANIFEST_FORMAT.into(),
            group: "g".into(),
            epoch: 3,
            owner_id: "host-1-ab".into(),
            commit: 41,
            written_at: DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default(),
            snapshot: None,
            positions: BTreeMap::from([(
                "ns/h/cg/0".into(),
                MirrorPosition {
                    sequence_number: 9,
                    offset: "4096".into(),
                },
            )]),
        }
    }

    #[test]
    fn round_trip_and_every_refusal_names_the_blob() {
        let bytes = serde_json::to_vec(&manifest()).unwrap();
        assert_eq!(parse(&bytes, "m", "g").unwrap(), manifest());
        let newer = String::from_utf8(bytes.clone())
            .unwrap()
            .replace(MANIFEST_FORMAT, "kvwatch-coordination/2");
        let extra = String::from_utf8(bytes.clone())
            .unwrap()
            .replacen('{', "{\"surprise\":1,", 1);
        let table = [
            (b"not json".to_vec(), "g", "not JSON"),
            (b"{\"epoch\":1}".to_vec(), "g", "no format field"),
            (newer.into_bytes(), "g", "unknown to this kvwatch"),
            (extra.into_bytes(), "g", "unknown field `surprise`"),
            (bytes, "other", "belongs to group \"g\""),
        ];
        for (bytes, group, want) in table {
            let err = parse(&bytes, "kvwatch/g/manifest", group)
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("kvwatch/g/manifest") && err.contains(want),
                "{err}"
            );
        }
    }
}
