use std::io::Read;

use super::*;
use crate::decode::{decode_buffer, Refusal};

const REC: &str = r#"{"time":"2024-01-01T00:00:00Z","operationName":"SecretGet","resourceId":"/S/P/MICROSOFT.KEYVAULT/VAULTS/V","properties":{"httpStatusCode":200}}"#;

type Outcome = (u64, Option<u32>, Result<(), String>);

fn label(r: Result<(), Refusal>) -> Result<(), String> {
    r.map_err(|e| e.as_str().to_owned())
}

fn whole(input: &[u8], format: Format) -> Vec<Outcome> {
    let mut out = Vec::new();
    decode_buffer(input, format, &Limits::default(), &mut |r| {
        out.push((
            r.location.line,
            r.location.index,
            label(r.result.map(|_| ())),
        ));
    });
    out
}

/// Streams `input` in chunks of about `chunk` bytes, read `step` bytes at a time.
fn streamed(input: &[u8], format: Format, chunk: usize, step: usize) -> Vec<Outcome> {
    let reader = Trickle { data: input, step };
    let mut framer = Framer::new(reader, format, Limits::default()).with_chunk_bytes(chunk);
    let mut out = Vec::new();
    while let Some(c) = framer.next_chunk().expect("reads from memory") {
        decode_chunk(&c, &Limits::default(), &mut |r| {
            out.push((
                r.location.line,
                r.location.index,
                label(r.result.map(|_| ())),
            ));
        });
    }
    out
}

/// A reader that hands out at most `step` bytes a call, as a pipe does.
struct Trickle<'a> {
    data: &'a [u8],
    step: usize,
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.step.min(buf.len()).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

fn oks(outcomes: &[Outcome]) -> usize {
    outcomes.iter().filter(|o| o.2.is_ok()).count()
}

fn records(n: usize) -> String {
    (0..n).map(|_| format!("{REC}\n")).collect()
}

#[test]
fn streaming_decodes_every_shape_as_the_whole_buffer_does() {
    let body = format!(r#"{{"records":[{REC},{REC},7]}}"#);
    let pretty = format!("{{\n  \"records\": [\n    {REC},\n    {REC}\n  ]\n}}\n");
    let la_row = r#"{"TimeGenerated":"2024-01-01T00:00:00Z","OperationName":"SecretGet","ResourceId":"/S/P/MICROSOFT.KEYVAULT/VAULTS/V","httpStatusCode_d":200,"Category":"AuditEvent"}"#;
    let cases: Vec<(String, Format)> = vec![
        (records(40), Format::Auto),
        (format!("{REC}\n{{\"time\":\n[1,2]\n{body}\n\n{REC}"), Format::Auto),
        (format!("{pretty}{pretty}{pretty}"), Format::Auto),
        (format!("[{REC},\n{REC},\n{REC}]"), Format::Auto),
        (format!("{la_row}\n{la_row}\n{la_row}\n"), Format::Auto),
        (format!("[\n{la_row},\n{la_row}\n]\n"), Format::LogAnalyticsJson),
        (
            "TimeGenerated,OperationName,ResourceId,httpStatusCode_d,Category,ResultDescription\n\
             2024-01-01T00:00:00Z,SecretGet,/S/P/MICROSOFT.KEYVAULT/VAULTS/V,200,AuditEvent,\"two\nlines\"\n\
             2024-01-01T00:00:01Z,SecretGet,/S/P/MICROSOFT.KEYVAULT/VAULTS/V,200,AuditEvent,plain\n\
             bad,row\n\
             2024-01-01T00:00:02Z,SecretGet,/S/P/MICROSOFT.KEYVAULT/VAULTS/V,200,AuditEvent,\"q \"\"x\"\"\"\n"
                .to_owned(),
            Format::Auto,
        ),
    ];
    for (input, format) in &cases {
        let want = whole(input.as_bytes(), *format);
        assert!(oks(&want) > 0, "{input}");
        for (chunk, step) in [(1, 1), (64, 7), (300, 4096), (1 << 20, 1 << 16)] {
            let got = streamed(input.as_bytes(), *format, chunk, step);
            assert_eq!(got, want, "chunk {chunk}, step {step}: {input}");
        }
    }
}

#[test]
fn csv_quotes_count_only_where_the_csv_decoder_reads_them() {
    // Found by fuzzing (decode_streamed): a quote inside an unquoted field is a
    // plain character to the CSV decoder, so it must not make the framer believe a
    // line break is quoted (it swallowed the rows after such a header).
    let table: [&str; 9] = [
        "TenantId\": \"0\", \"Time\": \"x\", \"y\nrow,2\n",
        "a\"b,c\nd,e\nf,g\n",
        "a,b\"c\nd,\"e\nf\"\ng,h\n",
        "a,b\r\"c,d\"\ne,f\n",
        "a,\"b\"\"\nc\"\nd,e\n",
        // A lone carriage return ends a record (the decoder's rule), in a header too.
        "a,b\rc,d\ne,f\r\ng,h\rx\n",
        "Time\rGenerated,OperationName\n2024-01-01T00:00:00Z,SecretGet\n",
        "Time,OperationName\rrow,one\n",
        // A row of NUL padding is blank to both (third decode_streamed finding).
        "a,b\nc,d\n\0\0\0\0",
    ];
    for input in table {
        let want = whole(input.as_bytes(), Format::LogAnalyticsCsv);
        assert!(!want.is_empty(), "{input:?}");
        for (chunk, step) in [(1, 1), (3, 2), (64, 7), (1 << 20, 1 << 16)] {
            let got = streamed(input.as_bytes(), Format::LogAnalyticsCsv, chunk, step);
            assert_eq!(got, want, "chunk {chunk}, step {step}: {input:?}");
        }
    }
    // A header and then NUL padding only: no row, decoded whole or streamed.
    let padded = "a,b\n\0\0\0\0".as_bytes();
    assert_eq!(whole(padded, Format::LogAnalyticsCsv), Vec::new());
    assert_eq!(streamed(padded, Format::LogAnalyticsCsv, 3, 2), Vec::new());
}

#[test]
fn a_bad_first_line_never_hides_the_records_after_it() {
    let twenty = records(20);
    let table: Vec<(Vec<u8>, usize, usize)> = vec![
        // (input, events, refused)
        (format!("[\"x\",\n{twenty}").into_bytes(), 20, 1),
        (format!("{{\"a\":[[[[\n{twenty}").into_bytes(), 20, 1),
        ([&b"\0\0\0"[..], twenty.as_bytes()].concat(), 20, 0),
        ([&b"\xEF\xBB\xBF"[..], twenty.as_bytes()].concat(), 20, 0),
        ([&b"\0\0\0\n\n"[..], twenty.as_bytes()].concat(), 20, 0),
        (vec![0u8; 100_000], 0, 0),
    ];
    for (input, events, refused) in &table {
        for got in [
            whole(input, Format::Auto),
            streamed(input, Format::Auto, 256, 100),
        ] {
            assert_eq!(
                oks(&got),
                *events,
                "{:?}",
                String::from_utf8_lossy(&input[..30.min(input.len())])
            );
            assert_eq!(got.len() - oks(&got), *refused, "{got:?}");
        }
    }
    // The records keep their own line numbers after a bad first line.
    let got = whole(format!("[\"x\",\n{twenty}").as_bytes(), Format::Auto);
    assert_eq!(got[0], (1, None, Err("invalid_json".to_owned())));
    assert_eq!(got[1].0, 2);
}

#[test]
fn layouts_follow_the_majority_of_the_head() {
    let table: &[(&str, Layout)] = &[
        ("{\"a\":1}\n{\"a\":2}\n", Layout::Lines),
        ("[\"x\",\n{\"a\":1}\n{\"a\":2}\n", Layout::Lines),
        (
            "{\n \"records\": [\n  {\"a\":1},\n  {\"a\":2}\n ]\n}\n",
            Layout::Values,
        ),
        ("[{\"a\":1},\n{\"a\":2}]", Layout::Values),
        ("[{\"a\":1},{\"a\":2}]", Layout::Lines),
        ("{\"a\": \"}\\\"{\"}\n", Layout::Lines),
        ("", Layout::Values),
    ];
    for (input, want) in table {
        assert_eq!(
            layout(Format::JsonLines, input.as_bytes(), true),
            *want,
            "{input}"
        );
    }
}

/// A reader of `lines` copies of a line, generated as it is read.
struct Generated {
    line: Vec<u8>,
    left: u64,
    at: usize,
}

impl Read for Generated {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let mut n = 0;
        while n < buf.len() && self.left > 0 {
            let take = (self.line.len() - self.at).min(buf.len() - n);
            buf[n..n + take].copy_from_slice(&self.line[self.at..self.at + take]);
            n += take;
            self.at += take;
            if self.at == self.line.len() {
                self.at = 0;
                self.left -= 1;
            }
        }
        Ok(n)
    }
}

#[test]
fn the_buffer_never_grows_past_a_chunk_and_a_record() {
    let limits = Limits {
        max_record_bytes: 64 * 1024,
        ..Limits::default()
    };
    let bound = CHUNK_BYTES + HEAD_BYTES + limits.max_record_bytes + 4096;
    // 200 MB of records, then an over-long line, then records again.
    let line = format!("{REC}\n").into_bytes();
    let count = 200_000_000 / line.len() as u64;
    let long = [vec![b'x'; 5_000_000], b"\n".to_vec()].concat();
    let reader = Generated {
        line: line.clone(),
        left: count,
        at: 0,
    }
    .chain(&long[..])
    .chain(Generated {
        line,
        left: 10,
        at: 0,
    });
    let mut framer = Framer::new(reader, Format::Auto, limits);
    let (mut lines, mut oversized, mut largest) = (0u64, 0, 0);
    while let Some(chunk) = framer.next_chunk().expect("reads from memory") {
        largest = largest
            .max(chunk.bytes.capacity())
            .max(framer.buffer_capacity());
        match chunk.frame {
            Frame::Oversized { line, .. } => {
                oversized += 1;
                assert_eq!(line, count + 1);
            }
            _ => lines += memchr::memchr_iter(b'\n', &chunk.bytes).count() as u64,
        }
    }
    assert_eq!((lines, oversized), (count + 10, 1));
    assert!(
        largest <= bound,
        "a buffer of {largest} bytes (bound {bound})"
    );
}

/// Streams with tiny thresholds: chunks of `chunk` bytes, arrays longer than
/// `array` bytes cut between their elements.
fn streamed_arrays(input: &[u8], chunk: usize, array: usize, step: usize) -> Vec<Outcome> {
    let reader = Trickle { data: input, step };
    let mut framer = Framer::new(reader, Format::Auto, Limits::default())
        .with_chunk_bytes(chunk)
        .with_array_stream_bytes(array);
    let mut out = Vec::new();
    while let Some(c) = framer.next_chunk().expect("reads from memory") {
        decode_chunk(&c, &Limits::default(), &mut |r| {
            out.push((
                r.location.line,
                r.location.index,
                label(r.result.map(|_| ())),
            ));
        });
    }
    out
}

#[test]
fn a_long_top_level_array_is_cut_between_its_elements_and_decodes_as_a_whole_one() {
    let bad = r#"{"time":"not a time","operationName":"SecretGet"}"#;
    let body = format!(r#"{{"records":[{REC},{REC}]}}"#);
    let many = |n: usize, sep: &str| vec![REC; n].join(sep);
    let cases: Vec<String> = vec![
        // Compact, pretty, with a refused element and a body among the records.
        // Longer than the 64 KiB head (a shorter input is read whole at once).
        format!("[{}]", many(600, ",")),
        format!("[\n  {}\n]\n", many(600, ",\n  ")),
        format!("[{},{bad},{body},{}]\n", many(300, ","), many(300, ",")),
        // The values (or lines) after the array are still read as such.
        format!("[{}]\n{REC}\n[{REC},{REC}]\n", many(600, ",")),
        format!("[\n{}\n]\n{REC}\n[{REC},{REC}]\n", many(600, ",\n")),
        // Strings holding brackets and commas do not cut an element.
        format!(
            "[{}]",
            vec![r#"{"time":"2024-01-01T00:00:00Z","operationName":"SecretGet","resourceId":"/S/P/MICROSOFT.KEYVAULT/VAULTS/V","properties":{"httpStatusCode":200,"requestUri":"https://v/x?a=],[{\\\"b,"}}"#; 500].join(",")
        ),
    ];
    for input in &cases {
        let want = whole(input.as_bytes(), Format::Auto);
        assert!(input.len() > HEAD_BYTES && oks(&want) >= 500);
        for (chunk, array, step) in [(512, 1024, 97), (4096, 4096, 4096), (300, 2000, 1)] {
            let got = streamed_arrays(input.as_bytes(), chunk, array, step);
            assert_eq!(got, want, "chunk {chunk}, array {array}, step {step}");
        }
    }
}

#[test]
fn a_long_array_streams_in_a_buffer_of_a_chunk_and_a_record() {
    // 20 000 records, 3.4 MB in one array; streamed past 64 KiB.
    let input = format!("[{}]", vec![REC; 20_000].join(","));
    let reader = Trickle {
        data: input.as_bytes(),
        step: 1 << 16,
    };
    let mut framer = Framer::new(reader, Format::Auto, Limits::default())
        .with_chunk_bytes(1 << 16)
        .with_array_stream_bytes(1 << 16);
    let (mut ok, mut chunks, mut largest) = (0usize, 0usize, 0usize);
    while let Some(c) = framer.next_chunk().expect("reads from memory") {
        chunks += 1;
        largest = largest.max(framer.buffer_capacity());
        decode_chunk(&c, &Limits::default(), &mut |r| {
            ok += usize::from(r.result.is_ok());
        });
    }
    assert_eq!(ok, 20_000);
    assert!(chunks > 40, "{chunks} chunks");
    assert!(
        largest < 4 * (1 << 16) + HEAD_BYTES,
        "buffer of {largest} bytes"
    );
}

#[test]
fn an_element_longer_than_a_record_is_refused_alone_in_a_long_array() {
    let huge = format!(
        r#"{{"time":"2024-01-01T00:00:00Z","operationName":"SecretGet","pad":"{}"}}"#,
        "x".repeat(Limits::default().max_record_bytes + 10_000)
    );
    let input = format!(
        "[{}, {huge}, {}]",
        vec![REC; 50].join(","),
        vec![REC; 50].join(",")
    );
    let got = streamed_arrays(input.as_bytes(), 4096, 4096, 8192);
    assert_eq!(oks(&got), 100);
    let refused: Vec<_> = got.iter().filter(|o| o.2.is_err()).collect();
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(got.iter().filter_map(|o| o.1).max(), Some(100));
}
