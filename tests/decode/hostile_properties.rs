//! Property tests of the decoders' promises under arbitrary input (the fuzz targets'
//! invariants, run in the normal suite with proptest):
//!
//! - any bytes, in any format, decode without panicking; every record points at a line
//!   that exists and every event has a non-blank, lower-case vault and a real status
//!   (an Activity Log event: a lower-case vault or none, and no status before its
//!   result is known);
//! - an Activity Log record's bodies (JSON text inside strings) may hold anything:
//!   the record decodes or is refused as `invalid_body`, `too_deep` or `too_large`,
//!   in the resource-log shape and as an `AzureActivity` row (JSON and CSV);
//! - JSON Lines accounts for every line: hostile lines between valid records cost only
//!   themselves, each non-blank line gives exactly one record;
//! - hostile text in a record's fields (user agent, UPN, object name) comes out of the
//!   decoder exactly as it went in, in every shape;
//! - the gzip cap is exact;
//! - the config loader refuses any text it does not accept with an error naming the file.

use std::io::Write;
use std::path::Path;

use flate2::write::GzEncoder;
use flate2::Compression;
use proptest::prelude::*;
use serde_json::json;

use kvwatch::decode::gzip::gunzip;
use kvwatch::decode::{decode_buffer, DecodeError, Format, Limits, RejectReason};

const FORMATS: [Format; 5] = [
    Format::Auto,
    Format::JsonLines,
    Format::EventHubs,
    Format::LogAnalyticsJson,
    Format::LogAnalyticsCsv,
];

/// Bytes that look like the inputs: JSON punctuation, keys, CSV separators, odd bytes.
fn hostile_bytes() -> impl Strategy<Value = Vec<u8>> {
    let token = prop_oneof![
        Just(b"{".to_vec()),
        Just(b"}".to_vec()),
        Just(b"[".to_vec()),
        Just(b"]".to_vec()),
        Just(b"\"".to_vec()),
        Just(b":".to_vec()),
        Just(b",".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"\"records\":".to_vec()),
        Just(b"\"tables\":".to_vec()),
        Just(b"\"value\":".to_vec()),
        Just(b"\"time\":\"2024-04-08T15:15:50Z\"".to_vec()),
        Just(b"\"resourceId\":\"/X/PROVIDERS/MICROSOFT.KEYVAULT/VAULTS/KV\"".to_vec()),
        Just(b"\"operationName\":\"SecretGet\"".to_vec()),
        Just(b"\"properties\":{\"httpStatusCode\":403,\"id\":\"https://kv.vault.azure.net/secrets/x\"}".to_vec()),
        Just(b"\"TimeGenerated\":\"2024-04-08T15:15:50Z\"".to_vec()),
        Just(b"TimeGenerated,OperationName,Resource,ResultSignature\n".to_vec()),
        Just(b"\\u0000\\ud800".to_vec()),
        Just(b"1e999".to_vec()),
        Just(vec![0xFF, 0x00, 0xC0]),
        prop::collection::vec(any::<u8>(), 0..8),
    ];
    prop::collection::vec(token, 0..40).prop_map(|parts| parts.concat())
}

/// Text an attacker puts in a field: markup, mentions, escapes, controls, any Unicode.
fn hostile_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("<script>alert(1)</script>".to_owned()),
        Just("\"><img onerror=x>".to_owned()),
        Just("<!channel> <@U123>".to_owned()),
        Just("*b* _i_ `c` [l](https://e.example) {{DATE()}}".to_owned()),
        Just("\u{1b}[31m\r\n\0\u{202e}\u{2028}".to_owned()),
        Just("\\\"'".to_owned()),
        any::<String>(),
    ];
    prop::collection::vec(piece, 1..4).prop_map(|parts| parts.concat())
}

/// Decodes and checks every record's invariants; returns (line, index, ok) per record.
fn decode_checked(
    buf: &[u8],
    format: Format,
    limits: &Limits,
) -> Vec<(u64, Option<u32>, Result<(), RejectReason>)> {
    let lines = 1 + buf.iter().filter(|&&b| b == b'\n').count() as u64;
    let mut out = Vec::new();
    decode_buffer(buf, format, limits, &mut |r| {
        assert!(
            (1..=lines).contains(&r.location.line),
            "line {} of {lines}",
            r.location.line
        );
        let result = match &r.result {
            Ok(e) if e.control_plane().is_some() => {
                assert!(
                    !e.vault.bytes().any(|b| b.is_ascii_uppercase()),
                    "vault {:?}",
                    e.vault
                );
                assert!(
                    e.status == 0 || (100..600).contains(&e.status),
                    "status {}",
                    e.status
                );
                Ok(())
            }
            Ok(e) => {
                assert!(!e.vault.trim().is_empty(), "blank vault: {e:?}");
                assert!(
                    !e.vault.bytes().any(|b| b.is_ascii_uppercase()),
                    "vault {:?}",
                    e.vault
                );
                assert!((100..=999).contains(&e.status), "status {}", e.status);
                Ok(())
            }
            Err(kvwatch::decode::Refusal::Rejected(reason)) => Err(*reason),
            Err(kvwatch::decode::Refusal::Skipped(_)) => Ok(()),
        };
        out.push((r.location.line, r.location.index, result));
    });
    out
}

fn record(agent: &str, upn: &str, secret: &str, n: u32) -> serde_json::Value {
    json!({
        "time": format!("2024-04-08T15:15:{:02}.0000000Z", n % 60),
        "resourceId": "/SUBSCRIPTIONS/S/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.KEYVAULT/VAULTS/KV-PROP",
        "operationName": "SecretGet",
        "category": "AuditEvent",
        "identity": { "claim": { "oid": format!("oid-{n}"), "upn": upn } },
        "properties": {
            "id": format!("https://kv-prop.vault.azure.net/secrets/{secret}"),
            "clientInfo": agent,
            "httpStatusCode": 403,
        },
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn any_bytes_decode_in_any_format(data in hostile_bytes(), small in any::<bool>()) {
        let limits = if small { Limits { max_record_bytes: 64, ..Limits::default() } } else { Limits::default() };
        for format in FORMATS {
            decode_checked(&data, format, &limits);
        }
    }

    #[test]
    fn json_lines_account_for_every_line(hostile in prop::collection::vec(hostile_bytes(), 0..6)) {
        let good = |n: u32| record("agent", "u@contoso.com", "s", n).to_string();
        let mut buf = good(1).into_bytes();
        let mut want_lines = vec![1u64];
        let mut line = 1u64;
        for h in &hostile {
            // One hostile line (newlines inside it become spaces), then a good record.
            let h: Vec<u8> = h.iter().map(|&b| if b == b'\n' { b' ' } else { b }).collect();
            buf.push(b'\n');
            buf.extend_from_slice(&h);
            line += 1;
            if h.iter().any(|b| !b.is_ascii_whitespace()) {
                want_lines.push(line);
            }
            buf.push(b'\n');
            buf.extend_from_slice(good(line as u32).as_bytes());
            line += 1;
            want_lines.push(line);
        }
        let got = decode_checked(&buf, Format::JsonLines, &Limits::default());
        let mut lines: Vec<u64> = got.iter().map(|(l, _, _)| *l).collect();
        lines.dedup();
        // A line holding an Event Hubs body may give several records (or none, for an
        // empty body); every other non-blank line gives exactly one.
        for l in &want_lines {
            let here: Vec<_> = got.iter().filter(|(gl, _, _)| gl == l).collect();
            if l % 2 == 1 {
                prop_assert_eq!(here.len(), 1, "good record on line {} lost: {:?}", l, got);
                prop_assert_eq!(&here[0].2, &Ok(()));
            }
        }
        prop_assert!(lines.iter().all(|l| want_lines.contains(l)), "records on blank lines: {:?}", got);
    }

    #[test]
    fn hostile_field_text_survives_every_shape_verbatim(
        agent in hostile_text(),
        upn in hostile_text(),
        secret in "[A-Za-z0-9-]{1,20}",
    ) {
        let rec = record(&agent, &upn, &secret, 1);
        let line = rec.to_string();
        let body = json!({ "records": [rec.clone(), rec.clone()] }).to_string();
        let pretty = serde_json::to_string_pretty(&json!({ "records": [rec] })).unwrap();
        for (input, format, count) in [
            (line.clone(), Format::JsonLines, 1),
            (format!("[{line}]"), Format::Auto, 1),
            (body, Format::Auto, 2),
            (pretty, Format::Auto, 1),
        ] {
            let mut seen = 0;
            decode_buffer(input.as_bytes(), format, &Limits::default(), &mut |r| {
                let e = r.result.expect("a valid record decodes");
                assert_eq!(e.client_info.as_deref(), Some(agent.as_str()).filter(|a| !a.trim().is_empty()));
                assert_eq!(e.principal.upn.as_deref(), Some(upn.as_str()).filter(|u| !u.trim().is_empty()));
                // Object names are case-insensitive in Key Vault: kept lower case.
                assert_eq!(e.object.as_ref().and_then(|o| o.name.as_deref()), Some(secret.to_ascii_lowercase().as_str()));
                assert_eq!(e.vault.as_str(), "kv-prop");
                seen += 1;
            });
            prop_assert_eq!(seen, count);
        }
    }

    #[test]
    fn activity_log_bodies_hold_anything(
        request in prop_oneof![hostile_text(), Just("{\"Properties\":{\"PrincipalId\":7}}".to_owned()), "\\{[\\[\\{\"a-z:,0-9]{0,40}"],
        response in hostile_text(),
        message in hostile_text(),
        diagnostic in any::<bool>(),
    ) {
        let operation = if diagnostic {
            "Microsoft.Insights/diagnosticSettings/write"
        } else {
            "Microsoft.Authorization/roleAssignments/write"
        };
        let rec = json!({
            "time": "2026-11-03T10:00:00.0000000Z",
            "resourceId": "/SUBSCRIPTIONS/S/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.KEYVAULT/VAULTS/KV-PROP/PROVIDERS/MICROSOFT.AUTHORIZATION/ROLEASSIGNMENTS/A1",
            "operationName": operation,
            "category": "Administrative",
            "resultType": "Failure",
            "resultSignature": "Failed.Conflict",
            "identity": {"claims": {"http://schemas.microsoft.com/identity/claims/objectidentifier": "o1"}},
            "properties": {"requestbody": request, "responseBody": response, "statusMessage": message},
        });
        let row = kvwatch::decode::log_analytics::export::azure_activity_row(&rec).unwrap();
        let csv = kvwatch::decode::log_analytics::export::to_csv(
            std::slice::from_ref(&row),
            kvwatch::decode::log_analytics::export::CsvStyle::Plain,
        )
        .unwrap();
        let mut results = Vec::new();
        for (input, format) in [
            (rec.to_string(), Format::JsonLines),
            (row.to_string(), Format::LogAnalyticsJson),
            (csv, Format::LogAnalyticsCsv),
        ] {
            let got = decode_checked(input.as_bytes(), format, &Limits::default());
            prop_assert_eq!(got.len(), 1, "{:?}", got);
            let result = got[0].2;
            prop_assert!(
                matches!(result, Ok(()) | Err(RejectReason::InvalidBody | RejectReason::TooDeep | RejectReason::TooLarge)),
                "{:?}", result
            );
            results.push(result);
        }
        // The same record means the same in every shape.
        prop_assert!(results.windows(2).all(|w| w[0] == w[1]), "{:?}", results);
    }

    #[test]
    fn the_gzip_cap_is_exact(data in prop::collection::vec(any::<u8>(), 0..4096), slack in 0u64..3) {
        let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
        enc.write_all(&data).unwrap();
        let packed = enc.finish().unwrap();
        let len = data.len() as u64;
        // Caps of len - 1 (refused), len and len + 1 (accepted).
        let cap = (len + slack).saturating_sub(1);
        match gunzip(&packed, cap) {
            Ok(out) => { prop_assert!(len <= cap); prop_assert_eq!(out, data); }
            Err(DecodeError::TooLarge { limit }) => { prop_assert!(len > cap); prop_assert_eq!(limit, cap); }
            Err(e) => prop_assert!(false, "valid gzip refused: {}", e),
        }
    }

    #[test]
    fn the_config_loader_names_the_file_in_every_refusal(text in "(\\[pipeline\\]|\\[\\[sinks\\]\\]|kind = \"slack\"|max_record_bytes = -?[0-9]{1,12}|lateness = \"[0-9a-z]{0,4}\"|\n|[ -~]{0,12}){0,12}") {
        if let Err(e) = kvwatch::config::Config::parse(&text, Path::new("prop.toml")) {
            let message = e.to_string();
            prop_assert!(message.contains("prop.toml"), "{}", message);
        }
    }
}
