//! The closing summary of a run (records read, refused by reason, duplicates,
//! alerts by detector) and the log of the first bad records, both as observers.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::decode::{Refusal, Shape};
use crate::pipeline::{Happening, Observer};

/// Counts of everything that happened in a run.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Summary {
    /// Records read (events plus refused).
    pub records: u64,
    /// Records decoded into events.
    pub events: u64,
    /// Records rejected as bad input.
    pub rejected: u64,
    /// Records skipped as not Key Vault audit events.
    pub skipped: u64,
    /// Exact duplicates dropped.
    pub duplicates: u64,
    /// Events outside `--since/--until/--vault`.
    pub filtered: u64,
    /// Events processed after the watermark had passed them.
    pub late: u64,
    /// Alerts raised (revisions included).
    pub alerts: u64,
    /// Events that reached the detectors.
    pub processed: u64,
    /// Rejections by reason.
    pub rejected_by_reason: BTreeMap<String, u64>,
    /// Skips by reason.
    pub skipped_by_reason: BTreeMap<String, u64>,
    /// Records by input shape.
    pub records_by_shape: BTreeMap<String, u64>,
    /// Alerts by detector.
    pub alerts_by_detector: BTreeMap<String, u64>,
    /// Alerts by severity.
    pub alerts_by_severity: BTreeMap<String, u64>,
    /// Records by shape as counted, per [`Shape::ALL`] (folded into
    /// `records_by_shape` by [`Summary::settle`]: no map lookup per record).
    #[serde(skip)]
    shape_counts: [u64; Shape::ALL.len()],
    /// The earliest event time processed.
    pub first_event: Option<DateTime<Utc>>,
    /// The latest event time processed.
    pub last_event: Option<DateTime<Utc>>,
    /// Inputs (files, stdin) read.
    pub inputs: u64,
    /// Inputs that could not be read (or failed part way).
    pub unreadable_inputs: u64,
    /// Inputs read to the end without a single record (empty, or not a log).
    pub empty_inputs: u64,
    /// Entries under the input folders skipped (dangling links, link loops).
    pub skipped_paths: u64,
    /// Wall-clock seconds.
    pub elapsed_seconds: f64,
    /// Records per wall-clock second.
    pub records_per_second: f64,
}

impl Summary {
    /// Whether inputs were read but not one of them held a record.
    pub fn found_nothing(&self) -> bool {
        self.records == 0 && self.inputs > 0
    }

    /// Folds the per-record counts into their maps; call before reading them.
    pub fn settle(&mut self) {
        for (shape, n) in Shape::ALL
            .iter()
            .zip(std::mem::take(&mut self.shape_counts))
        {
            if n > 0 {
                *self
                    .records_by_shape
                    .entry(shape.as_str().to_owned())
                    .or_default() += n;
            }
        }
    }

    fn count_shape(&mut self, shape: Shape) {
        match Shape::ALL.iter().position(|s| *s == shape) {
            Some(i) => self.shape_counts[i] += 1,
            None => bump(&mut self.records_by_shape, shape.as_str()),
        }
    }

    /// Folds one happening into the counts.
    pub fn count(&mut self, what: &Happening<'_>) {
        match what {
            Happening::Received { shape, .. } => {
                self.records += 1;
                self.events += 1;
                self.count_shape(*shape);
            }
            Happening::Refused { refusal, shape, .. } => {
                self.records += 1;
                self.count_shape(*shape);
                let (total, by) = match refusal {
                    Refusal::Rejected(_) => (&mut self.rejected, &mut self.rejected_by_reason),
                    Refusal::Skipped(_) => (&mut self.skipped, &mut self.skipped_by_reason),
                };
                *total += 1;
                bump(by, refusal.as_str());
            }
            Happening::Duplicate => self.duplicates += 1,
            Happening::Filtered => self.filtered += 1,
            Happening::Late { .. } => self.late += 1,
            Happening::Processed { event, .. } => {
                self.processed += 1;
                if self.first_event.is_none_or(|f| event.time < f) {
                    self.first_event = Some(event.time);
                }
                if self.last_event.is_none_or(|l| event.time > l) {
                    self.last_event = Some(event.time);
                }
            }
            Happening::Alerted { alert, .. } => {
                self.alerts += 1;
                bump(&mut self.alerts_by_detector, &alert.detector);
                bump(&mut self.alerts_by_severity, alert.severity.as_str());
            }
            Happening::Watermark { .. } => {}
        }
    }

    /// The human-readable closing lines for standard error.
    pub fn render(&self) -> String {
        let mut out = format!(
            "kvwatch: {} records from {} inputs in {:.2}s ({:.0} records/s): {} events, {} rejected, {} skipped, {} duplicates, {} filtered, {} late; {} alerts",
            self.records,
            self.inputs,
            self.elapsed_seconds,
            self.records_per_second,
            self.events,
            self.rejected,
            self.skipped,
            self.duplicates,
            self.filtered,
            self.late,
            self.alerts
        );
        let section = |out: &mut String, title: &str, map: &BTreeMap<String, u64>| {
            if !map.is_empty() {
                let items: Vec<String> = map.iter().map(|(k, v)| format!("{k} {v}")).collect();
                out.push_str(&format!("\n  {title}: {}", items.join(", ")));
            }
        };
        section(&mut out, "rejected", &self.rejected_by_reason);
        section(&mut out, "skipped", &self.skipped_by_reason);
        section(&mut out, "alerts by detector", &self.alerts_by_detector);
        section(&mut out, "alerts by severity", &self.alerts_by_severity);
        if self.unreadable_inputs > 0 {
            out.push_str(&format!(
                "\n  unreadable inputs: {}",
                self.unreadable_inputs
            ));
        }
        if self.empty_inputs > 0 {
            out.push_str(&format!(
                "\n  inputs without a record: {}",
                self.empty_inputs
            ));
        }
        if self.skipped_paths > 0 {
            out.push_str(&format!(
                "\n  paths skipped (dangling or looping links): {}",
                self.skipped_paths
            ));
        }
        out
    }
}

/// Adds one to a count, allocating its key only the first time (this runs for every
/// record).
fn bump(counts: &mut BTreeMap<String, u64>, key: &str) {
    match counts.get_mut(key) {
        Some(n) => *n += 1,
        None => {
            counts.insert(key.to_owned(), 1);
        }
    }
}

/// Counts happenings into a shared [`Summary`].
pub struct SummaryObserver(pub Arc<Mutex<Summary>>);

impl Observer for SummaryObserver {
    fn observe(&mut self, what: &Happening<'_>) {
        if let Ok(mut s) = self.0.lock() {
            s.count(what);
        }
    }
}

/// Logs the first `limit` rejected records in full (origin, line, reason, text).
pub struct RejectLog {
    limit: usize,
    shown: usize,
    /// Rejections not shown.
    pub hidden: Arc<Mutex<u64>>,
}

impl RejectLog {
    /// Shows at most `limit` rejections.
    pub fn new(limit: usize) -> Self {
        RejectLog {
            limit,
            shown: 0,
            hidden: Arc::new(Mutex::new(0)),
        }
    }
}

impl Observer for RejectLog {
    fn observe(&mut self, what: &Happening<'_>) {
        let Happening::Refused {
            refusal: Refusal::Rejected(reason),
            origin,
            location,
            raw,
            ..
        } = what
        else {
            return;
        };
        if self.shown < self.limit {
            self.shown += 1;
            let text = printable(raw, 2048);
            tracing::warn!(input = %origin, at = %location, reason = reason.as_str(), record = %text, "rejected record");
        } else if let Ok(mut h) = self.hidden.lock() {
            *h += 1;
        }
    }
}

/// Record text for a log line: control characters escaped, length capped.
pub fn printable(raw: &[u8], max: usize) -> String {
    let text = String::from_utf8_lossy(&raw[..raw.len().min(max)]);
    let mut out: String = text.chars().flat_map(char::escape_debug).collect();
    if raw.len() > max {
        out.push('…');
    }
    out
}
