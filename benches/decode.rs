//! Decoding cost against the floor: a bare serde_json parse of the same lines into a
//! struct of borrowed fields, on one core.
//!
//! The corpus is the real Key Vault records in `tests/fixtures/real-samples/`,
//! repeated to 50 000 lines.
//! Run with `cargo bench --bench decode`; the figure to watch is the ratio of the two
//! throughputs (issue: decoding must run at 0.8x or better of the bare parse).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)] // a test or bench stops at the first surprise, with its location

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};

#[path = "common/bare.rs"]
mod bare;
use bare::BareRecord;

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
        );
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
        );
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
