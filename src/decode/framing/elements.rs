//! The framer inside a long top-level array of records: chunks of whole elements.
//!
//! Exports (`az ... -o json`, a portal download) are often one JSON array of
//! records. Past [`ARRAY_STREAM_BYTES`] the framer stops waiting for the array to
//! close and cuts it between elements, blanking its brackets and the commas
//! between elements so that each chunk is a run of whole values
//! ([`Frame::Elements`], decoded by `json_lines::decode_elements` with the array
//! index of its first element). Memory then holds a chunk and one element, however
//! long the array; an element longer than the record limit is refused alone. The
//! same holds for an array on one line of a line-oriented input once the line is
//! longer than a record (it would otherwise be refused whole).

use std::io::Read;

#[cfg(doc)]
use super::super::ARRAY_STREAM_BYTES;
use super::super::{is_blank, shape_of, Chunk, Frame, ValueScan, HEAD_BYTES};
use super::Framer;
use crate::decode::Format;

impl<R: Read> Framer<R> {
    /// Starts streaming element by element when `buf` opens a top-level array (after
    /// blank bytes) of an input whose arrays hold records or bodies; says whether
    /// it did.
    pub(super) fn enter_array(&mut self) -> bool {
        if !matches!(self.format, Format::Auto | Format::JsonLines) {
            return false;
        }
        match self.buf.iter().position(|&b| !is_blank(b)) {
            Some(open) if self.buf[open] == b'[' => {
                // Blanked: the chunks hold the elements as a run of values.
                self.buf[open] = b' ';
                self.elements = Some(0);
                true
            }
            _ => false,
        }
    }

    /// The next chunk of whole elements of a long top-level array; once its closing
    /// bracket is passed, the values after it.
    pub(super) fn next_elements(&mut self) -> Option<Chunk> {
        loop {
            self.fill(self.chunk_bytes);
            let Some(first_index) = self.elements else {
                return self.next_in_layout();
            };
            if self.buf.is_empty() {
                // The input ended inside the array: nothing is left to decode.
                self.elements = None;
                return None;
            }
            let first_line = self.line;
            let (mut at, mut cut, mut count, mut closed) = (0usize, 0usize, 0u32, false);
            while cut < self.chunk_bytes {
                while at < self.buf.len() && is_blank(self.buf[at]) {
                    at += 1;
                }
                let Some(&b) = self.buf.get(at) else { break };
                match b {
                    b',' | b']' => {
                        // Blanked, so that the chunk is a run of values.
                        self.buf[at] = b' ';
                        at += 1;
                        cut = at;
                        if b == b']' {
                            closed = true;
                            break;
                        }
                    }
                    b'{' | b'[' => match ValueScan::default().value_end(&self.buf, at) {
                        Some(end) => {
                            count += 1;
                            at = end;
                            cut = end;
                        }
                        None => break,
                    },
                    // Not an object or array: a string, a number, a literal or
                    // garbage, for the decoder to judge.
                    _ => match scalar_end(&self.buf, at) {
                        Some(end) => {
                            count += 1;
                            at = end;
                            cut = end;
                        }
                        None => break,
                    },
                }
            }
            if cut == 0 && !closed {
                if self.eof {
                    // An element the input cut short: the decoder refuses it.
                    cut = self.buf.len();
                    count += 1;
                    closed = true;
                } else if self.buf.len() > self.max_line() && matches!(self.buf[at], b'{' | b'[') {
                    // One element longer than the record limit: refused, skipped.
                    self.skip_element(at);
                    self.elements = Some(first_index.saturating_add(1));
                    return Some(Chunk {
                        bytes: Vec::new(),
                        frame: Frame::Oversized {
                            line: first_line,
                            shape: shape_of(self.format),
                        },
                    });
                } else if self.buf.len() > self.max_line() {
                    // Not an object, and longer than a record: the decoder refuses it.
                    cut = self.buf.len();
                    count += 1;
                } else {
                    let want = (self.buf.len() + HEAD_BYTES).min(self.max_line() + 1);
                    self.fill(want);
                    continue;
                }
            }
            let bytes = self.take(cut);
            self.elements = (!closed).then(|| first_index.saturating_add(count));
            if count == 0 {
                continue;
            }
            return Some(Chunk {
                bytes,
                frame: Frame::Elements {
                    first_line,
                    first_index,
                },
            });
        }
    }

    /// Drops the element starting at `buf[at]`, reading on until it ends; `buf` then
    /// starts just past it.
    fn skip_element(&mut self, at: usize) {
        let mut scan = ValueScan::default();
        let mut from = at;
        loop {
            if let Some(end) = scan.value_end(&self.buf, from) {
                self.line += memchr::memchr_iter(b'\n', &self.buf[..end]).count() as u64;
                self.buf.drain(..end);
                return;
            }
            self.line += memchr::memchr_iter(b'\n', &self.buf).count() as u64;
            self.buf.clear();
            from = 0;
            if self.eof {
                return;
            }
            self.fill(HEAD_BYTES);
        }
    }
}

/// The end of the element starting at `buf[at]` that is not an object or an array:
/// past the closing quote of a string (escapes honoured, so a comma or a bracket
/// inside it cuts nothing), or at the first blank, comma, bracket or quote after
/// anything else; `None` when `buf` ends first.
fn scalar_end(buf: &[u8], at: usize) -> Option<usize> {
    if buf[at] == b'"' {
        let mut i = at + 1;
        loop {
            i += memchr::memchr2(b'"', b'\\', &buf[i..])?;
            if buf[i] == b'"' {
                return Some(i + 1);
            }
            // A backslash: the byte after it is taken literally.
            i += 2;
            if i > buf.len() {
                return None;
            }
        }
    }
    buf[at..]
        .iter()
        .position(|&b| is_blank(b) || matches!(b, b',' | b']' | b'[' | b'{' | b'}' | b'"'))
        .map(|len| at + len.max(1))
}
