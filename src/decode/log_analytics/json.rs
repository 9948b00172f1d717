//! Log Analytics rows as JSON, in every container an export or a query API uses.
//!
//! Analysts bring rows as JSON Lines (one row object a line, or pretty-printed
//! objects), as one JSON array of row objects, as a query-API response
//! `{"tables":[{"name","columns":[{"name","type"}],"rows":[[…]]}]}`, or as
//! `{"value":[…]}` (OData style, any other keys beside it). This file walks those
//! containers and hands each row to the shared column mapping in `columns.rs`.
//! Containers are streamed: a row is decoded and reported as soon as it is parsed, a
//! table's column indexes are resolved once (not per row), and a syntax error costs
//! only the rows after it. Each row is delimited before it is decoded, so a row over
//! the size limit is refused without being decoded.

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use super::cells::{CellSeed, RowVisitor};
use super::columns::{classify, Spec};
use super::row::{not_a_row, Row};
use super::tables::{CellsVisitor, TableSeed};
use crate::decode::envelope::for_each_value;
use crate::decode::framing::{layout, strip_bom, Layout, HEAD_BYTES};
use crate::decode::json_lines::trim;
use crate::decode::lenient::Key;
use crate::decode::reject::{reason_for_json_error, Refusal, RejectReason};
use crate::decode::{Limits, LineCounter, Location, Record, Shape};
use crate::event::AuditEvent;

/// Decodes Log Analytics rows given as JSON, reporting each row. Whether the input
/// is line-oriented is [`layout`]'s decision (most lines of its head complete values).
pub fn decode<'a>(buf: &'a [u8], limits: &Limits, sink: &mut dyn FnMut(Record<'a>)) {
    let body = strip_bom(buf);
    let head = &body[..body.len().min(HEAD_BYTES)];
    match layout(
        crate::decode::Format::LogAnalyticsJson,
        head,
        head.len() == body.len(),
    ) {
        Layout::Lines | Layout::Csv => decode_lines(body, limits, sink),
        Layout::Values => decode_values(body, limits, sink),
    }
}

/// JSON Lines: one row (or one response) a line, each on its own.
pub fn decode_lines<'a>(buf: &'a [u8], limits: &Limits, sink: &mut dyn FnMut(Record<'a>)) {
    let mut ctx = Ctx::new(buf, limits, sink);
    let mut line_no = 0u64;
    for line in buf.split(|&b| b == b'\n') {
        line_no += 1;
        let line = trim(line);
        if !line.is_empty() {
            ctx.top_value(line, line_no);
        }
    }
}

/// An array, a pretty-printed response, or pretty-printed rows.
pub fn decode_values<'a>(buf: &'a [u8], limits: &Limits, sink: &mut dyn FnMut(Record<'a>)) {
    let mut ctx = Ctx::new(buf, limits, sink);
    for_each_value(buf, &mut |text, line| ctx.top_value(text, line));
}

/// Decoding state shared by the nested containers.
pub(super) struct Ctx<'s, 'a> {
    lines: LineCounter<'a>,
    limits: &'s Limits,
    sink: &'s mut dyn FnMut(Record<'a>),
    /// The index of the next row in the current array (for locations).
    pub(super) index: u32,
}

impl<'s, 'a> Ctx<'s, 'a> {
    fn new(buf: &'a [u8], limits: &'s Limits, sink: &'s mut dyn FnMut(Record<'a>)) -> Self {
        Ctx {
            lines: LineCounter::new(buf),
            limits,
            sink,
            index: 0,
        }
    }

    fn emit(
        &mut self,
        location: Location,
        shape: Shape,
        raw: &'a [u8],
        result: Result<AuditEvent<'a>, Refusal>,
    ) {
        (self.sink)(Record {
            location,
            shape,
            raw,
            result,
        });
    }

    /// One top-level value: a row, an array of rows, or a query response.
    fn top_value(&mut self, text: &'a [u8], line: u64) {
        let location = Location { line, index: None };
        match text.first() {
            Some(b'{') => self.top_object(text, line),
            Some(b'[') => {
                self.index = 0;
                let mut de = serde_json::Deserializer::from_slice(text);
                let result = de
                    .deserialize_seq(RowsVisitor { ctx: &mut *self })
                    .and_then(|()| de.end());
                if let Err(err) = result {
                    let at = Location {
                        line,
                        index: Some(self.index),
                    };
                    self.emit(
                        at,
                        Shape::AzureDiagnostics,
                        text,
                        Err(json_refusal(&err, text)),
                    );
                }
            }
            _ => {
                // A scalar is valid JSON of no known shape; anything else is broken.
                let reason = match serde_json::from_slice::<IgnoredAny>(text) {
                    Ok(_) => RejectReason::UnknownShape,
                    Err(err) => reason_for_json_error(&err, text),
                };
                self.emit(location, Shape::AzureDiagnostics, text, Err(reason.into()));
            }
        }
    }

    /// A top-level object: a query response (`tables` / `value`) or one row.
    fn top_object(&mut self, text: &'a [u8], line: u64) {
        let allow_row = text.len() <= self.limits.max_record_bytes;
        let mut row = Row::default();
        let mut container = false;
        let mut de = serde_json::Deserializer::from_slice(text);
        let visitor = TopVisitor {
            ctx: &mut *self,
            row: &mut row,
            container: &mut container,
            allow_row,
        };
        let result = de.deserialize_map(visitor).and_then(|()| de.end());
        match (result, container) {
            (Err(err), true) => {
                let at = Location {
                    line,
                    index: Some(self.index),
                };
                self.emit(
                    at,
                    Shape::AzureDiagnostics,
                    text,
                    Err(json_refusal(&err, text)),
                );
            }
            (Err(err), false) => {
                let at = Location { line, index: None };
                self.emit(at, row.shape(), text, Err(json_refusal(&err, text)));
            }
            (Ok(()), true) => {}
            (Ok(()), false) if !allow_row => {
                let at = Location { line, index: None };
                self.emit(
                    at,
                    Shape::AzureDiagnostics,
                    &[],
                    Err(RejectReason::TooLarge.into()),
                );
            }
            (Ok(()), false) => {
                let (shape, result) = row.finish();
                self.emit(Location { line, index: None }, shape, text, result);
            }
        }
    }

    /// One row inside an array (`[…]`, `value`, or a table's `rows` with `plan`).
    pub(super) fn array_row(&mut self, text: &'a [u8], plan: Option<&[Spec]>) {
        let index = self.index;
        self.index = self.index.saturating_add(1);
        let location = Location {
            line: self.lines.line_of(text),
            index: Some(index),
        };
        if text.len() > self.limits.max_record_bytes {
            return self.emit(
                location,
                Shape::AzureDiagnostics,
                &[],
                Err(RejectReason::TooLarge.into()),
            );
        }
        let mut row = Row::default();
        let mut de = serde_json::Deserializer::from_slice(text);
        let result = match (text.first(), plan) {
            (Some(b'{'), _) => de.deserialize_map(RowVisitor { row: &mut row }),
            (Some(b'['), Some(plan)) => de.deserialize_seq(CellsVisitor {
                row: &mut row,
                plan,
            }),
            _ => return self.emit(location, Shape::AzureDiagnostics, text, Err(not_a_row())),
        };
        match result.and_then(|()| de.end()) {
            Ok(()) => {
                let (shape, result) = row.finish();
                self.emit(location, shape, text, result);
            }
            Err(err) => self.emit(location, row.shape(), text, Err(json_refusal(&err, text))),
        }
    }
}

fn json_refusal(err: &serde_json::Error, text: &[u8]) -> Refusal {
    reason_for_json_error(err, text).into()
}

/// The keys of a top-level object: containers, or the columns of a row.
struct TopVisitor<'c, 's, 'a> {
    ctx: &'c mut Ctx<'s, 'a>,
    row: &'c mut Row<'a>,
    container: &'c mut bool,
    allow_row: bool,
}

impl<'de> Visitor<'de> for TopVisitor<'_, '_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a Log Analytics row or query response")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<Key<'de>>()? {
            let kind = if key.eq_ignore_ascii_case("tables") {
                Some(Kind::Tables)
            } else if key.eq_ignore_ascii_case("value") {
                Some(Kind::Rows)
            } else {
                None
            };
            match kind {
                Some(kind) => {
                    let seed = ContainerSeed {
                        ctx: &mut *self.ctx,
                        kind,
                        seen: &mut *self.container,
                    };
                    map.next_value_seed(seed)?;
                }
                None if self.allow_row => {
                    map.next_value_seed(CellSeed {
                        row: &mut *self.row,
                        spec: classify(&key),
                    })?;
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    /// `tables`: an array of tables.
    Tables,
    /// `value`: an array of row objects.
    Rows,
}

/// The value of `tables` or `value`: an array is a container; anything else is an
/// ordinary (ignored) column of a row.
struct ContainerSeed<'c, 's, 'a> {
    ctx: &'c mut Ctx<'s, 'a>,
    kind: Kind,
    seen: &'c mut bool,
}

impl<'de> DeserializeSeed<'de> for ContainerSeed<'_, '_, 'de> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ContainerSeed<'_, '_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of tables or rows")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        *self.seen = true;
        match self.kind {
            Kind::Rows => RowsVisitor { ctx: self.ctx }.visit_seq(seq),
            Kind::Tables => {
                let mut seq = seq;
                while seq
                    .next_element_seed(TableSeed {
                        ctx: &mut *self.ctx,
                    })?
                    .is_some()
                {}
                Ok(())
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
}

/// An array of rows, each delimited and then decoded on its own.
struct RowsVisitor<'c, 's, 'a> {
    ctx: &'c mut Ctx<'s, 'a>,
}

impl<'de> Visitor<'de> for RowsVisitor<'_, '_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of rows")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        self.ctx.index = 0;
        while let Some(raw) = seq.next_element::<&'de RawValue>()? {
            self.ctx.array_row(raw.get().as_bytes(), None);
        }
        Ok(())
    }
}
