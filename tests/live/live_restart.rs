//! `kvwatch run` across restarts and outages, over real AMQP against the stand-in:
//! a restart from the checkpoint (detector windows and open incidents restored, bodies
//! not yet covered read again with their cut) loses no alert and doubles none; the
//! hub going away and coming back on the same port loses and doubles nothing either.

use std::collections::BTreeMap;

use crate::live_support::*;
use chrono::{DateTime, Utc};

const HUB: &str = "audit";

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().to_utc()
}

/// Every id once, and the set the reference gives.
fn assert_exactly(got: &[kvwatch::alert::Alert], expected: &[kvwatch::alert::Alert]) {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for a in got {
        *counts.entry(a.id.as_str()).or_default() += 1;
    }
    let doubled: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(doubled.is_empty(), "alerts delivered twice: {doubled:?}");
    assert_eq!(
        ids(got),
        ids(expected),
        "the alerts of an uninterrupted run, no more, no fewer"
    );
    for a in expected {
        assert!(got.contains(a), "same content: {a:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_from_the_checkpoint_loses_nothing_and_doubles_nothing() {
    let standin = standin(&[(HUB, 2)]).await;
    let hook = Hook::start().await;
    let dir = tempfile::tempdir().unwrap();
    let hubs = hub_toml(&standin, HUB, &[], None);
    let config = config(
        dir.path(),
        "restart",
        "5m",
        "idle_after = \"1h\"",
        &format!("{hubs}\n{}", webhook_toml(dir.path(), &hook.url())),
    );

    // Split mid-hour: oscar's ten denials (09:25 to 09:34, one a minute) straddle the
    // restart, so the alert needs the window restored; trent's second burst (09:45)
    // extends the incident his first opened, so a lost incident would alert again.
    let records = probing_hour();
    let split = records.partition_point(|(t, _)| *t < at("2024-05-06T09:33:00Z"));
    let first = deal(&records[..split], 4, 2);
    let second = deal(&records[split..], 4, 2);
    let mut all = Vec::new();
    for (p, bodies) in first.iter().enumerate() {
        for b in bodies {
            standin.publish(HUB, &p.to_string(), b.clone()).unwrap();
            all.push(b.clone());
        }
    }
    let phase_one = all.len() as u64;
    let mut rest = Vec::new();
    for (p, bodies) in second.iter().enumerate() {
        for b in bodies.iter().cloned().chain([sentinel(AFTER_THE_HOUR)]) {
            rest.push((p, b.clone()));
            all.push(b);
        }
    }
    let expected = reference_alerts(&config, &all);
    assert!(expected.len() >= 3, "{expected:?}");

    let live = start_live(&config, None).await;
    let status = wait_status(&live, "phase one taken", |s| s.bodies == phase_one).await;
    assert!(
        status
            .watermark
            .is_some_and(|w| w < at("2024-05-06T09:30:00Z")),
        "oscar's later denials wait: {status:?}"
    );
    live.shutdown();
    let one = within("run one stops", live.wait()).await.unwrap();
    let held: usize = one.status.positions.values().map(|p| p.replay.len()).sum();
    assert!(
        held > 0,
        "some bodies were taken but not covered: {:?}",
        one.status.positions
    );
    let after_one = hook.alerts().len();
    assert!(after_one < expected.len(), "some alerts are still to come");

    for (p, b) in rest {
        standin.publish(HUB, &p.to_string(), b).unwrap();
    }
    let live = start_live(&config, None).await;
    let status = wait_status(&live, "everything taken", |s| {
        s.watermark == Some(at(AFTER_THE_HOUR) - chrono::Duration::minutes(5))
    })
    .await;
    assert!(
        status.skipped > 0,
        "events processed before the restart were skipped: {status:?}"
    );
    live.shutdown();
    within("run two stops", live.wait()).await.unwrap();
    assert_exactly(&hook.alerts(), &expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hub_going_away_and_coming_back_on_the_same_port_loses_nothing() {
    let standin = standin(&[(HUB, 2)]).await;
    let hook = Hook::start().await;
    let dir = tempfile::tempdir().unwrap();
    let hubs = hub_toml(&standin, HUB, &[], None);
    let config = config(
        dir.path(),
        "blip",
        "5m",
        "idle_after = \"1h\"",
        &format!("{hubs}\n{}", webhook_toml(dir.path(), &hook.url())),
    );
    let records = probing_hour();
    let (early, late) = records.split_at(records.len() / 2);
    let first = deal(early, 5, 2);
    let second = deal(late, 5, 2);
    let mut all = Vec::new();
    for (p, bodies) in first.iter().enumerate() {
        for b in bodies {
            standin.publish(HUB, &p.to_string(), b.clone()).unwrap();
            all.push(b.clone());
        }
    }
    let phase_one = all.len() as u64;

    let live = start_live(&config, None).await;
    wait_status(&live, "phase one taken", |s| s.bodies == phase_one).await;
    let port = standin.port();
    within("the hub goes away", standin.shutdown()).await;
    let metrics = live.metrics().expect("metrics").clone();
    wait_until("both readers notice the hub is gone", || {
        metric_sum(
            &metrics.render().unwrap_or_default(),
            "kvwatch_eventhubs_reconnects_total",
        ) >= 2.0
    })
    .await;
    for (p, bodies) in second.iter().enumerate() {
        for b in bodies.iter().cloned().chain([sentinel(AFTER_THE_HOUR)]) {
            standin.publish(HUB, &p.to_string(), b.clone()).unwrap();
            all.push(b);
        }
    }
    within("the hub comes back", standin.restart())
        .await
        .unwrap();
    assert_eq!(standin.port(), port);
    let expected = reference_alerts(&config, &all);
    let status = wait_status(&live, "everything taken after the reconnect", |s| {
        s.watermark == Some(at(AFTER_THE_HOUR) - chrono::Duration::minutes(5))
    })
    .await;
    assert_eq!(
        status.bodies,
        all.len() as u64,
        "every body exactly once, none twice"
    );
    live.shutdown();
    within("the run stops", live.wait()).await.unwrap();
    assert_exactly(&hook.alerts(), &expected);
}
