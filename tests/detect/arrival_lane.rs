//! Which rules alert the moment their record arrives, and which wait for the
//! watermark: a table of inline records, the rule, and the lane it must come from.
//!
//! Every row goes through the production decoder, pipeline and engine with a
//! lateness of six hours, so an alert seen once the watermark moved to the newest
//! record less those six hours (before it passed any record) can only have come from
//! the arrival lane. Each row is then run again with the arrival rules reading on
//! release (as for an export): the alerts and their ids must be the same.

use chrono::Duration;
use kvwatch::alert::Alert;
use kvwatch::config::Config;
use kvwatch::decode::Format;
use kvwatch::detect::examples::EventSpec;
use kvwatch::detect::Engine;
use kvwatch::pipeline::{ArrivalMode, Observers, Origin, Pipeline, PipelineSettings};
use kvwatch::sink::Collect;

#[derive(serde::Deserialize)]
struct Events {
    events: Vec<EventSpec>,
}

/// Where a row's alert must come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lane {
    /// Delivered while its record is ingested, before any watermark.
    Arrival,
    /// Delivered only once the watermark passes the records.
    Watermark,
}

struct Row {
    name: &'static str,
    rule: &'static str,
    lane: Lane,
    events: String,
}

/// The records of a row as one Event Hubs body, in time order.
fn body(events: &str) -> Vec<u8> {
    let events: Events = toml::from_str(events).expect("event specs");
    let mut records = kvwatch::detect::examples::records(&events.events).expect("records expand");
    records.sort_by_key(|r| r.0);
    let joined: Vec<&str> = records.iter().map(|(_, r)| r.as_str()).collect();
    format!("{{\"records\":[{}]}}", joined.join(",")).into_bytes()
}

/// Runs `body` through a pipeline in `mode`: the alerts delivered by the time the
/// body was ingested, and all of them at the end.
fn run(body: &[u8], mode: ArrivalMode) -> (Vec<Alert>, Vec<Alert>) {
    let config = Config::default();
    let collect = Collect::default();
    let settings = PipelineSettings {
        lateness: Duration::hours(6),
        arrival: mode,
        ..Default::default()
    };
    let engine = Engine::from_config(&config).expect("the shipped detectors");
    let mut pipeline = Pipeline::new(
        settings,
        engine,
        Box::new(collect.clone()),
        Observers::default(),
    );
    pipeline
        .ingest(&Origin::Stdin, body, Format::EventHubs)
        .expect("ingested");
    pipeline.advance_by_lateness().expect("the watermark moves");
    let early = collect.alerts();
    pipeline.finish().expect("finished");
    (early, collect.alerts())
}

fn ids(alerts: &[Alert]) -> Vec<String> {
    let mut ids: Vec<String> = alerts.iter().map(|a| a.id.clone()).collect();
    ids.sort();
    ids
}

/// A vault read every minute for four hours, its diagnostic setting deleted, and
/// then only another vault's records for an hour.
const BLINDED_THEN_SILENT: &str = r#"
[[events]]
at = "2024-05-06T16:00:00Z"
repeat = 240
every = "1m"
op = "SecretGet"
oid = "66666666-6666-4666-8666-666666666666"
appid = "77777777-7777-4777-8777-777777777777"
ip = "10.1.2.3"
[[events]]
at = "+30s"
arm = "Microsoft.Insights/diagnosticSettings/delete"
resource = "/subscriptions/11111111-0000-0000-0000-000000000001/resourceGroups/rg-app/providers/Microsoft.KeyVault/vaults/kv-example/providers/Microsoft.Insights/diagnosticSettings/to-sentinel"
result = "Succeeded.OK"
oid = "30a6c29d-de7c-4830-815f-9b3bb366e975"
upn = "nicolas@contoso.com"
ip = "81.2.69.160"
[[events]]
at = "+1m"
repeat = 60
every = "1m"
op = "SecretGet"
vault = "kv-other"
oid = "66666666-6666-4666-8666-666666666666"
appid = "77777777-7777-4777-8777-777777777777"
ip = "10.1.2.3"
"#;

fn rows() -> Vec<Row> {
    let admin = "oid = \"11111111-1111-4111-8111-111111111111\"\nupn = \"admin@contoso.com\"\nip = \"81.2.69.160\"";
    let vault_get = "[[events]]\nat = \"2024-05-06T09:00:00Z\"\nop = \"VaultGet\"\nappid = \"509e4652-da8d-478d-a730-e9d4a1996ca4\"\nip = \"20.40.1.1\"";
    let rows = vec![
        Row {
            name: "an access policy added for a principal never seen",
            rule: "access_policy_added",
            lane: Lane::Arrival,
            events: format!("[[events]]\nat = \"2024-05-06T10:00:00Z\"\nop = \"VaultPatch\"\n{admin}\nproperties = {{ addedAccessPolicy = {{ ObjectId = \"22222222-2222-4222-8222-222222222222\", Permissions = {{ secrets = [\"get\", \"list\"] }} }} }}\n"),
        },
        Row {
            name: "the firewall opened, against the last VaultGet",
            rule: "network_opened",
            lane: Lane::Arrival,
            events: format!("{vault_get}\nproperties = {{ properties = {{ networkAcls = {{ defaultAction = \"Deny\" }}, enableRbacAuthorization = true }} }}\n[[events]]\nat = \"+1h\"\nop = \"VaultPatch\"\n{admin}\nproperties = {{ properties = {{ networkAcls = {{ defaultAction = \"Allow\" }}, enableRbacAuthorization = true }} }}\n"),
        },
        Row {
            name: "RBAC authorization turned off",
            rule: "rbac_disabled",
            lane: Lane::Arrival,
            events: format!("{vault_get}\nproperties = {{ properties = {{ enableRbacAuthorization = true }} }}\n[[events]]\nat = \"+2h\"\nop = \"VaultPut\"\n{admin}\nproperties = {{ properties = {{ enableRbacAuthorization = false }} }}\n"),
        },
        Row {
            name: "Key Vault Administrator granted on a whole subscription",
            rule: "role_grant",
            lane: Lane::Arrival,
            events: r#"
[[events]]
at = "2024-05-06T02:30:00Z"
arm = "Microsoft.Authorization/roleAssignments/write"
resource = "/subscriptions/11111111-0000-0000-0000-000000000001/providers/Microsoft.Authorization/roleAssignments/0f5a8c33-6a7e-4f0c-9a54-1c2b3d4e5f60"
oid = "5d2e4c1a-2b3c-4d5e-8f90-a1b2c3d4e5f6"
upn = "admin@contoso.com"
ip = "81.2.69.160"
grantee = "7e6f5d4c-3b2a-4190-8877-665544332211"
role = "00482a5a-887f-4fb3-b363-3b7fe8e74483"
"#
            .to_owned(),
        },
        Row {
            name: "a vault's diagnostic setting deleted",
            rule: "monitoring_disabled",
            lane: Lane::Arrival,
            events: r#"
[[events]]
at = "2024-05-06T20:00:00Z"
arm = "Microsoft.Insights/diagnosticSettings/delete"
resource = "/subscriptions/11111111-0000-0000-0000-000000000001/resourceGroups/rg-app/providers/Microsoft.KeyVault/vaults/kv-example/providers/Microsoft.Insights/diagnosticSettings/to-sentinel"
result = "Succeeded.OK"
oid = "30a6c29d-de7c-4830-815f-9b3bb366e975"
upn = "nicolas@contoso.com"
ip = "81.2.69.160"
"#
            .to_owned(),
        },
        Row {
            name: "a self-grant then reads: the grant on arrival, the chain at the watermark",
            rule: "grant_then_read",
            lane: Lane::Watermark,
            events: r#"
[[events]]
at = "2024-05-06T14:00:00Z"
arm = "Microsoft.Authorization/roleAssignments/write"
resource = "/subscriptions/11111111-0000-0000-0000-000000000001/resourceGroups/rg-app/providers/Microsoft.KeyVault/vaults/kv-example/providers/Microsoft.Authorization/roleAssignments/9c5e1c7a-0d3b-4a57-9b45-6a8f0e3b2c11"
oid = "30a6c29d-de7c-4830-815f-9b3bb366e975"
upn = "thomas@contoso.com"
ip = "81.2.69.160"
grantee = "30a6c29d-de7c-4830-815f-9b3bb366e975"
role = "b86a8fe4-44ce-4948-aee5-eccb2c155cd7"
[[events]]
at = "+6m"
repeat = 3
op = "SecretGet"
oid = "30a6c29d-de7c-4830-815f-9b3bb366e975"
upn = "thomas@contoso.com"
ip = "81.2.69.160"
vault = "kv-example"
object = "secrets/s-{i}"
"#
            .to_owned(),
        },
        Row {
            name: "an access policy granting yourself reads, then reading: the chain at the watermark",
            rule: "grant_then_read",
            lane: Lane::Watermark,
            events: r#"
[[events]]
at = "2024-05-06T10:00:00Z"
op = "VaultPatch"
oid = "33333333-3333-4333-8333-333333333333"
upn = "eve@contoso.com"
ip = "81.2.69.160"
properties = { addedAccessPolicy = { ObjectId = "33333333-3333-4333-8333-333333333333", Permissions = { secrets = ["all"] } } }
[[events]]
at = "+5m"
repeat = 3
op = "SecretGet"
oid = "33333333-3333-4333-8333-333333333333"
upn = "eve@contoso.com"
ip = "81.2.69.160"
object = "secrets/prod-db-{i}"
"#
            .to_owned(),
        },
        Row {
            name: "a brand-new app listing and reading 40 secrets in four minutes",
            rule: "burst",
            lane: Lane::Watermark,
            events: r#"
[[events]]
at = "2024-05-06T10:00:00Z"
op = "SecretList"
oid = "22222222-2222-4222-8222-222222222222"
appid = "22222222-2222-4222-8222-222222222222"
idtyp = "app"
ip = "81.2.69.160"
[[events]]
at = "+5s"
repeat = 40
every = "6s"
op = "SecretGet"
oid = "22222222-2222-4222-8222-222222222222"
appid = "22222222-2222-4222-8222-222222222222"
idtyp = "app"
ip = "81.2.69.160"
object = "secrets/s-{i}"
"#
            .to_owned(),
        },
        Row {
            name: "a busy vault blinded, then silent while another vault goes on",
            rule: "audit_log_stopped",
            lane: Lane::Watermark,
            events: BLINDED_THEN_SILENT.to_owned(),
        },
    ];
    rows
}

#[test]
fn record_rules_alert_on_arrival_window_rules_at_the_watermark_and_every_mode_agrees() {
    let mut failures = Vec::new();
    for row in rows() {
        let body = body(&row.events);
        let (early, all) = run(&body, ArrivalMode::Paced);
        let early_rule = early.iter().any(|a| a.rule == row.rule);
        let final_rule = all.iter().any(|a| a.rule == row.rule);
        let lane_ok = match row.lane {
            Lane::Arrival => early_rule,
            Lane::Watermark => !early_rule && final_rule,
        };
        if !lane_ok || !final_rule {
            failures.push(format!(
                "{}: expected {} from the {:?} lane; before the watermark: {:?}; in all: {:?}",
                row.name,
                row.rule,
                row.lane,
                early.iter().map(|a| &a.rule).collect::<Vec<_>>(),
                all.iter().map(|a| &a.rule).collect::<Vec<_>>()
            ));
        }
        let (_, on_release) = run(&body, ArrivalMode::WithRelease);
        if ids(&on_release) != ids(&all) {
            failures.push(format!(
                "{}: reading on release gives other alerts: {:?} vs {:?}",
                row.name,
                ids(&on_release),
                ids(&all)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn with_the_release_nothing_alerts_before_the_watermark() {
    for row in rows() {
        let (early, all) = run(&body(&row.events), ArrivalMode::WithRelease);
        assert!(
            early.is_empty(),
            "{}: nothing before the watermark",
            row.name
        );
        assert!(!all.is_empty(), "{}: alerts at the end", row.name);
    }
}

#[test]
fn a_restart_reads_the_waiting_records_again_without_alerting_on_arrival_twice() {
    let rows = rows();
    let row = rows
        .iter()
        .find(|r| r.name.starts_with("an access policy granting yourself"))
        .expect("the row");
    let body = body(&row.events);
    let (_, uninterrupted) = run(&body, ArrivalMode::Paced);

    let config = Config::default();
    let settings = || PipelineSettings {
        lateness: Duration::hours(6),
        ..Default::default()
    };
    let engine = || Engine::from_config(&config).expect("the shipped detectors");
    let before = Collect::default();
    let mut first = Pipeline::new(
        settings(),
        engine(),
        Box::new(before.clone()),
        Observers::default(),
    );
    first
        .ingest(&Origin::Stdin, &body, Format::EventHubs)
        .expect("ingested");
    first.advance_by_lateness().expect("the watermark moves");
    assert_eq!(first.buffered(), 4, "the records wait for the watermark");
    assert_eq!(before.alerts().len(), 1, "its arrival alert is out");
    let saved = first.save_state();
    let released = first.released_up_to();
    drop(first);

    let after = Collect::default();
    let mut second = Pipeline::new(
        settings(),
        engine(),
        Box::new(after.clone()),
        Observers::default(),
    );
    second.restore_state(saved, released).expect("restored");
    second
        .ingest(&Origin::Stdin, &body, Format::EventHubs)
        .expect("the waiting record is read again");
    second.advance_by_lateness().expect("the watermark moves");
    assert!(
        after.alerts().is_empty(),
        "no second arrival alert: {:?}",
        after.alerts()
    );
    second.finish().expect("finished");
    let mut both = before.alerts();
    both.extend(after.alerts());
    assert_eq!(ids(&both), ids(&uninterrupted), "as if never restarted");
    let json = |alerts: &[Alert]| serde_json::to_value(alerts).expect("alerts as JSON");
    assert_eq!(
        json(&both),
        json(&uninterrupted),
        "evidence too: the grant was not counted twice"
    );
}

#[test]
fn a_blinded_vault_that_falls_silent_is_named_in_a_revision_of_the_same_incident() {
    let (_, all) = run(&body(BLINDED_THEN_SILENT), ArrivalMode::Paced);
    let of = |rule: &str| {
        all.iter().find(|a| a.rule == rule).unwrap_or_else(|| {
            panic!(
                "no {rule} in {:?}",
                all.iter().map(|a| &a.rule).collect::<Vec<_>>()
            )
        })
    };
    let (first, follow) = (of("monitoring_disabled"), of("audit_log_stopped"));
    assert_eq!(follow.incident_id, first.incident_id, "one incident");
    assert_eq!((first.revision, follow.revision), (1, 2));
    assert_eq!(follow.vault, "kv-example");
    let silence = follow
        .evidence
        .get("silence")
        .expect("the silence evidence");
    assert_eq!(silence["records_since"], 0, "{silence}");
    assert_eq!(silence["usual_per_hour_last_3h"], 60.0, "{silence}");
    assert!(follow.summary.contains("kv-example"), "{}", follow.summary);

    // The same vault still sending its records: no follow-up.
    let still = BLINDED_THEN_SILENT.replace("vault = \"kv-other\"\n", "");
    let (_, all) = run(&body(&still), ArrivalMode::Paced);
    assert!(all.iter().any(|a| a.rule == "monitoring_disabled"));
    assert!(
        !all.iter().any(|a| a.rule == "audit_log_stopped"),
        "{:?}",
        all.iter().map(|a| &a.rule).collect::<Vec<_>>()
    );
}
