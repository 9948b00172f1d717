//! What metrics cost: replay throughput without metrics, with the metrics observer
//! (`--metrics-out`), and with the HTTP endpoint up and scraped continuously
//! (`--metrics-listen`, a scraper fetching /metrics every 50 ms); plus the observer
//! alone, per event.
//!
//! `cargo bench --bench replay_metrics` (results in target/criterion).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)] // a test or bench stops at the first surprise, with its location

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use kvwatch::cli::args::{Command, RawArgs};
use kvwatch::config::MetricsConfig;
use kvwatch::metrics::Metrics;
use kvwatch::pipeline::clock::SystemClock;
use kvwatch::pipeline::{Happening, Observer};

const RECORDS: usize = 50_000;
const VAULTS: usize = 30;
const OPERATIONS: [(&str, u16); 8] = [
    ("SecretGet", 200),
    ("SecretList", 200),
    ("KeySign", 200),
    ("SecretGet", 403),
    ("Authentication", 401),
    ("SecretGet", 404),
    ("VaultPatch", 200),
    ("KeyDecrypt", 429),
];

/// Resource-log records: 30 vaults, 8 operation/status pairs, 500 principals,
/// 10 ms apart.
fn records() -> String {
    let start = chrono::DateTime::parse_from_rfc3339("2024-04-08T00:00:00Z")
        .map(|t| t.timestamp_millis())
        .unwrap_or(0);
    let mut out = String::with_capacity(RECORDS * 700);
    for i in 0..RECORDS {
        let time =
            chrono::DateTime::from_timestamp_millis(start + 10 * i as i64).unwrap_or_default();
        let (op, status) = OPERATIONS[i % OPERATIONS.len()];
        out.push_str(&format!(
            concat!(
                r#"{{"time":"{}","resourceId":"/SUBSCRIPTIONS/S/RESOURCEGROUPS/G/PROVIDERS/MICROSOFT.KEYVAULT/VAULTS/KV-BENCH-{}","#,
                r#""operationName":"{}","operationVersion":"7.4","category":"AuditEvent","resultType":"Success","resultSignature":"OK","#,
                r#""durationMs":"12","callerIpAddress":"10.1.{}.{}","correlationId":"c{}","#,
                r#""identity":{{"claim":{{"oid":"00000000-0000-0000-0000-{:012}","appid":"11111111-1111-1111-1111-111111111111"}}}},"#,
                r#""properties":{{"clientInfo":"azsdk-python-keyvault-secrets/4.7.0","requestUri":"https://kv-bench-{}.vault.azure.net/secrets/s{}?api-version=7.4","#,
                r#""id":"https://kv-bench-{}.vault.azure.net/secrets/s{}","httpStatusCode":{}}}}}"#,
                "\n"
            ),
            time.format("%Y-%m-%dT%H:%M:%S%.3fZ"),
            i % VAULTS,
            op,
            (i / 256) % 256,
            i % 256,
            i,
            i % 500,
            i % VAULTS,
            i % 50,
            i % VAULTS,
            i % 50,
            status
        ));
    }
    out
}

fn replay(input: &Path, output: &Path, extra: &[&str]) -> u64 {
    let mut argv = vec!["kvwatch", "replay", "--no-progress", "-o"];
    argv.push(output.to_str().unwrap_or(""));
    argv.push(input.to_str().unwrap_or(""));
    argv.extend_from_slice(extra);
    let Ok(raw) = RawArgs::try_parse_from(&argv) else {
        panic!("bad bench arguments {argv:?}")
    };
    let Command::Replay(raw) = raw.command else {
        panic!("not a replay command line")
    };
    let opts = kvwatch::cli::replay::validate(raw).expect("valid options");
    let outcome = kvwatch::app::replay::replay(opts).expect("replay runs");
    outcome.summary.processed
}

/// Fetches /metrics every 50 ms until told to stop.
fn scraper(addr: SocketAddr, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<u64> {
    std::thread::spawn(move || {
        let mut scrapes = 0;
        while !stop.load(Ordering::Relaxed) {
            if let Ok(mut s) = TcpStream::connect(addr) {
                let _ = write!(s, "GET /metrics HTTP/1.0\r\n\r\n");
                let mut sink = Vec::new();
                let _ = s.read_to_end(&mut sink);
                scrapes += 1;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        scrapes
    })
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let input = dir.path().join("records.jsonl");
    std::fs::write(&input, records()).expect("input written");
    let alerts = dir.path().join("alerts.jsonl");
    let snapshot = dir.path().join("final.prom");
    let snapshot = snapshot.to_str().unwrap_or("");

    let mut g = c.benchmark_group("replay");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(20))
        .throughput(Throughput::Elements(RECORDS as u64));
    g.bench_function("without metrics", |b| {
        b.iter(|| replay(&input, &alerts, &[]));
    });
    g.bench_function("with metrics observer", |b| {
        b.iter(|| replay(&input, &alerts, &["--metrics-out", snapshot]));
    });
    g.bench_function("with endpoint scraped every 50ms", |b| {
        b.iter_batched(
            || {
                // The endpoint is up for the whole replay; port 0 then a scraper on it.
                let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
                let addr = probe.local_addr().expect("address");
                drop(probe);
                addr
            },
            |addr| {
                let stop = Arc::new(AtomicBool::new(false));
                let handle = scraper(addr, stop.clone());
                let n = replay(&input, &alerts, &["--metrics-listen", &addr.to_string()]);
                stop.store(true, Ordering::Relaxed);
                let _ = handle.join();
                n
            },
            BatchSize::PerIteration,
        );
    });
    g.finish();

    // The observer alone, on decoded events.
    let text = records();
    let events: Vec<_> = text
        .lines()
        .take(10_000)
        .filter_map(|l| kvwatch::decode::decode_record(l.as_bytes()).ok())
        .collect();
    let metrics = Metrics::new(&MetricsConfig::default(), Arc::new(SystemClock)).expect("metrics");
    let mut observer = metrics.observer();
    let mut g = c.benchmark_group("observer");
    g.throughput(Throughput::Elements(events.len() as u64));
    g.bench_function("processed happenings", |b| {
        b.iter(|| {
            for e in &events {
                observer.observe(&Happening::Processed {
                    event: e,
                    waited: Duration::from_micros(40),
                });
            }
        });
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
