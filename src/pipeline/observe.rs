//! One typed event per thing that happens in the pipeline, for whoever watches.
//!
//! The pipeline never increments a counter or writes a log line itself; it reports a
//! [`Happening`] to its [`Observer`]s. The replay summary, the progress bar, the
//! Prometheus metrics and the rejection log are observers, so they cannot disagree.

use std::path::PathBuf;

use chrono::{DateTime, Utc};

use crate::alert::Alert;
use crate::decode::{Location, LogCategory, Refusal, Shape};
use crate::event::AuditEvent;

/// Where an input came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A file (after decompression).
    File(PathBuf),
    /// Standard input.
    Stdin,
    /// An Event Hubs partition.
    Partition {
        /// The hub.
        hub: String,
        /// The partition id.
        partition: String,
        /// The event's sequence number.
        sequence: i64,
    },
    /// Records embedded in a detector definition (examples checked at load).
    Inline(String),
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::File(p) => write!(f, "{}", p.display()),
            Origin::Stdin => f.write_str("<stdin>"),
            Origin::Partition {
                hub,
                partition,
                sequence,
            } => {
                write!(f, "{hub}/partition {partition} seq {sequence}")
            }
            Origin::Inline(name) => write!(f, "inline:{name}"),
        }
    }
}

/// Something that happened.
#[derive(Debug)]
pub enum Happening<'e> {
    /// A record was decoded into an event.
    Received {
        /// Its shape.
        shape: Shape,
        /// Its log (AuditEvent or Activity Log).
        category: LogCategory,
    },
    /// A record was rejected or skipped.
    Refused {
        /// Why.
        refusal: Refusal,
        /// Its shape.
        shape: Shape,
        /// Its log, as far as decoding found out.
        category: LogCategory,
        /// The input.
        origin: &'e Origin,
        /// Where in the input.
        location: Location,
        /// The record's text, when known.
        raw: &'e [u8],
    },
    /// An exact duplicate was dropped.
    Duplicate,
    /// An event fell outside `--since/--until/--vault`.
    Filtered,
    /// An event arrived behind the watermark and was processed out of order.
    Late {
        /// How far behind the newest released event.
        behind: chrono::Duration,
    },
    /// An event reached the detectors.
    Processed {
        /// The event.
        event: &'e AuditEvent<'e>,
        /// Wall-clock time from its input's arrival to now (decoding and the wait in
        /// the reorder buffer for the watermark included).
        waited: std::time::Duration,
    },
    /// An alert was raised or updated, and the sink has taken it.
    Alerted {
        /// The alert.
        alert: &'e Alert,
        /// Wall-clock time from the arrival of the input holding the event that raised
        /// it to the sink taking it; `None` when the watermark raised it (a window
        /// closing), which no single input did.
        latency: Option<std::time::Duration>,
    },
    /// The watermark moved.
    Watermark {
        /// The new watermark.
        at: DateTime<Utc>,
        /// Events still waiting in the reorder buffer.
        buffered: usize,
    },
}

/// Watches the pipeline.
pub trait Observer: Send {
    /// Called for each happening, on the pipeline's thread: keep it cheap.
    fn observe(&mut self, what: &Happening<'_>);
}

/// Fans a happening out to several observers.
#[derive(Default)]
pub struct Observers(Vec<Box<dyn Observer>>);

impl Observers {
    /// Adds an observer.
    pub fn push(&mut self, o: Box<dyn Observer>) {
        self.0.push(o);
    }

    /// Reports to every observer.
    pub fn report(&mut self, what: &Happening<'_>) {
        for o in &mut self.0 {
            o.observe(what);
        }
    }
}
