//! Blob Storage unreachable for 30 seconds (a TCP forwarder between a real `kvwatch
//! run` process and Azurite, cut and restored) while the active instance consumes:
//! `/readyz` says it is paused and why, nothing is delivered meanwhile (the alerts
//! raised wait in the outbox), and once storage is back the same ownership carries on (same epoch),
//! commits resume, and every alert arrives: nothing lost.

use std::time::{Duration, Instant};

use kvwatch::coordinate::blob::connection::{DEV_ACCOUNT, DEV_ACCOUNT_KEY};

use crate::azurite::{self, Azurite};
use crate::live_support::*;
use crate::processes::*;
use crate::tcp_cut::TcpCut;

/// How long storage stays unreachable: longer than several renewals, shorter than
/// the ownership's deadline (expiry 60 s minus the 5 s margin).
const OUTAGE: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_seconds_without_storage_pause_delivery_and_lose_nothing() {
    let azurite = Azurite::start();
    azurite.client(CONTAINER).await;
    let cut = TcpCut::start(azurite.port()).await;
    let hub = standin(&[(HUB, 2)]).await;
    let hook = Hook::start().await;
    let dir = tempfile::tempdir().unwrap();
    let conn = format!(
        "DefaultEndpointsProtocol=http;AccountName={DEV_ACCOUNT};AccountKey={DEV_ACCOUNT_KEY};BlobEndpoint={};",
        azurite::endpoint_at(cut.port(), false)
    );
    std::fs::write(dir.path().join("storage.conn"), conn).unwrap();
    let coordination = format!(
        "[coordination]\ncontainer = {CONTAINER:?}\ncredential = {{ kind = \"connection_string\", connection_string = {{ file = {:?} }} }}\n\
         ownership_expiry = \"60s\"\nrenew_interval = \"1s\"\nsafety_margin = \"5s\"\nstandby_poll = \"1s\"\noperation_timeout = \"1s\"\n",
        dir.path().join("storage.conn").display().to_string()
    );
    let shared = shared_config_with(dir.path(), &hub, &hook, &coordination);
    let paths = configs(dir.path(), &shared, 1);
    let reference_config = config(dir.path(), "reference", "5m", "", "");

    let records = probing_hour();
    let split = at("2024-05-06T09:35:00Z");
    let (early, late): (Vec<_>, Vec<_>) = records.into_iter().partition(|(t, _)| *t < split);
    let mut all = Vec::new();
    publish_dealt(&hub, &early, 2, None, &mut all);
    let mut instances = vec![Instance::spawn("node0", &paths[0], dir.path())];
    let node = vec![(0, instances[0].base_url().await)];
    let base = node[0].1.clone();
    assert_eq!(the_active_one(&node, &instances).await, 0);
    wait_for_series(&base, COMMITS_OK, |v| v >= 1.0).await;

    cut.cut();
    let cut_at = Instant::now();
    wait_until_readyz(&base, "paused: an ownership renewal failed").await;
    let delivered = hook.requests();
    publish_dealt(&hub, &late, 2, Some(&sentinel(AFTER_THE_HOUR)), &mut all);
    // Everything is read and analysed during the outage; commits fail meanwhile.
    let end = at(AFTER_THE_HOUR) - chrono::Duration::minutes(5);
    wait_for_metric(&base, "kvwatch_watermark_timestamp_seconds", |v| {
        v == end.timestamp() as f64
    })
    .await;
    wait_for_series(
        &base,
        "kvwatch_coordination_commits_total{result=\"failed\"}",
        |v| v >= 1.0,
    )
    .await;
    let commits = series(&base, COMMITS_OK).await.expect("scrape");
    // Hold the outage for its full length (a fault's duration, not an assertion).
    tokio::time::sleep(OUTAGE.saturating_sub(cut_at.elapsed())).await;
    let readyz = get(&format!("{base}/readyz")).await.unwrap_or_default();
    assert!(readyz.contains("coordination: paused"), "{readyz}");
    assert_eq!(
        hook.requests(),
        delivered,
        "nothing is delivered while the ownership cannot be renewed"
    );
    let mut before = ids(&hook.alerts());
    before.dedup();

    cut.restore();
    let want = ids(&reference_alerts(&reference_config, &all));
    wait_until("every expected alert at the webhook", || {
        let mut got = ids(&hook.alerts());
        got.dedup();
        got == want
    })
    .await;
    assert!(
        before.len() < want.len(),
        "alerts raised during the outage waited for it to end: {} of {} before",
        before.len(),
        want.len()
    );
    wait_for_series(&base, COMMITS_OK, |v| v > commits).await;
    wait_until_readyz(&base, "coordination: ok (active under epoch 1)").await;
    assert_eq!(
        metric(&base, "kvwatch_eventhubs_gaps_total").await,
        Some(0.0)
    );

    instances[0].signal(libc::SIGTERM);
    let exit = within("SIGTERM stops it", instances[0].child.wait())
        .await
        .unwrap();
    assert!(exit.success(), "{}", instances[0].output());
}

async fn wait_until_readyz(base: &str, wanted: &str) {
    let deadline = Instant::now() + STEP;
    loop {
        let text = get(&format!("{base}/readyz")).await.unwrap_or_default();
        if text.contains(wanted) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {STEP:?} waiting for /readyz to say {wanted:?}; it says:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
