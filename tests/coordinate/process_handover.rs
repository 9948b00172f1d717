//! The active instance cut off from Event Hubs alone (a TCP forwarder between it and
//! the hub, cut; Blob Storage and the webhook still reachable), a standby that can
//! reach the hub: after `hand_over_after` the active one writes its last checkpoint,
//! releases the group and exits 3, the standby takes over from that checkpoint, and
//! the webhook ends with exactly the alert ids a replay of the whole hour gives, with
//! no gap counted. Without the hand-over the standby never becomes active and the
//! test times out.

use crate::azurite::Azurite;
use crate::live_support::*;
use crate::processes::*;
use crate::tcp_cut::TcpCut;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_active_instance_cut_off_from_event_hubs_hands_the_group_to_a_standby() {
    let azurite = Azurite::start();
    azurite.client(CONTAINER).await;
    let hub = standin(&[(HUB, 2)]).await;
    let cut = TcpCut::start(hub.port()).await;
    let hook = Hook::start().await;
    let dir = tempfile::tempdir().unwrap();
    let coordination = format!(
        "{}hand_over_after = \"5s\"\n",
        coordination_toml(dir.path(), &azurite)
    );
    let shared = shared_config_with(dir.path(), &hub, &hook, &coordination);
    let paths = configs(dir.path(), &shared, 2);
    // node0 reaches the hub only through the forwarder.
    let text = std::fs::read_to_string(&paths[0]).unwrap();
    let direct = format!("endpoint = {:?}", hub.endpoint());
    assert!(text.contains(&direct), "{text}");
    let through = format!("endpoint = \"amqp://127.0.0.1:{}\"", cut.port());
    std::fs::write(&paths[0], text.replace(&direct, &through)).unwrap();
    let reference_config = config(dir.path(), "reference", "5m", "", "");

    let records = probing_hour();
    let split = at("2024-05-06T09:35:00Z");
    let (early, late): (Vec<_>, Vec<_>) = records.into_iter().partition(|(t, _)| *t < split);
    let mut all = Vec::new();
    publish_dealt(&hub, &early, 2, None, &mut all);
    let mut instances = vec![Instance::spawn("node0", &paths[0], dir.path())];
    let base0 = instances[0].base_url().await;
    assert_eq!(
        the_active_one(&[(0, base0.clone())], &instances).await,
        0,
        "node0 starts alone and takes the group"
    );
    instances.push(Instance::spawn("node1", &paths[1], dir.path()));
    let base1 = instances[1].base_url().await;
    wait_for_metric(&base1, "kvwatch_coordination_role", |_| true).await;
    wait_for_metric(&base0, "kvwatch_watermark_timestamp_seconds", |v| {
        v >= at("2024-05-06T09:25:00Z").timestamp() as f64
    })
    .await;
    wait_for_series(&base0, COMMITS_OK, |v| v >= 1.0).await;

    cut.cut();
    publish_dealt(&hub, &late, 2, Some(&sentinel(AFTER_THE_HOUR)), &mut all);

    let exit = within("node0 hands the group over", instances[0].child.wait())
        .await
        .unwrap();
    assert_eq!(exit.code(), Some(3), "{}", instances[0].output());
    assert!(
        instances[0]
            .output()
            .contains("handing the group over to a standby"),
        "{}",
        instances[0].output()
    );
    assert_eq!(
        the_active_one(&[(1, base1.clone())], &instances).await,
        1,
        "node1, which reaches the hub, takes the group"
    );
    let want = ids(&reference_alerts(&reference_config, &all));
    wait_until("every expected alert at the webhook", || {
        let mut got = ids(&hook.alerts());
        got.dedup();
        got == want
    })
    .await;
    assert_eq!(
        metric(&base1, "kvwatch_eventhubs_gaps_total").await,
        Some(0.0),
        "no gap after the hand-over"
    );
    let readyz = get(&format!("{base1}/readyz")).await.unwrap_or_default();
    assert!(
        readyz.contains("coordination: ok (active under epoch 2)"),
        "{readyz}"
    );

    instances[1].signal(libc::SIGTERM);
    let exit = within("SIGTERM stops it", instances[1].child.wait())
        .await
        .unwrap();
    assert!(exit.success(), "{}", instances[1].output());
}
