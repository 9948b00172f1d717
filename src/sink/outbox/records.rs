//! What the outbox stores and hands out: the per-sink delivery state, routes, pending
//! deliveries, a worker's scan, and the outbox's error.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::alert::Alert;

/// Why the outbox failed.
#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    /// Another process holds the database.
    #[error("outbox {}: another kvwatch process has it open (stop it, or give this one its own [outbox] path)", path.display())]
    Locked {
        /// The file.
        path: PathBuf,
    },
    /// The database could not be opened or created.
    #[error("outbox {}: {message}", path.display())]
    Open {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// A read or write failed.
    #[error("outbox storage error: {0}")]
    Storage(String),
}

macro_rules! storage_from {
    ($($t:ty),*) => {$(
        impl From<$t> for OutboxError {
            fn from(e: $t) -> Self {
                OutboxError::Storage(e.to_string())
            }
        }
    )*};
}
storage_from!(
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError,
    serde_json::Error
);

/// Where one alert stands with one sink.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveryState {
    /// The alert id (copied here so listings need not load the alert).
    pub alert_id: String,
    /// Attempts that counted so far.
    pub tries: u32,
    /// When it was enqueued (microseconds since the epoch).
    pub enqueued_at: i64,
    /// Not before this time (microseconds since the epoch).
    pub next_at: i64,
    /// Waits for the sink's digest rather than going alone.
    pub digest: bool,
    /// Given up on; kept until `kvwatch outbox retry` or `drop`.
    pub dead: bool,
    /// The last failure (redacted).
    pub last_error: Option<String>,
}

impl DeliveryState {
    /// When it was enqueued.
    pub fn enqueued(&self) -> DateTime<Utc> {
        micros(self.enqueued_at)
    }
    /// When it is due.
    pub fn next(&self) -> DateTime<Utc> {
        micros(self.next_at)
    }
}

fn micros(t: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(t).unwrap_or_default()
}

/// One sink an alert is routed to.
#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    /// The sink's name.
    pub sink: String,
    /// Goes into the sink's digest, due at this time.
    pub digest_at: Option<DateTime<Utc>>,
}

/// A delivery read back from the outbox.
#[derive(Debug, Clone)]
pub struct Pending {
    /// The sink's name.
    pub sink: String,
    /// The alert's sequence number.
    pub seq: u64,
    /// Its state.
    pub state: DeliveryState,
    /// The alert (absent only if the database was edited by hand).
    pub alert: Option<Alert>,
}

/// What a worker sees when it looks for work.
#[derive(Debug, Default)]
pub struct Scan {
    /// Due deliveries, oldest first; when a digest delivery is due, every waiting
    /// digest delivery of the sink is included.
    pub due: Vec<Pending>,
    /// When the next not-yet-due delivery falls due.
    pub next_due: Option<DateTime<Utc>>,
    /// Deliveries waiting (not dead).
    pub pending: u64,
    /// Dead-lettered deliveries.
    pub dead: u64,
    /// When the oldest waiting delivery was enqueued.
    pub oldest: Option<DateTime<Utc>>,
}
