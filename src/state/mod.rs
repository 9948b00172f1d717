//! The checkpoint store of the live commands: Event Hubs partition positions and the
//! pipeline's state (detectors, deduplication), committed in one redb transaction.
//!
//! A restart must neither skip nor count twice: if positions and detector state were
//! written separately, a crash between the two writes would leave a position ahead of
//! the state (events skipped) or behind it (events counted twice). Here both go in
//! one write transaction with `Immediate` durability (fsync), so the file always
//! holds one consistent checkpoint. See `docs/scaling.md` for what a position means.
//!
//! Tables: `partitions` (partition key → [`PartitionPosition`] as JSON) and `meta`
//! (`checkpoint` → [`CheckpointMeta`] as JSON, `detectors` and `dedup` → opaque
//! bytes). Only one process opens the file at a time (redb locks it).
//!
//! The files kvwatch keeps are opened through [`store_file`] (created whole and
//! private, damage reported naming the file) and written through [`private`]. The
//! live pipeline commits through [`CheckpointStore`], which this store implements
//! for a single instance (the coordination container does for several).

pub mod checkpoint_store;
pub mod private;
pub mod store_file;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use redb::{Database, Durability, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

pub use checkpoint_store::{CheckpointStore, CommitOutcome};
use store_file::{OpenFailure, StoreKind};

const PARTITIONS: TableDefinition<&str, &[u8]> = TableDefinition::new("partitions");
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");

/// The key of the format marker in `meta`, and the format this build writes and reads.
const FORMAT_KEY: &str = "format";
const FORMAT: &str = "kvwatch-state/1";

/// Why the state store failed.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// Another process holds the database.
    #[error("state {}: another kvwatch process has it open (stop it, or give this one its own [state] path)", path.display())]
    Locked {
        /// The file.
        path: PathBuf,
    },
    /// The database could not be opened or created.
    #[error("state {}: {message}", path.display())]
    Open {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// A read or write failed, or a stored value is unreadable.
    #[error("state storage error: {0}")]
    Storage(String),
    /// This instance no longer owns what it would commit (coordination): it must
    /// stop acting.
    #[error("ownership lost: {0}")]
    Lost(String),
}

macro_rules! storage_from {
    ($($t:ty),*) => {$(
        impl From<$t> for StateError {
            fn from(e: $t) -> Self {
                StateError::Storage(e.to_string())
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

/// Where one partition stands at a checkpoint.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionPosition {
    /// Every event of every body up to this sequence number was handled: a restart
    /// reads from the next one. `None`: read from the configured start.
    pub resume_after: Option<i64>,
    /// Bodies after `resume_after` that were taken before the checkpoint, and so are
    /// read again after a restart: their events at or before the cut's watermark were
    /// processed already (skip them), the others were still waiting (take them).
    /// Ordered by `through`; a body uses the first cut whose `through` it does not pass.
    pub replay: Vec<ReplayCut>,
}

/// See [`PartitionPosition::replay`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplayCut {
    /// The last body (sequence number) the cut applies to.
    pub through: i64,
    /// Events at or before this time in those bodies were processed.
    pub watermark: DateTime<Utc>,
}

impl PartitionPosition {
    /// The cut for the body with sequence number `sequence`, if it is read again.
    pub fn cut_for(&self, sequence: i64) -> Option<DateTime<Utc>> {
        if self.resume_after.is_some_and(|r| sequence <= r) {
            return None;
        }
        self.replay
            .iter()
            .find(|c| sequence <= c.through)
            .map(|c| c.watermark)
    }
}

/// What a checkpoint says besides positions and blobs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointMeta {
    /// The watermark: every event taken at or before it was processed.
    pub watermark: Option<DateTime<Utc>>,
    /// The newest event released to the detectors (older ones are late).
    pub released_up_to: Option<DateTime<Utc>>,
    /// When the checkpoint was written (wall clock).
    pub written_at: Option<DateTime<Utc>>,
}

/// One consistent checkpoint.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Checkpoint {
    /// The watermark and friends.
    pub meta: CheckpointMeta,
    /// Positions by partition key (see [`partition_key`]). A commit writes these and
    /// leaves partitions it does not name as they were.
    pub partitions: BTreeMap<String, PartitionPosition>,
    /// The detectors' state (opaque).
    pub detectors: Vec<u8>,
    /// The deduplication memory (opaque).
    pub dedup: Vec<u8>,
}

/// The key of a partition: `namespace/hub/consumer group/partition`, lower case but
/// for the partition id, so a config that lists hubs in another order, or spells a
/// name in another case, finds its positions again.
pub fn partition_key(namespace: &str, hub: &str, consumer_group: &str, partition: &str) -> String {
    format!(
        "{}/{}/{}/{partition}",
        namespace.to_ascii_lowercase(),
        hub.to_ascii_lowercase(),
        consumer_group.to_ascii_lowercase()
    )
}

/// The checkpoint database.
pub struct StateStore {
    db: Database,
    path: PathBuf,
}

impl std::fmt::Debug for StateStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "StateStore({})", self.path.display())
    }
}

impl StateStore {
    /// Opens (or creates) the store at `path`, creating its folder (see
    /// [`store_file`]: a new file is private and created whole; a damaged one is an
    /// error that names it and says what to do).
    pub fn open(path: &Path) -> Result<StateStore, StateError> {
        store_file::open(path, StoreKind::State, |db| StateStore::init(db, path)).map_err(
            |failure| match failure {
                OpenFailure::Locked => StateError::Locked {
                    path: path.to_owned(),
                },
                other => StateError::Open {
                    path: path.to_owned(),
                    message: other.to_string(),
                },
            },
        )?
    }

    /// Creates the tables and checks (or writes) the format marker.
    fn init(db: Database, path: &Path) -> Result<StateStore, StateError> {
        let open_err = |message: String| StateError::Open {
            path: path.to_owned(),
            message,
        };
        let tx = db.begin_write()?;
        tx.open_table(PARTITIONS)?;
        {
            let mut meta = tx.open_table(META)?;
            let format = meta.get(FORMAT_KEY)?.map(|v| v.value().to_vec());
            match format {
                Some(f) if f == FORMAT.as_bytes() => {}
                Some(f) => {
                    return Err(open_err(format!(
                        "written in state format {:?}, this build reads {FORMAT:?} (--reset-state, or a new [state] path, starts over)",
                        String::from_utf8_lossy(&f)
                    )))
                }
                None if meta.get("checkpoint")?.is_some() => {
                    return Err(open_err(
                        "a state file without a format marker (--reset-state, or a new [state] path, starts over)".to_owned(),
                    ))
                }
                None => {
                    meta.insert(FORMAT_KEY, FORMAT.as_bytes())?;
                }
            }
        }
        tx.commit()?;
        Ok(StateStore {
            db,
            path: path.to_owned(),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The last checkpoint, if one was ever written. A checkpoint that cannot be
    /// read (damage redb finds only now) is an error naming the file.
    pub fn load(&self) -> Result<Option<Checkpoint>, StateError> {
        let read = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.read()));
        let problem = match read {
            Ok(Ok(checkpoint)) => return Ok(checkpoint),
            Ok(Err(StateError::Storage(what))) => what,
            Ok(Err(other)) => return Err(other),
            Err(_) => "redb panicked reading it".to_owned(),
        };
        Err(StateError::Open {
            path: self.path.clone(),
            message: format!(
                "its checkpoint cannot be read ({problem}); {}",
                StoreKind::State.remedy()
            ),
        })
    }

    fn read(&self) -> Result<Option<Checkpoint>, StateError> {
        let tx = self.db.begin_read()?;
        let meta = tx.open_table(META)?;
        let Some(head) = meta.get("checkpoint")? else {
            return Ok(None);
        };
        let head: CheckpointMeta = serde_json::from_slice(head.value())?;
        let blob = |name: &str| -> Result<Vec<u8>, StateError> {
            Ok(meta
                .get(name)?
                .map(|v| v.value().to_vec())
                .unwrap_or_default())
        };
        let mut partitions = BTreeMap::new();
        for row in tx.open_table(PARTITIONS)?.iter()? {
            let (key, value) = row?;
            partitions.insert(
                key.value().to_owned(),
                serde_json::from_slice(value.value())?,
            );
        }
        Ok(Some(Checkpoint {
            meta: head,
            partitions,
            detectors: blob("detectors")?,
            dedup: blob("dedup")?,
        }))
    }

    /// Writes a checkpoint: positions, meta and blobs in one durable transaction.
    pub fn commit(&self, checkpoint: &Checkpoint) -> Result<(), StateError> {
        let mut tx = self.db.begin_write()?;
        tx.set_durability(Durability::Immediate);
        {
            let mut partitions = tx.open_table(PARTITIONS)?;
            for (key, position) in &checkpoint.partitions {
                partitions.insert(key.as_str(), serde_json::to_vec(position)?.as_slice())?;
            }
            let mut meta = tx.open_table(META)?;
            meta.insert(
                "checkpoint",
                serde_json::to_vec(&checkpoint.meta)?.as_slice(),
            )?;
            meta.insert("detectors", checkpoint.detectors.as_slice())?;
            meta.insert("dedup", checkpoint.dedup.as_slice())?;
        }
        tx.commit()?;
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod damage;

#[cfg(test)]
mod tests {
    use super::*;

    fn checkpoint(seq: i64, detectors: &[u8]) -> Checkpoint {
        let mut partitions = BTreeMap::new();
        let watermark = DateTime::from_timestamp(1_700_000_000 + seq, 0).unwrap();
        let position = PartitionPosition {
            resume_after: Some(seq),
            replay: vec![ReplayCut {
                through: seq + 2,
                watermark,
            }],
        };
        partitions.insert(partition_key("NS", "Hub", "KV", "0"), position);
        Checkpoint {
            meta: CheckpointMeta {
                watermark: DateTime::from_timestamp(1_700_000_000 + seq, 0),
                ..Default::default()
            },
            partitions,
            detectors: detectors.to_vec(),
            dedup: vec![1, 2, 3],
        }
    }

    #[test]
    fn a_checkpoint_round_trips_and_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/state.redb");
        {
            let store = StateStore::open(&path).unwrap();
            assert_eq!(store.load().unwrap(), None);
            store.commit(&checkpoint(5, b"{\"a\":1}")).unwrap();
            store.commit(&checkpoint(9, b"{\"a\":2}")).unwrap();
            assert!(matches!(
                StateStore::open(&path),
                Err(StateError::Locked { .. })
            ));
        }
        let store = StateStore::open(&path).unwrap();
        let loaded = store.load().unwrap().unwrap();
        assert_eq!(loaded, checkpoint(9, b"{\"a\":2}"));
        assert_eq!(loaded.partitions["ns/hub/kv/0"].resume_after, Some(9));
    }

    #[test]
    fn replayed_bodies_find_their_cut() {
        let t = |s: i64| DateTime::from_timestamp(1_700_000_000 + s, 0).unwrap();
        let p = PartitionPosition {
            resume_after: Some(10),
            replay: vec![
                ReplayCut {
                    through: 12,
                    watermark: t(5),
                },
                ReplayCut {
                    through: 15,
                    watermark: t(2),
                },
            ],
        };
        let cuts: Vec<_> = (10..=16).map(|s| p.cut_for(s)).collect();
        assert_eq!(
            cuts,
            [
                None,
                Some(t(5)),
                Some(t(5)),
                Some(t(2)),
                Some(t(2)),
                Some(t(2)),
                None
            ]
        );
    }

    #[test]
    fn partitions_not_named_keep_their_position() {
        let dir = tempfile::tempdir().unwrap();
        let store = StateStore::open(&dir.path().join("s.redb")).unwrap();
        store.commit(&checkpoint(5, b"x")).unwrap();
        let mut other = checkpoint(7, b"y");
        other.partitions = BTreeMap::from([(
            partition_key("ns", "hub", "kv", "1"),
            PartitionPosition::default(),
        )]);
        store.commit(&other).unwrap();
        let loaded = store.load().unwrap().unwrap();
        assert_eq!(loaded.partitions.len(), 2);
        assert_eq!(loaded.partitions["ns/hub/kv/0"].resume_after, Some(5));
        assert_eq!(loaded.detectors, b"y");
    }

    #[test]
    fn a_damaged_state_file_is_an_error_naming_it_never_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let healthy_path = dir.path().join("healthy.redb");
        {
            let store = StateStore::open(&healthy_path).unwrap();
            store.commit(&checkpoint(5, &[7; 20_000])).unwrap();
            store.commit(&checkpoint(9, &[8; 30_000])).unwrap();
        }
        let healthy = std::fs::read(&healthy_path).unwrap();
        for (i, damage) in damage::table().iter().enumerate() {
            let path = dir.path().join(format!("damaged-{i}.redb"));
            damage::write_damaged(&healthy, damage, &path);
            let outcome = std::panic::catch_unwind(|| {
                StateStore::open(&path).and_then(|store| store.load().map(|_| ()))
            });
            let result = outcome.unwrap_or_else(|_| panic!("{}: opening panicked", damage.name));
            match result {
                Ok(()) => assert!(!damage.fatal, "{}: opened as if healthy", damage.name),
                Err(e) => {
                    let text = e.to_string();
                    assert!(
                        text.contains(&path.display().to_string()),
                        "{}: the error names the file: {text}",
                        damage.name
                    );
                    assert!(
                        text.contains("--reset-state") && text.contains("backup"),
                        "{}: the error says what to do: {text}",
                        damage.name
                    );
                }
            }
        }
    }
}
