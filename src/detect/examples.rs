//! Examples inside detector files: inline records and the result they must give.
//!
//! A detector file documents itself with cases a SOC reader can check ("a brand-new
//! app reading 40 secrets in four minutes is bulk retrieval", "one permission slip is
//! not an alert"). The cases are written compactly ([`EventSpec`]: an operation, a
//! status, who, from where, repeated so often) or as raw records, expanded into real
//! Key Vault records, decoded by the production decoder and run through a fresh
//! engine holding only that detector. They run at every start: a definition whose
//! examples fail is refused, naming the file and the example.

use std::net::IpAddr;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use ipnet::IpNet;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::baseline::BaselineSettings;
use super::detector::{Detector, DetectorError};
use super::engine::Engine;
use super::enrichment::Enricher;
use super::incident::IncidentPolicy;
use crate::alert::{Alert, Severity};
use crate::config::ConfigDuration;
use crate::enrich::{Classifier, GeoIp, GeoRecord, MmdbWriter};

/// One example: events and the expected result.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Example {
    /// What the example shows, in a sentence.
    pub name: String,
    /// The result the events must give.
    pub expect: Expect,
    /// The events, in groups.
    #[serde(default)]
    pub events: Vec<EventSpec>,
}

/// The expected result of an example.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// Exactly this many alerts (`0`: the example is quiet).
    pub alerts: Option<usize>,
    /// Some alert has this rule.
    pub rule: Option<String>,
    /// …and this severity.
    pub severity: Option<Severity>,
    /// …and this identity.
    pub identity: Option<String>,
    /// …and this vault.
    pub vault: Option<String>,
    /// No alert has this rule.
    pub not_rule: Option<String>,
    /// Only alerts whose incident is still active at or after this time (RFC 3339)
    /// count: earlier ones belong to the learning period the example sets up.
    pub after: Option<String>,
}

/// A group of events in compact form; `{i}` in text fields is replaced by the
/// repetition index and `{d}` by the day index.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventSpec {
    /// The first event's time (RFC 3339), or `+DURATION` after the previous group's last event.
    pub at: String,
    /// Events in the group (default 1).
    #[serde(default = "one")]
    pub repeat: u32,
    /// Spacing between them (default 1 second).
    pub every: Option<ConfigDuration>,
    /// Repeat the group on this many consecutive days (default 1).
    #[serde(default = "one")]
    pub days: u32,
    /// The operation (`SecretGet`, `VaultPatch` …).
    #[serde(default)]
    pub op: String,
    /// `httpStatusCode` (default 200).
    #[serde(default = "ok")]
    pub status: u16,
    /// For 403s: `rbac`, `policy` or `network` (sets the flag and error text).
    pub denied: Option<String>,
    /// `oid` claim.
    pub oid: Option<String>,
    /// `appid` claim.
    pub appid: Option<String>,
    /// `upn` claim (makes the caller a user).
    pub upn: Option<String>,
    /// `idtyp` claim (`app`, `user`).
    pub idtyp: Option<String>,
    /// `xms_mirid` claim (makes the caller a managed identity).
    pub mirid: Option<String>,
    /// The token's tenant (written as the `iss` claim).
    pub tenant: Option<String>,
    /// `callerIpAddress`.
    pub ip: Option<String>,
    /// The vault (default `kv-example`).
    pub vault: Option<String>,
    /// The object path after the vault URL (`secrets/db-password`).
    pub object: Option<String>,
    /// `clientInfo`.
    pub client: Option<String>,
    /// `resultDescription`.
    pub description: Option<String>,
    /// Extra `properties` (vault configuration, `addedAccessPolicy` …).
    pub properties: Option<toml::Table>,
    /// A raw record instead of the fields above (its `time` is overwritten).
    pub record: Option<String>,
}

fn one() -> u32 {
    1
}
fn ok() -> u16 {
    200
}

/// A network of the example's own GeoIP database.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExampleGeo {
    /// The network (CIDR).
    pub network: IpNet,
    /// ISO country code.
    pub country: String,
    /// City name.
    pub city: Option<String>,
    /// Latitude.
    pub lat: Option<f64>,
    /// Longitude.
    pub lon: Option<f64>,
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        202 => "Accepted",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        409 => "Conflict",
        429 => "Too Many Requests",
        _ => "Internal Server Error",
    }
}

fn sub(s: &str, i: u32, d: u32) -> String {
    s.replace("{i}", &i.to_string())
        .replace("{d}", &d.to_string())
}

fn record(spec: &EventSpec, t: DateTime<Utc>, i: u32, d: u32) -> Result<String, String> {
    let s = |v: &Option<String>| v.as_deref().map(|x| sub(x, i, d));
    let time = t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    if let Some(raw) = &spec.record {
        let mut v: Value = serde_json::from_str(&sub(raw, i, d))
            .map_err(|e| format!("record is not JSON: {e}"))?;
        if let Some(o) = v.as_object_mut() {
            o.insert("time".into(), json!(time));
        }
        return Ok(v.to_string());
    }
    let vault = s(&spec.vault).unwrap_or_else(|| "kv-example".into());
    let mut claim = Map::new();
    for (k, v) in [
        ("oid", s(&spec.oid)),
        ("appid", s(&spec.appid)),
        ("upn", s(&spec.upn)),
        ("idtyp", s(&spec.idtyp)),
        ("xms_mirid", s(&spec.mirid)),
    ] {
        if let Some(v) = v {
            claim.insert(k.into(), json!(v));
        }
    }
    if let Some(t) = s(&spec.tenant) {
        claim.insert("iss".into(), json!(format!("https://sts.windows.net/{t}/")));
    }
    let identity = if claim.is_empty() {
        json!({})
    } else {
        json!({ "claim": claim })
    };
    let is_vault_op = spec.op.starts_with("Vault");
    let (id, uri) = match (is_vault_op, s(&spec.object)) {
        (true, _) => (
            format!("https://{vault}.vault.azure.net/"),
            format!("https://management.azure.com/subscriptions/0/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/{vault}?api-version=2023-07-01"),
        ),
        (false, Some(o)) => (format!("https://{vault}.vault.azure.net/{o}"), format!("https://{vault}.vault.azure.net/{o}?api-version=7.4")),
        (false, None) => (String::new(), format!("https://{vault}.vault.azure.net/?api-version=7.4")),
    };
    let mut props = Map::new();
    if !id.is_empty() && !spec.op.ends_with("List") {
        props.insert("id".into(), json!(id));
    }
    props.insert("requestUri".into(), json!(uri));
    props.insert("httpStatusCode".into(), json!(spec.status));
    props.insert(
        "clientInfo".into(),
        json!(s(&spec.client)
            .unwrap_or_else(|| "azsdk-python-keyvault-secrets/4.7.0 Python/3.11.5".into())),
    );
    let mut description = s(&spec.description);
    match spec.denied.as_deref() {
        None => {}
        Some("rbac") => {
            props.insert("isRbacAuthorized".into(), json!(false));
            description.get_or_insert_with(|| {
                "Caller is not authorized to perform action on resource.".into()
            });
        }
        Some("policy") => {
            props.insert("isAccessPolicyMatch".into(), json!(false));
            description.get_or_insert_with(|| "The user, group or application does not have secrets get permission on key vault.".into());
        }
        Some("network") => {
            props.insert("isAddressAuthorized".into(), json!(false));
            description.get_or_insert_with(|| {
                "Client address is not authorized and caller is not a trusted service.".into()
            });
        }
        Some(other) => return Err(format!("denied = {other:?}: write rbac, policy or network")),
    }
    if let Some(extra) = &spec.properties {
        let v = serde_json::to_value(extra).map_err(|e| e.to_string())?;
        if let Value::Object(m) = v {
            props.extend(m);
        }
    }
    let mut rec = json!({
        "time": time, "category": "AuditEvent", "operationName": spec.op, "resultType": "Success",
        "resultSignature": reason(spec.status), "correlationId": format!("example-{d}-{i}"),
        "identity": identity, "properties": props, "operationVersion": "7.4", "durationMs": "5",
        "resourceId": format!("/SUBSCRIPTIONS/00000000-0000-0000-0000-000000000000/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.KEYVAULT/VAULTS/{}", vault.to_ascii_uppercase()),
    });
    if let (Some(o), Some(ip)) = (rec.as_object_mut(), s(&spec.ip)) {
        o.insert("callerIpAddress".into(), json!(ip));
    }
    if let (Some(o), Some(d)) = (rec.as_object_mut(), description) {
        o.insert("resultDescription".into(), json!(d));
    }
    Ok(rec.to_string())
}

/// Expands event groups into (time, record) pairs, sorted by time.
pub fn records(specs: &[EventSpec]) -> Result<Vec<(DateTime<Utc>, String)>, String> {
    let mut out = Vec::new();
    let mut last: Option<DateTime<Utc>> = None;
    for (g, spec) in specs.iter().enumerate() {
        let start = if let Some(rel) = spec.at.strip_prefix('+') {
            let d: ConfigDuration = rel.parse().map_err(|e| format!("group {g}: at: {e}"))?;
            last.ok_or_else(|| format!("group {g}: a relative time needs an earlier group"))?
                + d.as_chrono()
        } else {
            DateTime::parse_from_rfc3339(&spec.at)
                .map_err(|e| format!("group {g}: at {:?}: {e}", spec.at))?
                .with_timezone(&Utc)
        };
        let every = spec
            .every
            .map_or(Duration::seconds(1), ConfigDuration::as_chrono);
        for d in 0..spec.days.max(1) {
            for i in 0..spec.repeat.max(1) {
                let t = start + Duration::days(i64::from(d)) + every * i as i32;
                out.push((
                    t,
                    record(spec, t, i, d).map_err(|e| format!("group {g}: {e}"))?,
                ));
                last = Some(last.map_or(t, |l| l.max(t)));
            }
        }
    }
    out.sort_by_key(|(t, _)| *t);
    Ok(out)
}

/// An enricher whose database holds the example networks (none: no database).
pub fn enricher(geo: &[ExampleGeo]) -> Result<Enricher, String> {
    if geo.is_empty() {
        return Ok(Enricher::without_database(Classifier::default()));
    }
    let mut w = MmdbWriter::new("GeoLite2-City").with_build_epoch(1_700_000_000);
    for g in geo {
        let mut r = GeoRecord::country(&g.country.to_ascii_uppercase());
        if let Some(c) = &g.city {
            r = r.with_city(c);
        }
        if let (Some(a), Some(b)) = (g.lat, g.lon) {
            r = r.with_location(a, b);
        }
        w.insert(g.network.trunc(), r).map_err(|e| e.to_string())?;
    }
    let db = GeoIp::from_bytes(w.to_bytes(), "example.mmdb").map_err(|e| e.to_string())?;
    Ok(Enricher::with_database(Arc::new(db)))
}

/// Runs records through a fresh engine holding only `detector`; returns the alerts.
pub fn run(
    detector: Box<dyn Detector>,
    records: &[(DateTime<Utc>, String)],
    enricher: Enricher,
) -> Result<Vec<Alert>, String> {
    let mut engine = Engine::new(vec![detector], IncidentPolicy::default())
        .with_enricher(enricher)
        .with_baselines(BaselineSettings::default());
    let mut alerts = Vec::new();
    for (n, (_, text)) in records.iter().enumerate() {
        let event = crate::decode::decode_record(text.as_bytes())
            .map_err(|r| format!("record {n} was refused ({r}): {text}"))?;
        engine.process(&event, &mut |a| alerts.push(a));
    }
    if let Some((t, _)) = records.last() {
        engine.advance(*t + Duration::days(1), &mut |a| alerts.push(a));
    }
    Ok(alerts)
}

/// Checks an expectation against alerts; `Err` says what was expected and got.
pub fn verify(expect: &Expect, alerts: &[Alert]) -> Result<(), String> {
    let after = match &expect.after {
        Some(t) => Some(
            DateTime::parse_from_rfc3339(t)
                .map_err(|e| format!("after {t:?}: {e}"))?
                .with_timezone(&Utc),
        ),
        None => None,
    };
    let alerts: Vec<&Alert> = alerts
        .iter()
        .filter(|a| after.is_none_or(|t| a.last_seen >= t))
        .collect();
    let got = || {
        if alerts.is_empty() {
            "no alert".to_owned()
        } else {
            alerts
                .iter()
                .map(|a| {
                    format!(
                        "[{} {} {} on {}: {}]",
                        a.rule, a.severity, a.identity, a.vault, a.summary
                    )
                })
                .collect::<Vec<_>>()
                .join(" ")
        }
    };
    if let Some(n) = expect.alerts {
        if alerts.len() != n {
            return Err(format!(
                "expected {n} alert(s), got {}: {}",
                alerts.len(),
                got()
            ));
        }
    }
    if let Some(r) = &expect.not_rule {
        if alerts.iter().any(|a| &a.rule == r) {
            return Err(format!("expected no {r} alert, got {}", got()));
        }
    }
    if expect.rule.is_some() || expect.severity.is_some() {
        let hit = alerts.iter().any(|a| {
            expect.rule.as_ref().is_none_or(|r| &a.rule == r)
                && expect.severity.is_none_or(|s| a.severity == s)
                && expect.identity.as_ref().is_none_or(|i| &a.identity == i)
                && expect.vault.as_ref().is_none_or(|v| &a.vault == v)
        });
        if !hit {
            return Err(format!(
                "expected an alert{}{}, got {}",
                expect
                    .rule
                    .as_ref()
                    .map(|r| format!(" with rule {r}"))
                    .unwrap_or_default(),
                expect
                    .severity
                    .map(|s| format!(" of severity {s}"))
                    .unwrap_or_default(),
                got()
            ));
        }
    }
    Ok(())
}

/// Runs every example of a file; the first failure is an error naming the file and example.
pub fn check(
    file: &str,
    examples: &[Example],
    geo: &[ExampleGeo],
    make: &dyn Fn() -> Box<dyn Detector>,
) -> Result<(), DetectorError> {
    let fail = |example: &str, message: String| DetectorError::Example {
        file: file.to_owned(),
        example: example.to_owned(),
        message,
    };
    let enricher = enricher(geo).map_err(|m| fail("example_geo", m))?;
    for ex in examples {
        let recs = records(&ex.events).map_err(|m| fail(&ex.name, m))?;
        let alerts = run(make(), &recs, enricher.clone()).map_err(|m| fail(&ex.name, m))?;
        verify(&ex.expect, &alerts).map_err(|m| fail(&ex.name, m))?;
    }
    Ok(())
}

/// Parses an address for a summary (used by tests).
pub fn ip(s: &str) -> Option<IpAddr> {
    s.parse().ok()
}
