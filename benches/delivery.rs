//! Delivery costs: what the durable outbox adds per alert (append and durable commit,
//! one alert per commit and 64 per commit; the delivered-acknowledgement), and
//! end-to-end throughput from the outbox to a signed generic webhook on 127.0.0.1.
//!
//! Run with `cargo bench --bench delivery`. The figures are in docs/alerting.md.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)] // a test or bench stops at the first surprise, with its location

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::Router;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use kvwatch::alert::{Alert, Severity};
use kvwatch::config::Config;
use kvwatch::pipeline::clock::SystemClock;
use kvwatch::sink::delivery::Delivery;
use kvwatch::sink::observe::NoObserver;
use kvwatch::sink::outbox::{Outbox, Route};
use kvwatch::sink::{sample, AlertSink};

fn alerts(sink: &str, from: u32, n: u32) -> Vec<(Alert, Vec<Route>)> {
    (from..from + n)
        .map(|i| {
            (
                sample::alert(i, Severity::High),
                vec![Route {
                    sink: sink.into(),
                    digest_at: None,
                }],
            )
        })
        .collect()
}

fn outbox(c: &mut Criterion) {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("tempdir");
    let ob = Outbox::open(&dir.path().join("bench.redb")).expect("open");
    let mut group = c.benchmark_group("outbox");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(8));
    let mut next = 0u32;
    group.throughput(Throughput::Elements(1));
    group.bench_function("append+commit, 1 alert per commit", |b| {
        b.iter(|| {
            next += 1;
            black_box(
                ob.enqueue(&alerts("one", next, 1), sample::epoch())
                    .expect("enqueue"),
            );
        });
    });
    group.throughput(Throughput::Elements(64));
    group.bench_function("append+commit, 64 alerts per commit", |b| {
        b.iter(|| {
            next += 64;
            black_box(
                ob.enqueue(&alerts("batch", next, 64), sample::epoch())
                    .expect("enqueue"),
            );
        });
    });
    group.throughput(Throughput::Elements(1));
    group.bench_function("acknowledge delivered, 1 alert", |b| {
        b.iter_custom(|iters| {
            next += iters as u32 + 1;
            ob.enqueue(&alerts("ack", next, iters as u32), sample::epoch())
                .expect("enqueue");
            let seqs: Vec<u64> = ob
                .scan("ack", sample::epoch(), usize::MAX)
                .expect("scan")
                .due
                .iter()
                .map(|p| p.seq)
                .collect();
            let start = Instant::now();
            for seq in seqs.iter().take(iters as usize) {
                ob.succeeded("ack", &[*seq]).expect("ack");
            }
            start.elapsed()
        });
    });
    group.finish();
}

const BATCH: u32 = 500;

fn webhook(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let app = Router::new().fallback(|_body: Bytes| async { "ok" });
    rt.spawn(async move { axum::serve(listener, app).await });
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("tempdir");
    std::fs::write(dir.path().join("url"), format!("http://{addr}/hook")).expect("secret");
    std::fs::write(
        dir.path().join("whsec"),
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    )
    .expect("secret");
    let text = format!(
        "[outbox]\npath = {:?}\npoll_interval = \"10ms\"\ncommit_batch = 1000\n[[sinks]]\nkind = \"webhook\"\nname = \"hook\"\nurl = {{ file = \"url\" }}\nsigning_secret = {{ file = \"whsec\" }}\n",
        dir.path().join("outbox.redb").display().to_string()
    );
    let path = dir.path().join("kvwatch.toml");
    std::fs::write(&path, text).expect("config");
    let config = Config::load(&path).expect("config");
    let delivery = {
        let _guard = rt.enter();
        Delivery::from_config(&config, Arc::new(SystemClock), Arc::new(NoObserver))
            .expect("delivery")
    };
    let mut group = c.benchmark_group("delivery");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(15));
    group.throughput(Throughput::Elements(u64::from(BATCH)));
    let mut next = 0u32;
    group.bench_function("outbox to signed webhook on 127.0.0.1, 500 alerts", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let mut sink = delivery.sink(&config);
                let start = Instant::now();
                for i in 0..BATCH {
                    sink.deliver(&sample::alert(next + i, Severity::High))
                        .expect("deliver");
                }
                next += BATCH;
                sink.flush().expect("flush");
                let left = rt
                    .block_on(delivery.drain(Duration::from_secs(120)))
                    .expect("drain");
                assert_eq!(left, 0, "the benchmark's receiver took everything");
                total += start.elapsed();
            }
            total
        });
    });
    group.finish();
    rt.block_on(delivery.stop()).expect("stop");
}

criterion_group!(benches, outbox, webhook);
criterion_main!(benches);
