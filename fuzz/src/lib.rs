//! Invariants the fuzz targets check on every input, beyond "does not panic".
//!
//! Each decoder reports every record to a callback; these helpers collect what was
//! reported and assert what the decoders promise their callers:
//!
//! - every record points inside its input (a line that exists, text borrowed from
//!   the input or empty);
//! - every event is normalised: a non-blank, lower-case vault, an HTTP status in
//!   100..=999, an operation name, and it survives `into_owned`, serialisation and
//!   the dedup hash unchanged (an Activity Log event: a lower-case vault or none,
//!   lower-case ids, a status in 100..600 or 0 before its result is known);
//! - records are accounted for: in JSON Lines every non-blank line gives exactly one
//!   record (an Event Hubs body line gives its records, indexed 0, 1, 2 …), valid
//!   neighbours of a hostile line still decode, and CSV and body indexes never skip.
//!
//! A violated invariant panics, which libFuzzer reports as a crash with the input.

use kvwatch::decode::{decode_buffer, Format, Limits, Location, Record, Refusal, RejectReason};
use kvwatch::event::AuditEvent;

/// What one reported record came to, detached from the input.
#[derive(Debug, Clone, PartialEq)]
pub struct Seen {
    /// Where the decoder said it was.
    pub location: Location,
    /// The event's vault, or why there was no event.
    pub outcome: Result<String, Refusal>,
}

/// Limits derived from the input, so both sides of `max_record_bytes` are reached
/// with small inputs: one input in three gets a limit of a third of its length, the
/// rest the defaults (with the decompression cap kept small for speed).
pub fn limits_for(data: &[u8]) -> Limits {
    let max_record_bytes = if data.len().is_multiple_of(3) {
        (data.len() / 3).max(1)
    } else {
        Limits::default().max_record_bytes
    };
    Limits {
        max_record_bytes,
        max_decompressed_bytes: 1 << 20,
        ..Limits::default()
    }
}

/// Decodes `buf` in `format`, checking every record's invariants; returns them.
pub fn decode_checked(buf: &[u8], format: Format, limits: &Limits) -> Vec<Seen> {
    let lines = 1 + buf.iter().filter(|&&b| b == b'\n').count() as u64;
    let mut seen = Vec::new();
    decode_buffer(buf, format, limits, &mut |r: Record<'_>| {
        check_record(buf, lines, &r);
        let outcome = match r.result {
            Ok(event) => {
                check_event(&event);
                Ok(event.vault.to_string())
            }
            Err(refusal) => Err(refusal),
        };
        seen.push(Seen {
            location: r.location,
            outcome,
        });
    });
    seen
}

/// A record points inside its input.
pub fn check_record(buf: &[u8], lines: u64, r: &Record<'_>) {
    assert!(
        (1..=lines).contains(&r.location.line),
        "record at line {} of a {lines}-line input",
        r.location.line
    );
    if !r.raw.is_empty() {
        let start = r.raw.as_ptr() as usize;
        let base = buf.as_ptr() as usize;
        assert!(
            start >= base && start + r.raw.len() <= base + buf.len(),
            "a record's raw text is not part of its input"
        );
    }
}

/// An event is normalised. An Activity Log event may name no vault (a change at a
/// subscription's scope) and have no HTTP status yet (a `Start` record: 0).
pub fn check_event(e: &AuditEvent<'_>) {
    let control = e.control_plane();
    assert!(
        control.is_some() || !e.vault.trim().is_empty(),
        "event without a vault name: {e:?}"
    );
    assert!(
        e.vault.trim().len() == e.vault.len(),
        "vault {:?} is not trimmed",
        e.vault
    );
    assert!(
        !e.vault.bytes().any(|b| b.is_ascii_uppercase()),
        "vault {:?} is not lower case",
        e.vault
    );
    if let Some(c) = control {
        assert!(
            e.status == 0 || (100..600).contains(&e.status),
            "status {} out of range",
            e.status
        );
        for text in [c.resource_id.as_deref(), c.scope.as_deref()].into_iter().flatten() {
            assert!(
                !text.bytes().any(|b| b.is_ascii_uppercase()),
                "{text:?} is not lower case"
            );
        }
        assert!(
            c.diagnostic_setting
                .as_ref()
                .is_none_or(|d| d.enabled.len() <= kvwatch::event::control::MAX_ENABLED_CATEGORIES),
            "too many enabled categories kept"
        );
    } else {
        assert!(
            (100..=999).contains(&e.status),
            "status {} out of range",
            e.status
        );
    }
    assert!(
        !e.operation.to_string().is_empty(),
        "event without an operation"
    );
    let owned = e.clone().into_owned();
    assert_eq!(&owned, e, "into_owned changed the event");
    assert_eq!(
        kvwatch::pipeline::content_hash(&owned),
        kvwatch::pipeline::content_hash(e),
        "the dedup hash depends on borrowing"
    );
    let json = serde_json::to_string(e).expect("an event serialises");
    serde_json::from_str::<serde_json::Value>(&json).expect("an event serialises to valid JSON");
}

/// A resource-log record that must always decode (planted around hostile lines).
pub const PLANTED: &str = r#"{"time":"2024-04-08T15:15:50.6257670Z","resourceId":"/SUBSCRIPTIONS/S/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.KEYVAULT/VAULTS/PLANTED","operationName":"SecretGet","category":"AuditEvent","properties":{"httpStatusCode":200}}"#;

/// Trims ASCII whitespace as the line decoders do.
fn trim(line: &[u8]) -> &[u8] {
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

/// Whether a (trimmed) line is an Event Hubs body: an object whose first key is
/// `records` (any case), as the JSON Lines decoder recognises one.
fn is_body(line: &[u8]) -> bool {
    let mut i = 0;
    if line.first() != Some(&b'{') {
        return false;
    }
    i += 1;
    while line.get(i).is_some_and(u8::is_ascii_whitespace) {
        i += 1;
    }
    line.get(i..i + 9)
        .is_some_and(|k| k.eq_ignore_ascii_case(b"\"records\""))
}

/// JSON Lines accounting: the fuzz input between two planted records (which forces
/// line mode). Every blank line gives no record; every line over the limit gives
/// exactly one `too_large`; every body line gives its records indexed 0, 1, 2 …;
/// every other line gives exactly one record; the planted records decode.
pub fn check_json_lines_accounting(fuzz: &[u8], limits: &Limits) {
    let limits = Limits {
        max_record_bytes: limits.max_record_bytes.max(PLANTED.len()),
        ..*limits
    };
    let mut buf = Vec::with_capacity(fuzz.len() + 2 * PLANTED.len() + 2);
    buf.extend_from_slice(PLANTED.as_bytes());
    buf.push(b'\n');
    buf.extend_from_slice(fuzz);
    buf.push(b'\n');
    buf.extend_from_slice(PLANTED.as_bytes());
    let seen = decode_checked(&buf, Format::JsonLines, &limits);
    let mut at = 0usize;
    let line_count = buf.split(|&b| b == b'\n').count();
    for (i, line) in buf.split(|&b| b == b'\n').enumerate() {
        let line_no = i as u64 + 1;
        let start = at;
        while at < seen.len() && seen[at].location.line == line_no {
            at += 1;
        }
        let here = &seen[start..at];
        let text = trim(line);
        if text.is_empty() {
            assert!(
                here.is_empty(),
                "a blank line {line_no} gave records: {here:?}"
            );
        } else if text.len() > limits.max_record_bytes {
            assert_eq!(here.len(), 1, "line {line_no} over the limit gave {here:?}");
            assert_eq!(
                here[0].outcome,
                Err(Refusal::Rejected(RejectReason::TooLarge))
            );
        } else if is_body(text) {
            for (n, s) in here.iter().enumerate() {
                assert_eq!(
                    s.location.index,
                    Some(n as u32),
                    "body line {line_no}: records out of sequence: {here:?}"
                );
            }
        } else {
            assert_eq!(
                here.len(),
                1,
                "line {line_no} gave {} records: {here:?}",
                here.len()
            );
            assert_eq!(here[0].location.index, None);
        }
        if i == 0 || i + 1 == line_count {
            assert_eq!(here.len(), 1);
            assert_eq!(
                here[0].outcome,
                Ok("planted".to_owned()),
                "a planted record was lost next to hostile input"
            );
        }
    }
    assert_eq!(
        at,
        seen.len(),
        "records out of line order or at lines that do not exist: {seen:?}"
    );
}

/// Records reported in input order: lines never go back.
pub fn check_line_order(seen: &[Seen]) {
    for pair in seen.windows(2) {
        assert!(
            pair[0].location.line <= pair[1].location.line,
            "records out of line order: {pair:?}"
        );
    }
}

/// Indexes inside one array never skip: each record is the first of a new array
/// (index 0, or none for a lone record) or the one after the previous record.
pub fn check_index_sequence(seen: &[Seen]) {
    let mut previous: Option<u32> = None;
    for s in seen {
        match s.location.index {
            None | Some(0) => {}
            Some(i) => assert_eq!(
                previous,
                Some(i - 1),
                "index {i} does not follow {previous:?}: {seen:?}"
            ),
        }
        previous = s.location.index;
    }
}
