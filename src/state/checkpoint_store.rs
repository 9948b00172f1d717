//! The store the live pipeline commits its checkpoints to, behind one small trait:
//! the local redb file for a single instance ([`StateStore`]), or the coordination
//! container in Blob Storage for several (`app::live_coordination`), so the pipeline
//! thread does not know which.
//!
//! A local commit either works or fails for good (a disk that cannot write: stop
//! rather than acknowledge what is not durable). A remote one can also be
//! *deferred* (the storage service did not answer: the previous commit stands, try
//! again at the next interval) or find that this instance no longer owns what it
//! commits ([`StateError::Lost`]: stop at once, write nothing more).

use std::collections::BTreeMap;

use super::{Checkpoint, StateError, StateStore};

/// What became of a commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommitOutcome {
    /// Durable.
    Committed,
    /// Not written this time, for the reason given; the previous commit stands.
    Deferred(String),
}

/// Where checkpoints go.
pub trait CheckpointStore: Send {
    /// Commits `checkpoint`. `offsets` maps partition keys to the offset of the
    /// event at their `resume_after`, where known (for the standard checkpoint
    /// blobs other Event Hubs tools read).
    fn commit(
        &mut self,
        checkpoint: &Checkpoint,
        offsets: &BTreeMap<String, String>,
    ) -> Result<CommitOutcome, StateError>;

    /// Why this process may no longer act for what it commits (its ownership is
    /// lost), once that is so.
    fn lost(&self) -> Option<String> {
        None
    }
}

impl CheckpointStore for StateStore {
    fn commit(
        &mut self,
        checkpoint: &Checkpoint,
        _offsets: &BTreeMap<String, String>,
    ) -> Result<CommitOutcome, StateError> {
        StateStore::commit(self, checkpoint)?;
        Ok(CommitOutcome::Committed)
    }
}
