//! Takeover against Azurite: a standby waits while the active one renews, takes
//! over once its ownership expires (the active one died without a word) with the
//! last commit's state, takes over at once after a release, and two instances
//! starting together never split the group.

use tokio_util::sync::CancellationToken;

use kvwatch::coordinate::ownership::{self, Holder};
use kvwatch::coordinate::{Resume, Started};

use crate::azurite::Azurite;
use crate::common::{self, within};

#[tokio::test]
async fn a_standby_waits_while_the_owner_renews_then_takes_over_with_its_state() {
    let azurite = Azurite::start();
    let c = azurite.client("takeover").await;
    let a_metrics = common::metrics();
    let b_metrics = common::metrics();

    let mut a = common::start_active(common::coordinator(
        &c,
        common::settings("g", "a", 6),
        Some(a_metrics.clone()),
    ))
    .await;
    assert_eq!(a.epoch(), 1);
    assert_eq!(
        a.take_resume(),
        Some(Resume::Checkpoints(Default::default()))
    );
    let committed = a
        .commit(common::sections("one"), &common::positions(100))
        .await
        .unwrap();
    assert_eq!(committed.commit, 1);

    let b = common::start_standby(common::coordinator(
        &c,
        common::settings("g", "b", 6),
        Some(b_metrics.clone()),
    ))
    .await;
    assert_eq!(b.owners(), ["a"]);
    assert_eq!(b_metrics.value("role", "standby"), Some(1));
    let cancel = CancellationToken::new();
    let waiting = tokio::spawn({
        let cancel = cancel.clone();
        async move { b.wait_for_takeover(&cancel).await }
    });

    // While A renews (several rounds, each well inside the expiry), B waits.
    let renewed = a_metrics.value("renewals", "ok").unwrap_or(0);
    common::wait_until("A renews 8 more times", || {
        let m = a_metrics.clone();
        async move { m.value("renewals", "ok").unwrap_or(0) >= renewed + 8 }
    })
    .await;
    assert!(!waiting.is_finished(), "B took over a group A still renews");

    // A dies without releasing: its renewals stop; B takes over after the expiry.
    drop(a);
    let mut b = within("B's takeover", waiting)
        .await
        .unwrap()
        .unwrap()
        .expect("not cancelled");
    assert_eq!(b.epoch(), 2);
    assert_eq!(b.owner_level(), 2);
    assert_eq!(b_metrics.value("role", "active"), Some(1));
    match b.take_resume() {
        Some(Resume::Snapshot(restored)) => {
            assert_eq!(restored.commit, 1);
            assert_eq!(restored.committed_by, "a");
            assert_eq!(restored.sections, common::sections("one"));
            assert_eq!(restored.positions.len(), 4);
        }
        other => panic!("expected A's snapshot, got {other:?}"),
    }
    let seen = ownership::observe(&c, &common::partitions()).await.unwrap();
    assert!(seen
        .iter()
        .all(|o| matches!(&o.holder, Holder::Owned { owner, .. } if owner == "b")));
    // B's own commits continue the numbering.
    assert_eq!(
        b.commit(common::sections("two"), &common::positions(200))
            .await
            .unwrap()
            .commit,
        2
    );
}

#[tokio::test]
async fn a_released_group_is_taken_at_the_next_poll() {
    let azurite = Azurite::start();
    let c = azurite.client("release").await;
    // An expiry far longer than the test: only the release can free the group.
    let a = common::start_active(common::coordinator(
        &c,
        common::settings("g", "a", 600),
        None,
    ))
    .await;
    let b = common::start_standby(common::coordinator(
        &c,
        common::settings("g", "b", 600),
        None,
    ))
    .await;
    let cancel = CancellationToken::new();
    let waiting = tokio::spawn({
        let cancel = cancel.clone();
        async move { b.wait_for_takeover(&cancel).await }
    });
    let fence = a.fence();
    a.release().await.unwrap();
    assert!(fence.is_lost(), "a released owner acts no more");
    let b = within("B's takeover after the release", waiting)
        .await
        .unwrap()
        .unwrap()
        .expect("not cancelled");
    assert_eq!(b.epoch(), 2);

    // A standby can also just stop waiting.
    let standby = common::start_standby(common::coordinator(
        &c,
        common::settings("g", "c", 600),
        None,
    ))
    .await;
    let cancel = CancellationToken::new();
    cancel.cancel();
    assert!(standby.wait_for_takeover(&cancel).await.unwrap().is_none());
}

#[tokio::test]
async fn two_instances_starting_together_never_split_the_group() {
    let azurite = Azurite::start();
    let c = azurite.client("race").await;
    for round in 0..5 {
        let group = format!("race-{round}");
        let (x, y) = tokio::join!(
            common::coordinator(&c, common::settings(&group, "x", 600), None).start(),
            common::coordinator(&c, common::settings(&group, "y", 600), None).start(),
        );
        let (x, y) = (x.unwrap(), y.unwrap());
        let active: Vec<String> = [&x, &y]
            .iter()
            .filter_map(|s| match s {
                Started::Active(a) => Some(a.owner_id().to_owned()),
                Started::Standby(_) => None,
            })
            .collect();
        // Claims go in partition order, so whoever takes the first partition wins
        // and the other loses on that same first blob, holding nothing.
        assert_eq!(active.len(), 1, "round {round}: active: {active:?}");
        let seen = ownership::observe(&c, &common::partitions()).await.unwrap();
        let owners: std::collections::BTreeSet<String> = seen
            .iter()
            .filter_map(|o| match &o.holder {
                Holder::Owned { owner, .. } => Some(owner.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(owners.len(), 1, "round {round}: split between {owners:?}");
        assert_eq!(owners.iter().next(), active.first(), "round {round}");
        assert!(seen
            .iter()
            .all(|o| matches!(o.holder, Holder::Owned { .. })));
        for started in [x, y] {
            if let Started::Active(a) = started {
                a.release().await.unwrap();
            }
        }
        // Clean the blobs for the next round (same partitions, new group).
        for p in common::partitions() {
            let _ = c
                .delete(
                    &p.ownership_blob(),
                    &kvwatch::coordinate::blob::Condition::Always,
                )
                .await;
        }
    }
}
