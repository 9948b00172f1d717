//! One lagging hub does not hold the others' alerts back (issue #14 item 4).
//!
//! `kvwatch run` reads the vaults' AuditEvent hub and the subscription's Activity
//! Log hub. The Activity Log hub is current (its bodies were just enqueued) but its
//! records are five hours older than the AuditEvent hub's, as when Azure is slow to
//! export it. With `hub_lag_limit = "20m"` the watermark moves to 20 minutes behind
//! the AuditEvent hub instead of waiting for the Activity Log: the AuditEvent
//! probing alerts reach the webhook. A role grant that then arrives on the lagging
//! hub, behind the watermark, is processed at once (counted late), so the webhook
//! ends with the same alerts replay gives for every record; the gauge names the hub
//! cut loose. The real SDK over real AMQP; every wait is on a condition.

use crate::live_support::*;
use chrono::{DateTime, Duration, Utc};
use kvwatch::app::live_pipeline::LoopEnd;

const ACTIVITY: &str = "insights-activity-logs";
const AUDIT: &str = "insights-logs-auditevent";
const VAULT_SCOPE: &str = "/subscriptions/11111111-0000-0000-0000-000000000001/resourceGroups/rg-app/providers/Microsoft.KeyVault/vaults/kv-example";

/// An Activity Log body: the Start of an operation at `at` (changes nothing), or
/// with `grant`, an admin granting Key Vault Secrets Officer on the vault.
fn activity_body(at: &str, grant: bool) -> Vec<u8> {
    let detail = if grant {
        "grantee = \"7e6f5d4c-3b2a-4190-8877-665544332211\"\nrole = \"b86a8fe4-44ce-4948-aee5-eccb2c155cd7\"\n"
    } else {
        "result = \"Started.\"\n"
    };
    let r = records(&format!(
        "[[events]]\nat = {at:?}\narm = \"Microsoft.Authorization/roleAssignments/write\"\n\
         resource = \"{VAULT_SCOPE}/providers/Microsoft.Authorization/roleAssignments/9c5e1c7a-0d3b-4a57-9b45-6a8f0e3b2c11\"\n\
         oid = \"5d2e4c1a-2b3c-4d5e-8f90-a1b2c3d4e5f6\"\nupn = \"admin@contoso.com\"\nip = \"81.2.69.160\"\n{detail}"
    ));
    body(r.iter().map(|(_, r)| r))
}

fn minus(at: &str, d: Duration) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(at).unwrap().to_utc() - d
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hub_hours_behind_is_cut_loose_and_its_late_records_still_alert() {
    let standin = standin(&[(ACTIVITY, 1), (AUDIT, 1)]).await;
    let hook = Hook::start().await;
    let dir = tempfile::tempdir().unwrap();
    let hubs = format!(
        "{}\n{}",
        hub_toml(&standin, ACTIVITY, &[], None),
        hub_toml(&standin, AUDIT, &[], None)
    );
    // Nothing goes idle: without the limit the Activity Log hub would hold the
    // watermark at 07:55 for as long as the test runs.
    let config = config(
        dir.path(),
        "hublag",
        "5m",
        "idle_after = \"1h\"\nhub_lag_limit = \"20m\"",
        &format!("{hubs}\n{}", webhook_toml(dir.path(), &hook.url())),
    );

    let mut audit: Vec<Vec<u8>> = deal(&probing_hour(), 5, 1).remove(0);
    audit.push(sentinel(AFTER_THE_HOUR));
    let early = activity_body("2024-05-06T08:00:00Z", false);
    let grant = activity_body("2024-05-06T09:05:00Z", true);
    for b in &audit {
        standin.publish(AUDIT, "0", b.clone()).unwrap();
    }
    standin.publish(ACTIVITY, "0", early.clone()).unwrap();

    let mut all = audit.clone();
    all.push(early);
    let before_grant = reference_alerts(&config, &all);
    assert!(
        before_grant.len() >= 3,
        "the probing raises alerts: {before_grant:#?}"
    );
    all.push(grant.clone());
    let expected = reference_alerts(&config, &all);
    assert!(
        expected
            .iter()
            .any(|a| a.detector == "control_plane" && a.rule == "role_grant"),
        "replay alerts on the grant: {expected:#?}"
    );

    let live = start_live(&config, Some(dir.path().join("alerts.jsonl"))).await;
    let cut = minus(AFTER_THE_HOUR, Duration::minutes(25));
    wait_status(
        &live,
        "the watermark 20 minutes (plus the lateness) behind the AuditEvent hub",
        |s| s.bodies == audit.len() as u64 + 1 && s.watermark == Some(cut),
    )
    .await;
    hook.wait_for(before_grant.len()).await;
    assert_eq!(
        ids(&hook.alerts()),
        ids(&before_grant),
        "the AuditEvent hub's alerts went out while the Activity Log hub is five hours behind"
    );

    // The grant, at 09:05, arrives long behind the watermark.
    standin.publish(ACTIVITY, "0", grant).unwrap();
    hook.wait_for(expected.len()).await;
    live.shutdown();
    let outcome = within("the run stops", live.wait()).await.unwrap();
    assert_eq!(outcome.end, LoopEnd::Drained);
    assert_eq!(
        ids(&hook.alerts()),
        ids(&expected),
        "nothing lost: the webhook got what replay gives for every record"
    );
    let prom = outcome
        .metrics
        .expect("metrics")
        .metrics()
        .render()
        .unwrap();
    assert!(
        prom.contains(&format!(
            "kvwatch_eventhubs_hub_cut_loose{{hub=\"{ACTIVITY}\"}} 1"
        )),
        "the gauge names the hub cut loose:\n{prom}"
    );
    let late = prom
        .lines()
        .find_map(|l| l.strip_prefix("kvwatch_events_late_total "))
        .and_then(|v| v.parse::<f64>().ok());
    assert!(
        late.is_some_and(|n| n >= 1.0),
        "the grant counted late: {late:?}"
    );
}
