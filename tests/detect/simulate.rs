//! `kvwatch simulate`: determinism, record shape, layout, and honest labels.
//!
//! Every test runs small specs (a few days, reduced machine volume) so the suite
//! stays fast; the checks are the ones detector evaluation relies on: each record
//! decodes, lands in the right arrival-hour blob, every label points at records
//! that exist and that show what the label promises, and every access change in
//! the data is labelled.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, NaiveDate, Timelike, Utc};
use kvwatch::decode::{decode_buffer, decode_record, Format, Limits};
use kvwatch::enrich::{haversine_km, AddressClass, GeoIp, GeoLookup};
use kvwatch::event::{AuditEvent, ObjectKind, Outcome};
use kvwatch::simulate::{simulate, OutputShape, ScenarioSet, SimulationSpec};
use kvwatch::source::files::storage_hour;

fn spec(dir: &Path, days: u32, seed: u64) -> SimulationSpec {
    let mut s = SimulationSpec::new(dir);
    s.days = days;
    s.seed = seed;
    s.volume = 0.2;
    s.start = NaiveDate::from_ymd_opt(2026, 11, 2).unwrap();
    s
}

fn files(root: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = walkdir::WalkDir::new(root)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(walkdir::DirEntry::into_path)
        .collect();
    out.sort();
    out
}

fn blobs(root: &Path) -> Vec<PathBuf> {
    files(&root.join("resourceId="))
        .into_iter()
        .filter(|p| p.ends_with("PT1H.json"))
        .collect()
}

/// Every record of the Storage output, with its blob path.
fn records(root: &Path) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    for blob in blobs(root) {
        let text = std::fs::read_to_string(&blob).unwrap();
        out.extend(text.lines().map(|l| (blob.clone(), l.to_owned())));
    }
    out
}

fn labels(root: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(root.join("_labels.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn time(v: &serde_json::Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(v.as_str().unwrap())
        .unwrap()
        .with_timezone(&Utc)
}

/// A generated 5-day sample shared by the read-only tests.
fn sample() -> &'static Path {
    static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let mut s = spec(dir.path(), 5, 42);
        s.shape = OutputShape::Both;
        simulate(&s).unwrap();
        dir
    })
    .path()
}

/// A generated 5-day sample with the Activity Log (`--activity-log`).
fn activity_sample() -> &'static Path {
    static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let mut s = spec(dir.path(), 5, 42);
        s.activity_log = true;
        simulate(&s).unwrap();
        dir
    })
    .path()
}

/// The decoded Activity Log records of a simulation.
fn activity_events(root: &Path) -> Vec<AuditEvent<'static>> {
    files(&root.join("insights-activity-logs"))
        .iter()
        .flat_map(|f| {
            std::fs::read_to_string(f)
                .unwrap()
                .lines()
                .map(|line| {
                    decode_record(line.as_bytes())
                        .map(AuditEvent::into_owned)
                        .unwrap_or_else(|e| panic!("{e:?}: {line}"))
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Decoded events with owned data.
fn events(root: &Path) -> Vec<AuditEvent<'static>> {
    records(root)
        .iter()
        .map(|(_, line)| {
            decode_record(line.as_bytes())
                .map(AuditEvent::into_owned)
                .unwrap_or_else(|e| panic!("{e:?}: {line}"))
        })
        .collect()
}

#[test]
fn same_seed_gives_byte_identical_output_and_another_seed_does_not() {
    let (a, b, c) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    for (dir, seed) in [(&a, 7), (&b, 7), (&c, 8)] {
        let mut s = spec(dir.path(), 3, seed);
        s.shape = OutputShape::Both;
        s.principals = 50;
        simulate(&s).unwrap();
    }
    let rel = |root: &Path| {
        files(root)
            .into_iter()
            .map(|p| p.strip_prefix(root).unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(rel(a.path()), rel(b.path()));
    for f in rel(a.path()) {
        assert!(
            std::fs::read(a.path().join(&f)).unwrap() == std::fs::read(b.path().join(&f)).unwrap(),
            "{} differs",
            f.display()
        );
    }
    assert_ne!(
        std::fs::read(a.path().join("_labels.jsonl")).unwrap(),
        std::fs::read(c.path().join("_labels.jsonl")).unwrap()
    );
}

#[test]
fn every_record_decodes_with_the_fields_it_was_written_with() {
    let root = sample();
    let all = records(root);
    assert!(all.len() > 2000, "{}", all.len());
    let mut outcomes = BTreeSet::new();
    for (_, line) in &all {
        let raw: serde_json::Value = serde_json::from_str(line).unwrap();
        let keys: Vec<&str> = raw
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let position = |k: &str| line.find(&format!("\"{k}\":")).unwrap();
        let e = decode_record(line.as_bytes()).unwrap_or_else(|r| panic!("{r:?}: {line}"));
        assert_eq!(raw["resultType"], "Success");
        assert_eq!(
            i64::from(e.status),
            raw["properties"]["httpStatusCode"].as_i64().unwrap()
        );
        assert!(raw["durationMs"].is_string());
        let rid = raw["resourceId"].as_str().unwrap();
        assert_eq!(rid, rid.to_ascii_uppercase());
        assert!(rid.to_ascii_lowercase().ends_with(&format!("/{}", e.vault)));
        let claim = &raw["identity"]["claim"];
        let oid = claim["oid"]
            .as_str()
            .or(claim["http://schemas.microsoft.com/identity/claims/objectidentifier"].as_str());
        assert_eq!(e.principal.key.as_deref(), oid.or(claim["appid"].as_str()));
        if e.operation.to_string() == "Authentication" && raw["identity"] == serde_json::json!({}) {
            assert_eq!(e.outcome, Outcome::Challenge);
        }
        if e.operation.to_string().ends_with("List") {
            assert!(
                raw["properties"].get("id").is_none(),
                "List with an id: {line}"
            );
            assert!(e.object.as_ref().is_some_and(|o| o.name.is_none()));
        }
        if matches!(
            e.operation.to_string().as_str(),
            "VaultGet" | "VaultPut" | "VaultPatch"
        ) {
            assert!(
                claim
                    .get("http://schemas.microsoft.com/identity/claims/objectidentifier")
                    .is_some(),
                "{line}"
            );
            assert!(e.vault_config.is_some(), "{line}");
        }
        if e.status == 403 {
            assert!(raw.get("resultDescription").is_some(), "{line}");
        }
        // Azure's field order.
        let order = [
            "time",
            "category",
            "operationName",
            "resultType",
            "resultDescription",
            "correlationId",
            "callerIpAddress",
            "identity",
            "properties",
            "resourceId",
            "operationVersion",
            "resultSignature",
            "durationMs",
        ];
        let present: Vec<&str> = order.iter().copied().filter(|k| keys.contains(k)).collect();
        assert_eq!(
            present.len(),
            keys.len(),
            "unexpected top-level field: {keys:?}"
        );
        assert!(
            present.windows(2).all(|w| position(w[0]) < position(w[1])),
            "field order: {line}"
        );
        outcomes.insert(e.outcome);
    }
    for o in [
        Outcome::Ok,
        Outcome::Challenge,
        Outcome::AuthnFailed,
        Outcome::DeniedRbac,
        Outcome::DeniedPolicy,
        Outcome::DeniedNetwork,
        Outcome::NotFound,
        Outcome::Throttled,
    ] {
        assert!(outcomes.contains(&o), "no {o} record");
    }
}

#[test]
fn blobs_follow_the_storage_layout_by_arrival_hour() {
    let root = sample();
    let mut crossing = 0;
    let mut unsorted = 0;
    for blob in blobs(root) {
        let rel = blob
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let parts: Vec<&str> = rel.split('/').collect();
        assert_eq!(parts[0], "resourceId=");
        assert_eq!(
            (parts[1], parts[3], parts[5]),
            ("SUBSCRIPTIONS", "RESOURCEGROUPS", "PROVIDERS"),
            "{rel}"
        );
        assert_eq!(parts[6], "MICROSOFT.KEYVAULT");
        assert!(matches!(parts[7], "VAULTS" | "MANAGEDHSMS"));
        assert_eq!((parts[13], parts[14]), ("m=00", "PT1H.json"));
        let hour = storage_hour(&blob).unwrap();
        let hour_start = NaiveDate::from_ymd_opt(
            i32::from(hour.year),
            u32::from(hour.month),
            u32::from(hour.day),
        )
        .unwrap()
        .and_hms_opt(u32::from(hour.hour), 0, 0)
        .unwrap()
        .and_utc();
        let text = std::fs::read_to_string(&blob).unwrap();
        let mut previous = None;
        for line in text.lines() {
            let raw: serde_json::Value = serde_json::from_str(line).unwrap();
            assert_eq!(
                format!("/{}", parts[1..9].join("/")),
                raw["resourceId"].as_str().unwrap()
            );
            let t = time(&raw["time"]);
            // Delivered 1 to 10 minutes after the event.
            assert!(
                t < hour_start + Duration::hours(1) - Duration::seconds(59),
                "{rel}: {t}"
            );
            assert!(t >= hour_start - Duration::minutes(10), "{rel}: {t}");
            crossing += usize::from(t < hour_start);
            unsorted += usize::from(previous.is_some_and(|p| t < p));
            previous = Some(t);
        }
    }
    assert!(
        crossing > 50,
        "records should cross hour boundaries: {crossing}"
    );
    assert!(
        unsorted > 20,
        "blobs should not be sorted by event time: {unsorted}"
    );
}

#[test]
fn event_hubs_bodies_carry_the_same_records_with_a_few_duplicates() {
    let root = sample();
    let storage: BTreeSet<String> = records(root).into_iter().map(|(_, l)| l).collect();
    let mut seen = Vec::new();
    let mut bodies = Vec::new();
    for f in files(&root.join("_eventhubs")) {
        let text = std::fs::read_to_string(&f).unwrap();
        for body in text.lines() {
            let v: serde_json::Value = serde_json::from_str(body).unwrap();
            for r in v["records"].as_array().unwrap() {
                seen.push(serde_json::to_string(r).unwrap());
            }
            bodies.push(body.to_owned());
        }
        let mut decoded = 0;
        decode_buffer(
            text.as_bytes(),
            Format::Auto,
            &Limits::default(),
            &mut |rec| {
                assert!(rec.result.is_ok(), "{:?}", rec.result.err());
                decoded += 1;
            },
        );
        assert!(decoded > 0);
    }
    let distinct: BTreeSet<&String> = bodies.iter().collect();
    assert!(
        distinct.len() < bodies.len(),
        "expected at least one duplicate body"
    );
    let as_values = |s: &String| serde_json::from_str::<serde_json::Value>(s).unwrap();
    let seen: BTreeSet<String> = seen.iter().map(|s| as_values(s).to_string()).collect();
    let storage: BTreeSet<String> = storage.iter().map(|s| as_values(s).to_string()).collect();
    assert_eq!(seen, storage);
}

#[test]
fn geoip_locates_every_public_caller() {
    let root = sample();
    let geo = GeoIp::open(root.join("_geoip.mmdb")).unwrap();
    let mut located = 0;
    for e in events(root) {
        let Some(ip) = e.caller_ip else { continue };
        match geo.lookup(ip) {
            GeoLookup::Located(p) => {
                assert!(p.coordinates().is_some());
                located += 1;
            }
            GeoLookup::Exempt(AddressClass::AzureInternal | AddressClass::Private) => {}
            other => panic!("{ip} not located: {other:?}"),
        }
    }
    assert!(located > 100);
}

fn in_window(e: &AuditEvent<'_>, l: &serde_json::Value) -> bool {
    e.time >= time(&l["start"]) && e.time <= time(&l["end"])
}

fn matches_identity(e: &AuditEvent<'_>, l: &serde_json::Value) -> bool {
    let id = l["identity"].as_str().unwrap();
    match id.strip_prefix("ip:") {
        Some(ip) => e.caller_ip == ip.parse::<IpAddr>().ok(),
        None => e.principal.key.as_deref() == Some(id),
    }
}

fn matches_vault(e: &AuditEvent<'_>, l: &serde_json::Value) -> bool {
    let v = l["vault"].as_str().unwrap();
    v == "*" || e.vault == v
}

#[test]
fn labels_point_at_records_that_show_what_they_promise() {
    let root = sample();
    let events = events(root);
    let activity = labels(activity_sample());
    let labels = labels(root);
    let geo = GeoIp::open(root.join("_geoip.mmdb")).unwrap();
    let tenant: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root.join("_tenant.json")).unwrap()).unwrap();
    let home_countries: BTreeSet<String> = tenant["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            u["home"]
                .as_str()
                .unwrap()
                .rsplit(", ")
                .next()
                .unwrap()
                .trim_end_matches(')')
                .to_owned()
        })
        .collect();
    // The Activity Log's detector has its labelled scenarios in
    // `simulate --activity-log` (checked by `activity_log_labels_show_what_they_promise`).
    let detectors: BTreeSet<&str> = labels
        .iter()
        .chain(&activity)
        .map(|l| l["detector"].as_str().unwrap())
        .collect();
    let registered: BTreeSet<&str> = kvwatch::detect::detectors::REGISTRY
        .iter()
        .map(|r| r.name)
        .collect();
    assert_eq!(
        detectors, registered,
        "every detector has a labelled scenario"
    );
    let scenarios: BTreeSet<&str> = labels
        .iter()
        .map(|l| l["scenario"].as_str().unwrap())
        .collect();
    for name in kvwatch::simulate::scenario_names() {
        assert!(scenarios.contains(name), "scenario {name} has no label");
    }
    let ids: BTreeSet<&str> = labels.iter().map(|l| l["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), labels.len());
    for l in &labels {
        let mut mine: Vec<&AuditEvent<'_>> = events
            .iter()
            .filter(|e| matches_identity(e, l) && matches_vault(e, l) && in_window(e, l))
            .collect();
        mine.sort_by_key(|e| e.time);
        assert!(!mine.is_empty(), "no record for label {l}");
        assert!(matches!(
            l["kind"].as_str(),
            Some("attack" | "access_change" | "confounder")
        ));
        let scenario = l["scenario"].as_str().unwrap();
        let reads = |min: usize| {
            let names: BTreeSet<&str> = mine
                .iter()
                .filter(|e| e.operation.to_string() == "SecretGet" && e.outcome == Outcome::Ok)
                .filter_map(|e| e.object.as_ref()?.name.as_deref())
                .collect();
            assert!(
                names.len() >= min,
                "{scenario}: {} distinct secrets",
                names.len()
            );
        };
        match (l["detector"].as_str().unwrap(), scenario) {
            ("failed_auth", "firewall_denied") => assert!(
                mine.iter()
                    .filter(|e| e.outcome == Outcome::DeniedNetwork)
                    .count()
                    >= 5
            ),
            ("failed_auth", "rbac_enumeration") => assert!(
                mine.iter()
                    .filter(|e| matches!(e.outcome, Outcome::DeniedRbac | Outcome::DeniedPolicy))
                    .count()
                    >= 10
            ),
            ("failed_auth", _) => {
                assert!(mine.iter().filter(|e| e.outcome.is_denial()).count() >= 30);
                assert!(mine
                    .iter()
                    .any(|e| e.outcome == Outcome::AuthnFailed && e.principal.key.is_some()));
            }
            ("access_policy_change", _) => {
                let changes: Vec<_> = mine
                    .iter()
                    .filter(|e| {
                        matches!(e.operation.to_string().as_str(), "VaultPut" | "VaultPatch")
                    })
                    .collect();
                assert!(!changes.is_empty(), "{scenario}: no VaultPut/VaultPatch");
                let config = |e: &&&AuditEvent<'_>| e.vault_config.clone().unwrap();
                match scenario {
                    "self_grant" => {
                        let added = changes
                            .iter()
                            .find_map(|e| e.policy_change.as_ref()?.added.clone())
                            .unwrap();
                        assert_eq!(
                            added.object_id.as_deref(),
                            changes[0].principal.key.as_deref()
                        );
                        assert!(changes.iter().any(|e| e
                            .policy_change
                            .as_ref()
                            .is_some_and(|p| p.removed.is_some())));
                        reads(5);
                    }
                    "grant_to_new_principal" => {
                        let grantee = changes
                            .iter()
                            .find_map(|e| e.policy_change.as_ref()?.added.clone())
                            .unwrap()
                            .object_id
                            .unwrap();
                        let grant_time = changes[0].time;
                        assert!(!events
                            .iter()
                            .any(|e| e.principal.key.as_deref() == Some(&grantee)
                                && e.time < grant_time));
                        assert!(
                            events
                                .iter()
                                .filter(|e| e.principal.key.as_deref() == Some(&grantee)
                                    && e.operation.to_string() == "SecretGet")
                                .count()
                                >= 5
                        );
                    }
                    "firewall_opened" => assert!(changes
                        .iter()
                        .any(|e| config(e).network_acls.is_some_and(|n| n.is_open()))),
                    "firewall_restored" => assert!(changes
                        .iter()
                        .all(|e| config(e).network_acls.is_some_and(|n| !n.is_open()))),
                    "rbac_disabled" => assert!(changes
                        .iter()
                        .any(|e| config(e).enable_rbac_authorization == Some(false))),
                    "rbac_restored" => assert!(changes
                        .iter()
                        .any(|e| config(e).enable_rbac_authorization == Some(true))),
                    "purge_protection_disabled" => assert!(changes
                        .iter()
                        .any(|e| config(e).enable_purge_protection != Some(true)
                            && config(e).soft_delete_retention_days == Some(7))),
                    "deployment_access_enabled" => assert!(changes
                        .iter()
                        .any(|e| config(e).enabled_for_template_deployment == Some(true))),
                    // Confounders: the write shows the configuration the vault had.
                    "admin_vault_update" | "iac_reapply" => {
                        assert_eq!(l["kind"], "confounder");
                        for c in &changes {
                            let before = events
                                .iter()
                                .filter(|e| {
                                    e.vault == c.vault
                                        && e.time < c.time
                                        && e.vault_config.is_some()
                                })
                                .max_by_key(|e| e.time);
                            if let Some(before) = before {
                                assert_eq!(
                                    before.vault_config, c.vault_config,
                                    "{scenario}: the write changed {}'s configuration",
                                    c.vault
                                );
                            }
                        }
                    }
                    "ip_rule_added" | "admin_ip_rule" => assert!(changes
                        .iter()
                        .any(|e| config(e).network_acls.is_some_and(|n| n.ip_rules.len() > 2))),
                    _ => {}
                }
            }
            ("bulk_secret_retrieval", "low_and_slow") => {
                reads(20);
                let span = mine.last().unwrap().time - mine[0].time;
                assert!(span > Duration::hours(2), "{span}");
            }
            ("bulk_secret_retrieval", "list_then_dump") => {
                reads(25);
                assert!(mine.iter().any(|e| e.outcome == Outcome::Throttled));
                let first = mine.iter().find(|e| e.principal.key.is_some()).unwrap();
                assert_eq!(first.operation.to_string(), "SecretList");
                assert!(mine.last().unwrap().time - mine[0].time < Duration::minutes(15));
            }
            // The slow thief: many new secrets, a few an hour, across vaults.
            ("bulk_secret_retrieval", "slow_thief_workload" | "slow_thief_user") => {
                reads(20);
                let vaults: BTreeSet<&str> = mine.iter().map(|e| e.vault.as_ref()).collect();
                assert!(vaults.len() >= 2, "{scenario}: vaults {vaults:?}");
                let span = mine.last().unwrap().time - mine[0].time;
                assert!(span > Duration::hours(3), "{scenario}: {span}");
            }
            ("bulk_secret_retrieval", "new_principal_most_of_vault") => {
                reads(20);
                assert!(!mine.iter().any(|e| e.operation.to_string() == "SecretList"));
                assert!(mine.last().unwrap().time - mine[0].time < Duration::minutes(5));
            }
            // Its confounders.
            ("bulk_secret_retrieval", "new_employee_ramp_up") => {
                assert_eq!(l["kind"], "confounder");
                reads(8);
            }
            ("bulk_secret_retrieval", "nightly_backup") => {
                assert_eq!(l["kind"], "confounder");
                let backed_up: BTreeSet<&str> = mine
                    .iter()
                    .filter(|e| e.operation.to_string().ends_with("Backup"))
                    .filter_map(|e| e.object.as_ref()?.name.as_deref())
                    .collect();
                assert!(
                    backed_up.len() >= 25,
                    "{} objects backed up",
                    backed_up.len()
                );
            }
            ("bulk_secret_retrieval", "app_restart_storm") => {
                assert_eq!(l["kind"], "confounder");
                let gets = mine
                    .iter()
                    .filter(|e| e.operation.to_string() == "SecretGet")
                    .count();
                assert!(gets >= 36, "{gets} reads");
            }
            ("bulk_secret_retrieval", "new_app_start_up") => {
                assert_eq!(l["kind"], "confounder");
                reads(15);
                assert!(mine.iter().all(|e| e.operation.to_string() != "SecretList"));
            }
            // The pipeline that deploys twice: its release definitions back to back,
            // minutes apart, one identity.
            ("bulk_secret_retrieval", "pipeline_back_to_back") => {
                assert_eq!(l["kind"], "confounder");
                reads(20);
                assert!(mine.last().unwrap().time - mine[0].time < Duration::minutes(10));
            }
            // The borrowed workload identity's confounders (both detectors).
            (_, "workload_scale_out" | "azure_address_churn") => {
                assert_eq!(l["kind"], "confounder");
                let nets: BTreeSet<[u8; 3]> = mine
                    .iter()
                    .filter_map(|e| match e.caller_ip? {
                        std::net::IpAddr::V4(a) => {
                            Some([a.octets()[0], a.octets()[1], a.octets()[2]])
                        }
                        _ => None,
                    })
                    .collect();
                let want = if scenario == "workload_scale_out" {
                    3
                } else {
                    8
                };
                assert!(nets.len() >= want, "{scenario}: networks {nets:?}");
            }
            (_, "release_new_secrets") => {
                assert_eq!(l["kind"], "confounder");
                reads(5);
            }
            (_, "new_app_from_azure") => {
                assert_eq!(l["kind"], "confounder");
                reads(8);
            }
            ("bulk_secret_retrieval", _) => reads(25),
            ("unusual_geo", "borrowed_workload_identity") => {
                // Twelve secrets from one Azure address (no geography), within the hour.
                reads(12);
                let addrs: BTreeSet<_> = mine.iter().filter_map(|e| e.caller_ip).collect();
                assert_eq!(addrs.len(), 1, "{addrs:?}");
                assert!(addrs
                    .iter()
                    .all(|a| matches!(geo.lookup(*a), GeoLookup::Exempt(_))));
                assert!(mine.last().unwrap().time - mine[0].time < Duration::minutes(45));
            }
            ("unusual_geo", "nightly_backup" | "app_restart_storm" | "new_app_start_up") => {
                assert_eq!(l["kind"], "confounder");
            }
            ("unusual_geo", "impossible_travel") => {
                let places: Vec<(DateTime<Utc>, (f64, f64))> = mine
                    .iter()
                    .filter_map(|e| match geo.lookup(e.caller_ip?) {
                        GeoLookup::Located(p) => Some((e.time, p.coordinates()?)),
                        _ => None,
                    })
                    .collect();
                let far = places.windows(2).any(|w| {
                    haversine_km(w[0].1, w[1].1) > 4000.0 && w[1].0 - w[0].0 < Duration::hours(1)
                });
                assert!(far, "no impossible pair in {places:?}");
            }
            ("unusual_geo", "split_tunnel_vpn") => {
                // A confounder: two places, 500 km or more apart, alternating many
                // times within the day, each hop faster than anyone travels.
                assert_eq!(l["kind"], "confounder");
                let places: Vec<(DateTime<Utc>, (f64, f64))> = mine
                    .iter()
                    .filter(|e| e.principal.key.as_deref() == l["identity"].as_str())
                    .filter_map(|e| match geo.lookup(e.caller_ip?) {
                        GeoLookup::Located(p) => Some((e.time, p.coordinates()?)),
                        _ => None,
                    })
                    .collect();
                let hops = places
                    .windows(2)
                    .filter(|w| {
                        haversine_km(w[0].1, w[1].1) > 500.0
                            && w[1].0 - w[0].0 < Duration::minutes(30)
                    })
                    .count();
                assert!(hops >= 6, "{hops} impossible hops in {places:?}");
                let distinct: BTreeSet<(i64, i64)> = places
                    .iter()
                    .map(|(_, (lat, lon))| (lat.round() as i64, lon.round() as i64))
                    .collect();
                assert_eq!(distinct.len(), 2, "two places: {distinct:?}");
            }
            ("unusual_geo", _) => {
                let foreign = mine
                    .iter()
                    .filter_map(|e| match geo.lookup(e.caller_ip?) {
                        GeoLookup::Located(p) => Some(p.country.to_string()),
                        _ => None,
                    })
                    .any(|c| !home_countries.contains(&c) && c != "FR");
                assert!(
                    foreign,
                    "{scenario}: no call from outside the tenant's countries"
                );
            }
            ("destructive_operations", "delete_and_purge") => {
                let done = |op: &str| -> BTreeSet<&str> {
                    mine.iter()
                        .filter(|e| e.operation.to_string() == op && e.outcome == Outcome::Ok)
                        .filter_map(|e| e.object.as_ref()?.name.as_deref())
                        .collect()
                };
                let (deleted, purged) = (done("SecretDelete"), done("SecretPurge"));
                assert!(deleted.len() >= 18, "{} secrets deleted", deleted.len());
                assert_eq!(purged, deleted, "every deleted secret is purged");
                assert!(mine.last().unwrap().time - mine[0].time < Duration::minutes(30));
            }
            other => panic!("unexpected label {other:?}"),
        }
    }
}

#[test]
fn every_access_change_in_the_data_is_labelled() {
    let root = sample();
    let labels = labels(root);
    let changes: Vec<AuditEvent<'static>> = events(root)
        .into_iter()
        .filter(|e| matches!(e.operation.to_string().as_str(), "VaultPut" | "VaultPatch"))
        .collect();
    assert!(changes.len() >= 8);
    for e in &changes {
        let labelled = labels.iter().any(|l| {
            l["detector"] == "access_policy_change"
                && matches_identity(e, l)
                && matches_vault(e, l)
                && in_window(e, l)
        });
        assert!(
            labelled,
            "unlabelled access change by {:?} on {} at {}",
            e.principal.key, e.vault, e.time
        );
    }
    let kinds: BTreeSet<&str> = labels
        .iter()
        .filter(|l| l["detector"] == "access_policy_change")
        .map(|l| l["kind"].as_str().unwrap())
        .collect();
    // Writes that change nothing (a tag-only edit, infrastructure as code re-applying
    // identical settings) are labelled too, as confounders: they must stay quiet.
    assert_eq!(
        kinds,
        BTreeSet::from(["access_change", "attack", "confounder"])
    );
}

#[test]
fn daily_life_looks_like_a_tenant() {
    let root = sample();
    let events = events(root);
    let count = |op: &str| {
        events
            .iter()
            .filter(|e| e.operation.to_string() == op)
            .count()
    };
    for op in [
        "SecretGet",
        "SecretList",
        "KeyUnwrap",
        "KeyWrap",
        "SecretBackup",
        "KeyBackup",
        "VaultGet",
        "Authentication",
        "SecretNearExpiryEventGridNotification",
    ] {
        assert!(count(op) > 0, "no {op}");
    }
    let appids: BTreeSet<&str> = events
        .iter()
        .filter_map(|e| e.principal.appid.as_deref())
        .collect();
    for known in [
        "3686488a-04fc-4d8a-b967-61f98ec41efe",
        "c44b4083-3bb0-49c1-b47d-974e53cbdf3c",
        "04b07795-8ddb-461a-bbee-02f9e1bf7b46",
        "509e4652-da8d-478d-a730-e9d4a1996ca4",
        "8cae6e77-e04e-42ce-b5cb-50d82bce26b1",
    ] {
        assert!(appids.contains(known), "no caller with appid {known}");
    }
    assert!(events.iter().any(|e| e.principal.xms_mirid.is_some()));
    assert!(events.iter().any(|e| e.subnet_id.is_some()));
    assert!(events
        .iter()
        .any(|e| e.vault_kind == kvwatch::event::VaultKind::ManagedHsm));
    // The nightly backup touches every object at about the same time and place.
    let backups: Vec<&AuditEvent<'_>> = events
        .iter()
        .filter(|e| e.operation.to_string() == "SecretBackup" && e.outcome == Outcome::Ok)
        .collect();
    let hours: BTreeSet<u32> = backups.iter().map(|e| e.time.hour()).collect();
    assert!(hours.iter().all(|h| *h <= 2), "{hours:?}");
    let ips: BTreeSet<_> = backups.iter().map(|e| e.caller_ip).collect();
    assert_eq!(ips.len(), 1);
    // People work in their working hours: most user calls fall between 06:00 and 20:00 UTC+offset.
    let portal: Vec<_> = events
        .iter()
        .filter(|e| e.principal.appid.as_deref() == Some("3686488a-04fc-4d8a-b967-61f98ec41efe"))
        .collect();
    assert!(portal.len() > 20);
    let per_object: HashMap<String, usize> = events
        .iter()
        .filter(|e| {
            e.object
                .as_ref()
                .is_some_and(|o| o.kind == ObjectKind::Secret)
        })
        .filter_map(|e| Some(e.object.as_ref()?.name.as_deref()?.to_owned()))
        .fold(HashMap::new(), |mut m, n| {
            *m.entry(n).or_default() += 1;
            m
        });
    assert!(per_object.len() > 40);
}

#[test]
fn scale_mode_adds_exactly_the_requested_principals() {
    let keys = |principals: u64| {
        let dir = tempfile::tempdir().unwrap();
        let mut s = spec(dir.path(), 2, 11);
        s.principals = principals;
        s.scenarios = ScenarioSet::None;
        let report = simulate(&s).unwrap();
        let keys: BTreeSet<String> = events(dir.path())
            .into_iter()
            .filter_map(|e| e.principal.key.map(std::borrow::Cow::into_owned))
            .collect();
        (keys, report)
    };
    let (base, base_report) = keys(0);
    let (scaled, report) = keys(3000);
    assert!(base.is_subset(&scaled));
    assert_eq!(scaled.len() - base.len(), 3000);
    assert_eq!(report.principals - base_report.principals, 3000);
    assert!(
        (6000..=18000).contains(&report.scale_records),
        "{}",
        report.scale_records
    );
    assert_eq!(report.records - base_report.records, report.scale_records);
}

#[test]
fn no_scenarios_means_no_attack_labels_and_existing_output_is_protected() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = spec(dir.path(), 2, 5);
    s.scenarios = ScenarioSet::None;
    s.managed_hsm = false;
    let report = simulate(&s).unwrap();
    assert_eq!(report.attack_labels, 0);
    assert!(labels(dir.path())
        .iter()
        .all(|l| l["kind"] == "access_change" || l["kind"] == "confounder"));
    let vaults: BTreeMap<String, usize> =
        events(dir.path())
            .into_iter()
            .fold(BTreeMap::new(), |mut m, e| {
                *m.entry(e.vault.to_string()).or_default() += 1;
                m
            });
    assert_eq!(vaults.len(), 5);
    std::fs::write(dir.path().join("README.md"), "notes").unwrap();
    assert!(simulate(&s)
        .unwrap_err()
        .to_string()
        .contains("--overwrite"));
    s.overwrite = true;
    simulate(&s).unwrap();
    assert_eq!(
        std::fs::read_to_string(dir.path().join("README.md")).unwrap(),
        "notes"
    );
}

#[test]
fn activity_log_labels_show_what_they_promise() {
    use kvwatch::event::{ActivityStatus, ChangeKind, ScopeLevel};
    let root = activity_sample();
    let control = activity_events(root);
    let data = events(root);
    let mut seen = BTreeSet::new();
    for l in labels(root)
        .iter()
        .filter(|l| l["detector"] == "control_plane" || l["scenario"] == "vault_delete_purge")
    {
        let scenario = l["scenario"].as_str().unwrap();
        seen.insert(scenario.to_owned());
        let (start, end) = (time(&l["start"]), time(&l["end"]));
        let identity = l["identity"].as_str().unwrap();
        let done = |kind: ChangeKind| -> Vec<&AuditEvent<'static>> {
            control
                .iter()
                // A label ends at the last operation's Start; its Success follows.
                .filter(|e| {
                    e.time >= start
                        && e.time <= end + Duration::minutes(1)
                        && e.identity() == identity
                })
                .filter(|e| {
                    e.control_plane()
                        .is_some_and(|c| c.change == kind && c.status == ActivityStatus::Success)
                })
                .collect()
        };
        let reads_after = |reader: &str| {
            data.iter().any(|e| {
                e.time >= start
                    && e.time <= end
                    && e.identity() == reader
                    && e.operation.to_string() == "SecretGet"
                    && e.outcome == Outcome::Ok
            })
        };
        match scenario {
            "rbac_self_grant_dump" => {
                let grant = done(ChangeKind::RoleAssignmentCreated);
                let ra = grant[0]
                    .control_plane()
                    .unwrap()
                    .role_assignment
                    .as_ref()
                    .unwrap();
                assert_eq!(ra.principal_id.as_deref(), Some(identity), "a self-grant");
                assert!(reads_after(identity), "{scenario}: no read after the grant");
            }
            "guest_broad_grant" => {
                let grant = done(ChangeKind::RoleAssignmentCreated);
                let c = grant[0].control_plane().unwrap();
                assert_eq!(c.scope_level, ScopeLevel::Subscription);
                let guest = c
                    .role_assignment
                    .as_ref()
                    .unwrap()
                    .principal_id
                    .as_deref()
                    .unwrap();
                assert!(reads_after(guest), "{scenario}: the guest reads nothing");
                assert!(data.iter().any(|e| e.identity() == guest
                    && e.principal
                        .upn
                        .as_deref()
                        .is_some_and(|u| u.contains("#EXT#"))));
            }
            "diagnostic_setting_deleted_dump" => {
                let gone = done(ChangeKind::DiagnosticSettingDeleted);
                assert_eq!(gone[0].vault, l["vault"].as_str().unwrap());
                assert!(
                    reads_after(identity),
                    "{scenario}: no dump after the deletion"
                );
            }
            "vault_delete_purge" => {
                assert_eq!(done(ChangeKind::VaultDeleted).len(), 1);
                assert_eq!(done(ChangeKind::VaultPurged).len(), 1);
            }
            "rbac_admin_grant" => assert_eq!(done(ChangeKind::RoleAssignmentCreated).len(), 1),
            "rbac_admin_removal" => assert_eq!(done(ChangeKind::RoleAssignmentDeleted).len(), 1),
            other => panic!("unexpected Activity Log label {other:?}"),
        }
    }
    for want in [
        "rbac_self_grant_dump",
        "guest_broad_grant",
        "diagnostic_setting_deleted_dump",
        "vault_delete_purge",
        "rbac_admin_grant",
        "rbac_admin_removal",
    ] {
        assert!(seen.contains(want), "no {want} label in {seen:?}");
    }
}
