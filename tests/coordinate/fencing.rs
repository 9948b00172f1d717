//! Fencing against Azurite: an owner whose ownership was taken, whose manifest was
//! raised by a newer owner, or that was cut off (a frozen VM, a network partition)
//! closes its fence and never commits again, and its fence is closed before the
//! new owner can act.

use tokio_util::sync::CancellationToken;

use kvwatch::coordinate::blob::{Condition, Metadata};
use kvwatch::coordinate::manifest;
use kvwatch::coordinate::{CoordinateError, FenceState, GroupLayout, LostReason};

use crate::azurite::{self, Azurite};
use crate::common::{self, within};
use crate::tcp_cut::TcpCut;

#[tokio::test]
async fn a_stolen_partition_closes_the_fence_and_refuses_commits() {
    let azurite = Azurite::start();
    let c = azurite.client("steal").await;
    let metrics = common::metrics();
    let mut a = common::start_active(common::coordinator(
        &c,
        common::settings("g", "a", 30),
        Some(metrics.clone()),
    ))
    .await;
    a.commit(common::sections("one"), &common::positions(1))
        .await
        .unwrap();
    let mut fence = a.fence();
    assert!(fence.permits());

    // A foreign processor in the same consumer group takes partition 3 on the tag
    // it read (again at its next round when A renewed in between, as a load
    // balancer does).
    let blob = common::partitions()[3].ownership_blob();
    let thief = Metadata::from([("ownerid".to_owned(), "foreign-processor".to_owned())]);
    common::wait_until("the foreign processor's claim wins", || {
        let (c, blob, thief) = (c.clone(), blob.clone(), thief.clone());
        async move {
            let props = c.properties(&blob).await.unwrap();
            match c
                .set_metadata(&blob, &thief, &Condition::IfMatch(props.etag))
                .await
            {
                Ok(_) => true,
                Err(e) if e.is_lost_race() => false,
                Err(e) => panic!("{e}"),
            }
        }
    })
    .await;

    let reason = within("A notices the steal", fence.lost()).await;
    assert_eq!(
        reason,
        LostReason::Stolen {
            blob,
            by: Some("foreign-processor".into())
        }
    );
    assert!(!fence.permits());
    assert_eq!(metrics.value("renewals", "stolen"), Some(1));
    assert_eq!(metrics.value("role", "lost"), Some(1));
    assert_eq!(metrics.value("fence", "lost"), Some(1));
    let err = a
        .commit(common::sections("two"), &common::positions(2))
        .await
        .unwrap_err();
    assert!(
        matches!(err, CoordinateError::Lost(LostReason::Stolen { .. })),
        "{err}"
    );
    let layout = GroupLayout::new("g").unwrap();
    let (m, _) = manifest::load(&c, &layout).await.unwrap().unwrap();
    assert_eq!(m.commit, 1, "nothing committed after the steal");
}

#[tokio::test]
async fn a_newer_epoch_fences_the_old_owners_commit() {
    let azurite = Azurite::start();
    let c = azurite.client("epoch").await;
    let metrics = common::metrics();
    let mut a = common::start_active(common::coordinator(
        &c,
        common::settings("g", "a", 30),
        Some(metrics.clone()),
    ))
    .await;
    a.commit(common::sections("one"), &common::positions(1))
        .await
        .unwrap();

    // A new owner's takeover step: the manifest raised to the next epoch.
    let layout = GroupLayout::new("g").unwrap();
    let (mut m, etag) = manifest::load(&c, &layout).await.unwrap().unwrap();
    m.epoch += 1;
    m.owner_id = "b".into();
    let newer = manifest::store(&c, &layout, &m, &Condition::IfMatch(etag))
        .await
        .unwrap();

    let err = a
        .commit(common::sections("two"), &common::positions(2))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, CoordinateError::Lost(LostReason::Fenced { blob }) if *blob == layout.manifest_blob()),
        "{err}"
    );
    assert_eq!(
        a.fence().state(),
        FenceState::Lost(LostReason::Fenced {
            blob: layout.manifest_blob()
        })
    );
    assert_eq!(metrics.value("commits", "fenced"), Some(1));
    let (after, tag) = manifest::load(&c, &layout).await.unwrap().unwrap();
    assert_eq!(
        (after.epoch, after.owner_id.as_str(), after.commit),
        (2, "b", 1)
    );
    assert_eq!(tag, newer, "the old owner wrote nothing after");
    let err = a
        .commit(common::sections("three"), &common::positions(3))
        .await
        .unwrap_err();
    assert!(matches!(err, CoordinateError::Lost(_)), "{err}");
}

#[tokio::test]
async fn a_cut_off_owner_is_fenced_before_the_standby_takes_over() {
    let azurite = Azurite::start();
    let direct = azurite.client("frozen").await;
    let cut = TcpCut::start(azurite.port()).await;
    let through_cut = azurite::client_at(
        &azurite::endpoint_at(cut.port(), false),
        "frozen",
        azurite::shared_key(),
        azurite::options(),
    );
    let a_metrics = common::metrics();
    let mut a = common::start_active(common::coordinator(
        &through_cut,
        common::settings("g", "a", 6),
        Some(a_metrics.clone()),
    ))
    .await;
    a.commit(common::sections("one"), &common::positions(1))
        .await
        .unwrap();
    let b = common::start_standby(common::coordinator(
        &direct,
        common::settings("g", "b", 6),
        None,
    ))
    .await;
    let cancel = CancellationToken::new();
    let waiting = tokio::spawn({
        let cancel = cancel.clone();
        async move { b.wait_for_takeover(&cancel).await }
    });

    // A can no longer reach the storage (as if frozen or partitioned away).
    cut.cut();
    let mut b = within("B's takeover", waiting)
        .await
        .unwrap()
        .unwrap()
        .expect("not cancelled");
    // The moment B holds the group, A's own deadline has already closed its fence.
    assert_eq!(a.fence().state(), FenceState::Lost(LostReason::Deadline));
    assert!(a_metrics.value("renewals", "failed").unwrap_or(0) >= 1);
    assert_eq!(b.epoch(), 2);
    assert!(
        matches!(b.take_resume(), Some(kvwatch::coordinate::Resume::Snapshot(r)) if r.commit == 1)
    );

    // A's network comes back: it still commits nothing.
    cut.restore();
    let layout = GroupLayout::new("g").unwrap();
    let (_, before) = manifest::load(&direct, &layout).await.unwrap().unwrap();
    let err = a
        .commit(common::sections("late"), &common::positions(9))
        .await
        .unwrap_err();
    assert!(
        matches!(err, CoordinateError::Lost(LostReason::Deadline)),
        "{err}"
    );
    let (m, after) = manifest::load(&direct, &layout).await.unwrap().unwrap();
    assert_eq!((m.epoch, m.owner_id.as_str()), (2, "b"));
    assert_eq!(before, after);
    assert!(b.fence().permits());
}
