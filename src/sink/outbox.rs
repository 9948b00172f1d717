//! The durable outbox: every alert is committed to an embedded database (redb) before
//! anything upstream is acknowledged, and stays there, per sink, until that sink's
//! receiver accepted it or it was dead-lettered.
//!
//! Tables: `alerts` (sequence → pending-sink count + the alert as JSON), `deliveries`
//! ((sink, sequence) → [`DeliveryState`]), `ids` (alert id → sequence, so an alert
//! already waiting for a sink is not queued twice) and `meta` (the next sequence).
//! Enqueues commit with `Immediate` durability (fsync); delivery results commit with
//! `Eventual` durability: a lost result only means a redelivery, which the alert id
//! (the idempotency key) lets receivers drop. Only one process opens the file at a
//! time (redb locks it).

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use redb::{Database, Durability, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

use crate::alert::Alert;

const ALERTS: TableDefinition<u64, (u32, &[u8])> = TableDefinition::new("alerts");
const DELIVERIES: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("deliveries");
const IDS: TableDefinition<&str, u64> = TableDefinition::new("ids");
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");

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
storage_from!(redb::TransactionError, redb::TableError, redb::StorageError, redb::CommitError, serde_json::Error);

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

/// Which deliveries `retry` and `drop` touch.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Only this sink.
    pub sink: Option<String>,
    /// Only this alert id.
    pub alert_id: Option<String>,
    /// Only dead-lettered deliveries.
    pub dead_only: bool,
}

impl Selection {
    fn matches(&self, sink: &str, state: &DeliveryState) -> bool {
        self.sink.as_deref().is_none_or(|s| s == sink)
            && self.alert_id.as_deref().is_none_or(|id| id == state.alert_id)
            && (!self.dead_only || state.dead)
    }
}

/// The outbox database.
pub struct Outbox {
    db: Database,
    path: PathBuf,
}

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Outbox({})", self.path.display())
    }
}

impl Outbox {
    /// Opens (or creates) the outbox at `path`, creating its folder.
    pub fn open(path: &Path) -> Result<Outbox, OutboxError> {
        let open_err = |message: String| OutboxError::Open { path: path.to_owned(), message };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| open_err(format!("cannot create its folder: {e}")))?;
        }
        let db = Database::create(path).map_err(|e| match e {
            redb::DatabaseError::DatabaseAlreadyOpen => OutboxError::Locked { path: path.to_owned() },
            other => open_err(other.to_string()),
        })?;
        let tx = db.begin_write()?;
        tx.open_table(ALERTS)?;
        tx.open_table(DELIVERIES)?;
        tx.open_table(IDS)?;
        tx.open_table(META)?;
        tx.commit()?;
        Ok(Outbox { db, path: path.to_owned() })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Commits alerts and their routes durably. Returns the (sink, alert id) pairs
    /// queued; a pair already waiting is not queued twice.
    pub fn enqueue(&self, batch: &[(Alert, Vec<Route>)], now: DateTime<Utc>) -> Result<Vec<(String, String)>, OutboxError> {
        let mut queued = Vec::new();
        let mut tx = self.db.begin_write()?;
        tx.set_durability(Durability::Immediate);
        {
            let mut alerts = tx.open_table(ALERTS)?;
            let mut deliveries = tx.open_table(DELIVERIES)?;
            let mut ids = tx.open_table(IDS)?;
            let mut meta = tx.open_table(META)?;
            let mut next_seq = meta.get("next_seq")?.map_or(1, |v| v.value());
            for (alert, routes) in batch {
                let existing = ids.get(alert.id.as_str())?.map(|v| v.value());
                let seq = existing.unwrap_or(next_seq);
                let mut count = match existing {
                    Some(seq) => alerts.get(seq)?.map_or(0, |v| v.value().0),
                    None => 0,
                };
                let mut added = 0;
                for route in routes {
                    if existing.is_some() && deliveries.get((route.sink.as_str(), seq))?.is_some() {
                        continue;
                    }
                    let state = DeliveryState {
                        alert_id: alert.id.clone(),
                        tries: 0,
                        enqueued_at: now.timestamp_micros(),
                        next_at: route.digest_at.unwrap_or(now).timestamp_micros(),
                        digest: route.digest_at.is_some(),
                        dead: false,
                        last_error: None,
                    };
                    deliveries.insert((route.sink.as_str(), seq), serde_json::to_vec(&state)?.as_slice())?;
                    queued.push((route.sink.clone(), alert.id.clone()));
                    added += 1;
                }
                if added == 0 {
                    continue;
                }
                count += added;
                let body = serde_json::to_vec(alert)?;
                alerts.insert(seq, (count, body.as_slice()))?;
                if existing.is_none() {
                    ids.insert(alert.id.as_str(), seq)?;
                    next_seq += 1;
                }
            }
            meta.insert("next_seq", next_seq)?;
        }
        tx.commit()?;
        Ok(queued)
    }

    /// Looks for a sink's work at `now`: at most `limit` due deliveries.
    pub fn scan(&self, sink: &str, now: DateTime<Utc>, limit: usize) -> Result<Scan, OutboxError> {
        let tx = self.db.begin_read()?;
        let deliveries = tx.open_table(DELIVERIES)?;
        let alerts = tx.open_table(ALERTS)?;
        let now_us = now.timestamp_micros();
        let mut scan = Scan::default();
        let mut digest_due = false;
        let mut waiting_digest = Vec::new();
        for entry in deliveries.range((sink, 0u64)..=(sink, u64::MAX))? {
            let (key, value) = entry?;
            let seq = key.value().1;
            let state: DeliveryState = serde_json::from_slice(value.value())?;
            if state.dead {
                scan.dead += 1;
                continue;
            }
            scan.pending += 1;
            if scan.oldest.is_none_or(|o| state.enqueued() < o) {
                scan.oldest = Some(state.enqueued());
            }
            let due = state.next_at <= now_us;
            if due && state.digest {
                digest_due = true;
            }
            if !due && scan.next_due.is_none_or(|n| state.next() < n) {
                scan.next_due = Some(state.next());
            }
            let item = (seq, state);
            if item.1.digest && !due {
                waiting_digest.push(item);
            } else if due && scan.due.len() < limit {
                scan.due.push(self.load(&alerts, sink, item)?);
            }
        }
        if digest_due {
            for item in waiting_digest.into_iter().take(limit) {
                scan.due.push(self.load(&alerts, sink, item)?);
            }
            scan.due.sort_by_key(|p| p.seq);
        }
        Ok(scan)
    }

    fn load(
        &self,
        alerts: &redb::ReadOnlyTable<u64, (u32, &[u8])>,
        sink: &str,
        (seq, state): (u64, DeliveryState),
    ) -> Result<Pending, OutboxError> {
        let alert = match alerts.get(seq)? {
            Some(v) => serde_json::from_slice(v.value().1).ok(),
            None => None,
        };
        Ok(Pending { sink: sink.to_owned(), seq, state, alert })
    }

    /// Records that `sink` accepted these alerts: their deliveries go, and an alert
    /// no sink waits for any more goes with them.
    pub fn succeeded(&self, sink: &str, seqs: &[u64]) -> Result<(), OutboxError> {
        let mut tx = self.db.begin_write()?;
        tx.set_durability(Durability::Eventual);
        {
            let mut deliveries = tx.open_table(DELIVERIES)?;
            let mut alerts = tx.open_table(ALERTS)?;
            let mut ids = tx.open_table(IDS)?;
            for &seq in seqs {
                if deliveries.remove((sink, seq))?.is_some() {
                    release(&mut alerts, &mut ids, seq)?;
                }
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Stores new states for failed deliveries (retry time, tries, dead).
    pub fn update(&self, sink: &str, states: &[(u64, DeliveryState)]) -> Result<(), OutboxError> {
        let mut tx = self.db.begin_write()?;
        tx.set_durability(Durability::Eventual);
        {
            let mut deliveries = tx.open_table(DELIVERIES)?;
            for (seq, state) in states {
                if deliveries.get((sink, *seq))?.is_some() {
                    deliveries.insert((sink, *seq), serde_json::to_vec(state)?.as_slice())?;
                }
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Every delivery, by sink then sequence (`kvwatch outbox list`).
    pub fn list(&self) -> Result<Vec<Pending>, OutboxError> {
        let tx = self.db.begin_read()?;
        let deliveries = tx.open_table(DELIVERIES)?;
        let alerts = tx.open_table(ALERTS)?;
        let mut out = Vec::new();
        for entry in deliveries.iter()? {
            let (key, value) = entry?;
            let (sink, seq) = key.value();
            let state: DeliveryState = serde_json::from_slice(value.value())?;
            out.push(self.load(&alerts, sink, (seq, state))?);
        }
        Ok(out)
    }

    /// Makes the selected deliveries due now with a fresh count of tries.
    pub fn retry(&self, selection: &Selection, now: DateTime<Utc>) -> Result<u64, OutboxError> {
        self.rewrite(selection, |state| {
            state.dead = false;
            state.tries = 0;
            state.next_at = now.timestamp_micros();
            state.enqueued_at = now.timestamp_micros();
            true
        })
    }

    /// Removes the selected deliveries.
    pub fn drop_selected(&self, selection: &Selection) -> Result<u64, OutboxError> {
        self.rewrite(selection, |_| false)
    }

    /// Applies `f` to each selected delivery: `true` keeps it (changed), `false` removes it.
    fn rewrite(&self, selection: &Selection, mut f: impl FnMut(&mut DeliveryState) -> bool) -> Result<u64, OutboxError> {
        let mut tx = self.db.begin_write()?;
        tx.set_durability(Durability::Immediate);
        let mut touched = 0;
        {
            let mut deliveries = tx.open_table(DELIVERIES)?;
            let mut alerts = tx.open_table(ALERTS)?;
            let mut ids = tx.open_table(IDS)?;
            let mut selected = Vec::new();
            for entry in deliveries.iter()? {
                let (key, value) = entry?;
                let (sink, seq) = key.value();
                let state: DeliveryState = serde_json::from_slice(value.value())?;
                if selection.matches(sink, &state) {
                    selected.push((sink.to_owned(), seq, state));
                }
            }
            for (sink, seq, mut state) in selected {
                touched += 1;
                if f(&mut state) {
                    deliveries.insert((sink.as_str(), seq), serde_json::to_vec(&state)?.as_slice())?;
                } else if deliveries.remove((sink.as_str(), seq))?.is_some() {
                    release(&mut alerts, &mut ids, seq)?;
                }
            }
        }
        tx.commit()?;
        Ok(touched)
    }

    /// Deliveries still waiting (not dead) for any of `sinks`.
    pub fn waiting(&self, sinks: &[String]) -> Result<u64, OutboxError> {
        let tx = self.db.begin_read()?;
        let deliveries = tx.open_table(DELIVERIES)?;
        let mut n = 0;
        for sink in sinks {
            for entry in deliveries.range((sink.as_str(), 0u64)..=(sink.as_str(), u64::MAX))? {
                let (_, value) = entry?;
                let state: DeliveryState = serde_json::from_slice(value.value())?;
                n += u64::from(!state.dead);
            }
        }
        Ok(n)
    }

    /// Forces everything committed so far to disk (an empty `Immediate` commit).
    pub fn sync(&self) -> Result<(), OutboxError> {
        let mut tx = self.db.begin_write()?;
        tx.set_durability(Durability::Immediate);
        tx.commit()?;
        Ok(())
    }
}

/// One sink less waits for alert `seq`; the alert goes when none does.
fn release(
    alerts: &mut redb::Table<u64, (u32, &[u8])>,
    ids: &mut redb::Table<&str, u64>,
    seq: u64,
) -> Result<(), OutboxError> {
    let Some((count, body)) = alerts.get(seq)?.map(|v| {
        let (c, b) = v.value();
        (c, b.to_vec())
    }) else {
        return Ok(());
    };
    if count <= 1 {
        alerts.remove(seq)?;
        if let Ok(alert) = serde_json::from_slice::<Alert>(&body) {
            ids.remove(alert.id.as_str())?;
        }
    } else {
        alerts.insert(seq, (count - 1, body.as_slice()))?;
    }
    Ok(())
}

#[cfg(test)]
#[path = "outbox_tests.rs"]
mod tests;
