//! JSON Lines: one resource-log record per line (Storage `PT1H.json` since 2018).
//!
//! Each line is decoded on its own, so a malformed or truncated line (a live blob's
//! last line is often partial) is refused alone. A line holding an Event Hubs body is
//! decoded as one; an input that is one JSON array or pretty-printed objects falls
//! back to the value stream decoder.

use super::envelope::{decode_stream, dispatch_value};
use super::reject::{Refusal, RejectReason};
use super::{offset_in, Limits, LineCounter, Location, Record, Shape};

/// Decodes JSON Lines, reporting each record.
pub fn decode<'a>(buf: &'a [u8], limits: &Limits, sink: &mut dyn FnMut(Record<'a>)) {
    let first = buf.iter().position(|b| !b.is_ascii_whitespace());
    if let Some(i) = first {
        if buf[i] == b'[' {
            return decode_array(&buf[i..], limits, sink);
        }
        if buf[i] == b'{' && first_line_is_incomplete(&buf[i..]) {
            // Pretty-printed objects: not line-oriented.
            return decode_stream(buf, limits, sink);
        }
    }
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

/// A top-level JSON array of records (or bodies): each element on its own.
fn decode_array<'a>(buf: &'a [u8], limits: &Limits, sink: &mut dyn FnMut(Record<'a>)) {
    match serde_json::from_slice::<Vec<&serde_json::value::RawValue>>(buf) {
        Ok(items) => {
            let mut lines = LineCounter::new(buf);
            for (index, item) in items.into_iter().enumerate() {
                let text = item.get().as_bytes();
                let line = offset_in(buf, text).map_or(1, |start| lines.line_at(start));
                let mut rebased = |mut r: Record<'a>| {
                    if r.location.index.is_none() {
                        r.location.index = Some(index as u32);
                    }
                    sink(r)
                };
                dispatch_value(text, line, limits, &mut rebased);
            }
        }
        Err(err) => sink(Record {
            location: Location {
                line: err.line() as u64,
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

pub(crate) fn trim(line: &[u8]) -> &[u8] {
    let start = line
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(line.len());
    let end = line
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |i| i + 1);
    &line[start..end]
}

/// Whether the first line opens an object it does not close (pretty-printing).
pub(crate) fn first_line_is_incomplete(buf: &[u8]) -> bool {
    let end = memchr::memchr(b'\n', buf).unwrap_or(buf.len());
    let line = trim(&buf[..end]);
    line == b"{" || (line.len() < 4096 && !line.ends_with(b"}") && end < buf.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    const REC: &str = r#"{"time":"2024-01-01T00:00:00Z","operationName":"SecretGet","resourceId":"/S/P/MICROSOFT.KEYVAULT/VAULTS/V","properties":{"httpStatusCode":200}}"#;

    fn outcomes(input: &str, limits: Limits) -> Vec<(u64, Result<(), Refusal>)> {
        let mut out = Vec::new();
        decode(input.as_bytes(), &limits, &mut |r: Record<'_>| {
            out.push((r.location.line, r.result.map(|_| ())))
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
