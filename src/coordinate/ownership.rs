//! Partition ownership in the standard blobs: who holds what (judged on the storage
//! service's clock), the ordered all-or-nothing claim, renewal and release.
//!
//! An ownership group is owned whole, because detector state and the watermark span
//! all its partitions. Claims go in sorted order and stop at the first lost race,
//! giving back what was taken, so two instances starting together cannot each end
//! up with half. Ages are `Date − Last-Modified` of the same answer, both from the
//! service, so this host's clock never decides whether an owner expired. Every write
//! is conditioned on the tag last seen (`If-Match`, or `If-None-Match: *` for a
//! blob that does not exist yet): a race is lost with a 409 or a 412, never won twice.

use std::time::Duration;

use futures::future::join_all;
use tokio::time::Instant;

use super::blob::{BlobClient, BlobError, Condition, ETag, Metadata};
use super::layout::{PartitionRef, OWNER_ID};

/// Who holds a partition, as last observed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Holder {
    /// No ownership blob yet.
    Absent,
    /// The blob exists with an empty (or no) `ownerid`: released.
    Released {
        /// Its tag.
        etag: ETag,
    },
    /// Owned.
    Owned {
        /// The owner's id.
        owner: String,
        /// Its tag.
        etag: ETag,
        /// Time since its last renewal, on the service's clock.
        age: Duration,
    },
}

/// One ownership blob as observed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    /// The partition.
    pub partition: PartitionRef,
    /// Who holds it.
    pub holder: Holder,
}

impl Observed {
    /// Whether `me` may claim it now: absent, released, already mine, or expired.
    pub fn claimable(&self, me: &str, expiry: Duration) -> bool {
        match &self.holder {
            Holder::Absent | Holder::Released { .. } => true,
            Holder::Owned { owner, age, .. } => owner == me || *age >= expiry,
        }
    }

    /// The live owner, when another one holds it.
    pub fn other_owner(&self, me: &str, expiry: Duration) -> Option<&str> {
        match &self.holder {
            Holder::Owned { owner, age, .. } if owner != me && *age < expiry => Some(owner),
            _ => None,
        }
    }
}

/// Reads every ownership blob (in parallel).
pub async fn observe(
    client: &BlobClient,
    partitions: &[PartitionRef],
) -> Result<Vec<Observed>, BlobError> {
    let heads = partitions.iter().map(|p| async move {
        let blob = p.ownership_blob();
        let holder = match client.properties(&blob).await {
            Ok(props) => {
                let owner = props.metadata.get(OWNER_ID).cloned().unwrap_or_default();
                if owner.is_empty() {
                    Holder::Released { etag: props.etag }
                } else {
                    let age = (props.server_date - props.last_modified)
                        .to_std()
                        .unwrap_or(Duration::ZERO);
                    Holder::Owned {
                        owner,
                        etag: props.etag,
                        age,
                    }
                }
            }
            Err(BlobError::NotFound { .. }) => Holder::Absent,
            Err(e) => return Err(e),
        };
        Ok(Observed {
            partition: p.clone(),
            holder,
        })
    });
    join_all(heads).await.into_iter().collect()
}

/// An ownership blob this instance holds.
#[derive(Debug, Clone)]
pub struct Held {
    /// The partition.
    pub partition: PartitionRef,
    /// The blob's tag after our last write.
    pub etag: ETag,
    /// When our last successful write to it was sent (monotonic clock).
    pub sent_at: Instant,
}

/// The outcome of a claim.
#[derive(Debug)]
pub enum Claim {
    /// Every partition is ours.
    Taken(Vec<Held>),
    /// Another instance won a race on this blob; what had been taken was given back.
    Lost {
        /// The blob.
        blob: String,
    },
}

fn owner_metadata(owner: &str) -> Metadata {
    Metadata::from([(OWNER_ID.to_owned(), owner.to_owned())])
}

/// Claims every observed partition, in the order given (sorted by the caller), each
/// conditioned on what was observed. The first lost race (or error) gives back what
/// was taken.
pub async fn claim_all(
    client: &BlobClient,
    observed: &[Observed],
    me: &str,
) -> Result<Claim, BlobError> {
    let mut taken: Vec<Held> = Vec::with_capacity(observed.len());
    for o in observed {
        let blob = o.partition.ownership_blob();
        let sent_at = Instant::now();
        let write = match &o.holder {
            Holder::Absent => {
                client
                    .put(
                        &blob,
                        Vec::new(),
                        "application/octet-stream",
                        &owner_metadata(me),
                        &Condition::IfAbsent,
                    )
                    .await
            }
            Holder::Released { etag } | Holder::Owned { etag, .. } => {
                client
                    .set_metadata(
                        &blob,
                        &owner_metadata(me),
                        &Condition::IfMatch(etag.clone()),
                    )
                    .await
            }
        };
        match write {
            Ok(w) => taken.push(Held {
                partition: o.partition.clone(),
                etag: w.etag,
                sent_at,
            }),
            Err(e) => {
                // A write cut short after it was sent may have landed: give that
                // blob back too when it names us.
                if e.is_transient() {
                    if let Ok(props) = client.properties(&blob).await {
                        if props.metadata.get(OWNER_ID).map(String::as_str) == Some(me) {
                            taken.push(Held {
                                partition: o.partition.clone(),
                                etag: props.etag,
                                sent_at,
                            });
                        }
                    }
                }
                release(client, &taken, me).await;
                return if e.is_lost_race() || matches!(e, BlobError::NotFound { .. }) {
                    Ok(Claim::Lost { blob })
                } else {
                    Err(e)
                };
            }
        }
    }
    Ok(Claim::Taken(taken))
}

/// The outcome of one renewal round.
#[derive(Debug)]
pub enum Renewal {
    /// Every blob was renewed.
    Renewed,
    /// Some blob could not be renewed (a transient fault or a refusal); the others
    /// were. The ownership may still be held.
    Failed(BlobError),
    /// Another owner holds a blob now.
    Stolen {
        /// The blob.
        blob: String,
        /// Its owner now, when it could be read.
        by: Option<String>,
    },
}

/// Renews every held blob (in parallel), each conditioned on its last tag.
///
/// A 412 can also mean our own earlier write went through and only its answer was
/// lost (a cut connection): then the blob still names us, and we take its new tag
/// (keeping the older send time: we do not know when that write landed).
pub async fn renew(client: &BlobClient, held: &mut [Held], me: &str) -> Renewal {
    let writes = held.iter().map(|h| async move {
        let blob = h.partition.ownership_blob();
        let sent_at = Instant::now();
        let result = client
            .set_metadata(
                &blob,
                &owner_metadata(me),
                &Condition::IfMatch(h.etag.clone()),
            )
            .await;
        (blob, sent_at, result)
    });
    let results = join_all(writes).await;
    let mut failure = None;
    for (h, (blob, sent_at, result)) in held.iter_mut().zip(results) {
        match result {
            Ok(w) => {
                h.etag = w.etag;
                h.sent_at = sent_at;
            }
            Err(BlobError::PreconditionFailed { .. } | BlobError::NotFound { .. }) => {
                match client.properties(&blob).await {
                    Ok(props) if props.metadata.get(OWNER_ID).map(String::as_str) == Some(me) => {
                        h.etag = props.etag;
                    }
                    Ok(props) => {
                        return Renewal::Stolen {
                            blob,
                            by: props.metadata.get(OWNER_ID).cloned(),
                        }
                    }
                    Err(BlobError::NotFound { .. }) => return Renewal::Stolen { blob, by: None },
                    Err(e) => failure = Some(e),
                }
            }
            Err(e) => failure = Some(e),
        }
    }
    match failure {
        Some(e) => Renewal::Failed(e),
        None => Renewal::Renewed,
    }
}

/// The monotonic deadline of the ownership: the oldest last renewal plus the
/// expiry, minus the safety margin.
pub fn deadline(held: &[Held], expiry: Duration, safety: Duration) -> Instant {
    let oldest = held
        .iter()
        .map(|h| h.sent_at)
        .min()
        .unwrap_or_else(Instant::now);
    oldest + expiry.saturating_sub(safety)
}

/// Gives the blobs back (`ownerid=""`, conditioned on our tag). A 412 may be a
/// renewal of ours that was cut short after it was sent: when the blob still
/// names us, it is released on its new tag. Best effort: a blob that cannot be
/// released simply expires.
pub async fn release(client: &BlobClient, held: &[Held], me: &str) {
    let writes = held.iter().map(|h| async move {
        let blob = h.partition.ownership_blob();
        let free = owner_metadata("");
        let mut result = client
            .set_metadata(&blob, &free, &Condition::IfMatch(h.etag.clone()))
            .await;
        if let Err(BlobError::PreconditionFailed { .. }) = result {
            result = match client.properties(&blob).await {
                Ok(props) if props.metadata.get(OWNER_ID).map(String::as_str) == Some(me) => {
                    client
                        .set_metadata(&blob, &free, &Condition::IfMatch(props.etag))
                        .await
                }
                // Someone else's now: nothing of ours to give back.
                Ok(_) => return,
                Err(e) => Err(e),
            };
        }
        if let Err(e) = result {
            tracing::warn!("releasing {blob}: {e}; it will expire instead");
        }
    });
    join_all(writes).await;
}
