//! The durable outbox: every alert is committed to an embedded database (redb) before
//! anything upstream is acknowledged, and stays there, per sink, until that sink's
//! receiver accepted it or it was dead-lettered.
//!
//! Tables: `alerts` (sequence → pending-sink count + the alert as JSON), `deliveries`
//! ((sink, sequence) → [`DeliveryState`]), `ids` (alert id → sequence, so an alert
//! already waiting for a sink is not queued twice) and `meta` (the next sequence).
//! Enqueues commit with `Immediate` durability (fsync) before `enqueue` returns.
//! Delivery results are cheap non-durable commits, made durable together every
//! [`SETTLE_EVERY`] results, after [`SETTLE_AFTER`], or when a worker goes idle
//! ([`Outbox::settle`]): a result lost in a crash only means a redelivery, which the
//! alert id (the idempotency key) lets receivers drop. Only one process opens the
//! file at a time (redb locks it).

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use redb::{Database, Durability, ReadableTable, TableDefinition};

use crate::alert::Alert;
use crate::state::store_file::{self, OpenFailure, StoreKind};

mod admin;
mod records;
pub use admin::Selection;
pub use records::{DeliveryState, OutboxError, Pending, Route, Scan};

const ALERTS: TableDefinition<u64, (u32, &[u8])> = TableDefinition::new("alerts");
const DELIVERIES: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("deliveries");
const IDS: TableDefinition<&str, u64> = TableDefinition::new("ids");
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");

/// Non-durable result commits allowed before one is made durable.
pub const SETTLE_EVERY: u32 = 256;
/// The longest a result commit stays non-durable while results keep coming.
pub const SETTLE_AFTER: Duration = Duration::from_millis(500);

/// The outbox database.
pub struct Outbox {
    db: Database,
    path: PathBuf,
    /// Non-durable commits since the last durable one, and when that was.
    unsettled: Mutex<(u32, Instant)>,
}

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Outbox({})", self.path.display())
    }
}

impl Outbox {
    /// Opens (or creates) the outbox at `path`, creating its folder (see
    /// [`crate::state::store_file`]: a new file is private and created whole; a
    /// damaged one is an error that names it and says what to do).
    pub fn open(path: &Path) -> Result<Outbox, OutboxError> {
        store_file::open(path, StoreKind::Outbox, |db| Outbox::init(db, path)).map_err(
            |failure| match failure {
                OpenFailure::Locked => OutboxError::Locked {
                    path: path.to_owned(),
                },
                other => OutboxError::Open {
                    path: path.to_owned(),
                    message: other.to_string(),
                },
            },
        )?
    }

    /// Creates the tables.
    fn init(db: Database, path: &Path) -> Result<Outbox, OutboxError> {
        let tx = db.begin_write()?;
        tx.open_table(ALERTS)?;
        tx.open_table(DELIVERIES)?;
        tx.open_table(IDS)?;
        tx.open_table(META)?;
        tx.commit()?;
        Ok(Outbox {
            db,
            path: path.to_owned(),
            unsettled: Mutex::new((0, Instant::now())),
        })
    }

    /// Runs a read of the outbox; a failure redb finds only now (damage in the
    /// body of the file, even a panic) becomes an error naming the file.
    fn reading<T>(&self, read: impl FnOnce() -> Result<T, OutboxError>) -> Result<T, OutboxError> {
        let problem = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(read)) {
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(OutboxError::Storage(what))) => what,
            Ok(Err(other)) => return Err(other),
            Err(_) => "redb panicked reading it".to_owned(),
        };
        Err(OutboxError::Open {
            path: self.path.clone(),
            message: format!(
                "it cannot be read ({problem}); {}",
                StoreKind::Outbox.remedy()
            ),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Commits alerts and their routes durably. Returns the (sink, alert id) pairs
    /// queued; a pair already waiting is not queued twice.
    pub fn enqueue(
        &self,
        batch: &[(Alert, Vec<Route>)],
        now: DateTime<Utc>,
    ) -> Result<Vec<(String, String)>, OutboxError> {
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
                    deliveries.insert(
                        (route.sink.as_str(), seq),
                        serde_json::to_vec(&state)?.as_slice(),
                    )?;
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
        self.reading(|| self.scan_unguarded(sink, now, limit))
    }

    fn scan_unguarded(
        &self,
        sink: &str,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Scan, OutboxError> {
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
        Ok(Pending {
            sink: sink.to_owned(),
            seq,
            state,
            alert,
        })
    }

    /// The durability of a result commit: none, unless enough have piled up.
    fn result_durability(&self) -> Durability {
        let Ok(mut u) = self.unsettled.lock() else {
            return Durability::Immediate;
        };
        if u.0 + 1 >= SETTLE_EVERY || u.1.elapsed() >= SETTLE_AFTER {
            *u = (0, Instant::now());
            Durability::Immediate
        } else {
            u.0 += 1;
            Durability::None
        }
    }

    /// Makes outstanding result commits durable (a worker with nothing to do calls it).
    pub fn settle(&self) -> Result<(), OutboxError> {
        let pending = self.unsettled.lock().map(|u| u.0 > 0).unwrap_or(true);
        if pending {
            self.sync()?;
        }
        Ok(())
    }

    /// Records that `sink` accepted these alerts: their deliveries go, and an alert
    /// no sink waits for any more goes with them.
    pub fn succeeded(&self, sink: &str, seqs: &[u64]) -> Result<(), OutboxError> {
        let mut tx = self.db.begin_write()?;
        tx.set_durability(self.result_durability());
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
        tx.set_durability(self.result_durability());
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

    /// Forces everything committed so far to disk (an empty `Immediate` commit).
    pub fn sync(&self) -> Result<(), OutboxError> {
        let mut tx = self.db.begin_write()?;
        tx.set_durability(Durability::Immediate);
        tx.commit()?;
        if let Ok(mut u) = self.unsettled.lock() {
            *u = (0, Instant::now());
        }
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
mod tests;
