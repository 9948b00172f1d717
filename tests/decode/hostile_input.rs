//! Hostile input: what an attacker who controls record contents (or a whole log
//! file) can throw at kvwatch, and how it must end: counted and skipped, with the
//! neighbours kept, and never a crash.
//!
//! - decompression bombs: a small `.gz` expanding more than `pipeline.max_expansion_ratio`
//!   times is refused with an error naming it, and the replay goes on with other inputs;
//! - inputs of any size are streamed: the deprecated `pipeline.max_input_bytes` is
//!   accepted with a warning and caps nothing;
//! - JSON nested 100 000 deep, in a record, an envelope, a Log Analytics row and a
//!   CSV dynamic column, is refused (`too_deep`) on a thread with a small stack, which
//!   proves no decoder recurses per nesting level;
//! - invalid UTF-8 (`invalid_utf8`), lines over `pipeline.max_record_bytes`
//!   (`too_large`), NUL bytes, lone surrogates and out-of-range numbers (`1e999`)
//!   are counted against their record alone;
//! - Activity Log records with bodies (JSON text inside strings) that are not JSON,
//!   not objects, nested too deep or too large are refused with their reason
//!   (`invalid_body`, `too_deep`, `too_large`), wrong types elsewhere cost only the
//!   field, and a record truncated anywhere costs only itself.
//!
//! The end-to-end cases run the real binary and read its `--summary` JSON; the
//! decoder cases call `decode_buffer` directly. The fuzzers' crash inputs, once
//! fixed, are kept at the end as regression cases.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use flate2::write::GzEncoder;
use flate2::Compression;
use serde_json::Value;

use kvwatch::decode::{decode_buffer, decode_record, Format, Limits, Refusal, RejectReason};

/// A valid record; `{n}` makes each one distinct (no dedup between them).
fn rec(n: u32) -> String {
    format!(
        r#"{{"time":"2024-04-08T15:{:02}:{:02}.0000000Z","resourceId":"/SUBSCRIPTIONS/S/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.KEYVAULT/VAULTS/KV-HOSTILE","operationName":"SecretGet","category":"AuditEvent","callerIpAddress":"203.0.113.7","identity":{{"claim":{{"oid":"oid-{n}","upn":"user{n}@contoso.com"}}}},"properties":{{"id":"https://kv-hostile.vault.azure.net/secrets/s{n}","clientInfo":"agent/{n}","httpStatusCode":200}}}}"#,
        n / 60 % 60,
        n % 60
    )
}

/// What each record of a buffer came to: `Ok(vault)` or the refusal's label.
fn outcomes(buf: &[u8], format: Format, limits: &Limits) -> Vec<Result<String, String>> {
    let mut out = Vec::new();
    decode_buffer(buf, format, limits, &mut |r| {
        out.push(
            r.result
                .map(|e| e.vault.to_string())
                .map_err(|e| e.as_str().to_owned()),
        );
    });
    out
}

fn ok() -> Result<String, String> {
    Ok("kv-hostile".to_owned())
}

fn refused(reason: RejectReason) -> Result<String, String> {
    Err(reason.as_str().to_owned())
}

fn gz(data: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::best());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

/// A finished `kvwatch replay`: exit code, standard error and the summary.
struct Run {
    code: Option<i32>,
    stderr: String,
    summary: Value,
}

/// Runs `kvwatch replay` over `inputs` with `config` (TOML text), in `dir`.
fn replay(dir: &Path, config: &str, inputs: &[PathBuf]) -> Run {
    let config_path = dir.join("kvwatch.toml");
    std::fs::write(&config_path, config).unwrap();
    let summary_path = dir.join("summary.json");
    let out = Command::new(env!("CARGO_BIN_EXE_kvwatch"))
        .arg("replay")
        .arg("--no-progress")
        .arg("--config")
        .arg(&config_path)
        .arg("--summary")
        .arg(&summary_path)
        .arg("--output")
        .arg(dir.join("alerts.jsonl"))
        .args(inputs)
        .output()
        .expect("run kvwatch");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let summary = std::fs::read(&summary_path)
        .unwrap_or_else(|e| panic!("no summary ({e}); stderr:\n{stderr}"));
    Run {
        code: out.status.code(),
        stderr,
        summary: serde_json::from_slice(&summary).unwrap(),
    }
}

fn count(summary: &Value, key: &str) -> u64 {
    summary[key]
        .as_u64()
        .unwrap_or_else(|| panic!("no {key} in {summary}"))
}

fn rejected(summary: &Value, reason: &str) -> u64 {
    summary["rejected_by_reason"][reason].as_u64().unwrap_or(0)
}

/// Writes `lines` as a JSON Lines file.
fn jsonl(dir: &Path, name: &str, lines: &[Vec<u8>]) -> PathBuf {
    let path = dir.join(name);
    let mut body = Vec::new();
    for line in lines {
        body.extend_from_slice(line);
        body.push(b'\n');
    }
    std::fs::write(&path, body).unwrap();
    path
}

// ---------------------------------------------------------------------------
// Decompression bombs and oversized inputs (end to end)

#[test]
fn a_gzip_bomb_is_refused_and_the_replay_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    // 64 MiB of one valid record repeated (a real log's shape) packs into well under
    // 1 MiB; the cap is 8 MiB, so it must be refused as it expands.
    let line = format!("{}\n", rec(1));
    let mut plain = Vec::with_capacity(64 << 20);
    while plain.len() < 64 << 20 {
        plain.extend_from_slice(line.as_bytes());
    }
    let bomb = gz(&plain);
    assert!(
        bomb.len() < 1 << 20,
        "the bomb is {} bytes packed",
        bomb.len()
    );
    let bomb_path = dir.path().join("bomb.jsonl.gz");
    std::fs::write(&bomb_path, &bomb).unwrap();
    let good = jsonl(
        dir.path(),
        "good.jsonl",
        &[rec(2).into_bytes(), rec(3).into_bytes()],
    );
    let good_gz = dir.path().join("good2.jsonl.gz");
    std::fs::write(&good_gz, gz(format!("{}\n", rec(4)).as_bytes())).unwrap();

    let run = replay(
        dir.path(),
        "[pipeline]\nmax_expansion_ratio = 50\n",
        &[bomb_path, good, good_gz],
    );
    assert_eq!(
        run.code,
        Some(1),
        "an unreadable input fails the run; stderr:\n{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("bomb.jsonl.gz")
            && run.stderr.contains("expands more than 50 times")
            && run.stderr.contains("pipeline.max_expansion_ratio"),
        "no clear error for the bomb:\n{}",
        run.stderr
    );
    assert_eq!(count(&run.summary, "unreadable_inputs"), 1);
    assert_eq!(count(&run.summary, "inputs"), 2);
    // The bomb's records read before it was refused are kept (its one record, the
    // rest duplicates of it), as the other inputs' are.
    assert_eq!(
        count(&run.summary, "events") - count(&run.summary, "duplicates"),
        4,
        "{}",
        run.summary
    );
}

#[test]
fn an_input_of_any_size_is_read_and_the_old_input_cap_only_warns() {
    let dir = tempfile::tempdir().unwrap();
    let lines: Vec<Vec<u8>> = (10..60).map(|n| rec(n).into_bytes()).collect();
    let big = jsonl(dir.path(), "big.jsonl", &lines);
    assert!(std::fs::metadata(&big).unwrap().len() > 8192);
    let small = jsonl(dir.path(), "small.jsonl", &[rec(1).into_bytes()]);
    let packed = dir.path().join("packed.jsonl.gz");
    std::fs::write(&packed, gz(&std::fs::read(&big).unwrap())).unwrap();

    let run = replay(
        dir.path(),
        "[pipeline]\nmax_input_bytes = 8192\nmax_decompressed_bytes = 100\n",
        &[big, small, packed],
    );
    assert_eq!(run.code, Some(0), "stderr:\n{}", run.stderr);
    for key in [
        "pipeline.max_input_bytes",
        "pipeline.max_decompressed_bytes",
    ] {
        assert!(
            run.stderr
                .contains(&format!("`{key}` is deprecated and ignored")),
            "no deprecation warning for {key}:\n{}",
            run.stderr
        );
    }
    assert_eq!(count(&run.summary, "inputs"), 3);
    assert_eq!(count(&run.summary, "events"), 101, "{}", run.summary);
    assert_eq!(count(&run.summary, "duplicates"), 50, "{}", run.summary);
}

#[test]
fn invalid_utf8_lines_are_counted_and_their_neighbours_kept() {
    let dir = tempfile::tempdir().unwrap();
    let mut bad = rec(2).into_bytes();
    // A Latin-1 "é" inside the user agent: not UTF-8.
    let at = bad.windows(6).position(|w| w == b"agent/").unwrap();
    bad[at] = 0xE9;
    let mut truncated = "ü".repeat(3).into_bytes();
    truncated.pop(); // half a character
    let lines = vec![
        rec(1).into_bytes(),
        bad,
        rec(3).into_bytes(),
        truncated,
        vec![0xFF, 0xFE, b'{', b'}'],
        rec(4).into_bytes(),
    ];
    let input = jsonl(dir.path(), "mixed.jsonl", &lines);
    let run = replay(dir.path(), "", &[input]);
    assert_eq!(run.code, Some(0), "stderr:\n{}", run.stderr);
    assert_eq!(count(&run.summary, "records"), 6, "{}", run.summary);
    assert_eq!(count(&run.summary, "events"), 3);
    assert_eq!(rejected(&run.summary, "invalid_utf8"), 3, "{}", run.summary);
}

#[test]
fn lines_over_max_record_bytes_are_counted_and_their_neighbours_kept() {
    let dir = tempfile::tempdir().unwrap();
    let huge_agent = rec(2).replace("agent/2", &"A".repeat(10_000));
    let endless = vec![b'['; 50_000];
    let lines = vec![
        rec(1).into_bytes(),
        huge_agent.into_bytes(),
        rec(3).into_bytes(),
        endless,
        rec(4).into_bytes(),
    ];
    let input = jsonl(dir.path(), "huge.jsonl", &lines);
    let run = replay(
        dir.path(),
        "[pipeline]\nmax_record_bytes = 4096\n",
        &[input],
    );
    assert_eq!(run.code, Some(0), "stderr:\n{}", run.stderr);
    assert_eq!(count(&run.summary, "events"), 3, "{}", run.summary);
    assert_eq!(rejected(&run.summary, "too_large"), 2, "{}", run.summary);
    assert_eq!(count(&run.summary, "rejected"), 2);
}

#[test]
fn nul_bytes_surrogates_and_huge_numbers_cost_only_their_record() {
    let dir = tempfile::tempdir().unwrap();
    let raw_nul = rec(2).replace("agent/2", "agent\0/2").into_bytes();
    let nul_outside_strings = rec(3).replacen(',', ",\0", 1).into_bytes();
    let lone_high = rec(4).replace("agent/4", "agent\\ud800/4").into_bytes();
    let lone_low = rec(5).replace("agent/5", "agent\\udfff/5").into_bytes();
    let huge_status = rec(6)
        .replace("\"httpStatusCode\":200", "\"httpStatusCode\":1e999")
        .into_bytes();
    let huge_duration = rec(7)
        .replace("\"category\"", "\"durationMs\":-1e999,\"category\"")
        .into_bytes();
    let lines = vec![
        rec(1).into_bytes(),
        raw_nul,
        nul_outside_strings,
        lone_high,
        lone_low,
        huge_status,
        huge_duration,
        rec(8).into_bytes(),
    ];
    let input = jsonl(dir.path(), "odd.jsonl", &lines);
    let run = replay(dir.path(), "", &[input]);
    assert_eq!(run.code, Some(0), "stderr:\n{}", run.stderr);
    assert_eq!(count(&run.summary, "records"), 8, "{}", run.summary);
    assert_eq!(count(&run.summary, "events"), 2, "{}", run.summary);
    assert_eq!(rejected(&run.summary, "invalid_json"), 6, "{}", run.summary);
}

#[test]
fn escaped_nul_and_control_characters_are_kept_as_text() {
    // `\u0000` and friends are valid JSON: the record decodes and keeps them verbatim
    // (renderers make them visible; see tests/delivery/render_safety.rs).
    let line = rec(1).replace("agent/1", "agent\\u0000\\u001b[31m\\r\\n/1");
    let event = decode_record(line.as_bytes()).unwrap();
    assert_eq!(
        event.client_info.as_deref(),
        Some("agent\0\u{1b}[31m\r\n/1")
    );
}

// ---------------------------------------------------------------------------
// Deep nesting (decoders, on a small stack)

/// The stack the nesting cases run on: far too small for a decoder that recursed
/// once per `[`, even 10 000 deep.
const SMALL_STACK: usize = 256 * 1024;

fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(SMALL_STACK)
        .spawn(f)
        .unwrap()
        .join()
        .expect("no stack overflow")
}

const DEPTH: usize = 100_000;

fn deep() -> String {
    "[".repeat(DEPTH)
}

/// A record, an envelope, a Log Analytics row and a CSV dynamic column, each with
/// 100 000 nested arrays in it, between two good records of the same shape.
#[test]
fn deeply_nested_json_is_refused_without_stack_overflow() {
    let results = on_small_stack(|| {
        let limits = Limits::default();
        let mut results: Vec<(&str, Vec<Result<String, String>>)> = Vec::new();

        // A resource-log record: in a field, and as the whole line.
        let in_field = rec(2).replace("\"agent/2\"", &deep());
        let input = format!(
            "{}\n{in_field}\n{}\n{}\n{}\n",
            rec(1),
            deep(),
            "{".repeat(DEPTH),
            rec(3)
        );
        results.push((
            "json lines",
            outcomes(input.as_bytes(), Format::JsonLines, &limits),
        ));

        // An Event Hubs body: as a record, and inside a record.
        let body = format!("{{\"records\":[{},{}]}}", rec(1), deep());
        let body2 = format!(
            "{{\"records\":[{}]}}",
            rec(2).replace("\"agent/2\"", &deep())
        );
        let input = format!("{body}\n{body2}\n{{\"records\":[{}]}}\n", rec(3));
        results.push((
            "event hubs",
            outcomes(input.as_bytes(), Format::EventHubs, &limits),
        ));

        // A Log Analytics row (JSON): in a column, in `AdditionalFields`, and in a
        // query response.
        let row = |extra: &str| {
            format!(
                r#"{{"TimeGenerated":"2024-04-08T15:15:50Z","ResourceId":"/SUBSCRIPTIONS/S/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.KEYVAULT/VAULTS/KV-HOSTILE","Category":"AuditEvent","OperationName":"SecretGet","httpStatusCode_d":200,"Type":"AzureDiagnostics"{extra}}}"#
            )
        };
        let input = format!(
            "{}\n{}\n{}\n{}\n{}\n",
            row(""),
            row(&format!(",\"clientInfo_s\":{}", deep())),
            row(&format!(",\"AdditionalFields\":{}", deep())),
            format_args!("{{\"value\":[{}]}}", row(&format!(",\"x\":{}", deep()))),
            row(""),
        );
        results.push((
            "log analytics json",
            outcomes(input.as_bytes(), Format::LogAnalyticsJson, &limits),
        ));

        // A Log Analytics CSV row whose dynamic columns hold deep JSON text (CSV-quoted),
        // in a value the decoder reads: a claim, a property, an overflow column.
        let header = "TimeGenerated,_ResourceId,OperationName,HttpStatusCode,Identity,Properties,AdditionalFields\n";
        let good = "2024-04-08T15:15:50Z,/subscriptions/s/resourcegroups/rg/providers/microsoft.keyvault/vaults/kv-hostile,SecretGet,200,{},{},{}\n";
        let closed = format!("{}{}", deep(), "]".repeat(DEPTH));
        let mut input = String::from(header);
        input.push_str(good);
        for (column, text) in [
            (4, format!(r#"{{"claim":{{"oid":{closed}}}}}"#)),
            (5, format!(r#"{{"id":{closed}}}"#)),
            (6, format!(r#"{{"clientInfo_s":{closed}}}"#)),
        ] {
            let mut cells: Vec<String> = good.trim_end().split(',').map(str::to_owned).collect();
            cells[column] = format!("\"{}\"", text.replace('"', "\"\""));
            input.push_str(&cells.join(","));
            input.push('\n');
        }
        input.push_str(good);
        results.push((
            "log analytics csv",
            outcomes(input.as_bytes(), Format::LogAnalyticsCsv, &limits),
        ));
        results
    });

    let deep_refusals = [
        refused(RejectReason::TooDeep),
        refused(RejectReason::InvalidJson),
    ];
    for (shape, got) in &results {
        // The good neighbours decode; every deep record is refused on its own.
        assert_eq!(got.first(), Some(&ok()), "{shape}: {got:?}");
        assert_eq!(got.last(), Some(&ok()), "{shape}: {got:?}");
        for (i, r) in got[1..got.len() - 1].iter().enumerate() {
            assert!(
                deep_refusals.contains(r),
                "{shape}: record {} is {r:?}, not too_deep: {got:?}",
                i + 1
            );
        }
    }
    let total: usize = results.iter().map(|(_, got)| got.len()).sum();
    assert_eq!(total, 5 + 4 + 5 + 5, "{results:?}");
}

#[test]
fn deeply_nested_config_is_refused_without_stack_overflow() {
    let message = on_small_stack(|| {
        let text = format!("[pipeline]\nlateness = {}\n", "[".repeat(DEPTH));
        kvwatch::config::Config::parse(&text, Path::new("deep.toml"))
            .unwrap_err()
            .to_string()
    });
    assert!(message.contains("deep.toml"), "{message}");
}

/// A top-level array or `{"records":…}` 100 000 deep, with format detection.
#[test]
fn format_detection_survives_deep_nesting() {
    let got = on_small_stack(|| {
        let limits = Limits::default();
        let mut all = Vec::new();
        for input in [
            deep(),
            "{\"records\":".to_owned() + &deep(),
            "{\"tables\":".to_owned() + &deep(),
            "{\"value\":".to_owned() + &deep(),
        ] {
            all.push(outcomes(input.as_bytes(), Format::Auto, &limits));
        }
        all
    });
    for records in got {
        assert_eq!(records.len(), 1, "{records:?}");
        assert!(records[0].is_err(), "{records:?}");
    }
}

// ---------------------------------------------------------------------------
// Decoder-level cases of the same kinds, per shape

#[test]
fn invalid_utf8_in_every_shape_is_counted_alone() {
    let limits = Limits::default();
    let bad = |n: u32| {
        let mut b = rec(n).into_bytes();
        let at = b.windows(6).position(|w| w == b"agent/").unwrap();
        b[at] = 0xC0;
        b
    };
    let mut input = Vec::new();
    for part in [
        rec(1).into_bytes(),
        b"\n".to_vec(),
        bad(2),
        b"\n".to_vec(),
        rec(3).into_bytes(),
    ] {
        input.extend(part);
    }
    assert_eq!(
        outcomes(&input, Format::JsonLines, &limits),
        [ok(), refused(RejectReason::InvalidUtf8), ok()]
    );

    // In an Event Hubs body the records before the bad one are kept, and the next
    // body goes on.
    let mut input = format!("{{\"records\":[{},", rec(1)).into_bytes();
    input.extend(bad(2));
    input.extend(format!("]}}\n{{\"records\":[{}]}}\n", rec(3)).into_bytes());
    assert_eq!(
        outcomes(&input, Format::EventHubs, &limits),
        [ok(), refused(RejectReason::InvalidUtf8), ok()]
    );

    // In a CSV cell.
    let mut input = b"TimeGenerated,_ResourceId,OperationName,HttpStatusCode,ClientInfo\n".to_vec();
    let good = b"2024-04-08T15:15:50Z,/subscriptions/s/resourcegroups/rg/providers/microsoft.keyvault/vaults/kv-hostile,SecretGet,200,agent\n";
    input.extend_from_slice(good);
    input.extend_from_slice(&good[..good.len() - 6]);
    input.extend_from_slice(b"ag\xFFent\n");
    input.extend_from_slice(good);
    assert_eq!(
        outcomes(&input, Format::LogAnalyticsCsv, &limits),
        [ok(), refused(RejectReason::InvalidUtf8), ok()]
    );
}

#[test]
fn too_large_records_in_every_shape_are_counted_alone() {
    let limits = Limits {
        max_record_bytes: 2048,
        ..Limits::default()
    };
    let big = rec(2).replace("agent/2", &"x".repeat(4000));
    let input = format!("{}\n{big}\n{}\n", rec(1), rec(3));
    assert_eq!(
        outcomes(input.as_bytes(), Format::JsonLines, &limits),
        [ok(), refused(RejectReason::TooLarge), ok()]
    );
    let input = format!("[{},{big},{}]", rec(1), rec(3));
    assert_eq!(
        outcomes(input.as_bytes(), Format::JsonLines, &limits),
        [ok(), refused(RejectReason::TooLarge), ok()]
    );
    let mut input = b"TimeGenerated,_ResourceId,OperationName,HttpStatusCode,ClientInfo\n".to_vec();
    let good = "2024-04-08T15:15:50Z,/subscriptions/s/resourcegroups/rg/providers/microsoft.keyvault/vaults/kv-hostile,SecretGet,200,agent\n";
    input.extend_from_slice(good.as_bytes());
    input.extend_from_slice(good.replace("agent", &"y".repeat(4000)).as_bytes());
    input.extend_from_slice(good.as_bytes());
    assert_eq!(
        outcomes(&input, Format::LogAnalyticsCsv, &limits),
        [ok(), refused(RejectReason::TooLarge), ok()]
    );
}

#[test]
fn refusals_are_the_documented_reasons() {
    // Each reason a hostile record can earn, pinned, so a change of mind is visible.
    let table: &[(&[u8], Refusal)] = &[
        (b"\xFF", RejectReason::InvalidUtf8.into()),
        (b"{\"time\":", RejectReason::InvalidJson.into()),
        (b"{\"time\":\"\x00\"}", RejectReason::InvalidJson.into()),
        (b"{\"time\":\"\\ud800\"}", RejectReason::InvalidJson.into()),
        (b"{\"durationMs\":1e999}", RejectReason::InvalidJson.into()),
        (b"[1]", RejectReason::UnknownShape.into()),
        (b"{}", RejectReason::MissingOperation.into()),
    ];
    for (input, want) in table {
        assert_eq!(
            decode_record(input).err(),
            Some(*want),
            "{}",
            String::from_utf8_lossy(input)
        );
    }
    // Deep nesting in a field the decoder reads is refused at serde_json's recursion
    // limit; a broken (never closed) deep value is invalid JSON, not an unknown shape.
    let deep = format!("{{\"time\":{}{}}}", "[".repeat(1000), "]".repeat(1000));
    assert_eq!(
        decode_record(deep.as_bytes()).err(),
        Some(RejectReason::TooDeep.into())
    );
    assert_eq!(
        decode_record("[".repeat(1000).as_bytes()).err(),
        Some(RejectReason::InvalidJson.into())
    );
    // In a field the decoder skips, nesting costs no recursion (serde_json skips values
    // iteratively), so it is simply ignored.
    let skipped = rec(1).replace(
        "\"category\"",
        &format!(
            "\"x\":{}{},\"category\"",
            "[".repeat(DEPTH),
            "]".repeat(DEPTH)
        ),
    );
    let event =
        on_small_stack(move || decode_record(skipped.as_bytes()).map(|e| e.vault.to_string()));
    assert_eq!(event, Ok("kv-hostile".to_owned()));
}

// ---------------------------------------------------------------------------
// Fuzzer findings (scripts/fuzz.sh), kept as regression cases

/// decode_auto, crash-b2574b57: a numeric `ResultSignature` ("16") with no status
/// column became HTTP status 16. A status is now taken from the reason phrase only
/// when it is a real one (100–999); otherwise the record is `missing_status`.
#[test]
fn fuzz_regression_numeric_result_signature_is_not_any_status() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/fuzz-regressions/decode_auto-status-16.csv");
    let input = std::fs::read(path).unwrap();
    let mut statuses = Vec::new();
    decode_buffer(&input, Format::Auto, &Limits::default(), &mut |r| {
        if let Ok(e) = r.result {
            statuses.push(e.status);
        }
    });
    assert!(
        statuses.iter().all(|s| (100..1000).contains(s)),
        "{statuses:?}"
    );

    for (signature, want) in [
        ("16", Err(RejectReason::MissingStatus)),
        ("0", Err(RejectReason::MissingStatus)),
        ("404", Ok(404)),
    ] {
        let line = rec(1).replace("\"httpStatusCode\":200", "\"x\":0").replace(
            "\"category\"",
            &format!("\"resultSignature\":\"{signature}\",\"category\""),
        );
        let got = decode_record(line.as_bytes())
            .map(|e| e.status)
            .map_err(|e| match e {
                Refusal::Rejected(r) => r,
                other => panic!("{other}"),
            });
        assert_eq!(got, want, "resultSignature {signature}");
    }
}

/// Found by review while writing the fuzz invariants (an event's vault is never
/// blank): `https://.vault.azure.net/…` and a resource id ending in `/VAULTS/ /`
/// named an empty or blank vault. Both are now refused.
#[test]
fn regression_blank_vault_names_are_refused() {
    let from_host = rec(1)
        .replace("\"resourceId\":\"/SUBSCRIPTIONS/S/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.KEYVAULT/VAULTS/KV-HOSTILE\",", "")
        .replace("https://kv-hostile.vault.azure.net", "https://.vault.azure.net");
    assert_eq!(
        decode_record(from_host.as_bytes()).err(),
        Some(RejectReason::MissingVault.into())
    );
    let blank = rec(1).replace("VAULTS/KV-HOSTILE", "VAULTS/ /");
    assert!(decode_record(blank.as_bytes()).is_err());
}

/// Every record of a regression input, through `format`: (index, outcome label).
fn indexed(file: &str, format: Format) -> Vec<(Option<u32>, Result<String, String>)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/fuzz-regressions")
        .join(file);
    let input = std::fs::read(path).unwrap();
    let mut out = Vec::new();
    decode_buffer(&input, format, &Limits::default(), &mut |r| {
        out.push((
            r.location.index,
            r.result
                .map(|e| e.vault.to_string())
                .map_err(|e| e.as_str().to_owned()),
        ));
    });
    out
}

/// decode_log_analytics_json, crash-4b2306d4: an unknown operation name ending in a
/// multi-byte character (`SecretGetRRRRRRRRVRRRRRRRRᘕRRR`) panicked while its verb
/// suffix was compared (a string sliced inside a character). Suffixes are now
/// compared as bytes.
#[test]
fn fuzz_regression_operation_names_with_multibyte_characters() {
    let got = indexed(
        "decode_log_analytics_json-operation-char-boundary.json",
        Format::Auto,
    );
    assert!(!got.is_empty());
    for name in [
        "SecretGetRRRRRRRRVRRRRRRRRᘕRRR",
        "ᘕ",
        "éGet",
        "Get\u{10ffff}",
        "xyzDeleté",
    ] {
        let line = rec(1).replace("\"SecretGet\"", &format!("\"{name}\""));
        let event = decode_record(line.as_bytes()).unwrap();
        assert_eq!(event.operation.to_string(), name);
    }
}

/// decode_log_analytics_csv, crash-15e6d85b (against the CSV decoder as it was while
/// being rewritten): a header ended by a lone CR and NUL-filled names reported its
/// first data row as index 1. Every data row is reported once, indexed 0, 1, 2 ….
#[test]
fn fuzz_regression_csv_rows_are_indexed_from_zero() {
    let got = indexed(
        "decode_log_analytics_csv-row-index.csv",
        Format::LogAnalyticsCsv,
    );
    assert!(!got.is_empty());
    for (n, (index, _)) in got.iter().enumerate() {
        assert_eq!(*index, Some(n as u32), "{got:?}");
    }
}

/// An Activity Log role assignment with `fields` spliced into its top level and
/// `props` into its properties (both JSON object members, without braces).
fn activity(fields: &str, props: &str) -> String {
    format!(
        r#"{{"time":"2026-11-03T10:00:00.0000000Z","resourceId":"/SUBSCRIPTIONS/S/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.KEYVAULT/VAULTS/KV-HOSTILE/PROVIDERS/MICROSOFT.AUTHORIZATION/ROLEASSIGNMENTS/A1","operationName":"MICROSOFT.AUTHORIZATION/ROLEASSIGNMENTS/WRITE","category":"Administrative","resultType":"Start","identity":{{"claims":{{"http://schemas.microsoft.com/identity/claims/objectidentifier":"o1"}}}}{fields},"properties":{{"eventCategory":"Administrative"{props}}}}}"#
    )
}

#[test]
fn hostile_activity_log_records_are_refused_with_a_reason() {
    let deep_body = format!(
        r#","requestbody":"{{\"Properties\":{}{}}}""#,
        "[".repeat(5_000),
        "]".repeat(5_000)
    );
    let huge_body = format!(r#","requestbody":"{{\"Id\":\"{}\"}}""#, "x".repeat(100_000));
    let huge_upn = format!(r#","caller":"{}@contoso.com""#, "u".repeat(200_000));
    let table: Vec<(String, Result<String, String>)> = vec![
        (activity("", ""), ok()),
        (
            activity("", r#","requestbody":"not json at all""#),
            refused(RejectReason::InvalidBody),
        ),
        (
            activity("", r#","requestbody":"[1,2,3]""#),
            refused(RejectReason::InvalidBody),
        ),
        (
            activity("", r#","requestbody":"{\"Properties\":""#),
            refused(RejectReason::InvalidBody),
        ),
        (
            activity("", r#","requestbody":12"#),
            refused(RejectReason::InvalidBody),
        ),
        (
            activity("", r#","requestbody":"{\"Properties\":\"x\"}""#),
            refused(RejectReason::InvalidBody),
        ),
        (activity("", &deep_body), refused(RejectReason::TooDeep)),
        (activity("", &huge_body), refused(RejectReason::TooLarge)),
        // A wrong type inside a body costs only that field; a status message that is
        // free text carries no error code but is no error.
        (
            activity(
                "",
                r#","requestbody":"{\"Properties\":{\"PrincipalId\":[1]}}""#,
            ),
            ok(),
        ),
        (activity("", r#","statusMessage":"{not json""#), ok()),
        (activity(r#","identity":"claims?""#, ""), ok()),
        (
            activity(
                r#","status":{"value":{"deep":[1]}},"subStatus":7,"authorization":[1]"#,
                "",
            ),
            ok(),
        ),
        (activity(&huge_upn, ""), ok()),
        (
            activity("", r#","responseBody":"<html>""#),
            refused(RejectReason::InvalidBody),
        ),
        (
            activity(r#","time":"yesterday""#, ""),
            refused(RejectReason::BadTime),
        ),
        (
            activity(r#","time":"""#, ""),
            refused(RejectReason::MissingTime),
        ),
        (
            activity(r#","operationName":null"#, ""),
            refused(RejectReason::MissingOperation),
        ),
    ];
    for (i, (record, want)) in table.iter().enumerate() {
        let got = outcomes(record.as_bytes(), Format::Auto, &Limits::default());
        assert_eq!(got, vec![want.clone()], "row {i}");
    }
    // Truncated anywhere between two good records: refused alone, both kept.
    let full = activity("", r#","requestbody":"{\"Id\":\"a\"}""#);
    let good = activity("", "");
    for cut in (1..full.len()).step_by(37) {
        let input = format!("{good}\n{}\n{good}\n", &full[..cut]);
        let got = outcomes(input.as_bytes(), Format::JsonLines, &Limits::default());
        assert_eq!(got.len(), 3, "cut at {cut}");
        assert_eq!((&got[0], &got[2]), (&ok(), &ok()), "cut at {cut}");
        assert!(got[1].is_err(), "cut at {cut}");
    }
}
