//! Framing: where one record ends and the next begins, in a whole buffer or a stream.
//!
//! An input is cut into chunks of whole records so that it can be read in bounded
//! memory and decoded on every core: [`Framer`] reads any [`Read`] (a file, standard
//! input, a gzip stream) a chunk at a time and never holds more than a chunk plus
//! one record (or one top-level value). The layout is decided once, from the first
//! 64 KiB ([`layout`]):
//!
//! - **lines**: most lines of the head are complete JSON values on their own (a
//!   Storage `PT1H.json`, JSON Lines of records, rows or bodies). Every line is then
//!   decoded alone, so a bad line (even the first) costs only itself;
//! - **values**: pretty-printed objects, arrays, a query response; cut between
//!   top-level values, and a long top-level array of records between its elements
//!   ([`ARRAY_STREAM_BYTES`]);
//! - **CSV**: rows cut at line breaks outside quotes, the header repeated in front of
//!   every chunk.
//!
//! A UTF-8 byte-order mark is dropped and NUL bytes between records (the padding a
//! crashed writer leaves) count as blank space. [`decode_framed`] decodes one chunk
//! (or a whole buffer) with the decoder of its format and layout.

mod framer;
#[cfg(test)]
mod tests;

pub use framer::Framer;

use super::{json_lines, log_analytics, Format, Limits, Record, RejectReason, Shape};

/// How much of an input decides its format and layout.
pub const HEAD_BYTES: usize = 64 * 1024;

/// The size a chunk is cut at (the last record boundary after it).
pub const CHUNK_BYTES: usize = 1024 * 1024;

/// The largest top-level value (a pretty-printed body, a query response) kept whole;
/// a longer one is cut at a line break and decoded in parts, its broken ends
/// refused. A top-level array of records is not held to it: past
/// [`ARRAY_STREAM_BYTES`] it is cut between its elements.
pub const MAX_VALUE_BYTES: usize = 256 * 1024 * 1024;

/// A top-level JSON array of records (an export, `az ... -o json`) longer than this
/// is streamed element by element: chunks of whole elements, in bounded memory,
/// whatever its length. Shorter ones are decoded whole, as before.
pub const ARRAY_STREAM_BYTES: usize = 16 * 1024 * 1024;

/// How records are laid out in an input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// One record (or body, or row) a line.
    Lines,
    /// Top-level JSON values, pretty-printed or not.
    Values,
    /// CSV rows after a header.
    Csv,
}

/// A run of whole records cut from an input, and how to decode it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    /// The bytes (for CSV, the header comes first).
    pub bytes: Vec<u8>,
    /// What they are.
    pub frame: Frame,
}

/// What a chunk holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame {
    /// Whole lines or values in `format` and `layout`, starting at `first_line`.
    Records {
        /// The input's format.
        format: Format,
        /// Lines or values.
        layout: Layout,
        /// The input line of the chunk's first byte.
        first_line: u64,
    },
    /// CSV rows behind a copy of the header (`header_lines` lines long).
    CsvRows {
        /// Lines the header copy takes at the front of the chunk.
        header_lines: u64,
        /// The input line of the first row.
        first_line: u64,
        /// The index of the first row.
        first_index: u32,
    },
    /// Whole elements of a long top-level array of records, separated by blanks
    /// (the framer blanked the brackets and commas around them).
    Elements {
        /// The input line of the chunk's first byte.
        first_line: u64,
        /// The array index of the chunk's first element.
        first_index: u32,
    },
    /// A line longer than the record limit, refused without being kept.
    Oversized {
        /// Its line.
        line: u64,
        /// The input's shape.
        shape: Shape,
    },
}

/// Whether a byte is blank between records: ASCII white space or NUL padding.
pub(crate) fn is_blank(b: u8) -> bool {
    b.is_ascii_whitespace() || b == 0
}

/// Drops a UTF-8 byte-order mark.
pub(crate) fn strip_bom(buf: &[u8]) -> &[u8] {
    buf.strip_prefix(&[0xEF, 0xBB, 0xBF][..]).unwrap_or(buf)
}

/// Decides the layout of an input of `format` from its head (BOM already dropped):
/// lines when most of its first 32 non-blank lines are each a complete JSON object
/// or array, values otherwise; `complete` says the head is the whole input.
pub fn layout(format: Format, head: &[u8], complete: bool) -> Layout {
    if format == Format::LogAnalyticsCsv {
        return Layout::Csv;
    }
    let mut values = 0usize;
    let mut lines = 0usize;
    let mut rest = head;
    // The first lines decide; a long head of short lines is not scanned to its end.
    while lines < 32 {
        let (line, next) = match memchr::memchr(b'\n', rest) {
            Some(i) => (&rest[..i], Some(&rest[i + 1..])),
            None if complete => (rest, None),
            None => break,
        };
        let line = trim_blank(line);
        if !line.is_empty() {
            lines += 1;
            if is_complete_value(line) {
                values += 1;
            }
        }
        match next {
            Some(next) => rest = next,
            None => break,
        }
    }
    if lines > 0 && values * 2 > lines {
        Layout::Lines
    } else {
        Layout::Values
    }
}

/// Trims blank bytes (white space and NUL) from both ends.
pub(crate) fn trim_blank(line: &[u8]) -> &[u8] {
    let start = line
        .iter()
        .position(|&b| !is_blank(b))
        .unwrap_or(line.len());
    let end = line
        .iter()
        .rposition(|&b| !is_blank(b))
        .map_or(start, |i| i + 1);
    &line[start..end]
}

/// Whether a trimmed line is one balanced JSON object or array, closed at its end.
fn is_complete_value(line: &[u8]) -> bool {
    if !matches!(line.first(), Some(b'{' | b'[')) {
        return false;
    }
    let mut scan = ValueScan::default();
    match scan.value_end(line, 0) {
        Some(end) => end == line.len(),
        None => false,
    }
}

/// A JSON structure scanner: nesting depth and string state, no parsing.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ValueScan {
    depth: u64,
    in_string: bool,
    escaped: bool,
}

impl ValueScan {
    /// Scans `buf` from `from` (inside or at the start of a value); returns the
    /// offset just past the value's closing bracket, or `None` if it does not close
    /// within `buf` (the state is kept for the next call).
    pub(crate) fn value_end(&mut self, buf: &[u8], from: usize) -> Option<usize> {
        let mut i = from;
        while i < buf.len() {
            if self.in_string {
                if self.escaped {
                    // The byte after a backslash is taken literally.
                    self.escaped = false;
                    i += 1;
                    continue;
                }
                let j = memchr::memchr2(b'"', b'\\', &buf[i..])?;
                i += j;
                if buf[i] == b'\\' {
                    self.escaped = true;
                } else {
                    self.in_string = false;
                }
                i += 1;
                continue;
            }
            match buf[i] {
                b'"' => self.in_string = true,
                b'{' | b'[' => self.depth += 1,
                b'}' | b']' => {
                    self.depth = self.depth.saturating_sub(1);
                    if self.depth == 0 {
                        return Some(i + 1);
                    }
                }
                _ => {}
            }
            i += 1;
        }
        None
    }
}

/// Decodes framed bytes (a chunk, or a whole input) of `format` laid out as
/// `layout`, reporting each record with lines counted from 1.
pub fn decode_framed<'a>(
    buf: &'a [u8],
    format: Format,
    layout: Layout,
    limits: &Limits,
    sink: &mut dyn FnMut(Record<'a>),
) {
    match (format, layout) {
        (Format::LogAnalyticsCsv, _) | (_, Layout::Csv) => {
            log_analytics::decode_csv(buf, limits, sink);
        }
        (Format::LogAnalyticsJson, Layout::Lines) => {
            log_analytics::json::decode_lines(buf, limits, sink);
        }
        (Format::LogAnalyticsJson, Layout::Values) => {
            log_analytics::json::decode_values(buf, limits, sink);
        }
        (_, Layout::Lines) => json_lines::decode_lines(buf, limits, sink),
        (Format::EventHubs, Layout::Values) => super::envelope::decode_stream(buf, limits, sink),
        (_, Layout::Values) => json_lines::decode_values(buf, limits, sink),
    }
}

/// Decodes one chunk, reporting each record at its place in the whole input.
pub fn decode_chunk<'a>(chunk: &'a Chunk, limits: &Limits, sink: &mut dyn FnMut(Record<'a>)) {
    match chunk.frame {
        Frame::Records {
            format,
            layout,
            first_line,
        } => decode_framed(&chunk.bytes, format, layout, limits, &mut |mut r| {
            r.location.line += first_line - 1;
            sink(r);
        }),
        Frame::CsvRows {
            header_lines,
            first_line,
            first_index,
        } => log_analytics::decode_csv(&chunk.bytes, limits, &mut |mut r| {
            r.location.line = (first_line + r.location.line).saturating_sub(header_lines + 1);
            r.location.index = r.location.index.map(|i| i.saturating_add(first_index));
            sink(r);
        }),
        Frame::Elements {
            first_line,
            first_index,
        } => json_lines::decode_elements(&chunk.bytes, first_index, limits, &mut |mut r| {
            r.location.line += first_line - 1;
            sink(r);
        }),
        Frame::Oversized { line, shape } => sink(Record {
            location: super::Location { line, index: None },
            shape,
            raw: &[],
            result: Err(RejectReason::TooLarge.into()),
        }),
    }
}

/// The shape a refused record of an input of `format` is counted under.
pub(crate) fn shape_of(format: Format) -> Shape {
    match format {
        Format::LogAnalyticsJson | Format::LogAnalyticsCsv => Shape::AzureDiagnostics,
        Format::EventHubs => Shape::EventHubs,
        Format::Auto | Format::JsonLines => Shape::ResourceLog,
    }
}
