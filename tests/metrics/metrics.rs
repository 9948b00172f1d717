//! Metrics without external tools: the counters agree with the replay summary, label
//! values stay bounded, lag and ages follow the injected clock, the delivery and
//! Event Hubs APIs feed their families, the endpoint serves /metrics, /healthz and
//! /readyz, the replay flags work from the real binary, and docs/metrics.md documents
//! every family.

use crate::support;

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use kvwatch::metrics::http::MetricsServer;
use kvwatch::metrics::{checks, OTHER};
use kvwatch::pipeline::{Happening, Observer};
use kvwatch::sink::observe::{AttemptOutcome, DeliveryEvent};
use support::{floats, sum_by, total};

#[test]
fn replay_counters_agree_with_the_summary() {
    let (metrics, s) =
        support::replay_with_metrics(&support::repo().join("tests/fixtures/real-samples"), &[]);
    let f = metrics.registry().gather();
    assert!(
        s.records > 0 && s.events > 0,
        "the fixtures hold records: {s:?}"
    );
    assert_eq!(
        total(&f, "kvwatch_records_received_total"),
        s.records as f64
    );
    assert_eq!(total(&f, "kvwatch_records_decoded_total"), s.events as f64);
    assert_eq!(
        sum_by(&f, "kvwatch_records_rejected_total", Some("reason")),
        floats(&s.rejected_by_reason)
    );
    assert_eq!(
        sum_by(&f, "kvwatch_records_skipped_total", Some("reason")),
        floats(&s.skipped_by_reason)
    );
    let by_shape: BTreeMap<String, f64> =
        sum_by(&f, "kvwatch_records_received_total", Some("shape"))
            .into_iter()
            .filter(|(_, v)| *v > 0.0)
            .collect();
    assert_eq!(by_shape, floats(&s.records_by_shape));
    assert_eq!(
        total(&f, "kvwatch_duplicates_dropped_total"),
        s.duplicates as f64
    );
    assert_eq!(
        total(&f, "kvwatch_events_filtered_total"),
        s.filtered as f64
    );
    assert_eq!(total(&f, "kvwatch_events_late_total"), s.late as f64);
    assert_eq!(total(&f, "kvwatch_events_total"), s.processed as f64);
    assert_eq!(total(&f, "kvwatch_alerts_total"), s.alerts as f64);
    assert_eq!(
        sum_by(&f, "kvwatch_alerts_total", Some("detector")),
        floats(&s.alerts_by_detector)
    );
    // Every processed event was timed from its input's arrival.
    let text = metrics.render().expect("render");
    let count_line = format!(
        "kvwatch_processing_latency_seconds_count{{stage=\"processed\"}} {}",
        s.processed
    );
    assert!(
        text.contains(&count_line),
        "{count_line} missing from\n{text}"
    );
    assert_eq!(
        total(&f, "kvwatch_ready"),
        2.0,
        "replay reports sources and state ready"
    );
    assert_eq!(total(&f, "kvwatch_pipeline_lateness_seconds"), 900.0);
    assert!(
        total(&f, "kvwatch_event_lag_seconds") > 0.0,
        "archived events lag behind now"
    );
}

/// Vault writes that change nothing visible (identical settings re-applied, a
/// tag-only edit) are counted per vault and raise no alert; a write that changes a
/// setting is not counted and is alerted.
#[test]
fn vault_writes_without_change_are_counted_not_alerted() {
    #[derive(serde::Deserialize)]
    struct Events {
        events: Vec<kvwatch::detect::examples::EventSpec>,
    }
    let closed = r#"properties = { properties = { networkAcls = { bypass = "None", defaultAction = "Deny" }, enableRbacAuthorization = true } }"#;
    let tightened = r#"properties = { properties = { networkAcls = { bypass = "None", defaultAction = "Deny" }, enableRbacAuthorization = true, enablePurgeProtection = true } }"#;
    let events = format!(
        r#"
[[events]]
at = "2026-11-02T05:00:00Z"
op = "VaultGet"
vault = "kv-iac"
appid = "509e4652-da8d-478d-a730-e9d4a1996ca4"
ip = "20.40.1.1"
{closed}
[[events]]
at = "+30m"
repeat = 2
days = 2
op = "VaultPut"
vault = "kv-iac"
oid = "44444444-4444-4444-8444-444444444444"
appid = "0a3c6f5e-1d2b-4c8a-9e7f-5b4a3c2d1e0f"
ip = "20.42.7.9"
{closed}
[[events]]
at = "+1h"
op = "VaultPatch"
vault = "kv-iac"
oid = "11111111-1111-4111-8111-111111111111"
upn = "admin@contoso.com"
ip = "81.2.69.160"
{tightened}
"#
    );
    let events: Events = toml::from_str(&events).expect("events");
    let records = kvwatch::detect::examples::records(&events.events).expect("records");
    let dir = tempfile::tempdir().expect("temp dir");
    let input = dir.path().join("writes.jsonl");
    let lines: Vec<String> = records.into_iter().map(|(_, r)| r).collect();
    std::fs::write(&input, lines.join("\n") + "\n").expect("input");
    let (metrics, s) = support::replay_with_metrics(&input, &[]);
    let f = metrics.registry().gather();
    assert_eq!(s.events, 6, "{s:?}");
    assert_eq!(
        sum_by(
            &f,
            "kvwatch_vault_writes_without_change_total",
            Some("vault")
        ),
        BTreeMap::from([("kv-iac".to_owned(), 4.0)]),
        "four re-applies of identical settings"
    );
    assert_eq!(
        s.alerts_by_detector,
        BTreeMap::from([("access_policy_change".to_owned(), 1)]),
        "only the write that changed a setting is alerted"
    );
}

#[test]
fn vault_labels_are_capped_and_never_free_text() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("kvwatch.toml");
    std::fs::write(&config, "[metrics]\nmax_vault_labels = 2\n").expect("config");
    // A record whose "vault" is no vault name at all.
    let hostile = dir.path().join("hostile.jsonl");
    let fixture = std::fs::read_to_string(
        support::repo().join("tests/fixtures/real-samples/msdocs-keyvault-PT1H-jsonlines.json"),
    )
    .expect("fixture");
    let line = fixture.lines().next().expect("a record").replace(
        "VAULTS/CONTOSOKEYVAULT",
        "VAULTS/A-NAME-FAR-TOO-LONG-FOR-ANY-KEY-VAULT",
    );
    std::fs::write(&hostile, format!("{line}\n")).expect("hostile input");
    let samples = support::repo().join("tests/fixtures/real-samples");
    let (metrics, s) = support::replay_with_metrics(
        &samples,
        &[
            "--config",
            config.to_str().unwrap_or(""),
            hostile.to_str().unwrap_or(""),
        ],
    );
    let f = metrics.registry().gather();
    let by_vault = sum_by(&f, "kvwatch_events_total", Some("vault"));
    assert!(
        by_vault.len() <= 3,
        "two vault labels plus other: {by_vault:?}"
    );
    assert!(by_vault.contains_key(OTHER), "{by_vault:?}");
    assert!(support::vault_labels_are_bounded(&by_vault), "{by_vault:?}");
    assert_eq!(
        by_vault.values().sum::<f64>(),
        s.processed as f64,
        "capping loses no event"
    );
    assert_eq!(total(&f, "kvwatch_vault_labels"), 2.0);
    assert_eq!(total(&f, "kvwatch_vault_labels_max"), 2.0);
}

#[test]
fn lag_and_ages_follow_the_injected_clock() {
    let (metrics, clock) = support::manual_metrics("2024-04-08T12:00:00Z", 50);
    let line = r#"{"time":"2024-04-08T11:58:00Z","resourceId":"/SUBSCRIPTIONS/S/RESOURCEGROUPS/G/PROVIDERS/MICROSOFT.KEYVAULT/VAULTS/KV-ONE","operationName":"SecretGet","category":"AuditEvent","callerIpAddress":"10.0.0.1","identity":{"claim":{"oid":"o1"}},"properties":{"httpStatusCode":403,"isRbacAuthorized":false}}"#;
    let event = kvwatch::decode::decode_record(line.as_bytes()).expect("a valid record");
    let mut observer = metrics.observer();
    observer.observe(&Happening::Processed {
        event: &event,
        waited: Duration::from_millis(30),
    });
    let gauge = |name: &str| total(&metrics.registry().gather(), name);
    assert_eq!(gauge("kvwatch_event_lag_seconds"), 120.0);
    clock.advance(chrono::Duration::seconds(60));
    assert_eq!(
        gauge("kvwatch_event_lag_seconds"),
        180.0,
        "the lag grows while nothing arrives"
    );
    assert_eq!(
        gauge("kvwatch_newest_event_timestamp_seconds"),
        support::at("2024-04-08T11:58:00Z").timestamp() as f64
    );
    let f = metrics.registry().gather();
    let events = sum_by(&f, "kvwatch_events_total", Some("outcome"));
    assert_eq!(events.get("denied_rbac"), Some(&1.0), "{events:?}");
    assert_eq!(
        sum_by(&f, "kvwatch_events_total", Some("class")).get("read-value"),
        Some(&1.0)
    );

    metrics
        .live()
        .checkpointed("hub", "7", support::at("2024-04-08T12:00:30Z"));
    metrics
        .delivery()
        .outbox("soc", 3, 0, Some(Duration::from_secs(10)));
    clock.advance(chrono::Duration::seconds(20));
    assert_eq!(gauge("kvwatch_eventhubs_checkpoint_age_seconds"), 50.0);
    assert_eq!(gauge("kvwatch_outbox_oldest_age_seconds"), 30.0);
    metrics.delivery().outbox("soc", 0, 0, None);
    assert_eq!(
        gauge("kvwatch_outbox_oldest_age_seconds"),
        0.0,
        "nothing waits: no age series"
    );
    assert_eq!(gauge("kvwatch_outbox_pending_alerts"), 0.0);
}

#[test]
fn delivery_events_feed_the_delivery_families() {
    let (metrics, _) = support::manual_metrics("2024-04-08T12:00:00Z", 50);
    let d = metrics.delivery_observer();
    let attempt = |sink, alerts, outcome| DeliveryEvent::Attempt {
        sink,
        kind: kvwatch::config::SinkKind::Webhook,
        alerts,
        outcome,
        latency: Duration::from_millis(20),
        error: None,
    };
    d.observe(&attempt("soc", 3, AttemptOutcome::Succeeded));
    d.observe(&attempt(
        "soc",
        1,
        AttemptOutcome::Failed { retryable: true },
    ));
    d.observe(&attempt(
        "soc",
        1,
        AttemptOutcome::Failed { retryable: false },
    ));
    d.observe(&attempt("bad sink name", 1, AttemptOutcome::Succeeded));
    d.observe(&DeliveryEvent::Retried {
        sink: "soc",
        alert_id: "x",
        tries: 2,
        delay: Duration::from_secs(4),
    });
    d.observe(&DeliveryEvent::DeadLettered {
        sink: "soc",
        alert_id: "y",
        tries: 10,
        reason: "gone",
    });
    d.observe(&DeliveryEvent::Enqueued {
        sink: "soc",
        alert_id: "z",
    });
    d.observe(&DeliveryEvent::Depth {
        sink: "soc",
        pending: 7,
        dead: 1,
        oldest_age: None,
    });
    let f = metrics.registry().gather();
    let results = sum_by(&f, "kvwatch_alert_deliveries_total", Some("result"));
    assert_eq!(results.get("delivered"), Some(&4.0));
    assert_eq!(results.get("retryable_error"), Some(&1.0));
    assert_eq!(results.get("permanent_error"), Some(&1.0));
    let sinks = sum_by(&f, "kvwatch_alert_deliveries_total", Some("sink"));
    assert_eq!(
        sinks.keys().cloned().collect::<Vec<_>>(),
        vec![OTHER.to_owned(), "soc".to_owned()],
        "free text is no label"
    );
    assert_eq!(total(&f, "kvwatch_alert_delivery_retries_total"), 1.0);
    assert_eq!(total(&f, "kvwatch_alert_dead_letters_total"), 1.0);
    assert_eq!(total(&f, "kvwatch_outbox_enqueued_total"), 1.0);
    assert_eq!(total(&f, "kvwatch_outbox_pending_alerts"), 7.0);
    assert_eq!(total(&f, "kvwatch_outbox_dead_letter_alerts"), 1.0);
}

#[test]
fn event_hubs_labels_are_bounded() {
    let (metrics, _) = support::manual_metrics("2024-04-08T12:00:00Z", 50);
    let live = metrics.live();
    live.body("insights-logs-auditevent", "0", 5);
    live.body("insights-logs-auditevent", "not-a-partition", 1);
    for p in 0..1100 {
        live.partition_lag("insights-logs-auditevent", &p.to_string(), 1);
    }
    live.reconnected("insights-logs-auditevent");
    let f = metrics.registry().gather();
    let records = sum_by(&f, "kvwatch_eventhubs_records_total", Some("partition"));
    assert_eq!(records.get("0"), Some(&5.0));
    assert_eq!(records.get(OTHER), Some(&1.0));
    let lag = sum_by(
        &f,
        "kvwatch_eventhubs_partition_lag_events",
        Some("partition"),
    );
    assert!(
        lag.len() <= 1025,
        "partition labels are capped: {}",
        lag.len()
    );
    assert_eq!(total(&f, "kvwatch_eventhubs_reconnects_total"), 1.0);
    live.released("insights-logs-auditevent", "0");
    let lag = sum_by(
        &metrics.registry().gather(),
        "kvwatch_eventhubs_partition_lag_events",
        Some("partition"),
    );
    assert!(
        !lag.contains_key("0"),
        "a released partition's gauges go away"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoint_serves_metrics_health_and_readiness() {
    let (metrics, _) = support::manual_metrics("2024-04-08T12:00:00Z", 50);
    let outbox = metrics.readiness().check(checks::OUTBOX_WRITABLE);
    let server = MetricsServer::start(
        "127.0.0.1:0".parse().expect("address"),
        Arc::clone(&metrics),
    )
    .expect("listens");
    let base = format!("http://{}", server.local_addr());
    let client = reqwest::Client::new();
    let get = |path: &str| {
        let client = client.clone();
        let url = format!("{base}{path}");
        async move {
            let resp = client.get(&url).send().await.expect("answers");
            let status = resp.status().as_u16();
            let ctype = resp
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned();
            (status, ctype, resp.text().await.expect("body"))
        }
    };
    let (status, ctype, body) = get("/metrics").await;
    assert_eq!(status, 200);
    assert!(ctype.starts_with("text/plain; version=0.0.4"), "{ctype}");
    assert!(body.contains("kvwatch_build_info{version=\""), "{body}");
    assert_eq!(get("/healthz").await.0, 200);
    let (status, _, body) = get("/readyz").await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("outbox_writable: not reported yet"), "{body}");
    outbox.set(Err("outbox.redb is read-only"));
    assert!(get("/readyz")
        .await
        .2
        .contains("outbox_writable: outbox.redb is read-only"));
    outbox.ready();
    let (status, _, body) = get("/readyz").await;
    assert_eq!(
        (status, body.as_str()),
        (200, "ready\noutbox_writable: ok\n")
    );
    assert_eq!(get("/nope").await.0, 404);
    tokio::task::spawn_blocking(move || server.stop())
        .await
        .expect("joined")
        .expect("stops cleanly");
}

#[test]
fn replay_binary_serves_and_snapshots_metrics() {
    let dir = tempfile::tempdir().expect("temp dir");
    let snapshot = dir.path().join("final.prom");
    let summary = dir.path().join("summary.json");
    let out = Command::new(env!("CARGO_BIN_EXE_kvwatch"))
        .arg("replay")
        .arg(support::repo().join("tests/fixtures/real-samples"))
        .args([
            "--no-progress",
            "--metrics-listen",
            "127.0.0.1:0",
            "--metrics-linger",
            "0s",
            "--metrics-out",
        ])
        .arg(&snapshot)
        .arg("--summary")
        .arg(&summary)
        .arg("-o")
        .arg(dir.path().join("alerts.jsonl"))
        .output()
        .expect("kvwatch runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("kvwatch: serving metrics on http://127.0.0.1:"),
        "{stderr}"
    );
    let text = std::fs::read_to_string(&snapshot).expect("snapshot written");
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&summary).expect("summary")).expect("json");
    let received: f64 = text
        .lines()
        .filter(|l| l.starts_with("kvwatch_records_received_total{"))
        .filter_map(|l| l.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()))
        .sum();
    assert_eq!(Some(received), summary["records"].as_f64(), "{text}");
}

#[test]
fn replay_flags_are_validated() {
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_kvwatch"))
            .arg("replay")
            .arg(
                support::repo()
                    .join("tests/fixtures/real-samples/msdocs-keyvault-PT1H-jsonlines.json"),
            )
            .args(args)
            .output()
            .expect("kvwatch runs");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok, err) = run(&["--metrics-listen", "localhost"]);
    assert!(
        !ok && err.contains("--metrics-listen \"localhost\": write an address and port"),
        "{err}"
    );
    let (ok, err) = run(&["--metrics-linger", "5s"]);
    assert!(
        !ok && err.contains("--metrics-listen"),
        "linger needs an endpoint: {err}"
    );
    let (ok, err) = run(&[
        "--metrics-listen",
        "127.0.0.1:0",
        "--metrics-linger",
        "soon",
    ]);
    assert!(!ok && err.contains("--metrics-linger \"soon\""), "{err}");
    let (ok, err) = run(&["--metrics-out", "/no/such/folder/m.prom"]);
    assert!(!ok && err.contains("its folder does not exist"), "{err}");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let addr = taken.local_addr().expect("address").to_string();
    let (ok, err) = run(&["--metrics-listen", &addr]);
    assert!(!ok && err.contains("pick another address or port"), "{err}");
}

#[test]
fn every_family_is_documented_and_every_documented_family_exists() {
    let (metrics, _) = support::populated();
    let names = support::family_names(&metrics.registry().gather());
    let docs =
        std::fs::read_to_string(support::repo().join("docs/metrics.md")).expect("docs/metrics.md");
    for name in &names {
        assert!(
            docs.contains(&format!("`{name}`")),
            "docs/metrics.md does not document `{name}`"
        );
    }
    for word in docs.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
        let family = support::dashboards::family_of(word);
        if family.starts_with("kvwatch_") && family.len() > "kvwatch_".len() {
            assert!(
                names.iter().any(|n| n == family),
                "docs/metrics.md names `{word}`, which kvwatch does not export"
            );
        }
    }
}
