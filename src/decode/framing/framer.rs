//! The streaming half of framing: a reader cut into chunks of whole records.
//!
//! [`Framer`] holds one buffer: the bytes read and not yet handed out, always
//! starting at a record boundary. It reads until the buffer holds a chunk's worth,
//! hands out everything up to the last record boundary and keeps the partial record
//! after it (copied into the next buffer: a record at most). A line longer than the
//! record limit is refused and skipped without being kept; a top-level array of
//! records longer than [`ARRAY_STREAM_BYTES`] is cut between its elements (its
//! brackets and commas blanked, so each chunk is a run of whole values); any other
//! top-level value longer than [`MAX_VALUE_BYTES`] is cut at a line break.

use std::io::Read;

use super::{
    is_blank, layout, shape_of, trim_blank, Chunk, Frame, Layout, ValueScan, ARRAY_STREAM_BYTES,
    CHUNK_BYTES, HEAD_BYTES, MAX_VALUE_BYTES,
};
use crate::decode::{Format, Limits, Shape};

#[path = "elements.rs"]
mod elements;

/// Cuts a stream into [`Chunk`]s of whole records, in bounded memory.
pub struct Framer<R: Read> {
    reader: R,
    limits: Limits,
    format: Format,
    layout: Layout,
    started: bool,
    /// Bytes read and not yet handed out; they start at a record boundary.
    buf: Vec<u8>,
    /// The input line of `buf[0]`.
    line: u64,
    eof: bool,
    /// A read error, reported after the records before it.
    error: Option<std::io::Error>,
    /// CSV: the header (with its line break) and its line count.
    header: Vec<u8>,
    header_lines: u64,
    /// CSV: the index of the next row.
    index: u32,
    chunk_bytes: usize,
    /// Inside a long top-level array: the index of its next element.
    elements: Option<u32>,
    /// The length past which a top-level array is streamed element by element.
    array_bytes: usize,
}

impl<R: Read> Framer<R> {
    /// A framer over `reader`; `format` is detected from the head when `Auto`.
    pub fn new(reader: R, format: Format, limits: Limits) -> Self {
        Framer {
            reader,
            limits,
            format,
            layout: Layout::Lines,
            started: false,
            buf: Vec::with_capacity(CHUNK_BYTES + HEAD_BYTES),
            line: 1,
            eof: false,
            error: None,
            header: Vec::new(),
            header_lines: 0,
            index: 0,
            chunk_bytes: CHUNK_BYTES,
            elements: None,
            array_bytes: ARRAY_STREAM_BYTES,
        }
    }

    /// Streams top-level arrays longer than `bytes` element by element instead of
    /// past [`ARRAY_STREAM_BYTES`] (tests).
    pub fn with_array_stream_bytes(mut self, bytes: usize) -> Self {
        self.array_bytes = bytes.max(1);
        self
    }

    /// Cuts chunks at about `bytes` instead of [`CHUNK_BYTES`] (tests, benchmarks).
    pub fn with_chunk_bytes(mut self, bytes: usize) -> Self {
        self.chunk_bytes = bytes.max(1);
        self.buf = Vec::with_capacity(self.chunk_bytes + HEAD_BYTES);
        self
    }

    /// The format (detected once the first chunk has been asked for).
    pub fn format(&self) -> Format {
        self.format
    }

    /// The layout (decided once the first chunk has been asked for).
    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// The largest buffer the framer has held, in bytes (for tests of its bound).
    pub fn buffer_capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// The next chunk; `Ok(None)` at the end, `Err` once after the last chunk when
    /// the input failed while it was read.
    pub fn next_chunk(&mut self) -> std::io::Result<Option<Chunk>> {
        if !self.started {
            self.start();
        }
        let chunk = if self.elements.is_some() {
            self.next_elements()
        } else {
            self.next_in_layout()
        };
        match chunk {
            Some(chunk) => Ok(Some(chunk)),
            None => match self.error.take() {
                Some(e) => Err(e),
                None => Ok(None),
            },
        }
    }

    /// The next chunk outside a streamed array.
    fn next_in_layout(&mut self) -> Option<Chunk> {
        match self.layout {
            Layout::Lines => self.next_lines(),
            Layout::Csv => self.next_csv(),
            Layout::Values => self.next_values(),
        }
    }

    /// Reads until `buf` holds at least `want` bytes or the input ends.
    fn fill(&mut self, want: usize) {
        while !self.eof && self.buf.len() < want {
            let missing = want - self.buf.len();
            self.buf.reserve(missing);
            match (&mut self.reader)
                .take(missing as u64)
                .read_to_end(&mut self.buf)
            {
                Ok(0) => self.eof = true,
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.error = Some(e);
                    self.eof = true;
                }
            }
        }
    }

    /// Reads the head, drops a BOM and leading blank bytes, decides format and layout.
    fn start(&mut self) {
        self.started = true;
        self.fill(HEAD_BYTES);
        let skip = if self.buf.starts_with(&[0xEF, 0xBB, 0xBF]) {
            3
        } else {
            0
        };
        // Blank lines and NUL padding before the first record: dropped, lines counted.
        let lead = skip
            + self.buf[skip..]
                .iter()
                .position(|&b| !is_blank(b))
                .unwrap_or(self.buf.len() - skip);
        self.line += memchr::memchr_iter(b'\n', &self.buf[..lead]).count() as u64;
        self.buf.drain(..lead);
        if self.format == Format::Auto {
            self.format = crate::decode::detect_format(&self.buf);
        }
        self.layout = layout(self.format, &self.buf, self.eof);
        if self.layout == Layout::Csv {
            self.read_header();
        }
    }

    /// Hands out `buf[..cut]` as a chunk of `frame`, keeping the rest for the next.
    fn take(&mut self, cut: usize) -> Vec<u8> {
        let mut rest = if self.eof && cut == self.buf.len() {
            // The last chunk of the input: nothing to carry over.
            Vec::new()
        } else {
            Vec::with_capacity(self.chunk_bytes + HEAD_BYTES)
        };
        rest.extend_from_slice(&self.buf[cut..]);
        self.buf.truncate(cut);
        let chunk = std::mem::replace(&mut self.buf, rest);
        self.line += memchr::memchr_iter(b'\n', &chunk).count() as u64;
        chunk
    }

    /// The longest line kept before it is refused as too large (trimming slack).
    fn max_line(&self) -> usize {
        self.limits.max_record_bytes.saturating_add(4096)
    }

    /// Drops the rest of an over-long line; `buf` then starts at the next line.
    fn skip_line(&mut self) {
        loop {
            if let Some(nl) = memchr::memchr(b'\n', &self.buf) {
                self.buf.drain(..=nl);
                self.line += 1;
                return;
            }
            self.buf.clear();
            if self.eof {
                return;
            }
            self.fill(HEAD_BYTES);
        }
    }

    fn next_lines(&mut self) -> Option<Chunk> {
        loop {
            self.fill(self.chunk_bytes);
            if self.buf.is_empty() {
                return None;
            }
            let first_line = self.line;
            let cut = if self.eof {
                self.buf.len()
            } else if let Some(nl) = memchr::memrchr(b'\n', &self.buf) {
                nl + 1
            } else if self.buf.len() > self.max_line().min(self.array_bytes) && self.enter_array() {
                // One line holding a long array of records: element by element.
                return self.next_elements();
            } else if self.buf.len() > self.max_line() {
                self.skip_line();
                return Some(Chunk {
                    bytes: Vec::new(),
                    frame: Frame::Oversized {
                        line: first_line,
                        shape: shape_of(self.format),
                    },
                });
            } else {
                // A line longer than a chunk: read on until it ends.
                let want = (self.buf.len() + HEAD_BYTES).min(self.max_line() + 1);
                self.fill(want);
                continue;
            };
            let bytes = self.take(cut);
            if trim_blank(&bytes).is_empty() {
                continue;
            }
            return Some(Chunk {
                bytes,
                frame: Frame::Records {
                    format: self.format,
                    layout: Layout::Lines,
                    first_line,
                },
            });
        }
    }

    /// The end of the CSV record starting at `from` (past its line break, outside
    /// quotes), or `None` if it does not end within `buf`.
    ///
    /// Quotes and record ends are read as the CSV decoder reads them: a quote opens a
    /// quoted field only at the start of a field (after a comma or a record end);
    /// inside one, `""` is a literal quote and a lone `"` closes it; anywhere else a
    /// quote is a plain character; outside quotes a record ends at `\n`, `\r\n` or a
    /// lone `\r`. So a cut always falls where the decoder sees a record end.
    fn csv_record_end(buf: &[u8], from: usize) -> Option<usize> {
        let mut quoted = false;
        let mut field_start = true;
        let mut i = from;
        while i < buf.len() {
            let b = buf[i];
            if quoted {
                if b == b'"' {
                    match buf.get(i + 1) {
                        Some(b'"') => i += 1,
                        Some(_) => quoted = false,
                        // `"` or `""`: the next read decides.
                        None => return None,
                    }
                }
            } else {
                match b {
                    b'\n' => return Some(i + 1),
                    // The CSV decoder ends a record at `\r`, `\n` or `\r\n`.
                    b'\r' => {
                        return match buf.get(i + 1) {
                            Some(b'\n') => Some(i + 2),
                            Some(_) => Some(i + 1),
                            // `\r` or `\r\n`: the next read decides.
                            None => None,
                        };
                    }
                    b',' => field_start = true,
                    b'"' if field_start => {
                        quoted = true;
                        field_start = false;
                    }
                    _ => field_start = false,
                }
            }
            i += 1;
        }
        None
    }

    fn read_header(&mut self) {
        loop {
            match Self::csv_record_end(&self.buf, 0) {
                Some(end) => {
                    self.header = self.buf[..end].to_vec();
                    break;
                }
                None if self.eof || self.buf.len() > self.max_line() => {
                    // The whole input is a header (or a header too long to keep):
                    // decode it as it is; it yields no row.
                    let mut header = self.buf.split_off(0);
                    header.push(b'\n');
                    self.header = header;
                    self.skip_line();
                    self.header_lines = 1;
                    self.line += 1;
                    return;
                }
                None => {
                    let want = self.buf.len() + HEAD_BYTES;
                    self.fill(want);
                }
            }
        }
        self.header_lines = memchr::memchr_iter(b'\n', &self.header).count() as u64;
        self.buf.drain(..self.header.len());
        self.line += self.header_lines;
    }

    fn next_csv(&mut self) -> Option<Chunk> {
        loop {
            self.fill(self.chunk_bytes);
            if self.buf.is_empty() {
                return None;
            }
            let first_line = self.line;
            // The last complete record in the buffer.
            let mut cut = 0;
            let mut rows = 0u32;
            while let Some(end) = Self::csv_record_end(&self.buf, cut) {
                if !trim_blank(&self.buf[cut..end]).is_empty() {
                    rows += 1;
                }
                cut = end;
            }
            if self.eof && cut < self.buf.len() {
                if !trim_blank(&self.buf[cut..]).is_empty() {
                    rows += 1;
                }
                cut = self.buf.len();
            }
            if cut == 0 {
                if self.buf.len() > self.max_line() {
                    self.skip_line();
                    self.index = self.index.saturating_add(1);
                    return Some(Chunk {
                        bytes: Vec::new(),
                        frame: Frame::Oversized {
                            line: first_line,
                            shape: Shape::AzureDiagnostics,
                        },
                    });
                }
                let want = (self.buf.len() + HEAD_BYTES).min(self.max_line() + 1);
                self.fill(want);
                continue;
            }
            let rows_bytes = self.take(cut);
            let first_index = self.index;
            self.index = self.index.saturating_add(rows);
            if rows == 0 {
                continue;
            }
            let mut bytes = Vec::with_capacity(self.header.len() + rows_bytes.len());
            bytes.extend_from_slice(&self.header);
            bytes.extend_from_slice(&rows_bytes);
            return Some(Chunk {
                bytes,
                frame: Frame::CsvRows {
                    header_lines: self.header_lines,
                    first_line,
                    first_index,
                },
            });
        }
    }

    fn next_values(&mut self) -> Option<Chunk> {
        loop {
            self.fill(self.chunk_bytes);
            if self.buf.is_empty() {
                return None;
            }
            let first_line = self.line;
            let mut scan = ValueScan::default();
            let mut at = 0usize;
            let mut cut = 0usize;
            // Whole top-level values until the chunk is full.
            while cut < self.chunk_bytes {
                while at < self.buf.len() && is_blank(self.buf[at]) {
                    at += 1;
                }
                if at >= self.buf.len() {
                    break;
                }
                if matches!(self.buf[at], b'{' | b'[') {
                    match scan.value_end(&self.buf, at) {
                        Some(end) => {
                            at = end;
                            cut = end;
                            scan = ValueScan::default();
                        }
                        None => break,
                    }
                } else {
                    // Not a value's start: up to the end of the line, for the decoder
                    // to refuse on its own.
                    match memchr::memchr(b'\n', &self.buf[at..]) {
                        Some(nl) => {
                            at += nl + 1;
                            cut = at;
                        }
                        None => break,
                    }
                }
            }
            if self.eof {
                cut = self.buf.len();
            } else if cut == 0 {
                // One value longer than what is buffered. A long array of records is
                // streamed element by element from here on.
                if self.buf.len() >= self.array_bytes && self.enter_array() {
                    return self.next_elements();
                }
                // Otherwise read on, up to the cap; past it, cut at a line break and
                // let the decoder refuse the broken ends.
                if self.buf.len() < MAX_VALUE_BYTES {
                    let want = (self.buf.len() * 2).clamp(self.chunk_bytes, MAX_VALUE_BYTES);
                    self.fill(want);
                    continue;
                }
                cut = memchr::memrchr(b'\n', &self.buf).map_or(self.buf.len(), |nl| nl + 1);
            }
            let bytes = self.take(cut);
            if trim_blank(&bytes).is_empty() {
                continue;
            }
            return Some(Chunk {
                bytes,
                frame: Frame::Records {
                    format: self.format,
                    layout: Layout::Values,
                    first_line,
                },
            });
        }
    }
}
