//! Hand-made alerts for tests, benchmarks and the documentation's rendered samples,
//! so delivery can be exercised without detectors or input logs.

use chrono::{DateTime, Duration, Utc};
use serde_json::json;

use crate::alert::{id, Alert, Evidence, PrincipalSummary, Severity};

/// A realistic alert; `n` varies the incident (and so the id).
pub fn alert(n: u32, severity: Severity) -> Alert {
    let first = DateTime::from_timestamp(1_717_000_000 + i64::from(n) * 60, 0).unwrap_or_default();
    let principal = PrincipalSummary {
        upn: Some(format!("analyst{n}@contoso.com")),
        oid: Some(format!("7f1c2a9e-0000-4000-8000-{n:012}")),
        appid: None,
        kind: "user".into(),
    };
    let incident = id::incident_id(
        "failed_auth",
        "",
        principal.oid.as_deref().unwrap_or(""),
        "kv-prod-payments",
        first,
    );
    Alert {
        id: id::alert_id(&incident, 1),
        incident_id: incident,
        revision: 1,
        detector: "failed_auth".into(),
        rule: "burst_of_denied_calls".into(),
        severity,
        identity: principal.oid.clone().unwrap_or_default(),
        principal,
        vault: "kv-prod-payments".into(),
        first_seen: first,
        last_seen: first + Duration::minutes(4),
        summary: format!("analyst{n}@contoso.com was denied 47 times in 5 minutes from 203.0.113.7, against a baseline of 0-2 denials an hour."),
        evidence: Evidence::new()
            .with("observed", "47 denied calls (403) in 5m")
            .with("baseline", "0-2 denied calls an hour over the last 14 days")
            .with("expected", "at most 10 denied calls in 5m")
            .with_list("operations", ["SecretGet", "SecretList", "KeySign"])
            .with_list("addresses", ["203.0.113.7"])
            .with_list("objects", ["secrets/payments-db-password", "secrets/stripe-api-key", "keys/signing-2024"])
            .with("window", json!({ "start": "2024-05-29T16:26:40Z", "end": "2024-05-29T16:31:40Z" })),
    }
}

/// An alert whose every text field carries markup, control and bidi characters, to
/// check that renderers keep them inert.
pub fn hostile_alert() -> Alert {
    let mut a = alert(666, Severity::High);
    let nasty = "<script>alert(1)</script> *bold* _it_ ~s~ `code` [x](https://evil.example) <!channel> <@U123> &amp; {{DATE(2017-02-14T06:08:39Z)}} \u{202e}gnp.exe\u{1b}[31m\r\nBcc: victim@example.com";
    a.principal.upn = Some(format!("mallory{nasty}@contoso.com"));
    a.vault = format!("kv-{nasty}");
    a.summary = format!("summary {nasty}");
    a.rule = format!("rule {nasty}");
    a.evidence.insert("observed", format!("observed {nasty}"));
    a.evidence.insert("user_agent", nasty.to_owned());
    a
}

/// When the sample alerts start.
pub fn epoch() -> DateTime<Utc> {
    DateTime::from_timestamp(1_717_000_000, 0).unwrap_or_default()
}
