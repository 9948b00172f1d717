//! The in-memory event store: hubs, partitions and the events in them.
//!
//! Each partition is an append-only log. An event gets the broker fields that
//! Event Hubs stamps on it: a sequence number counted from 0, an offset (a
//! string; here the byte position of the event in the partition, so offsets
//! differ from sequence numbers as they do on the service) and the enqueued
//! time, which never goes backwards within a partition.

use super::filter::StartFilter;
use fe2o3_amqp::types::{
    messaging::{
        ApplicationProperties, Batch, Body, Data, Message, MessageAnnotations, Properties,
    },
    primitives::{Timestamp, Value},
};
use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc, Mutex, MutexGuard, PoisonError,
    },
    time::{Duration, SystemTime, UNIX_EPOCH},
};
use tokio::sync::watch;

/// Bytes that each event adds to the offset on top of its body, standing in
/// for the framing that the service counts.
const OFFSET_FRAMING: i64 = 32;

/// Message annotation names that Event Hubs uses for its broker fields.
pub(super) const SEQUENCE_NUMBER_ANNOTATION: &str = "x-opt-sequence-number";
pub(super) const OFFSET_ANNOTATION: &str = "x-opt-offset";
pub(super) const ENQUEUED_TIME_ANNOTATION: &str = "x-opt-enqueued-time";
pub(super) const PARTITION_KEY_ANNOTATION: &str = "x-opt-partition-key";

/// An event as the stand-in stored it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    /// `x-opt-sequence-number`: 0 for the first event of the partition.
    pub sequence_number: i64,
    /// `x-opt-offset`: the byte position of the event, as a decimal string.
    pub offset: String,
    /// `x-opt-enqueued-time`, with millisecond precision.
    pub enqueued_time: SystemTime,
    /// `x-opt-partition-key`, when the sender set one.
    pub partition_key: Option<String>,
    /// The event body; it is delivered as one Data section.
    pub body: Vec<u8>,
    /// The message properties the sender set (message id, content type, ...).
    pub properties: Option<Properties>,
    /// The application properties the sender set.
    pub application_properties: Option<ApplicationProperties>,
}

impl StoredEvent {
    /// Whether a receiver that started with `filter` gets this event.
    /// (`Latest` is a position, not a property of events: it selects all.)
    pub(super) fn is_selected_by(&self, filter: StartFilter) -> bool {
        let after = |value: i64, bound: i64, inclusive: bool| {
            value > bound || (inclusive && value == bound)
        };
        match filter {
            StartFilter::Latest => true,
            StartFilter::Offset { offset, inclusive } => {
                let own = self.offset.parse::<i64>().unwrap_or(i64::MAX);
                after(own, offset, inclusive)
            }
            StartFilter::SequenceNumber {
                sequence_number,
                inclusive,
            } => after(self.sequence_number, sequence_number, inclusive),
            StartFilter::EnqueuedTime { millis, inclusive } => {
                after(millis_since_epoch(self.enqueued_time), millis, inclusive)
            }
        }
    }

    /// Builds the AMQP message that a receiver gets for this event.
    pub(super) fn to_message(&self) -> Message<Body<Value>> {
        let mut annotations = MessageAnnotations::builder()
            .insert(
                SEQUENCE_NUMBER_ANNOTATION,
                Value::Long(self.sequence_number),
            )
            .insert(OFFSET_ANNOTATION, Value::String(self.offset.clone()))
            .insert(
                ENQUEUED_TIME_ANNOTATION,
                Value::Timestamp(Timestamp::from_milliseconds(millis_since_epoch(
                    self.enqueued_time,
                ))),
            );
        if let Some(key) = &self.partition_key {
            annotations = annotations.insert(PARTITION_KEY_ANNOTATION, Value::String(key.clone()));
        }
        Message {
            header: None,
            delivery_annotations: None,
            message_annotations: Some(annotations.build()),
            properties: self.properties.clone(),
            application_properties: self.application_properties.clone(),
            body: Body::Data(Batch::new(vec![Data::from(self.body.clone())])),
            footer: None,
        }
    }
}

/// An event on its way into a partition, before the broker fields are set.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct NewEvent {
    pub(super) body: Vec<u8>,
    pub(super) partition_key: Option<String>,
    pub(super) properties: Option<Properties>,
    pub(super) application_properties: Option<ApplicationProperties>,
}

/// What the `com.microsoft:partition` management read reports.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct PartitionProperties {
    pub(super) begin_sequence_number: i64,
    pub(super) last_sequence_number: i64,
    pub(super) last_offset: String,
    /// `None` for an empty partition.
    pub(super) last_enqueued_millis: Option<i64>,
}

#[derive(Debug, Default)]
struct Log {
    events: Vec<StoredEvent>,
    next_offset: i64,
    last_millis: i64,
}

impl Log {
    /// Stamps the broker fields on an event and stores it.
    fn record(&mut self, event: NewEvent) -> StoredEvent {
        let millis = millis_since_epoch(SystemTime::now()).max(self.last_millis);
        let body_len = i64::try_from(event.body.len()).unwrap_or(i64::MAX);
        let stored = StoredEvent {
            sequence_number: i64::try_from(self.events.len()).unwrap_or(i64::MAX),
            offset: self.next_offset.to_string(),
            enqueued_time: UNIX_EPOCH + Duration::from_millis(millis.unsigned_abs()),
            partition_key: event.partition_key,
            body: event.body,
            properties: event.properties,
            application_properties: event.application_properties,
        };
        self.last_millis = millis;
        self.next_offset = self
            .next_offset
            .saturating_add(body_len)
            .saturating_add(OFFSET_FRAMING);
        self.events.push(stored.clone());
        stored
    }
}

/// One partition: its log and a watch that counts the stored events.
#[derive(Debug)]
pub(super) struct Partition {
    pub(super) id: String,
    log: Mutex<Log>,
    appended: watch::Sender<usize>,
}

impl Partition {
    fn new(id: String) -> Self {
        Self {
            id,
            log: Mutex::new(Log::default()),
            appended: watch::channel(0).0,
        }
    }

    fn log(&self) -> MutexGuard<'_, Log> {
        lock(&self.log)
    }

    /// Stores the events of one transfer, in order, as one append.
    pub(super) fn append(&self, events: Vec<NewEvent>) {
        self.write(|log| events.into_iter().for_each(|e| drop(log.record(e))));
    }

    /// Stores one event and returns it with its broker fields.
    pub(super) fn append_one(&self, event: NewEvent) -> StoredEvent {
        self.write(|log| log.record(event))
    }

    /// Changes the log, then wakes the receivers that wait for more events.
    fn write<R>(&self, change: impl FnOnce(&mut Log) -> R) -> R {
        let mut log = self.log();
        let result = change(&mut log);
        let count = log.events.len();
        drop(log);
        self.appended.send_replace(count);
        result
    }

    /// Returns the event at `index` (its sequence number), if stored yet.
    pub(super) fn get(&self, index: usize) -> Option<StoredEvent> {
        self.log().events.get(index).cloned()
    }

    /// Returns a copy of every stored event.
    pub(super) fn snapshot(&self) -> Vec<StoredEvent> {
        self.log().events.clone()
    }

    /// Returns a watch on the number of stored events.
    pub(super) fn subscribe(&self) -> watch::Receiver<usize> {
        self.appended.subscribe()
    }

    /// Returns the index of the first event that a receiver with `filter`
    /// gets. An index equal to the event count means "the next new event".
    pub(super) fn start_index(&self, filter: StartFilter) -> usize {
        let log = self.log();
        match filter {
            StartFilter::Latest => log.events.len(),
            // Selection is monotone in the log order, so a binary search works.
            _ => log
                .events
                .partition_point(|event| !event.is_selected_by(filter)),
        }
    }

    /// Returns the figures of the partition-properties management read.
    pub(super) fn properties(&self) -> PartitionProperties {
        let log = self.log();
        match log.events.last() {
            None => PartitionProperties {
                begin_sequence_number: -1,
                last_sequence_number: -1,
                last_offset: "-1".to_string(),
                last_enqueued_millis: None,
            },
            Some(last) => PartitionProperties {
                begin_sequence_number: 0,
                last_sequence_number: last.sequence_number,
                last_offset: last.offset.clone(),
                last_enqueued_millis: Some(millis_since_epoch(last.enqueued_time)),
            },
        }
    }
}

/// One Event Hub and its partitions.
#[derive(Debug)]
pub(super) struct Hub {
    pub(super) name: String,
    pub(super) created_at: SystemTime,
    partitions: Vec<Arc<Partition>>,
    round_robin: AtomicUsize,
}

impl Hub {
    /// Creates a hub with partitions named `"0"` to `"<count - 1>"`.
    pub(super) fn new(name: String, partition_count: usize) -> Self {
        Self {
            name,
            created_at: SystemTime::now(),
            partitions: (0..partition_count)
                .map(|id| Arc::new(Partition::new(id.to_string())))
                .collect(),
            round_robin: AtomicUsize::new(0),
        }
    }

    /// Returns the partition with the given id.
    pub(super) fn partition(&self, id: &str) -> Option<&Arc<Partition>> {
        self.partitions.iter().find(|p| p.id == id)
    }

    /// Returns the partition ids in order.
    pub(super) fn partition_ids(&self) -> Vec<String> {
        self.partitions.iter().map(|p| p.id.clone()).collect()
    }

    /// Returns the partition that a partition key always maps to.
    pub(super) fn partition_for_key(&self, key: &str) -> Option<&Arc<Partition>> {
        let count = u32::try_from(self.partitions.len())
            .ok()
            .filter(|c| *c > 0)?;
        let index = usize::try_from(fnv1a(key.as_bytes()) % count).ok()?;
        self.partitions.get(index)
    }

    /// Returns the next partition in round-robin order, for events that name
    /// neither a partition nor a partition key.
    pub(super) fn next_round_robin(&self) -> Option<&Arc<Partition>> {
        let next = self.round_robin.fetch_add(1, Ordering::Relaxed);
        self.partitions
            .get(next.checked_rem(self.partitions.len())?)
    }
}

/// 32-bit FNV-1a: small, stable and good enough to spread partition keys.
/// (The service uses Jenkins lookup3; tests must ask the stand-in where a key
/// lands rather than assume the service's mapping.)
fn fnv1a(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5_u32, |hash, byte| {
        (hash ^ u32::from(*byte)).wrapping_mul(0x0100_0193)
    })
}

/// Milliseconds since the Unix epoch, saturating on clocks before 1970.
pub(super) fn millis_since_epoch(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Locks a mutex, carrying on with the data if a panicking thread poisoned it.
pub(super) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
