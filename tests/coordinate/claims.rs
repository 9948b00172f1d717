//! Ownership claims on the standard blobs against Azurite: a claim and the lost
//! race (409), renewal and the stale tag (412, told apart from our own write whose
//! answer was lost), a steal of an expired owner, all-or-nothing claims in order,
//! and release.

use std::time::Duration;

use kvwatch::coordinate::blob::{Condition, Metadata};
use kvwatch::coordinate::ownership::{self, Claim, Holder, Renewal};

use crate::azurite::Azurite;
use crate::common;

const EXPIRY: Duration = Duration::from_secs(30);

fn owner(id: &str) -> Metadata {
    Metadata::from([("ownerid".to_owned(), id.to_owned())])
}

#[tokio::test]
async fn claim_lost_race_renew_stale_tag_and_steal() {
    let azurite = Azurite::start();
    let c = azurite.client("claims").await;
    let parts = common::partitions();

    let seen = ownership::observe(&c, &parts).await.unwrap();
    assert!(seen.iter().all(|o| o.holder == Holder::Absent));
    let Claim::Taken(mut a) = ownership::claim_all(&c, &seen, "a").await.unwrap() else {
        panic!("a free group is claimed");
    };
    assert_eq!(a.len(), 4);

    // B acted on the same (now stale) observation: 409 on the first blob, nothing held.
    match ownership::claim_all(&c, &seen, "b").await.unwrap() {
        Claim::Lost { blob } => assert_eq!(blob, parts[0].ownership_blob()),
        Claim::Taken(_) => panic!("two owners"),
    }
    let now = ownership::observe(&c, &parts).await.unwrap();
    for o in &now {
        assert!(
            matches!(&o.holder, Holder::Owned { owner, age, .. } if owner == "a" && *age < EXPIRY),
            "{o:?}"
        );
        assert!(!o.claimable("b", EXPIRY) && o.claimable("a", EXPIRY));
        assert_eq!(o.other_owner("b", EXPIRY), Some("a"));
    }

    // Renewal moves every tag.
    let before: Vec<_> = a.iter().map(|h| h.etag.clone()).collect();
    assert!(matches!(
        ownership::renew(&c, &mut a, "a").await,
        Renewal::Renewed
    ));
    assert!(a.iter().zip(&before).all(|(h, old)| h.etag != *old));

    // Our own write whose answer was lost: the stale tag gets 412, the blob still
    // names us, so the renewal adopts the new tag instead of calling it a steal.
    let lost_answer = c
        .set_metadata(
            &parts[1].ownership_blob(),
            &owner("a"),
            &Condition::IfMatch(a[1].etag.clone()),
        )
        .await
        .unwrap();
    assert!(matches!(
        ownership::renew(&c, &mut a, "a").await,
        Renewal::Renewed
    ));
    assert_eq!(
        a[1].etag, lost_answer.etag,
        "the landed write's tag is adopted"
    );
    assert!(matches!(
        ownership::renew(&c, &mut a, "a").await,
        Renewal::Renewed
    ));

    // B may steal only what it sees as expired (here: an expiry of zero), on the
    // tags it observed; then A's renewal finds the steal.
    let now = ownership::observe(&c, &parts).await.unwrap();
    assert!(now.iter().all(|o| o.claimable("b", Duration::ZERO)));
    let Claim::Taken(_) = ownership::claim_all(&c, &now, "b").await.unwrap() else {
        panic!("an expired group is claimed");
    };
    match ownership::renew(&c, &mut a, "a").await {
        Renewal::Stolen { blob, by } => {
            assert!(parts.iter().any(|p| p.ownership_blob() == blob), "{blob}");
            assert_eq!(by.as_deref(), Some("b"));
        }
        other => panic!("expected a steal, got {other:?}"),
    }
}

#[tokio::test]
async fn claims_are_all_or_nothing_in_order_and_release_gives_back() {
    let azurite = Azurite::start();
    let c = azurite.client("claims").await;
    let parts = common::partitions();
    let seen = ownership::observe(&c, &parts).await.unwrap();

    // Another instance takes partition 2 between B's look and B's claim.
    c.put(
        &parts[2].ownership_blob(),
        Vec::new(),
        "application/octet-stream",
        &owner("other"),
        &Condition::IfAbsent,
    )
    .await
    .unwrap();
    match ownership::claim_all(&c, &seen, "b").await.unwrap() {
        Claim::Lost { blob } => assert_eq!(blob, parts[2].ownership_blob()),
        Claim::Taken(_) => panic!("b cannot hold partition 2"),
    }
    // What B took on the way (0 and 1) is given back, and 3 was never touched.
    let now = ownership::observe(&c, &parts).await.unwrap();
    assert!(
        matches!(now[0].holder, Holder::Released { .. }),
        "{:?}",
        now[0]
    );
    assert!(
        matches!(now[1].holder, Holder::Released { .. }),
        "{:?}",
        now[1]
    );
    assert!(matches!(&now[2].holder, Holder::Owned { owner, .. } if owner == "other"));
    assert_eq!(now[3].holder, Holder::Absent);

    // Released blobs are claimable by anyone; a release by the holder frees all.
    c.delete(&parts[2].ownership_blob(), &Condition::Always)
        .await
        .unwrap();
    let now = ownership::observe(&c, &parts).await.unwrap();
    assert!(now.iter().all(|o| o.claimable("c", EXPIRY)));
    let Claim::Taken(held) = ownership::claim_all(&c, &now, "c").await.unwrap() else {
        panic!("claimable");
    };
    ownership::release(&c, &held, "c").await;
    let now = ownership::observe(&c, &parts).await.unwrap();
    assert!(
        now.iter()
            .all(|o| matches!(o.holder, Holder::Released { .. })),
        "{now:?}"
    );
}
