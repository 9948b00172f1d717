//! What `kvwatch run`'s pipeline thread tells the rest of the process: its status
//! (watched by tests and the closing message), why it stopped, and why it failed.
//! Split from `live_pipeline`, which runs the loop these describe.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::pipeline::{Happening, Observer, PipelineError};
use crate::state::{PartitionPosition, StateError};

/// What a running `kvwatch run` has done so far (tests and the closing message
/// watch it through a `watch` channel).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LiveStatus {
    /// Partitions whose reader has started.
    pub started: usize,
    /// Partitions still read by this process.
    pub owned: usize,
    /// Partitions taken over by another reader.
    pub lost: usize,
    /// Bodies taken.
    pub bodies: u64,
    /// Records found in them.
    pub records: u64,
    /// Records refused (malformed).
    pub refused: u64,
    /// Events skipped because a restored checkpoint had processed them.
    pub skipped: u64,
    /// Alerts handed to the sink.
    pub alerts: u64,
    /// Checkpoints committed.
    pub checkpoints: u64,
    /// Checkpoints the store could not write at their time (the storage service
    /// did not answer); the next interval tries again.
    pub deferred: u64,
    /// Gaps found (events a partition no longer had).
    pub gaps: u64,
    /// Events skipped in those gaps.
    pub gap_events: u64,
    /// Hubs listed.
    pub hubs_listed: usize,
    /// With `[coordination]`: standing by for the group.
    pub standby: bool,
    /// With `[coordination]`: the epoch this instance holds the group under.
    pub epoch: Option<u64>,
    /// The watermark.
    pub watermark: Option<DateTime<Utc>>,
    /// The positions of the last checkpoint, by partition key.
    pub positions: BTreeMap<String, PartitionPosition>,
}

/// Why the pipeline thread stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoopEnd {
    /// The readers stopped (shutdown): the final checkpoint is written.
    Drained,
    /// Every partition was taken over by other readers.
    AllLost,
    /// The coordination ownership was lost (taken over, or not renewed in time):
    /// nothing more was written.
    OwnershipLost,
    /// With `[coordination]`: every partition failed to reach Event Hubs for
    /// `hand_over_after`; the final checkpoint is written and the group released,
    /// so a standby that can reach the hubs takes over.
    HandedOver,
    /// Balanced mode: the instance held more than its fair share; the final
    /// checkpoint is written and the partition released for another instance.
    Rebalanced,
}

/// Why the pipeline thread failed.
#[derive(Debug, thiserror::Error)]
pub enum LoopError {
    /// The pipeline failed (the sink could not take or commit alerts).
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    /// The checkpoint could not be written.
    #[error(transparent)]
    State(#[from] StateError),
    /// The partitions cannot be read as configured.
    #[error("{0}")]
    Source(String),
}

/// Counts alerts for [`LiveStatus::alerts`].
pub struct AlertCounter(pub Arc<AtomicU64>);

impl Observer for AlertCounter {
    fn observe(&mut self, what: &Happening<'_>) {
        if matches!(what, Happening::Alerted { .. }) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }
}
