//! The live path's speed, end to end over real AMQP (the Event Hubs stand-in) to a real
//! HTTP webhook: `cargo bench --bench live_latency`.
//!
//! 1. Throughput: a backlog of bodies on four partitions, read from the start; records
//!    per second through readers, decoding, the reorder buffer, the detectors and
//!    checkpoints (no alerts expected from the benign traffic to slow it down).
//! 2. Latency: a sustained background rate on every partition, with event times of
//!    "now", and every 100 ms a probe body whose record raises an alert
//!    (`access_policy_change`, a grant by a new principal). The time from publishing a
//!    probe to its alert reaching the webhook (decode, watermark, detectors, outbox
//!    commit with fsync, delivery) gives p50 and p99. The probe's rule alerts on
//!    arrival (`src/pipeline/lanes.rs`), so the watermark (the default lateness, 15
//!    minutes) does not delay it.
//!
//! `KVWATCH_BENCH_SECONDS` (default 20) sets the latency phase's length and
//! `KVWATCH_BENCH_LATENESS` (default `15m`, the product's default) the allowed
//! lateness, which rules over windows wait for.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)] // a test or bench stops at the first surprise, with its location

#[path = "../tests/support/live/mod.rs"]
mod live_support;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::Utc;
use live_support::*;

const PARTITIONS: usize = 4;

/// A record template and a way to stamp it with a time.
fn stamped(template: &str, at: chrono::DateTime<Utc>) -> String {
    let Some(start) = template.find("\"time\":\"") else {
        return template.to_owned();
    };
    let value = start + 8;
    let end = template[value..].find('"').map_or(value, |e| value + e);
    format!(
        "{}{}{}",
        &template[..value],
        at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        &template[end..]
    )
}

fn benign(n: usize) -> Vec<String> {
    let spec = format!(
        "[[events]]\nat = \"2024-05-06T09:00:00Z\"\nrepeat = {n}\nop = \"SecretGet\"\nappid = \"0aaaaaaa-1111-4111-8111-000000000001\"\noid = \"0aaaaaaa-1111-4111-8111-00000000000a\"\nip = \"10.1.2.3\"\nobject = \"secrets/s-{{i}}\"\n"
    );
    records(&spec).into_iter().map(|(_, r)| r).collect()
}

fn probe(k: usize) -> (String, String) {
    let oid = format!("99999999-0000-4000-8000-{k:012}");
    let spec = format!(
        "[[events]]\nat = \"2024-05-06T09:00:00Z\"\nop = \"VaultPatch\"\noid = {oid:?}\nupn = \"admin{k}@contoso.com\"\nip = \"10.1.2.4\"\nproperties = {{ addedAccessPolicy = {{ ObjectId = \"22222222-2222-4222-8222-222222222222\", Permissions = {{ secrets = [\"get\"] }} }} }}\n"
    );
    (oid, records(&spec).remove(0).1)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).copied().unwrap_or_default()
}

async fn throughput() {
    let standin = standin(&[("backlog", PARTITIONS)]).await;
    let dir = tempfile::tempdir().unwrap();
    let per_body = 50;
    let bodies_per_partition = 400;
    let templates = benign(per_body);
    let base = Utc::now() - chrono::Duration::hours(1);
    let mut n = 0i64;
    for p in 0..PARTITIONS {
        for _ in 0..bodies_per_partition {
            let recs: Vec<String> = templates
                .iter()
                .map(|t| {
                    n += 1;
                    stamped(t, base + chrono::Duration::milliseconds(n))
                })
                .collect();
            standin
                .publish("backlog", &p.to_string(), body(&recs))
                .unwrap();
        }
    }
    let total = (PARTITIONS * bodies_per_partition * per_body) as u64;
    let hubs = hub_toml(&standin, "backlog", &[], None).replace("prefetch = 50", "prefetch = 300");
    let config = config(dir.path(), "tp", "1s", "idle_after = \"2s\"", &hubs);
    let started = Instant::now();
    let live = start_live(&config, Some(dir.path().join("alerts.jsonl"))).await;
    wait_status(&live, "the backlog", |s| s.records >= total).await;
    let elapsed = started.elapsed();
    live.shutdown();
    let outcome = live.wait().await.unwrap();
    println!(
        "throughput: {total} records in {} bodies in {:.2}s: {:.0} records/s, {:.0} bodies/s ({} checkpoints)",
        PARTITIONS * bodies_per_partition,
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64(),
        (PARTITIONS * bodies_per_partition) as f64 / elapsed.as_secs_f64(),
        outcome.status.checkpoints
    );
}

async fn latency(seconds: u64) {
    let standin = standin(&[("live", PARTITIONS)]).await;
    let hook = Hook::start().await;
    let dir = tempfile::tempdir().unwrap();
    let hubs =
        hub_toml(&standin, "live", &[], None).replace("start = \"earliest\"", "start = \"latest\"");
    let lateness = std::env::var("KVWATCH_BENCH_LATENESS").unwrap_or_else(|_| "15m".to_owned());
    let config = config(
        dir.path(),
        "lat",
        &lateness,
        "idle_after = \"2s\"",
        &format!("{hubs}\n{}", webhook_toml(dir.path(), &hook.url())),
    );
    let live = start_live(&config, None).await;
    wait_status(&live, "every reader started", |s| s.started == PARTITIONS).await;

    let templates = benign(10);
    let mut sent: HashMap<String, Instant> = HashMap::new();
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    let began = Instant::now();
    let warmup = Duration::from_secs(3);
    let mut round = 0usize;
    let mut background = 0u64;
    while began.elapsed() < warmup + Duration::from_secs(seconds) {
        tick.tick().await;
        let now = Utc::now();
        for p in 0..PARTITIONS {
            let recs: Vec<String> = templates
                .iter()
                .enumerate()
                .map(|(i, t)| stamped(t, now - chrono::Duration::microseconds(i as i64)))
                .collect();
            standin
                .publish("live", &p.to_string(), body(&recs))
                .unwrap();
            background += recs.len() as u64;
        }
        round += 1;
        if round % 5 == 0 && began.elapsed() > warmup {
            let (oid, record) = probe(round);
            let record = stamped(&record, now - chrono::Duration::seconds(2));
            standin
                .publish("live", &(round % PARTITIONS).to_string(), body([&record]))
                .unwrap();
            sent.insert(oid, Instant::now());
        }
    }
    let probes = sent.len();
    wait_until("every probe's alert", || {
        hook.arrivals()
            .iter()
            .filter(|(a, _)| sent.contains_key(&a.identity))
            .count()
            >= probes
    })
    .await;
    let mut latencies: Vec<Duration> = hook
        .arrivals()
        .into_iter()
        .filter_map(|(a, at)| {
            sent.get(&a.identity)
                .map(|s| at.saturating_duration_since(*s))
        })
        .collect();
    latencies.sort();
    live.shutdown();
    let outcome = live.wait().await.unwrap();
    println!(
        "latency (lateness {lateness}): {probes} probes over {seconds}s with {:.0} background records/s on {PARTITIONS} partitions: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} records in all)",
        background as f64 / began.elapsed().as_secs_f64(),
        percentile(&latencies, 0.5).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3,
        latencies.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
        outcome.status.records
    );
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let seconds = std::env::var("KVWATCH_BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        throughput().await;
        latency(seconds).await;
    });
}
