//! Issue #13's live acceptance: `kvwatch run` consuming two hubs of the Event Hubs
//! stand-in at once, the subscription's Activity Log (`insights-activity-logs`,
//! bodies of `Administrative` records) and the vaults' AuditEvent
//! (`insights-logs-auditevent`), under one watermark. An admin grants a principal
//! Key Vault Secrets Officer on a vault (Activity Log hub); that principal then reads
//! the vault's secrets (AuditEvent hub). The real webhook receiver gets one
//! incident, "granted, then used": `control_plane`'s `role_grant` and its
//! `grant_then_read` escalation, with the ids `kvwatch replay` gives for the same
//! records. The real SDK over real AMQP; every wait is on a condition.

use std::path::Path;

use crate::live_support::*;
use chrono::{DateTime, Duration, Utc};
use kvwatch::alert::{Alert, Severity};
use kvwatch::app::live_pipeline::LoopEnd;

const ACTIVITY: &str = "insights-activity-logs";
const AUDIT: &str = "insights-logs-auditevent";
const PARTITIONS: usize = 2;

const ADMIN: &str = "5d2e4c1a-2b3c-4d5e-8f90-a1b2c3d4e5f6";
const GRANTEE: &str = "7e6f5d4c-3b2a-4190-8877-665544332211";
const APP: &str = "0aaaaaaa-1111-4111-8111-00000000000a";
const VAULT_SCOPE: &str = "/subscriptions/11111111-0000-0000-0000-000000000001/resourceGroups/rg-app/providers/Microsoft.KeyVault/vaults/kv-example";
/// Key Vault Secrets Officer (detectors/roles/azure_roles.toml).
const SECRETS_OFFICER: &str = "b86a8fe4-44ce-4948-aee5-eccb2c155cd7";

/// The Activity Log of the morning: the grant's Start and Success records (one
/// operation), and a pipeline re-applying an assignment already in place.
fn activity_log() -> Vec<(DateTime<Utc>, String)> {
    records(&format!(
        r#"
[[events]]
at = "2024-05-06T09:10:00Z"
arm = "Microsoft.Authorization/roleAssignments/write"
resource = "{VAULT_SCOPE}/providers/Microsoft.Authorization/roleAssignments/9c5e1c7a-0d3b-4a57-9b45-6a8f0e3b2c11"
oid = "{ADMIN}"
upn = "admin@contoso.com"
ip = "81.2.69.160"
result = "Started."

[[events]]
at = "+2s"
arm = "Microsoft.Authorization/roleAssignments/write"
resource = "{VAULT_SCOPE}/providers/Microsoft.Authorization/roleAssignments/9c5e1c7a-0d3b-4a57-9b45-6a8f0e3b2c11"
oid = "{ADMIN}"
upn = "admin@contoso.com"
ip = "81.2.69.160"
grantee = "{GRANTEE}"
role = "{SECRETS_OFFICER}"

[[events]]
at = "2024-05-06T09:30:00Z"
arm = "Microsoft.Authorization/roleAssignments/write"
resource = "{VAULT_SCOPE}/providers/Microsoft.Authorization/roleAssignments/1a2b3c4d-0000-4000-8000-000000000001"
oid = "22222222-2222-4222-8222-222222222222"
appid = "22222222-2222-4222-8222-222222222222"
idtyp = "app"
ip = "20.40.1.1"
result = "Succeeded.OK"
grantee = "{APP}"
grantee_type = "ServicePrincipal"
role = "4633458b-17de-408a-b874-0445c86b69e6"
"#
    ))
}

/// The vault's AuditEvent: an app reading its configuration every minute, and the
/// grantee reading three secrets twenty minutes after the grant.
fn audit_events() -> Vec<(DateTime<Utc>, String)> {
    records(&format!(
        r#"
[[events]]
at = "2024-05-06T09:00:00Z"
repeat = 60
every = "60s"
op = "SecretGet"
appid = "{APP}"
oid = "{APP}"
ip = "10.1.2.3"
object = "secrets/app-config"

[[events]]
at = "2024-05-06T09:30:00Z"
repeat = 3
every = "20s"
op = "SecretGet"
oid = "{GRANTEE}"
upn = "eve@contoso.com"
ip = "81.2.69.161"
object = "secrets/db-password-{{i}}"
"#
    ))
}

/// A record at `at` on the Activity Log hub that changes nothing (the Start of an
/// operation): it moves the partition's event time past everything else.
fn activity_sentinel(at: &str) -> Vec<u8> {
    let r = records(&format!(
        "[[events]]\nat = {at:?}\narm = \"Microsoft.Authorization/roleAssignments/write\"\nresource = \"{VAULT_SCOPE}/providers/Microsoft.Authorization/roleAssignments/00000000-0000-4000-8000-0000000000ff\"\noid = \"{ADMIN}\"\nresult = \"Started.\"\n"
    ));
    body(r.iter().map(|(_, r)| r))
}

/// Writes `bodies` one a line, as an Event Hubs capture an analyst replays.
fn write_bodies(path: &Path, bodies: &[Vec<u8>]) {
    let mut text = Vec::new();
    for b in bodies {
        text.extend_from_slice(b);
        text.push(b'\n');
    }
    std::fs::write(path, text).unwrap();
}

/// `kvwatch replay` of the two captures (Activity Log first: the order of the
/// arguments does not matter).
async fn replayed(dir: &Path, activity: &Path, audit: &Path) -> Vec<Alert> {
    let config = dir.join("replay.toml");
    std::fs::write(&config, "[pipeline]\nlateness = \"5m\"\n").unwrap();
    let output = dir.join("replay.jsonl");
    let status = tokio::process::Command::new(env!("CARGO_BIN_EXE_kvwatch"))
        .arg("replay")
        .arg(activity)
        .arg(audit)
        .arg("--config")
        .arg(&config)
        .arg("--output")
        .arg(&output)
        .arg("--no-progress")
        .status();
    assert!(within("kvwatch replay", status).await.unwrap().success());
    read_alerts(&output)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grant_on_the_activity_log_hub_then_reads_on_the_audit_hub_are_one_incident() {
    let standin = standin(&[(ACTIVITY, PARTITIONS), (AUDIT, PARTITIONS)]).await;
    let hook = Hook::start().await;
    let dir = tempfile::tempdir().unwrap();
    let hubs = format!(
        "{}\n{}",
        hub_toml(&standin, ACTIVITY, &[], None),
        hub_toml(&standin, AUDIT, &[], None)
    );
    // Both hubs' records are published just before the run reads them, so both look
    // current: without turning the lag limit off, whichever hub a reader finished
    // first could cut the other loose and make some of its records late.
    let config = config(
        dir.path(),
        "activity",
        "5m",
        "idle_after = \"1h\"\nhub_lag_limit = \"30d\"",
        &format!("{hubs}\n{}", webhook_toml(dir.path(), &hook.url())),
    );

    let mut published = [Vec::new(), Vec::new()];
    for (n, (hub, recs)) in [(ACTIVITY, activity_log()), (AUDIT, audit_events())]
        .into_iter()
        .enumerate()
    {
        let last = if hub == ACTIVITY {
            activity_sentinel(AFTER_THE_HOUR)
        } else {
            sentinel(AFTER_THE_HOUR)
        };
        for (p, bodies) in deal(&recs, 2, PARTITIONS).iter().enumerate() {
            for b in bodies.iter().chain([&last]) {
                standin.publish(hub, &p.to_string(), b.clone()).unwrap();
                published[n].push(b.clone());
            }
        }
    }
    let activity = dir.path().join("activity-log.json");
    let audit = dir.path().join("auditevent.json");
    write_bodies(&activity, &published[0]);
    write_bodies(&audit, &published[1]);
    let expected = replayed(dir.path(), &activity, &audit).await;

    // What replay says, checked before live is compared with it: one incident, the
    // grant then its use.
    let incidents: std::collections::BTreeSet<_> =
        expected.iter().map(|a| a.incident_id.clone()).collect();
    assert_eq!(incidents.len(), 1, "one incident: {expected:#?}");
    let rules: Vec<(&str, &str, u32)> = expected
        .iter()
        .map(|a| (a.detector.as_str(), a.rule.as_str(), a.revision))
        .collect();
    assert_eq!(
        rules,
        [
            ("control_plane", "role_grant", 1),
            ("control_plane", "grant_then_read", 2)
        ],
        "{expected:#?}"
    );
    let read = &expected[1];
    assert_eq!(read.severity, Severity::Critical);
    assert_eq!(read.identity, ADMIN, "the incident is the granter's");
    assert_eq!(read.vault, "kv-example");
    assert!(
        read.summary.contains("Key Vault Secrets Officer")
            && read.summary.contains("eve@contoso.com"),
        "the summary names the role and the reader: {}",
        read.summary
    );

    let live = start_live(&config, Some(dir.path().join("alerts.jsonl"))).await;
    let total = published.iter().map(Vec::len).sum::<usize>() as u64;
    let end = DateTime::parse_from_rfc3339(AFTER_THE_HOUR)
        .unwrap()
        .to_utc();
    let status = wait_status(
        &live,
        "every body of both hubs taken and the watermark past the morning",
        |s| s.bodies == total && s.watermark == Some(end - Duration::minutes(5)),
    )
    .await;
    assert_eq!(
        (status.started, status.owned, status.refused),
        (2 * PARTITIONS, 2 * PARTITIONS, 0),
        "both hubs' partitions read, no record refused"
    );
    hook.wait_for(expected.len()).await;
    live.shutdown();
    let outcome = within("the run stops", live.wait()).await.unwrap();
    assert_eq!(outcome.end, LoopEnd::Drained);
    assert_eq!(outcome.delivery.map(|d| d.waiting), Some(0));

    let got = hook.alerts();
    assert_eq!(
        ids(&got),
        ids(&expected),
        "the webhook got exactly the alerts replay gives"
    );
    for a in &expected {
        assert!(
            got.contains(a),
            "the same contract, field for field: {a:#?}"
        );
    }
    let prom = outcome
        .metrics
        .expect("metrics")
        .metrics()
        .render()
        .unwrap();
    for hub in [ACTIVITY, AUDIT] {
        assert!(
            prom.contains(&format!(
                "kvwatch_eventhubs_bodies_total{{hub=\"{hub}\",partition=\"0\"}}"
            )),
            "{hub} is read:\n{prom}"
        );
    }
    let activity_records: f64 = prom
        .lines()
        .filter(|l| {
            l.starts_with("kvwatch_records_decoded_total{")
                && l.contains("category=\"activity_log\"")
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert_eq!(
        activity_records,
        (activity_log().len() + PARTITIONS) as f64,
        "every Activity Log record decoded as one:\n{prom}"
    );
}

/// docs/live.md's production config, the one a user copies, reads both hubs.
#[test]
fn the_documented_production_config_lists_the_audit_and_activity_log_hubs() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/live.md");
    let text = std::fs::read_to_string(&path).unwrap();
    let section = text
        .find("## A minimal production config")
        .expect("the section");
    let start = section + text[section..].find("```toml\n").expect("its config") + 8;
    let end = start + text[start..].find("```").unwrap();
    let config = kvwatch::config::Config::parse(&text[start..end], Path::new("docs/live.md"))
        .unwrap_or_else(|e| panic!("{e}"));
    let hubs: Vec<(&str, &str)> = config
        .eventhubs
        .hubs
        .iter()
        .map(|h| (h.hub.as_str(), h.consumer_group.as_str()))
        .collect();
    assert_eq!(
        hubs,
        [(AUDIT, "kvwatch"), (ACTIVITY, "kvwatch")],
        "both hubs, each with kvwatch's own consumer group"
    );
}
