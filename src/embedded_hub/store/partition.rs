//! One partition: an append-only log whose oldest events retention removes.
//!
//! Sequence numbers count up from the partition's first sequence number and are never
//! reused; offsets are byte positions (a string, as on the service). Retention removes
//! events from the front, so the first *available* sequence number moves up, and a
//! receiver asking for something older gets the first event still there, as on the
//! service.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};
use std::time::SystemTime;

use tokio::sync::watch;

use super::event::{from_millis, millis_since_epoch, NewEvent, StoredEvent};
use super::lock;
use crate::embedded_hub::filter::StartFilter;

/// Bytes that each event adds to the offset on top of its body, standing in for the
/// framing that the service counts.
const OFFSET_FRAMING: i64 = 32;

/// What the `com.microsoft:partition` management read reports.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PartitionProperties {
    pub(crate) begin_sequence_number: i64,
    pub(crate) last_sequence_number: i64,
    pub(crate) last_offset: String,
    /// `None` when nothing was ever stored.
    pub(crate) last_enqueued_millis: Option<i64>,
    pub(crate) is_empty: bool,
}

#[derive(Debug)]
struct Log {
    events: VecDeque<StoredEvent>,
    /// The sequence number the next event gets.
    next_sequence: i64,
    next_offset: i64,
    last_millis: i64,
    /// The last event ever stored (kept when retention removed it).
    last: Option<(i64, String, i64)>,
}

impl Log {
    fn new(first_sequence: i64) -> Self {
        Log {
            events: VecDeque::new(),
            next_sequence: first_sequence,
            // As if the earlier events had been there: offsets grow with sequence numbers.
            next_offset: first_sequence.saturating_mul(OFFSET_FRAMING * 4),
            last_millis: 0,
            last: None,
        }
    }

    /// The first sequence number still available (the next one when empty).
    fn begin(&self) -> i64 {
        self.events
            .front()
            .map_or(self.next_sequence, |e| e.sequence_number)
    }

    /// Stamps the broker fields on an event and stores it.
    fn record(&mut self, event: NewEvent) -> StoredEvent {
        let millis = millis_since_epoch(SystemTime::now()).max(self.last_millis);
        let body_len = i64::try_from(event.body.len()).unwrap_or(i64::MAX);
        let stored = StoredEvent {
            sequence_number: self.next_sequence,
            offset: self.next_offset.to_string(),
            enqueued_time: from_millis(millis),
            partition_key: event.partition_key,
            body: event.body,
            properties: event.properties,
            application_properties: event.application_properties,
        };
        self.last_millis = millis;
        self.next_sequence = self.next_sequence.saturating_add(1);
        self.next_offset = self
            .next_offset
            .saturating_add(body_len)
            .saturating_add(OFFSET_FRAMING);
        self.last = Some((stored.sequence_number, stored.offset.clone(), millis));
        self.events.push_back(stored.clone());
        stored
    }
}

/// One partition: its log and a watch that changes on every append.
#[derive(Debug)]
pub(crate) struct Partition {
    pub(crate) id: String,
    log: Mutex<Log>,
    appended: watch::Sender<i64>,
}

impl Partition {
    pub(crate) fn new(id: String, first_sequence: i64) -> Self {
        Self {
            id,
            log: Mutex::new(Log::new(first_sequence)),
            appended: watch::channel(first_sequence).0,
        }
    }

    fn log(&self) -> MutexGuard<'_, Log> {
        lock(&self.log)
    }

    /// Stores the events of one transfer, in order, as one append.
    pub(crate) fn append(&self, events: Vec<NewEvent>) {
        self.write(|log| events.into_iter().for_each(|e| drop(log.record(e))));
    }

    /// Stores one event and returns it with its broker fields.
    pub(crate) fn append_one(&self, event: NewEvent) -> StoredEvent {
        self.write(|log| log.record(event))
    }

    /// Changes the log, then wakes the receivers that wait for more events.
    fn write<R>(&self, change: impl FnOnce(&mut Log) -> R) -> R {
        let mut log = self.log();
        let result = change(&mut log);
        let next = log.next_sequence;
        drop(log);
        self.appended.send_replace(next);
        result
    }

    /// The first available event at or after sequence number `from`, if any.
    pub(crate) fn next_from(&self, from: i64) -> Option<StoredEvent> {
        let log = self.log();
        let index = usize::try_from(from.saturating_sub(log.begin())).unwrap_or(0);
        log.events.get(index).cloned()
    }

    /// Returns a copy of every available event.
    pub(crate) fn snapshot(&self) -> Vec<StoredEvent> {
        self.log().events.iter().cloned().collect()
    }

    /// A watch on the sequence number the next event gets.
    pub(crate) fn subscribe(&self) -> watch::Receiver<i64> {
        self.appended.subscribe()
    }

    /// The sequence number of the first event a receiver with `filter` gets; the next
    /// sequence number means "the next new event".
    pub(crate) fn start_sequence(&self, filter: StartFilter) -> i64 {
        let log = self.log();
        match filter {
            StartFilter::Latest => log.next_sequence,
            // Selection is monotone in the log order, so a binary search works.
            _ => {
                let index = log
                    .events
                    .partition_point(|event| !event.is_selected_by(filter));
                log.events
                    .get(index)
                    .map_or(log.next_sequence, |e| e.sequence_number)
            }
        }
    }

    /// Removes the events up to and including `through`; returns how many.
    pub(crate) fn expire_through(&self, through: i64) -> usize {
        let mut log = self.log();
        let before = log.events.len();
        while log
            .events
            .front()
            .is_some_and(|e| e.sequence_number <= through)
        {
            log.events.pop_front();
        }
        before - log.events.len()
    }

    /// Removes the events enqueued before `cutoff`; returns how many.
    pub(crate) fn expire_before(&self, cutoff: SystemTime) -> usize {
        let mut log = self.log();
        let before = log.events.len();
        while log.events.front().is_some_and(|e| e.enqueued_time < cutoff) {
            log.events.pop_front();
        }
        before - log.events.len()
    }

    /// Returns the figures of the partition-properties management read.
    pub(crate) fn properties(&self) -> PartitionProperties {
        let log = self.log();
        let (last_sequence_number, last_offset, last_enqueued_millis) = match &log.last {
            Some((sequence, offset, millis)) => (*sequence, offset.clone(), Some(*millis)),
            None => (log.next_sequence - 1, "-1".to_string(), None),
        };
        PartitionProperties {
            begin_sequence_number: log.begin(),
            last_sequence_number,
            last_offset,
            last_enqueued_millis,
            is_empty: log.events.is_empty(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(text: &str) -> NewEvent {
        NewEvent {
            body: text.as_bytes().to_vec(),
            ..NewEvent::default()
        }
    }

    #[test]
    fn a_partition_beginning_past_zero_numbers_from_there() {
        let p = Partition::new("0".into(), 500);
        assert_eq!(p.properties().begin_sequence_number, 500);
        assert!(p.properties().is_empty);
        let first = p.append_one(body("a"));
        assert_eq!(first.sequence_number, 500);
        assert!(first.offset.parse::<i64>().unwrap() > 500);
        assert_eq!(p.next_from(0).map(|e| e.sequence_number), Some(500));
        let filter = StartFilter::SequenceNumber {
            sequence_number: 7,
            inclusive: false,
        };
        assert_eq!(
            p.start_sequence(filter),
            500,
            "older than available: the first"
        );
    }

    #[test]
    fn retention_moves_the_beginning_and_keeps_the_last_figures() {
        let p = Partition::new("0".into(), 0);
        for text in ["a", "b", "c"] {
            p.append_one(body(text));
        }
        assert_eq!(p.expire_through(1), 2);
        let props = p.properties();
        assert_eq!(
            (props.begin_sequence_number, props.last_sequence_number),
            (2, 2)
        );
        assert_eq!(p.next_from(0).map(|e| e.body), Some(b"c".to_vec()));
        assert_eq!(
            p.expire_before(SystemTime::now() + std::time::Duration::from_secs(1)),
            1
        );
        let props = p.properties();
        assert!(props.is_empty);
        assert_eq!(
            (props.begin_sequence_number, props.last_sequence_number),
            (3, 2)
        );
        assert_eq!(p.append_one(body("d")).sequence_number, 3);
    }
}
