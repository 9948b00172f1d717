//! JSON Lines: one resource-log record per line (Storage `PT1H.json` since 2018).
//!
//! Each line is decoded on its own, so a malformed or truncated line (a live blob's
//! last line is often partial, a crashed writer leaves NUL padding) is refused alone,
//! wherever it is, the first line included. A line holding an Event Hubs body is
//! decoded as one, a line holding an array of records element by element. Whether an
//! input is line-oriented at all is [`super::framing::layout`]'s decision: an input
//! that is one JSON array or pretty-printed objects goes to [`decode_values`].

use super::envelope::{dispatch_value, for_each_value};
use super::framing::{layout, strip_bom, trim_blank, Layout, HEAD_BYTES};
use super::reject::{Refusal, RejectReason};
use super::{offset_in, Format, Limits, LineCounter, Location, Record, Shape};

/// Decodes a whole input of resource-log records (lines, an array, or pretty-printed
/// values), reporting each record.
pub fn decode<'a>(buf: &'a [u8], limits: &Limits, sink: &mut dyn FnMut(Record<'a>)) {
    let body = strip_bom(buf);
    let head = &body[..body.len().min(HEAD_BYTES)];
    match layout(Format::JsonLines, head, head.len() == body.len()) {
        Layout::Lines | Layout::Csv => decode_lines(body, limits, sink),
        Layout::Values => decode_values(body, limits, sink),
    }
}

/// Decodes line by line: each line one record, one body or one array of records.
pub fn decode_lines<'a>(buf: &'a [u8], limits: &Limits, sink: &mut dyn FnMut(Record<'a>)) {
    let mut line_no = 0u64;
    let mut start = 0usize;
    while start < buf.len() {
        let end = memchr::memchr(b'\n', &buf[start..]).map_or(buf.len(), |i| start + i);
        line_no += 1;
        let line = trim(&buf[start..end]);
        start = end + 1;
        if line.is_empty() {
            continue;
        }
        if is_array_of_objects(line) {
            // Each element is held to the record limit on its own.
            decode_array(line, line_no, limits, sink);
            continue;
        }
        let location = Location {
            line: line_no,
            index: None,
        };
        if line.len() > limits.max_record_bytes {
            sink(Record {
                location,
                shape: Shape::ResourceLog,
                raw: &[],
                result: Err(RejectReason::TooLarge.into()),
            });
            continue;
        }
        dispatch_value(line, line_no, limits, sink);
    }
}

/// Decodes top-level values (pretty-printed records or bodies, arrays of them).
pub fn decode_values<'a>(buf: &'a [u8], limits: &Limits, sink: &mut dyn FnMut(Record<'a>)) {
    for_each_value(buf, &mut |text, line| {
        if text.first() == Some(&b'[') {
            decode_array(text, line, limits, sink);
        } else {
            dispatch_value(text, line, limits, sink);
        }
    });
}

/// Decodes whole elements of a top-level array, separated by blanks, the first of
/// them at array index `first_index` (a chunk of a long array: see
/// [`super::framing::ARRAY_STREAM_BYTES`]); each as [`decode_array`] decodes it.
pub fn decode_elements<'a>(
    buf: &'a [u8],
    first_index: u32,
    limits: &Limits,
    sink: &mut dyn FnMut(Record<'a>),
) {
    let mut index = first_index;
    for_each_value(buf, &mut |text, line| {
        let mut rebased = |mut r: Record<'a>| {
            if r.location.index.is_none() {
                r.location.index = Some(index);
            }
            sink(r);
        };
        dispatch_value(text, line, limits, &mut rebased);
        index = index.saturating_add(1);
    });
}

/// Whether a line is an array whose first element is an object.
fn is_array_of_objects(line: &[u8]) -> bool {
    line.first() == Some(&b'[')
        && line[1..]
            .iter()
            .find(|b| !b.is_ascii_whitespace())
            .is_some_and(|&b| b == b'{')
}

/// A JSON array of records (or bodies) starting at line `first_line`: each element
/// on its own.
fn decode_array<'a>(
    buf: &'a [u8],
    first_line: u64,
    limits: &Limits,
    sink: &mut dyn FnMut(Record<'a>),
) {
    match serde_json::from_slice::<Vec<&serde_json::value::RawValue>>(buf) {
        Ok(items) => {
            let mut lines = LineCounter::new(buf);
            for (index, item) in items.into_iter().enumerate() {
                let text = item.get().as_bytes();
                let line =
                    offset_in(buf, text).map_or(1, |start| lines.line_at(start)) + first_line - 1;
                let mut rebased = |mut r: Record<'a>| {
                    if r.location.index.is_none() {
                        r.location.index = Some(index as u32);
                    }
                    sink(r);
                };
                dispatch_value(text, line, limits, &mut rebased);
            }
        }
        Err(err) => sink(Record {
            location: Location {
                line: err.line() as u64 + first_line - 1,
                index: None,
            },
            shape: Shape::ResourceLog,
            raw: &[],
            result: Err(Refusal::Rejected(super::reject::reason_for_json_error(
                &err, buf,
            ))),
        }),
    }
}

/// Trims white space and NUL padding from both ends of a line.
pub(crate) fn trim(line: &[u8]) -> &[u8] {
    trim_blank(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    const REC: &str = r#"{"time":"2024-01-01T00:00:00Z","operationName":"SecretGet","resourceId":"/S/P/MICROSOFT.KEYVAULT/VAULTS/V","properties":{"httpStatusCode":200}}"#;

    fn outcomes(input: &str, limits: Limits) -> Vec<(u64, Result<(), Refusal>)> {
        let mut out = Vec::new();
        decode(input.as_bytes(), &limits, &mut |r: Record<'_>| {
            out.push((r.location.line, r.result.map(|_| ())));
        });
        out
    }

    #[test]
    fn bad_lines_are_refused_alone() {
        let input = format!("{REC}\r\n\n{{\"time\":\n[1,2]\n{REC}\n{{\"records\":[{REC}]}}\n{REC}");
        let got = outcomes(&input, Limits::default());
        let want: Vec<(u64, Result<(), Refusal>)> = vec![
            (1, Ok(())),
            (3, Err(RejectReason::InvalidJson.into())),
            (4, Err(RejectReason::UnknownShape.into())),
            (5, Ok(())),
            (6, Ok(())),
            (7, Ok(())),
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn oversized_lines_and_arrays() {
        let limits = Limits {
            max_record_bytes: 100,
            ..Limits::default()
        };
        let got = outcomes(&format!("{REC}\n"), limits);
        assert_eq!(got, vec![(1, Err(RejectReason::TooLarge.into()))]);
        let got = outcomes(&format!("[{REC},\n{REC}]"), Limits::default());
        assert_eq!(got, vec![(1, Ok(())), (2, Ok(()))]);
    }

    #[test]
    fn pretty_records_fall_back_to_the_stream() {
        let pretty = "{\n \"time\": \"2024-01-01T00:00:00Z\",\n \"operationName\": \"SecretGet\",\n \"resourceId\": \"/S/P/MICROSOFT.KEYVAULT/VAULTS/V\",\n \"properties\": {\"httpStatusCode\": 200}\n}\n";
        let got = outcomes(&format!("{pretty}{pretty}"), Limits::default());
        assert_eq!(got, vec![(1, Ok(())), (7, Ok(()))]);
    }
}
