//! Decoding: bytes of any Key Vault log shape in, [`AuditEvent`]s (or reasons) out.
//!
//! The shapes an analyst meets are detected per input ([`detect_format`]) or forced
//! (`--format`): resource-log JSON Lines (Storage `PT1H.json`), Event Hubs bodies
//! (`{"records":[…]}`, one per line or pretty-printed), Log Analytics exports
//! (`AzureDiagnostics` / `AZKVAuditLogs` rows as JSON or CSV), and gzip of any of them.
//! Each decoder reports every record to a callback as a [`Record`]: an event borrowed
//! from the input buffer, or a [`Refusal`] with its location, so a bad record is
//! counted and the rest of the input goes on.

pub mod envelope;
pub mod format;
pub mod gzip;
pub mod json_lines;
pub mod lenient;
pub mod log_analytics;
pub mod normalise;
pub mod raw;
pub mod reject;
pub mod time;

use std::fmt;

use serde::Serialize;

pub use format::{detect_format, Format};
pub use normalise::normalise;
pub use raw::RawRecord;
pub use reject::{Refusal, RejectReason, SkipReason};

use crate::event::AuditEvent;

/// The shape a record arrived in (a metrics label).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Shape {
    /// One resource-log record per line (Storage `PT1H.json`, JSON Lines).
    ResourceLog,
    /// A record inside an Event Hubs body `{"records":[…]}`.
    EventHubs,
    /// A Log Analytics `AzureDiagnostics` row.
    AzureDiagnostics,
    /// A Log Analytics `AZKVAuditLogs` row.
    AzkvAuditLogs,
}

impl Shape {
    /// Every shape, in a stable order.
    pub const ALL: [Shape; 4] =
        [Self::ResourceLog, Self::EventHubs, Self::AzureDiagnostics, Self::AzkvAuditLogs];

    /// The stable label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ResourceLog => "resource_log",
            Self::EventHubs => "event_hubs",
            Self::AzureDiagnostics => "azure_diagnostics",
            Self::AzkvAuditLogs => "azkv_audit_logs",
        }
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where in an input a record was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Location {
    /// 1-based line where the record (or its enclosing body) starts.
    pub line: u64,
    /// 0-based index inside a body or array, when the record is one of many.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<u32>,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.index {
            Some(i) => write!(f, "line {} record {}", self.line, i),
            None => write!(f, "line {}", self.line),
        }
    }
}

/// One record's result, handed to the decoder's caller.
#[derive(Debug)]
pub struct Record<'a> {
    /// Where it was found.
    pub location: Location,
    /// The shape it arrived in (best known; a refused record keeps the input's shape).
    pub shape: Shape,
    /// The record's text when the decoder knows it (a line), for error reports.
    pub raw: &'a [u8],
    /// The event, or why there is none.
    pub result: Result<AuditEvent<'a>, Refusal>,
}

/// Size limits that keep hostile input from exhausting memory.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// The longest record (line, CSV row) accepted, in bytes.
    pub max_record_bytes: usize,
    /// The most bytes a gzip input may expand to.
    pub max_decompressed_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_record_bytes: 1024 * 1024, max_decompressed_bytes: 4 * 1024 * 1024 * 1024 }
    }
}

/// An input that cannot be decoded at all (as opposed to a bad record inside it).
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The gzip stream is corrupt.
    #[error("corrupt gzip data: {0}")]
    Gzip(#[source] std::io::Error),
    /// The gzip stream expands beyond the limit (a decompression bomb).
    #[error("gzip data expands beyond the {limit}-byte limit")]
    TooLarge {
        /// The limit.
        limit: u64,
    },
}

/// Decodes a whole (decompressed) buffer in the given format, reporting each record.
pub fn decode_buffer<'a>(
    buf: &'a [u8],
    format: Format,
    limits: &Limits,
    sink: &mut dyn FnMut(Record<'a>),
) {
    let format = match format {
        Format::Auto => detect_format(buf),
        other => other,
    };
    match format {
        Format::Auto | Format::JsonLines => json_lines::decode(buf, limits, sink),
        Format::EventHubs => envelope::decode_stream(buf, limits, sink),
        Format::LogAnalyticsJson => log_analytics::decode_json(buf, limits, sink),
        Format::LogAnalyticsCsv => log_analytics::decode_csv(buf, limits, sink),
    }
}

/// Parses and normalises one resource-log record (JSON text).
pub fn decode_record(text: &[u8]) -> Result<AuditEvent<'_>, Refusal> {
    let raw: RawRecord<'_> = serde_json::from_slice(text)
        .map_err(|e| Refusal::Rejected(reject::reason_for_json_error(&e, text)))?;
    normalise(raw)
}
