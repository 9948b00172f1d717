//! Log Analytics CSV exports (the portal's "Export to CSV", `az monitor … -o tsv`-like
//! tools, spreadsheets).
//!
//! The header names the columns, possibly with a unit suffix (`TimeGenerated [UTC]`
//! from the portal); every value is text, dynamic columns hold JSON text and times
//! may be the portal's `11/2/2024, 9:12:25.085 AM`. The header is classified once
//! into a column plan, then each row's cells go through the same mapping as JSON
//! cells (`columns.rs`). The `csv` crate does the quoting rules; a cell is then
//! borrowed from the input when its bytes appear there verbatim (always, unless it
//! held doubled quotes), so most text is not copied. A row that cannot be read (a
//! field count that differs from the header's, invalid UTF-8, over the size limit)
//! is refused on its own.

use csv::{ByteRecord, ReaderBuilder};
use serde::de::value::{BorrowedStrDeserializer, Error as ValueError, StringDeserializer};
use serde::de::DeserializeSeed;

use super::cells::CellSeed;
use super::columns::{classify, Column, Spec};
use super::row::Row;
use crate::decode::reject::{Refusal, RejectReason};
use crate::decode::{Limits, LineCounter, Location, Record, Shape};

/// Decodes a Log Analytics CSV export, reporting each row.
pub fn decode<'a>(buf: &'a [u8], limits: &Limits, sink: &mut dyn FnMut(Record<'a>)) {
    let body = buf.strip_prefix(&[0xEF, 0xBB, 0xBF][..]).unwrap_or(buf);
    let mut reader = ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(body);
    let mut record = ByteRecord::new();
    let plan = match reader.read_byte_record(&mut record) {
        Ok(true) => header_plan(&record),
        Ok(false) => return,
        Err(_) => {
            let location = Location {
                line: 1,
                index: None,
            };
            sink(Record {
                location,
                shape: Shape::AzureDiagnostics,
                raw: &[],
                result: Err(RejectReason::InvalidCsv.into()),
            });
            return;
        }
    };
    let usable = plan
        .iter()
        .any(|s| matches!(s.column, Column::OperationName | Column::Time));
    let mut lines = LineCounter::new(body);
    let mut index = 0u32;
    loop {
        let read = reader.read_byte_record(&mut record);
        // After a CRLF the reader says a record starts at the `\n` (and counts its
        // line late), so the start is moved past any line break and lines are
        // counted here.
        let mut start = record
            .position()
            .map_or(0, |p| p.byte() as usize)
            .min(body.len());
        while matches!(body.get(start), Some(b'\r' | b'\n')) {
            start += 1;
        }
        let location = Location {
            line: lines.line_at(start),
            index: Some(index),
        };
        match read {
            Ok(true) => {}
            Ok(false) => break,
            Err(_) => {
                // Reading from memory cannot fail; stop rather than loop if it does.
                sink(Record {
                    location,
                    shape: Shape::AzureDiagnostics,
                    raw: &[],
                    result: Err(RejectReason::InvalidCsv.into()),
                });
                break;
            }
        }
        let end = (reader.position().byte() as usize).clamp(start, body.len());
        let raw = trim_end(&body[start..end]);
        // A row of nothing but blanks (white space, NUL padding) is no row, as the
        // streaming framer sees it too.
        if raw.iter().all(|&b| crate::decode::framing::is_blank(b)) {
            continue;
        }
        index = index.saturating_add(1);
        let refuse = |reason: RejectReason| Err::<_, Refusal>(reason.into());
        let (shape, result) = if raw.len() > limits.max_record_bytes {
            (Shape::AzureDiagnostics, refuse(RejectReason::TooLarge))
        } else if record.len() != plan.len() {
            (Shape::AzureDiagnostics, refuse(RejectReason::InvalidCsv))
        } else if !usable {
            (Shape::AzureDiagnostics, refuse(RejectReason::UnknownShape))
        } else {
            match row_of(&record, raw, &plan) {
                Ok(row) => row.finish(),
                Err(reason) => (Shape::AzureDiagnostics, refuse(reason)),
            }
        };
        let raw = if raw.len() > limits.max_record_bytes {
            &[][..]
        } else {
            raw
        };
        sink(Record {
            location,
            shape,
            raw,
            result,
        });
    }
}

/// Classifies the header once.
fn header_plan(header: &ByteRecord) -> Vec<Spec> {
    header
        .iter()
        .map(|name| match std::str::from_utf8(name) {
            Ok(name) => classify(name.trim_start_matches('\u{feff}')),
            Err(_) => Spec::IGNORED,
        })
        .collect()
}

fn trim_end(raw: &[u8]) -> &[u8] {
    let end = raw
        .iter()
        .rposition(|&b| b != b'\n' && b != b'\r')
        .map_or(0, |i| i + 1);
    &raw[..end]
}

/// Applies a row's cells; each cell is borrowed from `raw` when it appears there.
fn row_of<'a>(record: &ByteRecord, raw: &'a [u8], plan: &[Spec]) -> Result<Row<'a>, RejectReason> {
    let mut row = Row::default();
    let mut cursor = Some(0usize);
    for (field, spec) in record.iter().zip(plan) {
        let borrowed = cursor.and_then(|at| locate(raw, at, field));
        cursor = borrowed.map(|(_, next)| next);
        if spec.column == Column::Ignored {
            continue;
        }
        let seed = CellSeed {
            row: &mut row,
            spec: *spec,
        };
        let applied = match borrowed {
            Some((text, _)) => {
                let text = std::str::from_utf8(text).map_err(|_| RejectReason::InvalidUtf8)?;
                seed.deserialize(BorrowedStrDeserializer::<ValueError>::new(text))
            }
            None => {
                let text = std::str::from_utf8(field).map_err(|_| RejectReason::InvalidUtf8)?;
                seed.deserialize(StringDeserializer::<ValueError>::new(text.to_owned()))
            }
        };
        // Cells are text and every column reader is lenient: only JSON text nested
        // past the recursion limit (a dynamic column) fails.
        applied.map_err(|e| {
            if crate::decode::lenient::is_too_deep(&e) {
                RejectReason::TooDeep
            } else {
                RejectReason::InvalidCsv
            }
        })?;
    }
    Ok(row)
}

/// Finds `field` verbatim in `raw` at `at` (plain, or quoted without doubled
/// quotes); returns the borrowed bytes and where the next field starts.
fn locate<'a>(raw: &'a [u8], at: usize, field: &[u8]) -> Option<(&'a [u8], usize)> {
    let rest = raw.get(at..)?;
    let (text, after) = if rest.first() == Some(&b'"') {
        let inner = rest.get(1..1 + field.len())?;
        (inner, 1 + field.len() + 1)
    } else {
        (rest.get(..field.len())?, field.len())
    };
    if text != field || (rest.first() == Some(&b'"') && rest.get(after - 1) != Some(&b'"')) {
        return None;
    }
    match rest.get(after) {
        None => Some((text, at + after)),
        Some(b',') => Some((text, at + after + 1)),
        Some(b'\r' | b'\n') => Some((text, at + after)),
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_located_verbatim() {
        let raw = br#"a,"b c","d""e",,f"#;
        assert_eq!(locate(raw, 0, b"a"), Some((&b"a"[..], 2)));
        assert_eq!(locate(raw, 2, b"b c"), Some((&b"b c"[..], 8)));
        // Doubled quotes: not verbatim, so the caller copies.
        assert_eq!(locate(raw, 8, b"d\"e"), None);
        assert_eq!(locate(raw, 15, b""), Some((&b""[..], 16)));
        assert_eq!(locate(raw, 16, b"f"), Some((&b"f"[..], 17)));
        assert_eq!(locate(raw, 16, b"g"), None);
        assert_eq!(locate(raw, 40, b"g"), None);
    }
}
