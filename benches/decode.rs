//! Decoding cost against the floor: a bare serde_json parse of the same lines into a
//! struct of borrowed fields, on one core.
//!
//! The corpus is the real Key Vault records in `tests/fixtures/real-samples/`,
//! repeated to 50 000 lines.
//! Run with `cargo bench --bench decode`; the figure to watch is the ratio of the two
//! throughputs (issue: decoding must run at 0.8x or better of the bare parse).

use std::borrow::Cow;
use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use serde::Deserialize;

/// The floor: the fields kvwatch uses, borrowed, exact key names, no normalisation.
#[derive(Deserialize)]
#[allow(dead_code)]
struct BareRecord<'a> {
    #[serde(borrow)]
    time: Cow<'a, str>,
    #[serde(borrow, rename = "resourceId")]
    resource_id: Cow<'a, str>,
    #[serde(borrow, rename = "operationName")]
    operation_name: Cow<'a, str>,
    #[serde(borrow, default)]
    category: Option<Cow<'a, str>>,
    #[serde(borrow, default, rename = "resultSignature")]
    result_signature: Option<Cow<'a, str>>,
    #[serde(borrow, default, rename = "resultDescription")]
    result_description: Option<Cow<'a, str>>,
    #[serde(borrow, default, rename = "correlationId")]
    correlation_id: Option<Cow<'a, str>>,
    #[serde(borrow, default, rename = "callerIpAddress")]
    caller_ip: Option<Cow<'a, str>>,
    #[serde(borrow, default, rename = "durationMs")]
    duration_ms: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    identity: Option<BareIdentity<'a>>,
    #[serde(borrow, default)]
    properties: Option<BareProperties<'a>>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct BareIdentity<'a> {
    #[serde(borrow, default)]
    claim: Option<BareClaims<'a>>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct BareClaims<'a> {
    #[serde(borrow, default)]
    oid: Option<Cow<'a, str>>,
    #[serde(
        borrow,
        default,
        rename = "http://schemas.microsoft.com/identity/claims/objectidentifier"
    )]
    object_identifier: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    upn: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    appid: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    idtyp: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    xms_mirid: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct BareProperties<'a> {
    #[serde(borrow, default)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow, default, rename = "requestUri")]
    request_uri: Option<Cow<'a, str>>,
    #[serde(borrow, default, rename = "clientInfo")]
    client_info: Option<Cow<'a, str>>,
    #[serde(default, rename = "httpStatusCode")]
    http_status: Option<u16>,
    #[serde(default, rename = "isAccessPolicyMatch")]
    is_access_policy_match: Option<bool>,
    #[serde(default, rename = "isRbacAuthorized")]
    is_rbac_authorized: Option<bool>,
}

fn corpus() -> Vec<Vec<u8>> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/real-samples");
    let files = [
        "sekoia-intake-formats-keyvault.jsonl",
        "secura-thesis-keyvault-auditevent.jsonl",
        "misc-keyvault-auditevent.jsonl",
        "msdocs-keyvault-PT1H-jsonlines.json",
    ];
    let mut base = Vec::new();
    for f in files {
        let text =
            std::fs::read_to_string(format!("{dir}/{f}")).expect("real samples are in the repo");
        base.extend(
            text.lines()
                .filter(|l| !l.trim().is_empty())
                .map(str::to_owned),
        );
    }
    // Parsing has no memory of earlier lines, so repeating the corpus is fair.
    base.iter()
        .cycle()
        .take(50_000)
        .map(|l| l.clone().into_bytes())
        .collect()
}

fn bench(c: &mut Criterion) {
    let lines = corpus();
    let bytes: u64 = lines.iter().map(|l| l.len() as u64).sum();
    let mut group = c.benchmark_group("decode");
    group.throughput(Throughput::Bytes(bytes));
    group.sample_size(20);
    group.bench_function("bare_serde_borrowed", |b| {
        b.iter_batched(
            || (),
            |()| {
                let mut ok = 0usize;
                for line in &lines {
                    if let Ok(r) = serde_json::from_slice::<BareRecord>(line) {
                        ok += black_box(&r).operation_name.len();
                    }
                }
                ok
            },
            BatchSize::SmallInput,
        )
    });
    group.bench_function("kvwatch_decode_record", |b| {
        b.iter_batched(
            || (),
            |()| {
                let mut ok = 0usize;
                for line in &lines {
                    if let Ok(e) = kvwatch::decode::decode_record(line) {
                        ok += black_box(&e).status as usize;
                    }
                }
                ok
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
