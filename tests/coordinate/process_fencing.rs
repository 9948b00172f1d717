//! Fencing of a real `kvwatch run` process: the active one is frozen (SIGSTOP) past
//! its ownership expiry while an alert waits in its outbox (the webhook refuses
//! everything meanwhile), a standby takes the group over and delivers every alert,
//! and once the frozen one is woken (SIGCONT) it sends nothing more, writes no
//! manifest (epoch and owner stay the new owner's), and exits 3.

use kvwatch::coordinate::manifest;
use kvwatch::coordinate::GroupLayout;

use crate::azurite::Azurite;
use crate::live_support::*;
use crate::processes::*;

const GROUP: &str = "fenced-group";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_owner_woken_after_a_takeover_delivers_and_commits_nothing() {
    let azurite = Azurite::start();
    let storage = azurite.client(CONTAINER).await;
    let hub = standin(&[(HUB, 2)]).await;
    let hook = Hook::start().await;
    hook.refuse(true);
    let dir = tempfile::tempdir().unwrap();
    let shared = shared_config(dir.path(), &hub, &hook, &azurite) + &format!("group = {GROUP:?}\n");
    let paths = configs(dir.path(), &shared, 2);
    let reference_config = config(dir.path(), "reference", "5m", "", "");

    let records = probing_hour();
    let split = at("2024-05-06T09:35:00Z");
    let (early, late): (Vec<_>, Vec<_>) = records.into_iter().partition(|(t, _)| *t < split);
    let mut all = Vec::new();
    publish_dealt(&hub, &early, 2, None, &mut all);

    let mut instances = vec![Instance::spawn("node0", &paths[0], dir.path())];
    let first = vec![(0, instances[0].base_url().await)];
    assert_eq!(the_active_one(&first, &instances).await, 0);
    instances.push(Instance::spawn("node1", &paths[1], dir.path()));
    let second = vec![(1, instances[1].base_url().await)];
    wait_for_series(
        &second[0].1,
        "kvwatch_coordination_role{role=\"standby\"}",
        |v| v == 1.0,
    )
    .await;
    // The active one holds an alert it cannot deliver: it tried twice.
    hook.wait_for_requests(2).await;
    instances[0].signal(libc::SIGSTOP);

    assert_eq!(the_active_one(&second, &instances).await, 1);
    publish_dealt(&hub, &late, 2, Some(&sentinel(AFTER_THE_HOUR)), &mut all);
    hook.refuse(false);
    let want = ids(&reference_alerts(&reference_config, &all));
    wait_until("every expected alert at the webhook", || {
        let mut got = ids(&hook.alerts());
        got.dedup();
        got == want
    })
    .await;
    // The new owner is done: everything read, nothing waiting.
    let end = at(AFTER_THE_HOUR) - chrono::Duration::minutes(5);
    wait_for_metric(&second[0].1, "kvwatch_watermark_timestamp_seconds", |v| {
        v == end.timestamp() as f64
    })
    .await;
    wait_for_metric(&second[0].1, "kvwatch_outbox_pending_alerts", |v| v == 0.0).await;
    let layout = GroupLayout::new(GROUP).expect("group");
    let (before, _) = manifest::load(&storage, &layout)
        .await
        .unwrap()
        .expect("a manifest");
    assert_eq!(before.epoch, 2);
    assert!(before.owner_id.starts_with("node1-"), "{before:?}");

    let requests = hook.requests();
    instances[0].signal(libc::SIGCONT);
    let exit = within("the woken one stops", instances[0].child.wait())
        .await
        .unwrap();
    assert_eq!(exit.code(), Some(3), "{}", instances[0].output());
    assert_eq!(
        hook.requests(),
        requests,
        "the woken one sent nothing after SIGCONT\n{}",
        instances[0].output()
    );
    let (after, _) = manifest::load(&storage, &layout)
        .await
        .unwrap()
        .expect("a manifest");
    assert_eq!(after.epoch, 2, "no manifest from the old owner");
    assert!(after.owner_id.starts_with("node1-"), "{after:?}");
    assert!(after.commit >= before.commit);

    instances[1].signal(libc::SIGTERM);
    let exit = within("SIGTERM stops the new owner", instances[1].child.wait())
        .await
        .unwrap();
    assert!(exit.success(), "{}", instances[1].output());
}
