//! Event-time ordering with a bounded-lateness watermark, shared by replay and live.
//!
//! Records arrive out of order (Storage blobs hold records by arrival hour, Event Hubs
//! partitions interleave, Azure exports up to ~10 minutes late). Events wait in a heap
//! until the watermark passes them, then leave in `(time, content hash)` order, so
//! the detectors see the same sequence whatever the arrival order, as long as no event
//! is later than the allowed lateness. A later one is released at once and counted as
//! late; nothing is dropped. The buffer is bounded: past its capacity the oldest event
//! leaves early.
//!
//! Events are boxed (decoded that way, on the decoding threads), so the heap moves a
//! small entry when it sifts, never the event itself.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::time::Instant;

use chrono::{DateTime, Utc};

use super::dedup::ContentHash;
use crate::event::AuditEvent;

struct Entry {
    time: DateTime<Utc>,
    hash: ContentHash,
    event: Box<AuditEvent<'static>>,
    /// When the event's input arrived (wall clock): the reorder wait is part of the
    /// processing latency metrics report.
    received: Instant,
    /// Whether the arrival rules have read it already.
    arrived: bool,
}

/// An event leaving the buffer, with what the pipeline needs to finish it.
pub struct Released {
    /// The event.
    pub event: Box<AuditEvent<'static>>,
    /// Its content hash.
    pub hash: ContentHash,
    /// When its input arrived (wall clock).
    pub received: Instant,
    /// Whether the arrival rules read it when it arrived (if not, they read it now).
    pub arrived: bool,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.time == other.time && self.hash == other.hash
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.time, self.hash).cmp(&(other.time, other.hash))
    }
}

/// Whether an event entered the buffer or was already behind the watermark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Buffered until the watermark passes it.
    Buffered,
    /// Older than what has already been released: hand it on now.
    Late,
}

/// The reorder buffer.
pub struct ReorderBuffer {
    heap: BinaryHeap<Reverse<Entry>>,
    capacity: usize,
    released_up_to: Option<DateTime<Utc>>,
}

impl ReorderBuffer {
    /// A buffer holding at most `capacity` events.
    pub fn new(capacity: usize) -> Self {
        ReorderBuffer {
            heap: BinaryHeap::new(),
            capacity: capacity.max(1),
            released_up_to: None,
        }
    }

    /// Offers an event whose input arrived at `received` (`arrived`: the arrival
    /// rules have read it). A late event is given back to be processed immediately.
    pub fn push(
        &mut self,
        event: Box<AuditEvent<'static>>,
        hash: ContentHash,
        received: Instant,
        arrived: bool,
    ) -> Result<Admission, Box<AuditEvent<'static>>> {
        if self.released_up_to.is_some_and(|r| event.time < r) {
            return Err(event);
        }
        self.heap.push(Reverse(Entry {
            time: event.time,
            hash,
            event,
            received,
            arrived,
        }));
        Ok(Admission::Buffered)
    }

    /// The oldest event when the buffer is over capacity (memory bound beats
    /// ordering).
    pub fn pop_overflow(&mut self) -> Option<Released> {
        if self.heap.len() > self.capacity {
            self.pop()
        } else {
            None
        }
    }

    /// The oldest event if it is at or before `watermark` (call until `None` to
    /// release, in order, everything the watermark has passed).
    pub fn pop_ready(&mut self, watermark: DateTime<Utc>) -> Option<Released> {
        if self
            .heap
            .peek()
            .is_some_and(|Reverse(e)| e.time <= watermark)
        {
            self.pop()
        } else {
            None
        }
    }

    /// The oldest event, whatever its time (end of input, shutdown).
    pub fn pop(&mut self) -> Option<Released> {
        let Reverse(e) = self.heap.pop()?;
        self.note_release(e.time);
        Some(Released {
            event: e.event,
            hash: e.hash,
            received: e.received,
            arrived: e.arrived,
        })
    }

    /// The time of the oldest waiting event.
    pub fn next_time(&self) -> Option<DateTime<Utc>> {
        self.heap.peek().map(|Reverse(e)| e.time)
    }

    /// Events waiting.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// Whether no event waits.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// The time of the newest released event.
    pub fn released_up_to(&self) -> Option<DateTime<Utc>> {
        self.released_up_to
    }

    /// The content hashes of the events waiting.
    pub fn hashes(&self) -> impl Iterator<Item = ContentHash> + '_ {
        self.heap.iter().map(|Reverse(e)| e.hash)
    }

    /// The waiting events marked as read by the arrival rules, with their hashes.
    pub fn arrived(&self) -> impl Iterator<Item = (&AuditEvent<'static>, ContentHash)> + '_ {
        self.heap
            .iter()
            .filter(|Reverse(e)| e.arrived)
            .map(|Reverse(e)| (&*e.event, e.hash))
    }

    /// Resumes after a restart whose checkpoint had released events up to `time`:
    /// older events are late again, as they were before the restart.
    pub fn resume_after(&mut self, time: DateTime<Utc>) {
        self.note_release(time);
    }

    fn note_release(&mut self, time: DateTime<Utc>) {
        if self.released_up_to.is_none_or(|r| time > r) {
            self.released_up_to = Some(time);
        }
    }
}
