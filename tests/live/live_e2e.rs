//! `kvwatch run` end to end over real AMQP: bodies published to the Event Hubs
//! stand-in come out as alerts at a real HTTP webhook receiver, the same alerts the
//! replay pipeline gives for the same records; a malformed body is counted and the
//! stream goes on. Every await is bounded; nothing sleeps to synchronise.

use crate::live_support::*;
use chrono::DateTime;
use kvwatch::app::live_pipeline::LoopEnd;

const HUB: &str = "insights-logs-auditevent";

fn sentinel_watermark(lateness_minutes: i64) -> Option<DateTime<chrono::Utc>> {
    DateTime::parse_from_rfc3339(AFTER_THE_HOUR)
        .ok()
        .map(|t| t.to_utc() - chrono::Duration::minutes(lateness_minutes))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_in_alerts_out_at_a_webhook_as_replay_gives_them() {
    let standin = standin(&[(HUB, 2)]).await;
    let hook = Hook::start().await;
    let dir = tempfile::tempdir().unwrap();
    let hubs = hub_toml(&standin, HUB, &[], None);
    let config = config(
        dir.path(),
        "e2e",
        "5m",
        "idle_after = \"1h\"",
        &format!("{hubs}\n{}", webhook_toml(dir.path(), &hook.url())),
    );

    let dealt = deal(&probing_hour(), 5, 2);
    let mut all = Vec::new();
    for (p, bodies) in dealt.iter().enumerate() {
        for b in bodies.iter().chain([&sentinel(AFTER_THE_HOUR)]) {
            standin.publish(HUB, &p.to_string(), b.clone()).unwrap();
            all.push(b.clone());
        }
    }
    let expected = reference_alerts(&config, &all);
    assert!(
        expected.len() >= 3,
        "the scenario raises alerts: {expected:?}"
    );

    let live = start_live(&config, Some(dir.path().join("alerts.jsonl"))).await;
    let status = wait_status(
        &live,
        "every body taken and the watermark past the hour",
        |s| s.bodies == all.len() as u64 && s.watermark == sentinel_watermark(5),
    )
    .await;
    assert_eq!((status.started, status.owned, status.refused), (2, 2, 0));
    hook.wait_for(expected.len()).await;
    live.shutdown();
    let outcome = within("the run stops", live.wait()).await.unwrap();
    assert_eq!(outcome.end, LoopEnd::Drained);
    assert_eq!(outcome.delivery.map(|d| d.waiting), Some(0));

    let got = hook.alerts();
    assert_eq!(
        ids(&got),
        ids(&expected),
        "the webhook got exactly the replay alerts"
    );
    for a in &expected {
        assert!(got.contains(a), "the same contract, field for field: {a:?}");
    }
    assert_eq!(
        ids(&read_alerts(&dir.path().join("alerts.jsonl"))),
        ids(&expected),
        "the JSON Lines copy"
    );
    let prom = outcome
        .metrics
        .expect("metrics")
        .metrics()
        .render()
        .unwrap();
    for family in [
        "kvwatch_eventhubs_bodies_total",
        "kvwatch_eventhubs_records_total",
        "kvwatch_eventhubs_checkpoint_age_seconds",
    ] {
        assert!(
            prom.contains(&format!("{family}{{hub=\"{HUB}\",partition=\"1\"}}")),
            "{family} per partition:\n{prom}"
        );
    }
    assert!(outcome.status.checkpoints >= 1);
    let positions = &outcome.status.positions;
    assert_eq!(positions.len(), 2);
    for (key, p) in positions {
        let last = standin
            .events(HUB, key.rsplit('/').next().unwrap())
            .unwrap()
            .len() as i64
            - 1;
        assert_eq!(
            p.resume_after,
            Some(last - 1),
            "{key}: every body but the sentinel is covered"
        );
        assert_eq!(
            p.replay.len(),
            1,
            "{key}: the sentinel is read again after a restart"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_body_is_counted_and_the_stream_goes_on() {
    let standin = standin(&[(HUB, 1)]).await;
    let dir = tempfile::tempdir().unwrap();
    let hubs = hub_toml(&standin, HUB, &[], None);
    let config = config(dir.path(), "bad", "5m", "idle_after = \"1h\"", &hubs);
    let records = probing_hour();
    let (before, after) = records.split_at(records.len() / 2);
    let mut bodies = deal(before, 5, 1).remove(0);
    bodies.push(br#"{"records":[{"time":"2024-05-06T09:20:00Z","operationName":"#.to_vec());
    bodies.push(b"\x00\x01 not json at all".to_vec());
    bodies.push(br#"{"records":[7,"text"]}"#.to_vec());
    bodies.push(Vec::new());
    bodies.extend(deal(after, 5, 1).remove(0));
    bodies.push(sentinel(AFTER_THE_HOUR));
    for b in &bodies {
        standin.publish(HUB, "0", b.clone()).unwrap();
    }
    let expected = reference_alerts(&config, &bodies);
    assert!(!expected.is_empty());

    let output = dir.path().join("alerts.jsonl");
    let live = start_live(&config, Some(output.clone())).await;
    let status = wait_status(&live, "every body taken", |s| {
        s.bodies == bodies.len() as u64 && s.watermark == sentinel_watermark(5)
    })
    .await;
    assert!(
        status.refused >= 4,
        "the broken body, the stray bytes and two non-records: {status:?}"
    );
    let prom = live.metrics().expect("metrics").render().unwrap();
    let rejected = metric_sum(&prom, "kvwatch_records_rejected_total");
    assert!(rejected >= 4.0, "rejections are counted:\n{prom}");
    live.shutdown();
    within("the run stops", live.wait()).await.unwrap();
    assert_eq!(
        ids(&read_alerts(&output)),
        ids(&expected),
        "the alerts after the bad bodies still come"
    );
}

/// A record rule alerts the moment its record arrives: with a six-hour lateness
/// the watermark never gets near the record during the test, so the alert at the
/// webhook can only have come from the arrival lane; a burst of reads in the same
/// body waits for the watermark.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_access_policy_grant_reaches_the_webhook_before_the_watermark_passes_it() {
    let standin = standin(&[(HUB, 1)]).await;
    let hook = Hook::start().await;
    let dir = tempfile::tempdir().unwrap();
    let hubs = hub_toml(&standin, HUB, &[], None);
    let config = config(
        dir.path(),
        "arrival",
        "6h",
        "idle_after = \"1h\"",
        &format!("{hubs}\n{}", webhook_toml(dir.path(), &hook.url())),
    );
    let mut records = records(
        r#"
[[events]]
at = "2024-05-06T10:00:00Z"
repeat = 40
every = "5s"
op = "SecretGet"
oid = "22222222-2222-4222-8222-222222222222"
appid = "22222222-2222-4222-8222-222222222222"
idtyp = "app"
ip = "81.2.69.160"
object = "secrets/s-{i}"

[[events]]
at = "2024-05-06T10:01:00Z"
op = "VaultPatch"
oid = "11111111-1111-4111-8111-111111111111"
upn = "admin@contoso.com"
ip = "81.2.69.160"
properties = { addedAccessPolicy = { ObjectId = "33333333-3333-4333-8333-333333333333", Permissions = { secrets = ["get", "list"] } } }
"#,
    );
    records.sort_by_key(|r| r.0);
    let bodies = deal(&records, 10, 1).remove(0);
    for b in &bodies {
        standin.publish(HUB, "0", b.clone()).unwrap();
    }
    let expected = reference_alerts(&config, &bodies);
    let rules: Vec<&str> = expected.iter().map(|a| a.rule.as_str()).collect();
    assert!(
        rules.contains(&"access_policy_added") && rules.contains(&"burst"),
        "the scenario raises both kinds: {rules:?}"
    );

    let live = start_live(&config, None).await;
    hook.wait_for(1).await;
    let status = wait_status(&live, "every body taken", |s| {
        s.bodies == bodies.len() as u64
    })
    .await;
    let policy_time = records
        .iter()
        .find(|(_, r)| r.contains("VaultPatch"))
        .map(|(t, _)| *t)
        .unwrap();
    assert!(
        status.watermark.is_none_or(|w| w < policy_time),
        "the watermark never passed the record: {:?}",
        status.watermark
    );
    let got = hook.alerts();
    assert_eq!(
        got.iter().map(|a| a.rule.as_str()).collect::<Vec<_>>(),
        ["access_policy_added"],
        "only the record rule is out; the burst waits for the watermark"
    );
    let reference = expected
        .iter()
        .find(|a| a.rule == "access_policy_added")
        .unwrap();
    assert_eq!(got[0].id, reference.id, "the id replay gives");
    live.shutdown();
    within("the run stops", live.wait()).await.unwrap();
}
