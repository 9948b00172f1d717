//! Event Hubs bodies: `{"records":[…]}`, streamed record by record.
//!
//! A diagnostic setting packs many records into one Event Hubs event; the legacy
//! Storage blob (before 2018-11) is one such object for a whole hour. Records are
//! handed to the caller as they are parsed, never collected, and a record that is not
//! an object is refused on its own without losing its neighbours.

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use super::raw::{RawRecord, RecordVisitor};
use super::reject::{reason_for_json_error, Refusal, RejectReason};
use super::{normalise, offset_in, Limits, LineCounter, Location, Record, Shape};

/// Decodes one body; `line` is where it starts in its input (1 for a live body).
pub fn decode_body<'a>(body: &'a [u8], line: u64, sink: &mut dyn FnMut(Record<'a>)) {
    let mut emitted = 0u32;
    let mut de = serde_json::Deserializer::from_slice(body);
    let result = de
        .deserialize_map(BodyVisitor {
            sink: &mut *sink,
            line,
            emitted: &mut emitted,
        })
        .and_then(|()| de.end());
    if let Err(err) = result {
        // Records before the error were delivered; the rest of the body is lost.
        sink(Record {
            location: Location {
                line,
                index: Some(emitted),
            },
            shape: Shape::EventHubs,
            raw: body,
            result: Err(Refusal::Rejected(reason_for_json_error(&err, body))),
        });
    }
}

/// Decodes a stream of bodies (and stray records), pretty-printed or one per line.
///
/// Values are delimited first (a fast scan), then decoded. A value with a syntax
/// error is decoded again up to the next line that starts with `{`, so the records
/// before the error are kept and the stream resumes after it.
pub fn decode_stream<'a>(buf: &'a [u8], limits: &Limits, sink: &mut dyn FnMut(Record<'a>)) {
    for_each_value(buf, &mut |text, line| {
        dispatch_value(text, line, limits, sink);
    });
}

/// Walks the top-level JSON values of `buf` (pretty-printed or not), handing each
/// value's text and starting line to `each`. A value with a syntax error is handed
/// over up to the next line that starts with `{` (so its decoder can keep what came
/// before the error and report the rest), and the walk resumes there.
pub(crate) fn for_each_value<'a>(buf: &'a [u8], each: &mut dyn FnMut(&'a [u8], u64)) {
    let mut lines = LineCounter::new(buf);
    let mut offset = 0usize;
    while offset < buf.len() {
        let mut values =
            serde_json::Deserializer::from_slice(&buf[offset..]).into_iter::<&RawValue>();
        let mut resume = None;
        for value in values.by_ref() {
            match value {
                Ok(raw) => {
                    let text = raw.get().as_bytes();
                    let start = offset_in(buf, text).unwrap_or(offset);
                    each(&buf[start..start + text.len()], lines.line_at(start));
                }
                Err(err) => {
                    resume = Some(err);
                    break;
                }
            }
        }
        let Some(err) = resume else { break };
        let failed_at = offset + err_offset(&buf[offset..], &err);
        let start = skip_space(buf, offset + values.byte_offset());
        let end = next_object_start(buf, failed_at.max(start) + 1);
        each(&buf[start..end], lines.line_at(start));
        offset = end;
    }
}

fn skip_space(buf: &[u8], mut at: usize) -> usize {
    while at < buf.len() && buf[at].is_ascii_whitespace() {
        at += 1;
    }
    at
}

/// A top-level value: a body, or a lone record (some exports mix them).
pub(crate) fn dispatch_value<'a>(
    text: &'a [u8],
    line: u64,
    limits: &Limits,
    sink: &mut dyn FnMut(Record<'a>),
) {
    if is_body(text) {
        decode_body(text, line, sink);
    } else if text.len() > limits.max_record_bytes {
        sink(Record {
            location: Location { line, index: None },
            shape: Shape::ResourceLog,
            raw: &[],
            result: Err(RejectReason::TooLarge.into()),
        });
    } else {
        sink(Record {
            location: Location { line, index: None },
            shape: Shape::ResourceLog,
            raw: text,
            result: super::decode_record(text),
        });
    }
}

/// Whether an object's first key is `records`.
pub(crate) fn is_body(text: &[u8]) -> bool {
    let mut i = 0;
    while i < text.len() && text[i].is_ascii_whitespace() {
        i += 1;
    }
    if text.get(i) != Some(&b'{') {
        return false;
    }
    i += 1;
    while i < text.len() && text[i].is_ascii_whitespace() {
        i += 1;
    }
    text.get(i..i + 9)
        .is_some_and(|k| k.eq_ignore_ascii_case(b"\"records\""))
}

fn err_offset(buf: &[u8], err: &serde_json::Error) -> usize {
    // serde_json reports 1-based line and column; turn them back into an offset.
    let mut start = 0;
    for (line, pos) in (1..).zip(memchr::memchr_iter(b'\n', buf)) {
        if line == err.line() {
            break;
        }
        start = pos + 1;
    }
    (start + err.column().saturating_sub(1)).min(buf.len())
}

/// The next line that starts with `{` at or after `from`, to resynchronise.
fn next_object_start(buf: &[u8], from: usize) -> usize {
    let mut pos = from;
    while pos < buf.len() {
        match memchr::memchr(b'\n', &buf[pos..]) {
            Some(nl) => {
                pos += nl + 1;
                if buf.get(pos) == Some(&b'{') {
                    return pos;
                }
            }
            None => return buf.len(),
        }
    }
    buf.len()
}

struct BodyVisitor<'s, 'a> {
    sink: &'s mut dyn FnMut(Record<'a>),
    line: u64,
    emitted: &'s mut u32,
}

impl<'de> Visitor<'de> for BodyVisitor<'_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(r#"an Event Hubs body {"records":[…]}"#)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<super::lenient::Key<'de>>()? {
            if key.eq_ignore_ascii_case("records") {
                map.next_value_seed(RecordsSeed {
                    sink: &mut *self.sink,
                    line: self.line,
                    emitted: &mut *self.emitted,
                })?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

struct RecordsSeed<'s, 'a> {
    sink: &'s mut dyn FnMut(Record<'a>),
    line: u64,
    emitted: &'s mut u32,
}

impl<'de> DeserializeSeed<'de> for RecordsSeed<'_, 'de> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for RecordsSeed<'_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of records")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(MaybeRecord(raw)) = seq.next_element::<MaybeRecord<'de>>()? {
            let result = match raw {
                Some(raw) => normalise(raw),
                None => Err(RejectReason::UnknownShape.into()),
            };
            (self.sink)(Record {
                location: Location {
                    line: self.line,
                    index: Some(*self.emitted),
                },
                shape: Shape::EventHubs,
                raw: &[],
                result,
            });
            *self.emitted += 1;
        }
        Ok(())
    }
}

/// An array element: a record object, or `None` for anything else.
struct MaybeRecord<'a>(Option<RawRecord<'a>>);

impl<'de: 'a, 'a> serde::Deserialize<'de> for MaybeRecord<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(MaybeRecordVisitor)
    }
}

struct MaybeRecordVisitor;

impl<'de> Visitor<'de> for MaybeRecordVisitor {
    type Value = MaybeRecord<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a record")
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        RecordVisitor.visit_map(map).map(|r| MaybeRecord(Some(r)))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(MaybeRecord(None))
    }
    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(MaybeRecord(None))
    }
    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(MaybeRecord(None))
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(MaybeRecord(None))
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(MaybeRecord(None))
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(MaybeRecord(None))
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(MaybeRecord(None))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(buf: &[u8]) -> Vec<(Location, Result<String, Refusal>)> {
        let mut out = Vec::new();
        decode_stream(buf, &Limits::default(), &mut |r: Record<'_>| {
            out.push((r.location, r.result.map(|e| e.operation.to_string())));
        });
        out
    }

    const REC: &str = r#"{"time":"2024-01-01T00:00:00Z","operationName":"SecretGet","resourceId":"/S/P/MICROSOFT.KEYVAULT/VAULTS/V","properties":{"httpStatusCode":200}}"#;

    #[test]
    fn bodies_pretty_and_per_line() {
        let one_line = format!(r#"{{"records":[{REC},{REC}]}}"#);
        let pretty = format!("{{\n  \"records\": [\n    {REC},\n 7,\n {REC}\n  ]\n}}\n");
        let input = format!("{one_line}\n{pretty}{one_line}\n");
        let got = collect(input.as_bytes());
        let ok = got.iter().filter(|(_, r)| r.is_ok()).count();
        assert_eq!(ok, 6);
        assert_eq!(got[3].1, Err(RejectReason::UnknownShape.into()));
        assert_eq!(
            got[3].0,
            Location {
                line: 2,
                index: Some(1)
            }
        );
        assert_eq!(got.last().unwrap().0.line, 9);
    }

    #[test]
    fn a_broken_body_does_not_stop_the_stream() {
        let input = format!("{{\"records\":[{REC},{{\"time\":]}}\n{{\"records\":[{REC}]}}\n");
        let got = collect(input.as_bytes());
        assert_eq!(got.len(), 3, "{got:?}");
        assert!(got[0].1.is_ok());
        assert_eq!(got[1].1, Err(RejectReason::InvalidJson.into()));
        assert!(got[2].1.is_ok());
        assert_eq!(got[2].0.line, 2);
    }
}
