//! A partition added to the hub while a coordinated `kvwatch run` process is active is
//! claimed into its group (its ownership blob names the active instance) before it
//! is read, and its records count: the webhook gets exactly the replay reference.

use kvwatch::coordinate::PartitionRef;

use crate::azurite::Azurite;
use crate::live_support::*;
use crate::processes::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partition_added_while_active_is_claimed_then_read() {
    let azurite = Azurite::start();
    let storage = azurite.client(CONTAINER).await;
    let hub = standin(&[(HUB, 2)]).await;
    let hook = Hook::start().await;
    let dir = tempfile::tempdir().unwrap();
    let shared = shared_config(dir.path(), &hub, &hook, &azurite);
    let paths = configs(dir.path(), &shared, 1);
    let text = std::fs::read_to_string(&paths[0]).unwrap();
    std::fs::write(
        &paths[0],
        text.replace(
            "idle_after = \"1h\"",
            "idle_after = \"1h\"\nrelist_interval = \"200ms\"",
        ),
    )
    .unwrap();
    let reference_config = config(dir.path(), "reference", "5m", "", "");

    let records = probing_hour();
    let split = at("2024-05-06T09:35:00Z");
    let (early, late): (Vec<_>, Vec<_>) = records.into_iter().partition(|(t, _)| *t < split);
    let mut all = Vec::new();
    publish_dealt(&hub, &early, 2, None, &mut all);
    let mut instances = vec![Instance::spawn("node0", &paths[0], dir.path())];
    let node = vec![(0, instances[0].base_url().await)];
    assert_eq!(the_active_one(&node, &instances).await, 0);

    let added = hub.faults().add_partitions(HUB, 3).unwrap();
    assert_eq!(added, ["2"]);
    publish_dealt(&hub, &late, 3, Some(&sentinel(AFTER_THE_HOUR)), &mut all);
    let on_the_new_one = deal(&late, 4, 3)[2].len() + 1;
    wait_for_series(
        &node[0].1,
        "kvwatch_eventhubs_bodies_total{hub=\"audit\",partition=\"2\"}",
        |v| v >= on_the_new_one as f64,
    )
    .await;
    let want = ids(&reference_alerts(&reference_config, &all));
    wait_until("every expected alert at the webhook", || {
        let mut got = ids(&hook.alerts());
        got.dedup();
        got == want
    })
    .await;
    let blob = PartitionRef::new(hub.namespace(), HUB, "kvwatch", "2").ownership_blob();
    let listed: Vec<String> = storage
        .list("")
        .await
        .expect("list")
        .into_iter()
        .map(|b| b.name)
        .collect();
    let owner = storage.properties(&blob).await.unwrap_or_else(|e| {
        panic!(
            "{blob}: {e}; the container holds {listed:?}\n{}",
            instances[0].output()
        )
    });
    assert!(
        owner
            .metadata
            .get("ownerid")
            .is_some_and(|o| o.starts_with("node0-")),
        "{blob}: {:?}",
        owner.metadata
    );

    instances[0].signal(libc::SIGTERM);
    let exit = within("SIGTERM stops it", instances[0].child.wait())
        .await
        .unwrap();
    assert!(exit.success(), "{}", instances[0].output());
}
