//! The Event Hubs source of `kvwatch run` and `kvwatch route`: one reader task per
//! partition, feeding event bodies into one bounded channel.
//!
//! Azure Monitor diagnostic settings stream Key Vault audit logs into an Event Hub,
//! each event body a `{"records":[…]}` envelope. [`client`] builds the SDK clients
//! from the configuration (credential, endpoint, retries); [`ownership`] decides which
//! partitions this process reads; [`reader`] reads one partition: it reconnects with
//! backoff, skips what the SDK delivers twice after its own reconnects (by sequence
//! number), stops when another reader with a higher owner level takes the partition,
//! and blocks when the channel is full, so the pipeline's pace holds the service back.
//! [`progress`] turns what the partitions delivered into the watermark and into the
//! positions a checkpoint may record; [`discovery`] lists each hub on its own task
//! and starts a reader per partition, added ones included; [`gaps`] finds events
//! the service no longer had when a reader came for them.
//!
//! What goes through the channel is a [`SourceMsg`]; the consumer of the channel (the
//! live pipeline thread, or route's publisher) decides when a position is safe.

pub mod client;
pub mod discovery;
pub mod gaps;
pub mod ownership;
pub mod progress;
pub mod reader;
pub mod watermark;

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

use chrono::{DateTime, Utc};

pub use client::{Auth, ClientError, Connector};
pub use discovery::{read_hubs, Admit, Discovery, KnownPosition, WatchedHub};
pub use gaps::Gap;
pub use ownership::{ask_partitions, select_wanted, PartitionSlot};
pub use progress::{Progress, TakenBody};
pub use reader::{read_partition, ReaderSettings};
pub use watermark::{Verdict, WatermarkRule};

/// One event body from a partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Body {
    /// The partition's index among the partitions this process reads.
    pub slot: usize,
    /// Its sequence number in the partition.
    pub sequence: i64,
    /// Its offset, as the service gave it (the standard checkpoint blobs record it).
    pub offset: Option<String>,
    /// When the service enqueued it.
    pub enqueued: Option<DateTime<Utc>>,
    /// The body bytes (usually a `{"records":[…]}` envelope).
    pub bytes: Vec<u8>,
}

/// What partition readers tell the channel's consumer.
#[derive(Debug)]
pub enum SourceMsg {
    /// A reader is about to attach for the first time. `resume_after` is the
    /// sequence number its first event follows, when known (a checkpoint, or the
    /// partition's last enqueued event when starting from `latest`).
    Started {
        /// The partition.
        slot: usize,
        /// The position before the first event it will deliver.
        resume_after: Option<i64>,
    },
    /// A partition to read (listed at start, or added to its hub since): its reader
    /// starts after this message, on slot `slot` (the next one after the slots
    /// known so far).
    Added {
        /// Its slot.
        slot: usize,
        /// The partition.
        partition: PartitionSlot,
        /// Shared with its reader.
        activity: std::sync::Arc<Activity>,
        /// Its restored position, when a checkpoint had one.
        known: Option<KnownPosition>,
    },
    /// Hub `hub` (its `[[eventhubs.hubs]]` index) was listed: every partition of its
    /// first listing was `Added`.
    Listed {
        /// The hub.
        hub: usize,
    },
    /// The partitions cannot be read as configured (a listed partition id the hub
    /// does not have): stop.
    Failed(String),
    /// An event body, in partition order; never a sequence number twice.
    Body(Body),
    /// Events the partition no longer had when its reader came for them (already
    /// logged and counted by the reader).
    Gap {
        /// The partition.
        slot: usize,
        /// What was skipped.
        gap: Gap,
    },
    /// The partition is no longer read by this process: another reader took it with
    /// a higher owner level, or refused this one.
    Lost {
        /// The partition.
        slot: usize,
        /// What the service said.
        reason: String,
    },
    /// Nothing happened: a chance to look at the wall clock (idle partitions,
    /// checkpoint intervals).
    Tick,
}

/// Whether a partition is active, shared by its reader and the channel's consumer:
/// when the reader last took an event from the service, whether it is waiting
/// for room in the channel (a reader held back by backpressure is not idle), and
/// since when it has failed to reach the service (it is reconnecting).
#[derive(Debug)]
pub struct Activity {
    last_event_micros: AtomicI64,
    waiting: AtomicBool,
    /// When the reader's connection failed and has not come back (0: connected).
    down_since_micros: AtomicI64,
}

impl Activity {
    /// Activity as of `now` (a reader starting counts as activity).
    pub fn new(now: DateTime<Utc>) -> Self {
        Activity {
            last_event_micros: AtomicI64::new(now.timestamp_micros()),
            waiting: AtomicBool::new(false),
            down_since_micros: AtomicI64::new(0),
        }
    }

    /// The reader's attempt failed at `now`; it keeps the first failure's time
    /// until [`Activity::connected`].
    pub fn disconnected(&self, now: DateTime<Utc>) {
        let _ = self.down_since_micros.compare_exchange(
            0,
            now.timestamp_micros().max(1),
            Ordering::AcqRel,
            Ordering::Acquire,
        );
    }

    /// The reader has a receiver on the partition again.
    pub fn connected(&self) {
        self.down_since_micros.store(0, Ordering::Release);
    }

    /// How long the reader has failed to reach the service as of `now` (`None`:
    /// connected).
    pub fn down_for(&self, now: DateTime<Utc>) -> Option<chrono::Duration> {
        match self.down_since_micros.load(Ordering::Acquire) {
            0 => None,
            since => DateTime::from_timestamp_micros(since)
                .map(|t| (now - t).max(chrono::Duration::zero())),
        }
    }

    /// The reader took an event (or started) at `now`.
    pub fn touch(&self, now: DateTime<Utc>) {
        self.last_event_micros
            .fetch_max(now.timestamp_micros(), Ordering::AcqRel);
    }

    /// The reader is (or no longer is) waiting for room in the channel.
    pub fn set_waiting(&self, waiting: bool) {
        self.waiting.store(waiting, Ordering::Release);
    }

    /// Whether the partition has been quiet for `idle_after` as of `now`, with
    /// nothing waiting to be taken.
    pub fn is_idle(&self, now: DateTime<Utc>, idle_after: chrono::Duration) -> bool {
        let last = DateTime::from_timestamp_micros(self.last_event_micros.load(Ordering::Acquire))
            .unwrap_or(now);
        !self.waiting.load(Ordering::Acquire) && now - last >= idle_after
    }
}

/// Sends [`SourceMsg::Tick`] every `every` until `cancel` fires or the channel's
/// consumer is gone (ticks are dropped while the channel is full).
pub async fn ticks(
    tx: tokio::sync::mpsc::Sender<SourceMsg>,
    every: std::time::Duration,
    cancel: tokio_util::sync::CancellationToken,
) {
    let mut interval = tokio::time::interval(every);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            _ = interval.tick() => {
                if let Err(tokio::sync::mpsc::error::TrySendError::Closed(_)) = tx.try_send(SourceMsg::Tick) {
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_partition_is_idle_when_quiet_and_not_held_back() {
        let t0 = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let a = Activity::new(t0);
        let minute = chrono::Duration::minutes(1);
        assert!(!a.is_idle(t0 + chrono::Duration::seconds(59), minute));
        assert!(a.is_idle(t0 + minute, minute));
        a.set_waiting(true);
        assert!(
            !a.is_idle(t0 + minute * 5, minute),
            "held back by backpressure"
        );
        a.set_waiting(false);
        a.touch(t0 + minute * 5);
        a.touch(t0);
        assert!(
            !a.is_idle(t0 + minute * 5, minute),
            "touches never go back in time"
        );
    }
}
