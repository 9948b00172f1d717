//! Storage outages against Azurite through a TCP forwarder cut and restored: a cut
//! shorter than the deadline pauses the fence and the same ownership carries on
//! (same owner, same epoch, commits continue); a longer one loses the ownership for
//! good.

use kvwatch::coordinate::ownership::{self, Holder};
use kvwatch::coordinate::{CoordinateError, FenceState, LostReason};

use crate::azurite::{self, Azurite};
use crate::common::{self, within};
use crate::tcp_cut::TcpCut;

#[tokio::test]
async fn a_short_cut_pauses_delivery_and_the_same_ownership_carries_on() {
    let azurite = Azurite::start();
    let direct = azurite.client("short").await;
    let cut = TcpCut::start(azurite.port()).await;
    let c = azurite::client_at(
        &azurite::endpoint_at(cut.port(), false),
        "short",
        azurite::shared_key(),
        azurite::options(),
    );
    let metrics = common::metrics();
    // A 20 s expiry: the deadline (18 s after the last renewal) is far away.
    let mut a = common::start_active(common::coordinator(
        &c,
        common::settings("g", "a", 20),
        Some(metrics.clone()),
    ))
    .await;
    a.commit(common::sections("one"), &common::positions(1))
        .await
        .unwrap();
    let fence = a.fence();

    cut.cut();
    common::wait_until("the fence pauses", || {
        let f = fence.clone();
        async move { matches!(f.state(), FenceState::Paused { .. }) }
    })
    .await;
    assert!(!fence.permits(), "no delivery while paused");
    assert_eq!(metrics.value("fence", "paused"), Some(1));
    let err = a
        .commit(common::sections("during"), &common::positions(2))
        .await
        .unwrap_err();
    assert!(
        err.is_transient(),
        "a commit during the cut fails, retryably: {err}"
    );

    cut.restore();
    let mut open = fence.clone();
    within("the fence reopens", open.wait_open()).await.unwrap();
    assert_eq!(a.epoch(), 1, "the same ownership, no takeover");
    let seen = ownership::observe(&direct, &common::partitions())
        .await
        .unwrap();
    assert!(seen
        .iter()
        .all(|o| matches!(&o.holder, Holder::Owned { owner, .. } if owner == "a")));
    let next = a
        .commit(common::sections("after"), &common::positions(3))
        .await
        .unwrap();
    assert_eq!(next.commit, 2, "commits carry on from the last one");
    assert!(metrics.value("renewals", "failed").unwrap_or(0) >= 1);
    assert_eq!(metrics.value("commits", "failed"), Some(1));
    assert_eq!(metrics.value("fence", "open"), Some(1));
}

#[tokio::test]
async fn a_cut_longer_than_the_deadline_loses_the_ownership() {
    let azurite = Azurite::start();
    let cut = TcpCut::start(azurite.port()).await;
    azurite.client("long").await;
    let c = azurite::client_at(
        &azurite::endpoint_at(cut.port(), false),
        "long",
        azurite::shared_key(),
        azurite::options(),
    );
    let metrics = common::metrics();
    let mut a = common::start_active(common::coordinator(
        &c,
        common::settings("g", "a", 6),
        Some(metrics.clone()),
    ))
    .await;
    let mut fence = a.fence();
    cut.cut();
    assert_eq!(
        within("the ownership is lost", fence.lost()).await,
        LostReason::Deadline
    );
    cut.restore();
    let err = a
        .commit(common::sections("late"), &common::positions(1))
        .await
        .unwrap_err();
    assert!(
        matches!(err, CoordinateError::Lost(LostReason::Deadline)),
        "{err}"
    );
    assert_eq!(metrics.value("role", "lost"), Some(1));
    assert_eq!(
        fence.state(),
        FenceState::Lost(LostReason::Deadline),
        "lost for good"
    );
}

#[tokio::test]
async fn a_start_during_an_outage_stands_by_and_takes_over_once_storage_is_back() {
    let azurite = Azurite::start();
    let cut = TcpCut::start(azurite.port()).await;
    azurite.client("start").await;
    let c = azurite::client_at(
        &azurite::endpoint_at(cut.port(), false),
        "start",
        azurite::shared_key(),
        azurite::options(),
    );
    cut.cut();
    let standby =
        common::start_standby(common::coordinator(&c, common::settings("g", "a", 6), None)).await;
    assert!(standby.observed().is_empty(), "nothing could be read");
    cut.restore();
    let cancel = tokio_util::sync::CancellationToken::new();
    let active = within(
        "the takeover once storage is back",
        standby.wait_for_takeover(&cancel),
    )
    .await
    .unwrap()
    .expect("not cancelled");
    assert_eq!(active.epoch(), 1);
    assert!(active.fence().permits());
}
