//! Snapshots against Azurite: old ones are collected, and a damaged snapshot, an
//! unknown snapshot version or an unknown manifest format stops a takeover with an
//! error naming the blob, overwriting nothing.

use kvwatch::coordinate::blob::{Condition, Metadata};
use kvwatch::coordinate::manifest::{self, MANIFEST_FORMAT};
use kvwatch::coordinate::ownership::{self, Holder};
use kvwatch::coordinate::snapshot::{self, SnapshotError};
use kvwatch::coordinate::{CoordinateError, GroupLayout, ManifestError};

use crate::azurite::Azurite;
use crate::common;

#[tokio::test]
async fn old_snapshots_are_collected_and_the_newest_are_kept() {
    let azurite = Azurite::start();
    let c = azurite.client("collect").await;
    let mut a = common::start_active(common::coordinator(
        &c,
        common::settings("g", "a", 30),
        None,
    ))
    .await;
    for n in 1..=5 {
        let done = a
            .commit(common::sections(&n.to_string()), &common::positions(n))
            .await
            .unwrap();
        assert_eq!(done.commit, n as u64);
    }
    let layout = GroupLayout::new("g").unwrap();
    let names: Vec<String> = c
        .list(&layout.snapshot_prefix())
        .await
        .unwrap()
        .into_iter()
        .map(|b| b.name)
        .collect();
    assert_eq!(
        names,
        [layout.snapshot_blob(1, 4), layout.snapshot_blob(1, 5)]
    );
    let (m, _) = manifest::load(&c, &layout).await.unwrap().unwrap();
    assert_eq!(m.snapshot.unwrap().name, layout.snapshot_blob(1, 5));
    let blob = c.properties(&layout.snapshot_blob(1, 5)).await.unwrap();
    assert_eq!(
        blob.metadata.get("kvwatchformat").map(String::as_str),
        Some("kvwatch-state/1")
    );
}

/// Commits once as `a`, releases, lets `damage` change the container, then
/// starts `b`; returns b's error and checks that nothing was overwritten.
async fn takeover_after(
    container: &str,
    damage: impl AsyncFnOnce(&kvwatch::coordinate::BlobClient, &GroupLayout),
) -> CoordinateError {
    let azurite = Azurite::start();
    let c = azurite.client(container).await;
    let layout = GroupLayout::new("g").unwrap();
    let mut a = common::start_active(common::coordinator(
        &c,
        common::settings("g", "a", 30),
        None,
    ))
    .await;
    a.commit(common::sections("one"), &common::positions(1))
        .await
        .unwrap();
    a.release().await.unwrap();
    damage(&c, &layout).await;
    let before = c.get(&layout.manifest_blob(), 1 << 20).await.unwrap();
    let Err(err) = common::coordinator(&c, common::settings("g", "b", 30), None)
        .start()
        .await
    else {
        panic!("b started from damaged state")
    };
    let after = c.get(&layout.manifest_blob(), 1 << 20).await.unwrap();
    assert_eq!(before.body, after.body, "the manifest was not touched");
    assert_eq!(before.props.etag, after.props.etag);
    // B gave the partitions back: it does not sit on a group it cannot run.
    let seen = ownership::observe(&c, &common::partitions()).await.unwrap();
    assert!(
        seen.iter()
            .all(|o| matches!(o.holder, Holder::Released { .. })),
        "{seen:?}"
    );
    err
}

#[tokio::test]
async fn a_damaged_snapshot_stops_the_takeover() {
    let err = takeover_after("damaged", async |c, layout| {
        let name = layout.snapshot_blob(1, 1);
        let mut bytes = c.get(&name, 1 << 20).await.unwrap().body;
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        c.put(
            &name,
            bytes,
            "application/octet-stream",
            &Metadata::new(),
            &Condition::Always,
        )
        .await
        .unwrap();
    })
    .await;
    assert!(
        matches!(
            err,
            CoordinateError::Snapshot(SnapshotError::HashMismatch { .. })
        ),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("kvwatch/g/state/0000000000000001-0000000000000001"),
        "{err}"
    );
}

#[tokio::test]
async fn an_unknown_snapshot_version_is_named() {
    let err = takeover_after("version", async |c, layout| {
        // A snapshot a newer kvwatch wrote, referenced with its correct hash.
        let name = layout.snapshot_blob(1, 2);
        let mut bytes = snapshot::encode(&common::sections("new"), &name, 1 << 20).unwrap();
        bytes[5] = 9;
        let (mut m, etag) = manifest::load(c, layout).await.unwrap().unwrap();
        let mut r = m.snapshot.clone().unwrap();
        r.name = name.clone();
        r.sha256 = snapshot::sha256_hex(&bytes);
        r.bytes = bytes.len() as u64;
        m.snapshot = Some(r);
        m.commit = 2;
        c.put(
            &name,
            bytes,
            "application/octet-stream",
            &Metadata::new(),
            &Condition::IfAbsent,
        )
        .await
        .unwrap();
        manifest::store(c, layout, &m, &Condition::IfMatch(etag))
            .await
            .unwrap();
    })
    .await;
    let text = err.to_string();
    assert!(text.contains("format version 9 is unknown"), "{text}");
    assert!(
        text.contains("kvwatch/g/state/0000000000000001-0000000000000002"),
        "{text}"
    );
}

#[tokio::test]
async fn an_unknown_manifest_format_is_named() {
    let err = takeover_after("manifest", async |c, layout| {
        let name = layout.manifest_blob();
        let text = String::from_utf8(c.get(&name, 1 << 20).await.unwrap().body).unwrap();
        let newer = text.replace(MANIFEST_FORMAT, "kvwatch-coordination/7");
        c.put(
            &name,
            newer.into_bytes(),
            "application/json",
            &Metadata::new(),
            &Condition::Always,
        )
        .await
        .unwrap();
    })
    .await;
    assert!(
        matches!(
            err,
            CoordinateError::Manifest(ManifestError::Unreadable { .. })
        ),
        "{err}"
    );
    let text = err.to_string();
    assert!(
        text.contains("kvwatch/g/manifest") && text.contains("kvwatch-coordination/7"),
        "{text}"
    );
}
