//! Decoding: bytes of any Key Vault log shape in, [`AuditEvent`]s (or reasons) out.
//!
//! The shapes an analyst meets are detected per input ([`detect_format`]) or forced
//! (`--format`): resource-log JSON Lines (Storage `PT1H.json`), Event Hubs bodies
//! (`{"records":[…]}`, one per line or pretty-printed), Log Analytics exports
//! (`AzureDiagnostics` / `AZKVAuditLogs` rows as JSON or CSV), and gzip of any of them.
//! Each decoder reports every record to a callback as a [`Record`]: an event borrowed
//! from the input buffer, or a [`Refusal`] with its location, so a bad record is
//! counted and the rest of the input goes on.

pub mod activity;
pub mod envelope;
pub mod format;
pub mod framing;
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
    /// A Log Analytics `AzureActivity` row (the Activity Log), or a record of the
    /// Activity Log REST API's `{"value":[…]}` list.
    AzureActivity,
}

impl Shape {
    /// Every shape, in a stable order.
    pub const ALL: [Shape; 5] = [
        Self::ResourceLog,
        Self::EventHubs,
        Self::AzureDiagnostics,
        Self::AzkvAuditLogs,
        Self::AzureActivity,
    ];

    /// The stable label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ResourceLog => "resource_log",
            Self::EventHubs => "event_hubs",
            Self::AzureDiagnostics => "azure_diagnostics",
            Self::AzkvAuditLogs => "azkv_audit_logs",
            Self::AzureActivity => "azure_activity",
        }
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which log a record belongs to, as far as decoding found out (a metrics label).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LogCategory {
    /// A Key Vault `AuditEvent` record.
    AuditEvent,
    /// An Activity Log record (category `Administrative`).
    ActivityLog,
    /// A record of another category (skipped).
    Other,
    /// A record refused before its category was known (bad JSON, missing fields …).
    Unknown,
}

impl LogCategory {
    /// Every category, in a stable order.
    pub const ALL: [LogCategory; 4] = [
        Self::AuditEvent,
        Self::ActivityLog,
        Self::Other,
        Self::Unknown,
    ];

    /// The stable label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AuditEvent => "audit_event",
            Self::ActivityLog => "activity_log",
            Self::Other => "other",
            Self::Unknown => "unknown",
        }
    }

    /// Index into [`LogCategory::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// The category of a decoder's result: an event's log, or what its refusal
    /// says (an unrelated Activity Log operation is still the Activity Log).
    pub fn of(result: &Result<AuditEvent<'_>, Refusal>) -> LogCategory {
        match result {
            Ok(event) => Self::of_event(event),
            Err(refusal) => Self::of_refusal(*refusal),
        }
    }

    /// The category of a decoded event: the log it came from.
    pub fn of_event(event: &AuditEvent<'_>) -> LogCategory {
        match event.log() {
            crate::event::LogSource::AuditEvent => Self::AuditEvent,
            crate::event::LogSource::ActivityLog => Self::ActivityLog,
        }
    }

    /// The category a refusal implies, as far as decoding found out.
    pub fn of_refusal(refusal: Refusal) -> LogCategory {
        match refusal {
            Refusal::Skipped(SkipReason::OtherCategory) => Self::Other,
            Refusal::Skipped(SkipReason::NotKeyVault) => Self::AuditEvent,
            Refusal::Skipped(SkipReason::UnrelatedOperation) => Self::ActivityLog,
            Refusal::Rejected(RejectReason::InvalidBody) => Self::ActivityLog,
            Refusal::Rejected(_) => Self::Unknown,
        }
    }
}

impl fmt::Display for LogCategory {
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

/// Turns byte offsets into 1-based line numbers, counting each byte once while the
/// offsets grow (decoders ask in input order), so a long input costs O(n), not O(n²).
#[derive(Debug)]
pub(crate) struct LineCounter<'a> {
    buf: &'a [u8],
    offset: usize,
    line: u64,
}

impl<'a> LineCounter<'a> {
    /// A counter over `buf`, at line 1.
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        LineCounter {
            buf,
            offset: 0,
            line: 1,
        }
    }

    /// The line holding byte `offset` (clamped to the buffer).
    pub(crate) fn line_at(&mut self, offset: usize) -> u64 {
        let offset = offset.min(self.buf.len());
        if offset < self.offset {
            self.offset = 0;
            self.line = 1;
        }
        self.line += memchr::memchr_iter(b'\n', &self.buf[self.offset..offset]).count() as u64;
        self.offset = offset;
        self.line
    }

    /// The line where `part` (a sub-slice of the counter's buffer) starts.
    pub(crate) fn line_of(&mut self, part: &[u8]) -> u64 {
        let offset = offset_in(self.buf, part).unwrap_or(0);
        self.line_at(offset)
    }
}

/// The offset of `part` inside `whole`, when it is a sub-slice of it.
pub(crate) fn offset_in(whole: &[u8], part: &[u8]) -> Option<usize> {
    let start = (part.as_ptr() as usize).checked_sub(whole.as_ptr() as usize)?;
    (start + part.len() <= whole.len()).then_some(start)
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

impl Record<'_> {
    /// Which log the record belongs to, as far as decoding found out.
    pub fn category(&self) -> LogCategory {
        LogCategory::of(&self.result)
    }
}

/// Size limits that keep hostile input from exhausting memory.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// The longest record (line, CSV row) accepted, in bytes.
    pub max_record_bytes: usize,
    /// The most bytes [`gzip::gunzip`] expands a whole buffer to (streamed inputs
    /// are bounded by `max_expansion_ratio` instead).
    pub max_decompressed_bytes: u64,
    /// The most bytes a streamed gzip input may expand to per compressed byte.
    pub max_expansion_ratio: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_record_bytes: 1024 * 1024,
            max_decompressed_bytes: 4 * 1024 * 1024 * 1024,
            max_expansion_ratio: gzip::DEFAULT_MAX_EXPANSION_RATIO,
        }
    }
}

/// An input that cannot be decoded at all (as opposed to a bad record inside it).
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The gzip stream is corrupt.
    #[error("corrupt gzip data: {0}")]
    Gzip(#[source] std::io::Error),
    /// The gzip stream expands beyond the limit (a decompression bomb).
    #[error("gzip data expands beyond the {limit}-byte limit (pipeline.max_decompressed_bytes)")]
    TooLarge {
        /// The limit.
        limit: u64,
    },
    /// A streamed gzip input expands more than the ratio allows (a bomb).
    #[error("gzip data expands more than {ratio} times its size (a decompression bomb; pipeline.max_expansion_ratio)")]
    Bomb {
        /// The ratio.
        ratio: u64,
    },
}

/// Decodes a whole (decompressed) buffer in the given format, reporting each record.
///
/// Format and layout are decided as a streamed input's are ([`framing::Framer`]), so
/// a buffer decodes to the same records whether it is held whole or streamed.
pub fn decode_buffer<'a>(
    buf: &'a [u8],
    format: Format,
    limits: &Limits,
    sink: &mut dyn FnMut(Record<'a>),
) {
    let body = framing::strip_bom(buf);
    // Blank lines and NUL padding before the first record are not records.
    let lead = body
        .iter()
        .position(|&b| !framing::is_blank(b))
        .unwrap_or(body.len());
    let lead_lines = memchr::memchr_iter(b'\n', &body[..lead]).count() as u64;
    let body = &body[lead..];
    if body.is_empty() {
        return;
    }
    let format = match format {
        Format::Auto => detect_format(body),
        other => other,
    };
    let head = &body[..body.len().min(framing::HEAD_BYTES)];
    let layout = framing::layout(format, head, head.len() == body.len());
    if lead_lines == 0 {
        return framing::decode_framed(body, format, layout, limits, sink);
    }
    framing::decode_framed(body, format, layout, limits, &mut |mut r| {
        r.location.line += lead_lines;
        sink(r);
    });
}

/// Parses and normalises one resource-log record (JSON text).
///
/// The text is validated as UTF-8 once, up front (a fast whole-buffer check), so the
/// JSON parser can skip validating each string again.
pub fn decode_record(text: &[u8]) -> Result<AuditEvent<'_>, Refusal> {
    let text =
        std::str::from_utf8(text).map_err(|_| Refusal::Rejected(RejectReason::InvalidUtf8))?;
    let raw: RawRecord<'_> = serde_json::from_str(text)
        .map_err(|e| Refusal::Rejected(reject::reason_for_json_error(&e, text.as_bytes())))?;
    normalise(raw)
}
