//! What other Event Hubs tools see: the blob names and metadata of the standard
//! checkpoint-store layout, read by listing the container; then the SDK's own
//! `CheckpointStore` trait (azure_messaging_eventhubs 0.16), implemented over
//! kvwatch's blob client the way the SDKs' blob stores do it, reading kvwatch's
//! ownership and checkpoints, stealing a partition, and seeding a new group.

use std::collections::BTreeMap;

use azure_core::http::Etag;
use azure_core::time::OffsetDateTime;
use azure_messaging_eventhubs::models::{Checkpoint, Ownership};
use azure_messaging_eventhubs::CheckpointStore;

use kvwatch::coordinate::blob::{BlobClient, BlobError, Condition, ETag, Metadata};
use kvwatch::coordinate::{LostReason, MirrorPosition, PartitionRef, Resume};

use crate::azurite::Azurite;
use crate::common::{self, within};

#[tokio::test]
async fn the_blob_names_and_metadata_other_tools_read() {
    let azurite = Azurite::start();
    let c = azurite.client("layout").await;
    let mut a = common::start_active(common::coordinator(
        &c,
        common::settings("g", "a", 30),
        None,
    ))
    .await;
    a.commit(common::sections("one"), &common::positions(41))
        .await
        .unwrap();

    let prefix = "kvw-test.servicebus.windows.net/insights-logs-auditevent/$default/";
    let listed = c.list("").await.unwrap();
    let (standard, ours): (Vec<_>, Vec<_>) =
        listed.iter().partition(|b| !b.name.starts_with("kvwatch/"));
    for b in &standard {
        // Lowercased names, five segments: namespace, hub, group, kind, partition.
        assert!(b.name.starts_with(prefix), "{}", b.name);
        let segments: Vec<&str> = b.name.split('/').collect();
        assert_eq!(segments.len(), 5, "{}", b.name);
        assert!(segments[4].parse::<u32>().is_ok(), "{}", b.name);
        match segments[3] {
            "ownership" => assert_eq!(b.metadata.get("ownerid").map(String::as_str), Some("a")),
            "checkpoint" => {
                let sequence: i64 = b.metadata["sequencenumber"].parse().expect("an int64");
                let offset: i64 = b.metadata["offset"]
                    .parse()
                    .expect("an int64 for Java and Go");
                assert_eq!(offset, sequence * 1024);
                assert!(b
                    .metadata
                    .keys()
                    .all(|k| k == "sequencenumber" || k == "offset"));
            }
            other => panic!("unexpected kind {other} in {}", b.name),
        }
    }
    assert_eq!(standard.len(), 8, "4 ownership + 4 checkpoint blobs");
    let ours: Vec<&str> = ours.iter().map(|b| b.name.as_str()).collect();
    assert_eq!(
        ours,
        [
            "kvwatch/g/manifest",
            "kvwatch/g/state/0000000000000001-0000000000000001"
        ]
    );
}

/// The SDK's checkpoint-store contract over kvwatch's blob client, written the way
/// the SDKs' blob stores behave (claims on the listed tag or `If-None-Match: *`,
/// unconditional checkpoint updates), with names lowercased as .NET and Python do.
struct SdkStore(BlobClient);

fn azure_error(e: BlobError) -> azure_core::Error {
    azure_core::Error::with_message(azure_core::error::ErrorKind::Other, e.to_string())
}

fn prefix(namespace: &str, hub: &str, group: &str, kind: &str) -> String {
    format!("{namespace}/{hub}/{group}/{kind}/").to_ascii_lowercase()
}

fn time(t: Option<chrono::DateTime<chrono::Utc>>) -> Option<OffsetDateTime> {
    t.and_then(|t| OffsetDateTime::from_unix_timestamp(t.timestamp()).ok())
}

#[async_trait::async_trait]
impl CheckpointStore for SdkStore {
    async fn claim_ownership(
        &self,
        ownerships: &[Ownership],
    ) -> azure_core::Result<Vec<Ownership>> {
        let mut claimed = Vec::new();
        for o in ownerships {
            let blob = format!(
                "{}{}",
                prefix(
                    &o.fully_qualified_namespace,
                    &o.event_hub_name,
                    &o.consumer_group,
                    "ownership"
                ),
                o.partition_id
            );
            let metadata =
                Metadata::from([("ownerid".to_owned(), o.owner_id.clone().unwrap_or_default())]);
            let written = match &o.etag {
                None => {
                    self.0
                        .put(
                            &blob,
                            Vec::new(),
                            "application/octet-stream",
                            &metadata,
                            &Condition::IfAbsent,
                        )
                        .await
                }
                Some(etag) => {
                    let etag = ETag::parse(etag.as_ref()).expect("a tag");
                    self.0
                        .set_metadata(&blob, &metadata, &Condition::IfMatch(etag))
                        .await
                }
            };
            match written {
                Ok(w) => {
                    let mut o = o.clone();
                    o.etag = Some(Etag::from(w.etag.as_str()));
                    o.last_modified_time = time(Some(w.last_modified));
                    claimed.push(o);
                }
                // A lost race is not an error for the SDK: the partition is not claimed.
                Err(e) if e.is_lost_race() => {}
                Err(e) => return Err(azure_error(e)),
            }
        }
        Ok(claimed)
    }

    async fn list_checkpoints(
        &self,
        ns: &str,
        hub: &str,
        group: &str,
    ) -> azure_core::Result<Vec<Checkpoint>> {
        let listed = self
            .0
            .list(&prefix(ns, hub, group, "checkpoint"))
            .await
            .map_err(azure_error)?;
        Ok(listed
            .into_iter()
            .map(|b| Checkpoint {
                fully_qualified_namespace: ns.to_owned(),
                event_hub_name: hub.to_owned(),
                consumer_group: group.to_owned(),
                partition_id: b.name.rsplit('/').next().unwrap_or_default().to_owned(),
                offset: b.metadata.get("offset").cloned(),
                sequence_number: b
                    .metadata
                    .get("sequencenumber")
                    .and_then(|s| s.parse().ok()),
            })
            .collect())
    }

    async fn list_ownerships(
        &self,
        ns: &str,
        hub: &str,
        group: &str,
    ) -> azure_core::Result<Vec<Ownership>> {
        let listed = self
            .0
            .list(&prefix(ns, hub, group, "ownership"))
            .await
            .map_err(azure_error)?;
        Ok(listed
            .into_iter()
            .map(|b| Ownership {
                fully_qualified_namespace: ns.to_owned(),
                event_hub_name: hub.to_owned(),
                consumer_group: group.to_owned(),
                partition_id: b.name.rsplit('/').next().unwrap_or_default().to_owned(),
                owner_id: b.metadata.get("ownerid").cloned(),
                etag: Some(Etag::from(b.etag.as_str())),
                last_modified_time: time(b.last_modified),
            })
            .collect())
    }

    async fn update_checkpoint(&self, c: Checkpoint) -> azure_core::Result<()> {
        let blob = format!(
            "{}{}",
            prefix(
                &c.fully_qualified_namespace,
                &c.event_hub_name,
                &c.consumer_group,
                "checkpoint"
            ),
            c.partition_id
        );
        let mut metadata = Metadata::new();
        if let Some(s) = c.sequence_number {
            metadata.insert("sequencenumber".into(), s.to_string());
        }
        if let Some(o) = c.offset {
            metadata.insert("offset".into(), o);
        }
        match self
            .0
            .set_metadata(&blob, &metadata, &Condition::Always)
            .await
        {
            Err(BlobError::NotFound { .. }) => self
                .0
                .put(
                    &blob,
                    Vec::new(),
                    "application/octet-stream",
                    &metadata,
                    &Condition::Always,
                )
                .await
                .map(|_| ())
                .map_err(azure_error),
            other => other.map(|_| ()).map_err(azure_error),
        }
    }
}

const NS: &str = "KVW-Test.servicebus.windows.net";
const HUB: &str = "Insights-Logs-AuditEvent";

#[tokio::test]
async fn the_sdk_checkpoint_store_reads_kvwatch_steals_and_seeds() {
    let azurite = Azurite::start();
    let c = azurite.client("sdk").await;
    let store = SdkStore(c.clone());
    let mut a = common::start_active(common::coordinator(
        &c,
        common::settings("g", "a", 30),
        None,
    ))
    .await;
    a.commit(common::sections("one"), &common::positions(500))
        .await
        .unwrap();

    // The SDK sees kvwatch's checkpoints (offset and sequence number) and owner.
    let mut checkpoints = store.list_checkpoints(NS, HUB, "$Default").await.unwrap();
    checkpoints.sort_by(|x, y| x.partition_id.cmp(&y.partition_id));
    let seen: Vec<(String, Option<i64>, Option<String>)> = checkpoints
        .into_iter()
        .map(|c| (c.partition_id, c.sequence_number, c.offset))
        .collect();
    let want: Vec<(String, Option<i64>, Option<String>)> = (0..4)
        .map(|p| {
            (
                p.to_string(),
                Some(500 + p),
                Some(((500 + p) * 1024).to_string()),
            )
        })
        .collect();
    assert_eq!(seen, want);
    let ownerships = store.list_ownerships(NS, HUB, "$Default").await.unwrap();
    assert_eq!(ownerships.len(), 4);
    assert!(ownerships
        .iter()
        .all(|o| o.owner_id.as_deref() == Some("a") && o.last_modified_time.is_some()));

    // An SDK processor in the same consumer group claims partition 2 on its listed
    // tag, as its load balancer would (again at its next round when kvwatch renewed
    // in between): kvwatch's fence closes.
    common::wait_until("the SDK's claim wins", || {
        let store = &store;
        async move {
            let listed = store.list_ownerships(NS, HUB, "$Default").await.unwrap();
            let mut wanted = listed.into_iter().find(|o| o.partition_id == "2").unwrap();
            wanted.owner_id = Some("sdk-processor".into());
            store.claim_ownership(&[wanted]).await.unwrap().len() == 1
        }
    })
    .await;
    let mut fence = a.fence();
    match within("kvwatch notices the SDK's claim", fence.lost()).await {
        LostReason::Stolen { by, .. } => assert_eq!(by.as_deref(), Some("sdk-processor")),
        other => panic!("{other:?}"),
    }

    // A group that kvwatch never ran, whose checkpoints an SDK processor wrote: a
    // new kvwatch group resumes from them.
    for p in 0..4 {
        store
            .update_checkpoint(Checkpoint {
                fully_qualified_namespace: NS.into(),
                event_hub_name: HUB.into(),
                consumer_group: "migrating".into(),
                partition_id: p.to_string(),
                offset: Some((p * 10).to_string()),
                sequence_number: Some(p),
            })
            .await
            .unwrap();
    }
    let parts: Vec<PartitionRef> = (0..4)
        .map(|p| PartitionRef::new(NS, HUB, "migrating", &p.to_string()))
        .collect();
    let mut m = match kvwatch::coordinate::Coordinator::new(
        c.clone(),
        common::settings("migrating", "k", 30),
        &parts,
        None,
        std::sync::Arc::new(kvwatch::pipeline::clock::SystemClock),
    )
    .unwrap()
    .start()
    .await
    .unwrap()
    {
        kvwatch::coordinate::Started::Active(m) => *m,
        kvwatch::coordinate::Started::Standby(_) => panic!("a fresh group"),
    };
    let want: BTreeMap<PartitionRef, MirrorPosition> = parts
        .iter()
        .zip(0..)
        .map(|(p, n)| {
            (
                p.clone(),
                MirrorPosition {
                    sequence_number: n,
                    offset: (n * 10).to_string(),
                },
            )
        })
        .collect();
    assert_eq!(m.take_resume(), Some(Resume::Checkpoints(want)));
}
