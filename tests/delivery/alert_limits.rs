//! Oversized fields from a tampered record: a 400 KB UPN becomes an alert whose
//! names and summary are clipped (with an ellipsis and the original length in the
//! evidence), and every sink's message stays within its service's documented size
//! limits. The largest evidence an alert can carry fits too.

use crate::support;

use std::process::Command;

use kvwatch::alert::{Alert, Severity};
use kvwatch::config::delivery::DedupKey;
use kvwatch::sink::render::{chat, email};
use kvwatch::sink::sample;
use kvwatch::sink::webhook::pagerduty;
use serde_json::Value;

/// The bound the README gives for one alert's JSON.
const ALERT_BYTES: usize = 64 * 1024;
/// Teams: "The message size limit is 28 KB" (Microsoft Learn, Incoming Webhooks).
const TEAMS_BYTES: usize = 28 * 1000;
/// PagerDuty Events API v2: the whole event at most 512 KB, `summary` 1024 characters.
const PAGERDUTY_BYTES: usize = 512 * 1000;
/// A generous bound for one email's two bodies (mail servers take megabytes).
const EMAIL_BYTES: usize = 1024 * 1024;

fn chars(v: &Value) -> usize {
    v.as_str().map_or(0, |s| s.chars().count())
}

/// Every sink's message for `alert` within its service's limits.
fn assert_within_limits(alert: &Alert, what: &str) {
    // Slack Block Kit: header 150, section text 3000, 10 fields of 2000, 50 blocks,
    // message text 40 000 characters.
    let slack = chat::slack_message(alert);
    assert!(chars(&slack["text"]) <= 40_000, "{what}: slack text");
    let blocks = slack["blocks"].as_array().expect("blocks");
    assert!(blocks.len() <= 50, "{what}: slack blocks");
    for b in blocks {
        match b["type"].as_str() {
            Some("header") => assert!(chars(&b["text"]["text"]) <= 150, "{what}: slack header"),
            Some("section") => {
                assert!(chars(&b["text"]["text"]) <= 3000, "{what}: slack section");
                let fields = b["fields"].as_array().cloned().unwrap_or_default();
                assert!(fields.len() <= 10, "{what}: slack fields");
                for f in &fields {
                    assert!(chars(&f["text"]) <= 2000, "{what}: slack field");
                }
            }
            _ => {}
        }
    }
    let teams = serde_json::to_vec(&chat::teams_message(alert)).expect("json");
    assert!(
        teams.len() <= TEAMS_BYTES,
        "{what}: the Teams card is {} bytes",
        teams.len()
    );
    let mut event = pagerduty::event(alert, DedupKey::Incident);
    event["routing_key"] = Value::from("R0123456789ABCDEF0123456789ABCDE");
    let event_bytes = serde_json::to_vec(&event).expect("json").len();
    assert!(
        event_bytes <= PAGERDUTY_BYTES,
        "{what}: the PagerDuty event is {event_bytes} bytes"
    );
    assert!(
        chars(&event["payload"]["summary"]) <= 1024,
        "{what}: pagerduty summary"
    );
    assert!(
        email::subject(alert, "[kvwatch]").chars().count() <= 200,
        "{what}: subject"
    );
    let bodies = email::text(alert).len() + email::html_body(alert).len();
    assert!(
        bodies <= EMAIL_BYTES,
        "{what}: the email bodies are {bodies} bytes"
    );
    let digest = vec![alert.clone(); 50];
    let digest_bodies = email::digest_text(&digest).len() + email::digest_html(&digest).len();
    assert!(
        digest_bodies <= 4 * EMAIL_BYTES,
        "{what}: a digest of 50 is {digest_bodies} bytes"
    );
}

#[test]
fn a_400_kb_upn_gives_a_bounded_alert_and_bounded_messages() {
    let dir = tempfile::tempdir().unwrap();
    support::access_policy_detector_only(dir.path());
    let fixture = dir.path().join("tampered.jsonl");
    let huge = format!("{}@contoso.com", "<b>*mallory*</b>_".repeat(400_000 / 17));
    let huge_len = huge.chars().count();
    support::grants_fixture(&fixture, 1, |_| huge.clone());
    let config = dir.path().join("kvwatch.toml");
    std::fs::write(&config, "[detectors]\ndir = \"detectors\"\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_kvwatch"))
        .args(["replay", "--no-progress", "--config"])
        .arg(&config)
        .arg(&fixture)
        .output()
        .expect("kvwatch runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(!lines.is_empty(), "the tampered record raised an alert");
    for line in lines {
        assert!(
            line.len() <= ALERT_BYTES,
            "an alert of {} bytes",
            line.len()
        );
        let alert: Alert = serde_json::from_str(line).expect("an alert");
        let upn = alert.principal.upn.as_deref().expect("a upn");
        assert!(
            upn.ends_with('…'),
            "the UPN is clipped visibly: {}",
            upn.len()
        );
        assert!(upn.chars().count() <= 256, "{}", upn.chars().count());
        let clipped = alert
            .evidence
            .get("clipped")
            .expect("evidence of the clipping");
        assert_eq!(
            clipped["principal.upn"],
            Value::from(huge_len),
            "the original length is in the evidence: {clipped}"
        );
        assert!(alert.summary.chars().count() <= 2000);
        assert_within_limits(&alert, "the tampered record's alert");
    }
}

#[test]
fn the_largest_evidence_an_alert_can_carry_fits_every_sink() {
    // Markup in every value: escaping for Teams and JSON roughly doubles it.
    let nasty = "*_[x](y)<b>\\{{`~|#".repeat(40);
    let mut alert = sample::alert(9, Severity::High);
    for i in 0..40 {
        alert
            .evidence
            .insert(&format!("field_{i:02}_{}", "k".repeat(40)), nasty.clone());
    }
    alert.summary = nasty.repeat(3);
    assert_within_limits(&alert, "an alert full of evidence");
}
