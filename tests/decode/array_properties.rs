//! Property tests of a long top-level array streamed element by element
//! (`src/decode/framing/elements.rs`), with thresholds small enough that every
//! generated array is cut between its elements:
//!
//! - an array of records, refused records, Event Hubs bodies and odd scalars, with
//!   any spacing, longer than the framer's 64 KiB head, decodes streamed exactly as
//!   it decodes whole: the same records at
//!   the same lines and indexes, refused for the same reasons;
//! - any bytes after an opening bracket stream without a panic, and every record
//!   points at a line that exists.

use proptest::prelude::*;

use kvwatch::decode::framing::{decode_chunk, Framer};
use kvwatch::decode::{decode_buffer, Format, Limits, Refusal};

type Outcome = (u64, Option<u32>, Result<(), String>);

const RECORD: &[u8] = br#"{"time":"2024-01-01T00:00:00Z","operationName":"SecretGet","resourceId":"/S/P/MICROSOFT.KEYVAULT/VAULTS/V","properties":{"httpStatusCode":200}}"#;

fn label<T>(r: &Result<T, Refusal>) -> Result<(), String> {
    match r {
        Ok(_) => Ok(()),
        Err(e) => Err(e.as_str().to_owned()),
    }
}

/// One element: a record, a record refused by the decoder, a body of two
/// records, a number, a string holding brackets and commas.
fn element() -> impl Strategy<Value = String> {
    let record = |n: u32| {
        format!(
            r#"{{"time":"2024-01-01T00:00:{:02}Z","operationName":"SecretGet","resourceId":"/S/P/MICROSOFT.KEYVAULT/VAULTS/V{n}","properties":{{"httpStatusCode":200,"requestUri":"https://v/s?x=],[{{\"{n}"}}}}"#,
            n % 60
        )
    };
    prop_oneof![
        6 => (0u32..1000).prop_map(record),
        1 => Just(r#"{"time":"never","operationName":"SecretGet"}"#.to_owned()),
        1 => (0u32..1000).prop_map(move |n| format!(r#"{{"records":[{},{}]}}"#, record(n), record(n + 1))),
        1 => Just("42".to_owned()),
        1 => Just(r#""[a,b]""#.to_owned()),
    ]
}

/// Spacing before an element.
fn before() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        Just(""),
        Just(" "),
        Just("\n"),
        Just("\n  "),
        Just("\r\n\t")
    ]
}

/// Spacing after an element: no line break, so that no line of a pretty array is
/// a whole value and the input is framed as values, not lines.
fn after() -> impl Strategy<Value = &'static str> {
    prop_oneof![Just(""), Just(" "), Just("\t")]
}

fn whole(input: &[u8]) -> Vec<Outcome> {
    let mut out = Vec::new();
    decode_buffer(input, Format::Auto, &Limits::default(), &mut |r| {
        out.push((r.location.line, r.location.index, label(&r.result)));
    });
    out
}

fn streamed(input: &[u8], chunk: usize, array: usize) -> Vec<Outcome> {
    let mut framer = Framer::new(input, Format::Auto, Limits::default())
        .with_chunk_bytes(chunk)
        .with_array_stream_bytes(array);
    let mut out = Vec::new();
    while let Some(c) = framer.next_chunk().expect("reads from memory") {
        decode_chunk(&c, &Limits::default(), &mut |r| {
            out.push((r.location.line, r.location.index, label(&r.result)));
        });
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn a_well_formed_array_streams_as_it_decodes_whole(
        items in prop::collection::vec((element(), before(), after()), 400..700),
        chunk in 1usize..600,
        array in 1usize..600,
    ) {
        let mut input = String::from("[");
        for (i, (item, before, after)) in items.iter().enumerate() {
            if i > 0 {
                input.push(',');
            }
            input.push_str(before);
            input.push_str(item);
            input.push_str(after);
        }
        input.push_str("]\n");
        prop_assume!(serde_json::from_str::<serde_json::Value>(&input).is_ok());
        let want = whole(input.as_bytes());
        prop_assert!(want.iter().any(|o| o.2.is_ok()));
        prop_assert_eq!(streamed(input.as_bytes(), chunk, array), want);
    }

    #[test]
    fn any_bytes_after_a_bracket_stream_without_a_panic(
        body in prop::collection::vec(
            prop_oneof![
                Just(b"{".to_vec()), Just(b"}".to_vec()), Just(b"[".to_vec()), Just(b"]".to_vec()),
                Just(b",".to_vec()), Just(b"\"".to_vec()), Just(b"\\".to_vec()), Just(b"\n".to_vec()),
                Just(RECORD.to_vec()),
                prop::collection::vec(any::<u8>(), 0..6),
            ],
            0..80,
        ),
        chunk in 1usize..300,
        array in 1usize..300,
    ) {
        // Past the 64 KiB the framer reads before it decides anything, so that the
        // hostile bytes reach the element-by-element framing.
        let mut input = b"[".to_vec();
        input.extend(vec![RECORD; 500].join(&b","[..]));
        input.push(b',');
        input.extend(body.concat());
        let lines = 1 + input.iter().filter(|&&b| b == b'\n').count() as u64;
        for (line, _, _) in streamed(&input, chunk, array) {
            prop_assert!((1..=lines).contains(&line), "line {} of {}", line, lines);
        }
    }
}
