//! Decoding cost against the floor: a bare serde_json parse of the same lines into a
//! struct of borrowed fields, on one core.
//!
//! The corpus is the real Key Vault records in `tests/fixtures/real-samples/`,
//! repeated to 50 000 lines.
//! Run with `cargo bench --bench decode`; the figure to watch is the ratio of the two
//! throughputs (issue: decoding must run at 0.8x or better of the bare parse).
//!
//! The `decode_activity_log` group measures the Activity Log decoders the same way on
//! the simulated tenant's Activity Log (`kvwatch simulate --activity-log`: role
//! assignments with their bodies, diagnostic settings, vault writes), repeated to
//! 20 000 records: as resource-log lines (the Storage and Event Hubs shape) and as
//! `AzureActivity` rows (Log Analytics JSON), against the bare parse of the lines.

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

/// The simulated Activity Log, repeated to 20 000 records.
fn activity_corpus() -> Vec<String> {
    let dir = std::env::temp_dir().join(format!("kvwatch-bench-activity-{}", std::process::id()));
    let mut spec = kvwatch::simulate::SimulationSpec::new(&dir);
    spec.days = 3;
    spec.volume = 0.1;
    spec.activity_log = true;
    spec.overwrite = true;
    kvwatch::simulate::simulate(&spec).expect("simulation");
    let mut base = Vec::new();
    for entry in walkdir::WalkDir::new(dir.join("insights-activity-logs"))
        .sort_by_file_name()
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
    {
        let text = std::fs::read_to_string(entry.path()).expect("blob");
        base.extend(text.lines().map(str::to_owned));
    }
    let _ = std::fs::remove_dir_all(&dir);
    base.iter().cycle().take(20_000).cloned().collect()
}

fn bench_activity(c: &mut Criterion) {
    use kvwatch::decode::log_analytics::export::azure_activity_row;
    use kvwatch::decode::{decode_buffer, Format, Limits};
    let lines = activity_corpus();
    let rows: Vec<String> = lines
        .iter()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("JSON");
            azure_activity_row(&v).expect("row").to_string()
        })
        .collect();
    let rows_text = rows.join("\n");
    let bytes: u64 = lines.iter().map(|l| l.len() as u64).sum();
    let mut group = c.benchmark_group("decode_activity_log");
    group.throughput(Throughput::Bytes(bytes));
    group.sample_size(10);
    group.bench_function("bare_serde_borrowed", |b| {
        b.iter(|| {
            let mut ok = 0usize;
            for line in &lines {
                if let Ok(r) = serde_json::from_str::<BareRecord>(line) {
                    ok += black_box(&r).operation_name.len();
                }
            }
            ok
        });
    });
    group.bench_function("kvwatch_decode_record", |b| {
        b.iter(|| {
            let mut ok = 0usize;
            for line in &lines {
                if let Ok(e) = kvwatch::decode::decode_record(line.as_bytes()) {
                    ok += black_box(&e).status as usize;
                }
            }
            ok
        });
    });
    group.throughput(Throughput::Bytes(rows_text.len() as u64));
    group.bench_function("kvwatch_azure_activity_rows", |b| {
        b.iter(|| {
            let mut ok = 0usize;
            decode_buffer(
                rows_text.as_bytes(),
                Format::LogAnalyticsJson,
                &Limits::default(),
                &mut |r| {
                    if let Ok(e) = r.result {
                        ok += black_box(&e).status as usize;
                    }
                },
            );
            ok
        });
    });
    group.finish();
}

criterion_group!(benches, bench, bench_activity);
criterion_main!(benches);
