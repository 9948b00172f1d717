//! Webhook sinks against real HTTP receivers on 127.0.0.1: Standard Webhooks
//! signatures, Slack Block Kit, Teams Adaptive Cards, PagerDuty Events v2, routing by
//! detector and severity, the file sink, and secrets that never leak into errors.

use crate::support;

use std::sync::Arc;

use kvwatch::alert::{Alert, Severity};
use kvwatch::pipeline::clock::SystemClock;
use kvwatch::sink::observe::Recorded;
use kvwatch::sink::sample;
use support::receiver::{webhook_id, Behaviour, Receiver, Request};
use support::{config, enqueue, secret, start, wait_for};

const SIGNING: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn signing_key() -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generic_webhooks_are_signed_and_carry_the_alert_contract() {
    let dir = tempfile::tempdir().unwrap();
    let rx = Receiver::start(webhook_id, Some(signing_key())).await;
    let sinks = format!(
        "[[sinks]]\nkind = \"webhook\"\nname = \"hook\"\nurl = {}\nsigning_secret = {}\n",
        secret(dir.path(), "url", &rx.url("/kvwatch")),
        secret(dir.path(), "whsec", SIGNING)
    );
    let cfg = config(dir.path(), "", &sinks);
    let running = start(&cfg, Arc::new(SystemClock));
    let alerts: Vec<Alert> = (1..=3).map(|n| sample::alert(n, Severity::High)).collect();
    enqueue(&running, &cfg, &alerts);
    wait_for("three signed deliveries", || rx.accepted().len() == 3).await;
    assert_eq!(rx.bad_signatures(), 0);
    for r in rx.requests() {
        let id = webhook_id(&r).unwrap();
        let body: Alert = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(body.id, id, "webhook-id is the alert id");
        assert!(alerts.contains(&body), "the body is the alert contract");
        assert_eq!(r.headers["content-type"], "application/json");
    }
    assert_eq!(running.delivery.drain(support::PATIENCE).await.unwrap(), 0);
    running.delivery.stop().await.unwrap();
}

fn slack_key(r: &Request) -> Option<String> {
    let v = r.json();
    let ctx = v["blocks"].as_array()?.last()?["elements"][0]["text"]
        .as_str()?
        .to_owned();
    ctx.strip_prefix("kvwatch alert ")?
        .split(' ')
        .next()
        .map(str::to_owned)
}

fn teams_key(r: &Request) -> Option<String> {
    let v = r.json();
    let facts = v["attachments"][0]["content"]["body"][2]["facts"]
        .as_array()?
        .clone();
    let id = facts.iter().find(|f| f["title"] == "Alert id")?["value"]
        .as_str()?
        .replace('\\', "");
    Some(id)
}

fn pagerduty_key(r: &Request) -> Option<String> {
    r.json()["payload"]["custom_details"]["id"]
        .as_str()
        .map(str::to_owned)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_and_paging_sinks_get_their_formats_routed_by_detector_and_severity() {
    let dir = tempfile::tempdir().unwrap();
    let slack = Receiver::start(slack_key, None).await;
    let teams = Receiver::start(teams_key, None).await;
    let pd = Receiver::start(pagerduty_key, None).await;
    let sinks = format!(
        r#"
[[sinks]]
kind = "slack"
min_severity = "high"
max_per_minute = 6000
url = {}

[[sinks]]
kind = "teams"
detectors = ["unusual_geo"]
url = {}

[[sinks]]
kind = "pagerduty"
min_severity = "critical"
url = "{}"
routing_key = {}
"#,
        secret(
            dir.path(),
            "slack",
            &slack.url("/services/T0/B0/slacksecret")
        ),
        secret(dir.path(), "teams", &teams.url("/workflows/teamssecret")),
        pd.url("/v2/enqueue"),
        secret(dir.path(), "pd", "R0UT1NGKEY0123456789")
    );
    let cfg = config(dir.path(), "", &sinks);
    let running = start(&cfg, Arc::new(SystemClock));
    let medium = sample::alert(1, Severity::Medium);
    let high = sample::alert(2, Severity::High);
    let critical = sample::alert(3, Severity::Critical);
    let mut geo = sample::alert(4, Severity::Low);
    geo.detector = "unusual_geo".into();
    enqueue(
        &running,
        &cfg,
        &[medium, high.clone(), critical.clone(), geo.clone()],
    );
    wait_for("slack: high and critical", || slack.accepted().len() == 2).await;
    wait_for("teams: the unusual_geo alert", || {
        teams.accepted().len() == 1
    })
    .await;
    wait_for("pagerduty: the critical alert", || pd.accepted().len() == 1).await;
    assert_eq!(running.delivery.drain(support::PATIENCE).await.unwrap(), 0);

    assert_eq!(slack.accepted().keys().cloned().collect::<Vec<_>>(), {
        let mut v = vec![high.id.clone(), critical.id.clone()];
        v.sort();
        v
    });
    let s = slack.requests()[0].json();
    assert_eq!(s["blocks"][0]["type"], "header");
    assert!(s["text"].as_str().unwrap().contains("failed_auth"));

    let t = teams.requests()[0].json();
    assert_eq!(t["type"], "message");
    assert_eq!(
        t["attachments"][0]["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    assert_eq!(t["attachments"][0]["content"]["type"], "AdaptiveCard");
    assert_eq!(teams.accepted().keys().next().unwrap(), &geo.id);

    let p = pd.requests()[0].json();
    assert_eq!(p["routing_key"], "R0UT1NGKEY0123456789");
    assert_eq!(p["event_action"], "trigger");
    assert_eq!(p["dedup_key"], critical.incident_id.as_str());
    assert_eq!(p["payload"]["severity"], "critical");
    assert_eq!(p["payload"]["source"], "kv-prod-payments");
    assert!(p["payload"]["summary"].as_str().unwrap().len() <= 1024);
    running.delivery.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_never_appear_in_errors_events_or_the_outbox() {
    let dir = tempfile::tempdir().unwrap();
    let rx = Receiver::start(slack_key, None).await;
    // The receiver's error page echoes the request path: the secret part of the URL.
    rx.set_default(Behaviour::Status(500));
    let token = "T0SECRET/B0SECRET/XoXoSeCrEtToKeN";
    let sinks = format!(
        "[[sinks]]\nkind = \"slack\"\nmax_per_minute = 6000\nurl = {}\n",
        secret(dir.path(), "slack", &rx.url(&format!("/services/{token}")))
    );
    let cfg = config(dir.path(), "max_tries = 3\n", &sinks);
    let running = start(&cfg, Arc::new(SystemClock));
    enqueue(&running, &cfg, &[sample::alert(1, Severity::High)]);
    wait_for("the delivery to be dead-lettered", || {
        running
            .events
            .events()
            .iter()
            .any(|e| matches!(e, Recorded::DeadLettered(..)))
    })
    .await;
    let events = format!("{:?}", running.events.events());
    let listing = format!("{:?}", running.delivery.outbox().list().unwrap());
    for text in [&events, &listing] {
        assert!(text.contains("500"), "the failure is described: {text}");
        for part in ["XoXoSeCrEtToKeN", "T0SECRET", &rx.url("/services")] {
            assert!(!text.contains(part), "secret {part:?} leaked into {text}");
        }
    }
    running.delivery.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_file_sink_appends_json_lines() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("alerts.jsonl");
    let cfg = config(
        dir.path(),
        "",
        &format!(
            "[[sinks]]\nkind = \"file\"\npath = {:?}\n",
            out.display().to_string()
        ),
    );
    let running = start(&cfg, Arc::new(SystemClock));
    let alerts: Vec<Alert> = (1..=4)
        .map(|n| sample::alert(n, Severity::Medium))
        .collect();
    enqueue(&running, &cfg, &alerts);
    assert_eq!(running.delivery.drain(support::PATIENCE).await.unwrap(), 0);
    let text = std::fs::read_to_string(&out).unwrap();
    let got: Vec<Alert> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(got, alerts);
    running.delivery.stop().await.unwrap();
}
