//! Shared by the metrics tests: the external tools (promtool, prometheus) found
//! through the variables scripts/test.sh exports, a fully populated registry, the
//! dashboards' PromQL, and small exposition readers.
#![allow(dead_code)]

pub mod dashboards;
pub mod prom;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use ::prometheus::proto::MetricFamily;
use chrono::{DateTime, Utc};
use clap::Parser;
use kvwatch::app::replay::ReplayOutcome;
use kvwatch::app::summary::Summary;
use kvwatch::cli::args::{Command, RawArgs};
use kvwatch::metrics::{Metrics, OTHER};
use kvwatch::pipeline::clock::ManualClock;
use kvwatch::sink::observe::{AttemptOutcome, DeliveryEvent};

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// An external tool from its `KVWATCH_*` variable; fails the test (never skips it)
/// when the variable is missing or does not name an executable.
pub fn tool(var: &str) -> PathBuf {
    let hint = "run the tests through scripts/test.sh, which installs Prometheus (Debian's prometheus package) and exports it";
    let path = std::env::var_os(var)
        .map(PathBuf::from)
        .unwrap_or_else(|| panic!("{var} is not set: {hint}"));
    assert!(
        path.is_file(),
        "{var}={} does not exist: {hint}",
        path.display()
    );
    path
}

/// The logs the end-to-end tests replay: `sample-logs/` when present, else the real
/// public samples kept as fixtures.
pub fn sample_inputs() -> PathBuf {
    let samples = repo().join("sample-logs");
    if samples.is_dir() {
        samples
    } else {
        repo().join("tests/fixtures/real-samples")
    }
}

/// Parses a `kvwatch` command line and runs the replay in-process.
pub fn run_replay(args: &[&str]) -> ReplayOutcome {
    let mut argv = vec!["kvwatch", "replay", "--no-progress"];
    argv.extend_from_slice(args);
    let raw = RawArgs::try_parse_from(&argv).unwrap_or_else(|e| panic!("{argv:?}: {e}"));
    let Command::Replay(raw) = raw.command else {
        panic!("not a replay command line")
    };
    let opts = kvwatch::cli::replay::validate(raw).expect("valid replay arguments");
    kvwatch::app::replay::replay(opts).expect("the replay runs")
}

/// A replay of `inputs` with metrics on; returns the registry and the summary.
pub fn replay_with_metrics(inputs: &Path, extra: &[&str]) -> (Arc<Metrics>, Summary) {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("metrics.prom");
    let alerts = dir.path().join("alerts.jsonl");
    let mut args = vec![
        inputs.to_str().expect("utf-8 path"),
        "--metrics-out",
        out.to_str().unwrap_or(""),
        "-o",
    ];
    args.push(alerts.to_str().unwrap_or(""));
    args.extend_from_slice(extra);
    let outcome = run_replay(&args);
    let metrics = outcome
        .metrics
        .as_ref()
        .expect("--metrics-out turns metrics on")
        .metrics()
        .clone();
    let snapshot = std::fs::read_to_string(&out).expect("the snapshot was written");
    assert!(
        snapshot.contains("kvwatch_records_received_total"),
        "{snapshot}"
    );
    (metrics, outcome.summary)
}

/// A fixed time.
pub fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .expect("RFC 3339")
}

/// A registry in which every family has at least one series: the real-sample replay
/// plus one call of each delivery, live and state API.
pub fn populated() -> (Arc<Metrics>, Summary) {
    let (metrics, summary) = replay_with_metrics(&repo().join("tests/fixtures/real-samples"), &[]);
    feed_the_other_families(&metrics);
    (metrics, summary)
}

/// Touches the families a replay of the samples may not feed (alerts, delivery,
/// Event Hubs, state).
pub fn feed_the_other_families(metrics: &Metrics) {
    use kvwatch::pipeline::{Happening, Observer};
    let alert = kvwatch::sink::sample::alert(1, kvwatch::alert::Severity::High);
    // The samples hold no skipped record since the Activity Log ones decode.
    metrics.observer().observe(&Happening::Refused {
        refusal: kvwatch::decode::SkipReason::OtherCategory.into(),
        shape: kvwatch::decode::Shape::ResourceLog,
        category: kvwatch::decode::LogCategory::Other,
        origin: &kvwatch::pipeline::Origin::Stdin,
        location: kvwatch::decode::Location::default(),
        raw: b"",
    });
    metrics.observer().observe(&Happening::Alerted {
        alert: &alert,
        latency: Some(Duration::from_millis(3)),
    });
    // A vault write whose record shows no configuration changed nothing visible.
    let spec: kvwatch::detect::examples::EventSpec = toml::from_str(
        "at = \"2026-11-02T05:00:00Z\"\nop = \"VaultPatch\"\nvault = \"kv-tags\"\noid = \"11111111-1111-4111-8111-111111111111\"\nip = \"81.2.69.160\"\n",
    )
    .expect("a vault write");
    let records = kvwatch::detect::examples::records(&[spec]).expect("its record");
    let write = kvwatch::decode::decode_record(records[0].1.as_bytes()).expect("decodes");
    metrics.observer().observe(&Happening::Processed {
        event: &write,
        waited: Duration::from_millis(1),
    });
    let d = metrics.delivery_observer();
    d.observe(&DeliveryEvent::Enqueued {
        sink: "soc-webhook",
        alert_id: "a1",
    });
    d.observe(&DeliveryEvent::Attempt {
        sink: "soc-webhook",
        kind: kvwatch::config::SinkKind::Webhook,
        alerts: 1,
        outcome: AttemptOutcome::Failed { retryable: true },
        latency: Duration::from_millis(40),
        error: Some("503"),
    });
    d.observe(&DeliveryEvent::Retried {
        sink: "soc-webhook",
        alert_id: "a1",
        tries: 1,
        delay: Duration::from_secs(2),
    });
    d.observe(&DeliveryEvent::RateLimited {
        sink: "soc-webhook",
        pause: Duration::from_secs(1),
    });
    d.observe(&DeliveryEvent::DeadLettered {
        sink: "soc-webhook",
        alert_id: "a0",
        tries: 10,
        reason: "410 Gone",
    });
    d.observe(&DeliveryEvent::Depth {
        sink: "soc-webhook",
        pending: 1,
        dead: 1,
        oldest_age: Some(Duration::from_secs(3)),
    });
    let live = metrics.live();
    live.partition_lag("insights-logs-auditevent", "0", 12);
    live.checkpointed("insights-logs-auditevent", "0", Utc::now());
    live.reconnected("insights-logs-auditevent");
    live.hub_cut_loose("insights-activity-logs", false);
    live.body("insights-logs-auditevent", "0", 3);
    live.reading("insights-logs-auditevent", "0");
    live.gap("insights-logs-auditevent", "0", 7);
    metrics.state().set("failed_auth", 42, 4096);
    metrics
        .readiness()
        .check(kvwatch::metrics::checks::OUTBOX_WRITABLE)
        .ready();
}

/// A registry on a manual clock (for lag and age tests).
pub fn manual_metrics(now: &str, max_vault_labels: usize) -> (Arc<Metrics>, ManualClock) {
    let clock = ManualClock::new(at(now));
    let config = kvwatch::config::MetricsConfig {
        max_vault_labels,
        ..Default::default()
    };
    let metrics = Metrics::new(&config, Arc::new(clock.clone())).expect("metrics");
    (metrics, clock)
}

/// Sums a family's samples (counters and gauges), grouped by one label (or all
/// together with `None`).
pub fn sum_by(families: &[MetricFamily], name: &str, label: Option<&str>) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for family in families.iter().filter(|f| f.name() == name) {
        for m in family.get_metric() {
            let key = match label {
                Some(l) => m
                    .get_label()
                    .iter()
                    .find(|p| p.name() == l)
                    .map(|p| p.value().to_owned())
                    .unwrap_or_default(),
                None => String::new(),
            };
            let v = m.get_counter().get_value() + m.get_gauge().get_value();
            *out.entry(key).or_insert(0.0) += v;
        }
    }
    out
}

/// The total of a family (0 when it has no series).
pub fn total(families: &[MetricFamily], name: &str) -> f64 {
    sum_by(families, name, None).values().sum()
}

/// Every family name in an exposition.
pub fn family_names(families: &[MetricFamily]) -> Vec<String> {
    families.iter().map(|f| f.name().to_owned()).collect()
}

/// Converts a summary map to floats, for comparisons.
pub fn floats(map: &BTreeMap<String, u64>) -> BTreeMap<String, f64> {
    map.iter().map(|(k, v)| (k.clone(), *v as f64)).collect()
}

/// Whether every vault label is a valid vault name or `other`.
pub fn vault_labels_are_bounded(labels: &BTreeMap<String, f64>) -> bool {
    labels.keys().all(|v| {
        v == OTHER
            || (v.len() <= 24
                && v.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'))
    })
}

/// A plain HTTP/1.0 GET on loopback: status and body (for /healthz and /readyz).
pub fn http_get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream =
        std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connects");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").expect("request sent");
    let mut text = String::new();
    stream.read_to_string(&mut text).expect("response read");
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}
