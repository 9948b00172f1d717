//! The in-memory event store: hubs, their partitions and the events in them.
//!
//! A hub's partition count can grow while it serves (as on the Premium and Dedicated
//! tiers): new partitions are empty, and partition keys map over the new count from
//! then on, as on the service.

mod event;
mod partition;

pub use event::StoredEvent;
pub(crate) use event::{millis_since_epoch, NewEvent, PARTITION_KEY_ANNOTATION};
pub(crate) use partition::Partition;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};
use std::time::{Duration, SystemTime};

use super::config::HubSpec;

/// One Event Hub and its partitions.
#[derive(Debug)]
pub(crate) struct Hub {
    pub(crate) name: String,
    pub(crate) created_at: SystemTime,
    pub(crate) retention: Option<Duration>,
    first_sequence_number: i64,
    partitions: RwLock<Vec<Arc<Partition>>>,
    round_robin: AtomicUsize,
}

impl Hub {
    /// Creates a hub with partitions named `"0"` to `"<count - 1>"`.
    pub(crate) fn new(spec: &HubSpec) -> Self {
        Self {
            name: spec.name.clone(),
            created_at: SystemTime::now(),
            retention: spec.retention,
            first_sequence_number: spec.first_sequence_number,
            partitions: RwLock::new(
                (0..spec.partition_count)
                    .map(|id| Arc::new(Partition::new(id.to_string(), spec.first_sequence_number)))
                    .collect(),
            ),
            round_robin: AtomicUsize::new(0),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Vec<Arc<Partition>>> {
        self.partitions
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Returns the partition with the given id.
    pub(crate) fn partition(&self, id: &str) -> Option<Arc<Partition>> {
        self.read().iter().find(|p| p.id == id).cloned()
    }

    /// Every partition, in id order.
    pub(crate) fn partitions(&self) -> Vec<Arc<Partition>> {
        self.read().clone()
    }

    /// Returns the partition ids in order.
    pub(crate) fn partition_ids(&self) -> Vec<String> {
        self.read().iter().map(|p| p.id.clone()).collect()
    }

    /// Grows the hub to `count` partitions; returns the new partitions' ids. A count
    /// at or below the current one changes nothing (partitions never go away).
    pub(crate) fn grow(&self, count: usize) -> Vec<String> {
        let mut partitions = self
            .partitions
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let mut added = Vec::new();
        while partitions.len() < count {
            let id = partitions.len().to_string();
            partitions.push(Arc::new(Partition::new(
                id.clone(),
                self.first_sequence_number,
            )));
            added.push(id);
        }
        added
    }

    /// Returns the partition that a partition key maps to (for the current count).
    pub(crate) fn partition_for_key(&self, key: &str) -> Option<Arc<Partition>> {
        let partitions = self.read();
        let count = u32::try_from(partitions.len()).ok().filter(|c| *c > 0)?;
        let index = usize::try_from(fnv1a(key.as_bytes()) % count).ok()?;
        partitions.get(index).cloned()
    }

    /// Returns the next partition in round-robin order, for events that name neither
    /// a partition nor a partition key.
    pub(crate) fn next_round_robin(&self) -> Option<Arc<Partition>> {
        let next = self.round_robin.fetch_add(1, Ordering::Relaxed);
        let partitions = self.read();
        partitions.get(next.checked_rem(partitions.len())?).cloned()
    }

    /// Applies the retention as of `now`; returns how many events went.
    pub(crate) fn apply_retention(&self, now: SystemTime) -> usize {
        let Some(cutoff) = self.retention.and_then(|r| now.checked_sub(r)) else {
            return 0;
        };
        self.partitions()
            .iter()
            .map(|p| p.expire_before(cutoff))
            .sum()
    }
}

/// 32-bit FNV-1a: small, stable and good enough to spread partition keys. (The
/// service uses Jenkins lookup3; callers must ask the hub where a key lands rather
/// than assume the service's mapping.)
fn fnv1a(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5_u32, |hash, byte| {
        (hash ^ u32::from(*byte)).wrapping_mul(0x0100_0193)
    })
}

/// Locks a mutex, carrying on with the data if a panicking thread poisoned it.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
