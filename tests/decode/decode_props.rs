//! Property tests: hostile or broken input never panics the decoders, never hangs
//! them, and every record is accounted for (an event or a refusal).
//!
//! Three families: random bytes (and JSON-ish noise) in every `Format`; valid inputs
//! of every shape cut at a random byte (every record complete before the cut must
//! still decode, and at most one refusal may be added for the broken tail); and
//! random byte mutations (line-oriented inputs whose line structure is kept must
//! report exactly one record per line).

use std::sync::OnceLock;

use proptest::prelude::*;
use serde_json::Value;

use kvwatch::decode::log_analytics::export::{
    azkv_audit_logs_row, azure_activity_row, azure_diagnostics_row, query_response, to_csv,
    CsvStyle,
};
use kvwatch::decode::{decode_buffer, Format, Limits};

const FORMATS: [Format; 5] = [
    Format::Auto,
    Format::JsonLines,
    Format::EventHubs,
    Format::LogAnalyticsJson,
    Format::LogAnalyticsCsv,
];

/// What a decode reported.
#[derive(Debug, Default)]
struct Tally {
    events: usize,
    refusals: usize,
}

impl Tally {
    fn total(&self) -> usize {
        self.events + self.refusals
    }
}

/// Decodes `buf`, checking that it finishes in time, that every location is a real
/// line of the input, and that every record's text is a slice of the input.
fn run(buf: &[u8], format: Format) -> Tally {
    let limits = Limits {
        max_record_bytes: 16 * 1024,
        ..Limits::default()
    };
    let max_line = 1 + buf.iter().filter(|&&b| b == b'\n' || b == b'\r').count() as u64;
    let (start, end) = (buf.as_ptr() as usize, buf.as_ptr() as usize + buf.len());
    let mut tally = Tally::default();
    decode_buffer(buf, format, &limits, &mut |r| {
        assert!(
            (1..=max_line).contains(&r.location.line),
            "{format}: location {} outside 1..={max_line}",
            r.location
        );
        let raw = r.raw.as_ptr() as usize;
        assert!(
            r.raw.is_empty() || (raw >= start && raw + r.raw.len() <= end),
            "{format}: record text is not from the input"
        );
        match r.result {
            Ok(_) => tally.events += 1,
            Err(_) => tally.refusals += 1,
        }
    });
    tally
}

/// A valid input: its bytes, its format, and where each record ends (the offset
/// just past the record's last byte).
struct Valid {
    label: &'static str,
    format: Format,
    text: String,
    ends: Vec<usize>,
    /// One record per line: mutations that keep the lines keep the count.
    line_oriented: bool,
}

fn records() -> Vec<Value> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/real-samples");
    let mut out = Vec::new();
    for (file, take) in [
        ("sekoia-intake-formats-keyvault.jsonl", 8),
        ("misc-keyvault-auditevent.jsonl", 3),
    ] {
        let text = std::fs::read_to_string(dir.join(file)).expect("sample");
        out.extend(
            text.lines()
                .take(take)
                .map(|l| serde_json::from_str::<Value>(l).expect("JSON")),
        );
    }
    out
}

/// Eleven Activity Log records: the Panther cases' records (the resource-log shape).
fn activity_records() -> Vec<Value> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/real-samples");
    let text = std::fs::read_to_string(dir.join("panther-activitylog-keyvault-rbac-tests.jsonl"))
        .expect("sample");
    text.lines()
        .take(11)
        .map(|l| serde_json::from_str::<Value>(l).expect("JSON")["log"].clone())
        .collect()
}

/// Joins pieces into `open + p1 + sep + p2 … + close`, recording where each piece ends.
fn joined(open: &str, pieces: &[String], sep: &str, close: &str) -> (String, Vec<usize>) {
    let mut text = String::from(open);
    let mut ends = Vec::new();
    for (i, piece) in pieces.iter().enumerate() {
        if i > 0 {
            text.push_str(sep);
        }
        text.push_str(piece);
        ends.push(text.len());
    }
    text.push_str(close);
    (text, ends)
}

fn csv_ends(text: &str) -> Vec<usize> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(text.as_bytes());
    let mut record = csv::ByteRecord::new();
    let mut ends = Vec::new();
    while reader.read_byte_record(&mut record).expect("valid CSV") {
        let end = reader.position().byte() as usize;
        // Past the last byte of the row, not its line terminator.
        let trimmed = text[..end].trim_end_matches(['\n', '\r']).len();
        ends.push(trimmed);
    }
    ends
}

fn valid_inputs() -> &'static [Valid] {
    static INPUTS: OnceLock<Vec<Valid>> = OnceLock::new();
    INPUTS.get_or_init(|| {
        let recs = records();
        let lines: Vec<String> = recs.iter().map(Value::to_string).collect();
        let ad: Vec<Value> = recs
            .iter()
            .map(|r| azure_diagnostics_row(r).expect("row"))
            .collect();
        let azkv: Vec<Value> = recs
            .iter()
            .map(|r| azkv_audit_logs_row(r).expect("row"))
            .collect();
        let ad_text: Vec<String> = ad.iter().map(Value::to_string).collect();
        let azkv_text: Vec<String> = azkv.iter().map(Value::to_string).collect();
        let tables = query_response(&ad);
        let columns = tables["tables"][0]["columns"].to_string();
        let cells: Vec<String> = tables["tables"][0]["rows"]
            .as_array()
            .expect("rows")
            .iter()
            .map(Value::to_string)
            .collect();
        let mut out = Vec::new();
        let mut push = |label, format, (text, ends): (String, Vec<usize>), line_oriented| {
            out.push(Valid {
                label,
                format,
                text,
                ends,
                line_oriented,
            });
        };
        push(
            "resource-log lines",
            Format::JsonLines,
            joined("", &lines, "\n", "\n"),
            true,
        );
        push(
            "Event Hubs body",
            Format::EventHubs,
            joined("{\"records\":[", &lines, ",", "]}\n"),
            false,
        );
        push(
            "AzureDiagnostics lines",
            Format::LogAnalyticsJson,
            joined("", &ad_text, "\n", "\n"),
            true,
        );
        push(
            "AZKVAuditLogs lines",
            Format::LogAnalyticsJson,
            joined("", &azkv_text, "\n", "\n"),
            true,
        );
        push(
            "AzureDiagnostics array",
            Format::LogAnalyticsJson,
            joined("[\n", &ad_text, ",\n", "\n]\n"),
            false,
        );
        push(
            "AZKVAuditLogs value",
            Format::LogAnalyticsJson,
            joined("{\"value\":[", &azkv_text, ",", "]}"),
            false,
        );
        let open =
            format!("{{\"tables\":[{{\"name\":\"PrimaryResult\",\"columns\":{columns},\"rows\":[");
        push(
            "AzureDiagnostics tables",
            Format::LogAnalyticsJson,
            joined(&open, &cells, ",", "]}]}"),
            false,
        );
        for (label, rows) in [("AzureDiagnostics CSV", &ad), ("AZKVAuditLogs CSV", &azkv)] {
            let text = to_csv(rows, CsvStyle::Plain).expect("CSV");
            let ends = csv_ends(&text);
            push(label, Format::LogAnalyticsCsv, (text, ends), true);
        }
        let activity = activity_records();
        let activity_lines: Vec<String> = activity.iter().map(Value::to_string).collect();
        let activity_rows: Vec<Value> = activity
            .iter()
            .map(|r| azure_activity_row(r).expect("row"))
            .collect();
        let activity_row_text: Vec<String> = activity_rows.iter().map(Value::to_string).collect();
        push(
            "Activity Log lines",
            Format::JsonLines,
            joined("", &activity_lines, "\n", "\n"),
            true,
        );
        push(
            "Activity Log Event Hubs body",
            Format::EventHubs,
            joined("{\"records\":[", &activity_lines, ",", "]}\n"),
            false,
        );
        push(
            "AzureActivity lines",
            Format::LogAnalyticsJson,
            joined("", &activity_row_text, "\n", "\n"),
            true,
        );
        let text = to_csv(&activity_rows, CsvStyle::Plain).expect("CSV");
        let ends = csv_ends(&text);
        push(
            "AzureActivity CSV",
            Format::LogAnalyticsCsv,
            (text, ends),
            true,
        );
        out
    })
}

#[test]
fn valid_inputs_decode_completely() {
    for input in valid_inputs() {
        let n = input.ends.len();
        assert_eq!(n, 11, "{}", input.label);
        for format in [input.format, Format::Auto] {
            let tally = run(input.text.as_bytes(), format);
            assert_eq!(
                (tally.events, tally.refusals),
                (n, 0),
                "{} as {format}",
                input.label
            );
        }
    }
}

/// Bytes that make JSON and CSV decoders take their less travelled paths.
fn jsonish() -> impl Strategy<Value = Vec<u8>> {
    let alphabet: Vec<u8> =
        b"{}[]\":,.-0123456789eEtrufalsn \n\r\t\\u\xef\xbb\xbf\x00\xffTimeGenratd_ResourcIdvlubcs"
            .to_vec();
    proptest::collection::vec(proptest::sample::select(alphabet), 0..600)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 384, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        for format in FORMATS {
            run(&bytes, format);
        }
    }

    #[test]
    fn jsonish_noise_never_panics(bytes in jsonish()) {
        for format in FORMATS {
            run(&bytes, format);
        }
    }

    #[test]
    fn truncated_inputs_keep_every_complete_record(which in 0usize..13, cut in 0.0f64..=1.0) {
        let inputs = valid_inputs();
        let input = &inputs[which % inputs.len()];
        let at = ((input.text.len() as f64) * cut) as usize;
        let prefix = &input.text.as_bytes()[..at.min(input.text.len())];
        let complete = input.ends.iter().filter(|&&end| end <= prefix.len()).count();
        for format in [input.format, Format::Auto] {
            let tally = run(prefix, format);
            prop_assert!(tally.events >= complete, "{} as {format} cut at {at}: {tally:?}, {complete} complete", input.label);
            prop_assert!(tally.total() <= input.ends.len() + 1, "{} as {format} cut at {at}: {tally:?}", input.label);
        }
        for format in FORMATS {
            run(prefix, format);
        }
    }

    #[test]
    fn mutated_inputs_account_for_every_record(
        which in 0usize..13,
        edits in proptest::collection::vec((0.0f64..1.0, any::<u8>(), 0u8..3), 1..5),
    ) {
        let inputs = valid_inputs();
        let input = &inputs[which % inputs.len()];
        let mut bytes = input.text.as_bytes().to_vec();
        // Edits stay after the first record (so detection and the header hold) and
        // never touch line structure (newlines, and quotes in CSV).
        let first_end = input.ends[0] + 1;
        let structural = |b: u8| b == b'\n' || b == b'\r' || b == b'"';
        let mut kept_lines = true;
        for (pos, byte, kind) in edits {
            let span = bytes.len().saturating_sub(first_end).max(1);
            let at = (first_end + (pos * span as f64) as usize).min(bytes.len().saturating_sub(1));
            match kind {
                0 => {
                    let old = std::mem::replace(&mut bytes[at], byte);
                    kept_lines &= !structural(old) && !structural(byte);
                }
                1 => {
                    bytes.insert(at, byte);
                    kept_lines &= !structural(byte);
                }
                _ => {
                    let removed = bytes.remove(at);
                    kept_lines &= !structural(removed);
                }
            }
        }
        for format in FORMATS {
            run(&bytes, format);
        }
        let tally = run(&bytes, input.format);
        if input.line_oriented && kept_lines {
            prop_assert_eq!(tally.total(), input.ends.len(), "{}: {:?}", input.label, tally);
        }
    }
}
