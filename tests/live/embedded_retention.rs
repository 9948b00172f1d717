//! Retention and growing partition counts, as the service has them: the real SDK reads
//! partitions that begin past sequence number 0 and whose old events age out, and
//! sees partitions added to a hub; `kvwatch run` reads a partition beginning past 0,
//! reads on past events removed while it was stopped (counting the gap), and reads partitions added while
//! it runs, with no alert lost or doubled.

use std::time::Duration;

use crate::embedded_faults::assert_exactly;
use crate::live_support::*;
use azure_messaging_eventhubs::{
    ConsumerClient, OpenReceiverOptions, ProducerClient, SendEventOptions, StartLocation,
    StartPosition,
};
use chrono::DateTime;
use futures::StreamExt;
use kvwatch::embedded_hub::{EmbeddedHub, HubSpec};

const HUB: &str = "audit";

async fn consumer(hub: &EmbeddedHub, name: &str) -> ConsumerClient {
    let open = ConsumerClient::builder()
        .with_custom_endpoint(hub.endpoint())
        .open(hub.namespace(), name.to_string(), credential());
    within("open a consumer", open).await.expect("connects")
}

/// The first sequence number a receiver of a new client (the SDK caches one link per
/// partition and client) starting at `location` gets from partition 0 of `name`.
async fn first_received(hub: &EmbeddedHub, name: &str, location: StartLocation) -> i64 {
    let client = consumer(hub, name).await;
    let options = OpenReceiverOptions {
        start_position: Some(StartPosition {
            location,
            inclusive: false,
        }),
        ..Default::default()
    };
    let open = client.open_receiver_on_partition("0".into(), Some(options));
    let receiver = within("open a receiver", open).await.expect("a receiver");
    let mut events = std::pin::pin!(receiver.stream_events());
    let event = within("the first event", events.next())
        .await
        .expect("the stream goes on")
        .expect("an event");
    event.sequence_number().expect("a sequence number")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sdk_reads_partitions_that_begin_past_zero_and_lose_old_events() {
    let config = hub_config(&[])
        .with_hub_spec(HubSpec::new("old", 1).beginning_at(1000))
        .with_hub_spec(HubSpec::new("aging", 1).with_retention(Duration::from_millis(300)));
    let standin = start_hub(config).await;

    let old = consumer(&standin, "old").await;
    let empty = within("properties", old.get_partition_properties("0"))
        .await
        .unwrap();
    assert!(empty.is_empty);
    assert_eq!(empty.beginning_sequence_number, 1000);
    for body in ["a", "b", "c"] {
        standin.publish("old", "0", body.into()).unwrap();
    }
    let props = within("properties", old.get_partition_properties("0"))
        .await
        .unwrap();
    assert_eq!(
        (
            props.beginning_sequence_number,
            props.last_enqueued_sequence_number
        ),
        (1000, 1002)
    );
    assert_eq!(
        first_received(&standin, "old", StartLocation::Earliest).await,
        1000
    );
    assert_eq!(
        first_received(&standin, "old", StartLocation::SequenceNumber(5)).await,
        1000,
        "a position older than the partition starts at its first event"
    );

    for body in ["x", "y"] {
        standin.publish("aging", "0", body.into()).unwrap();
    }
    wait_until("retention removes both events", || {
        standin.first_available("aging", "0").unwrap() == 2
    })
    .await;
    let aging = consumer(&standin, "aging").await;
    let props = within("properties", aging.get_partition_properties("0"))
        .await
        .unwrap();
    assert!(props.is_empty, "{props:?}");
    assert_eq!(
        (
            props.beginning_sequence_number,
            props.last_enqueued_sequence_number
        ),
        (2, 1)
    );
    standin.publish("aging", "0", b"z".to_vec()).unwrap();
    assert_eq!(
        first_received(&standin, "aging", StartLocation::Earliest).await,
        2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kvwatch_reads_on_past_events_retention_removed_while_it_was_stopped() {
    let standin =
        start_hub(hub_config(&[]).with_hub_spec(HubSpec::new(HUB, 2).beginning_at(5000))).await;
    let hook = Hook::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = config(
        dir.path(),
        "retention",
        "5m",
        "idle_after = \"1h\"",
        &format!(
            "{}\n{}",
            hub_toml(&standin, HUB, &[], None),
            webhook_toml(dir.path(), &hook.url())
        ),
    );
    let records = probing_hour();
    let third = records.len() / 3;
    let publish = |records: &[_]| {
        let mut published = Vec::new();
        for (p, bodies) in deal(records, 4, 2).iter().enumerate() {
            for b in bodies {
                let stored = standin.publish(HUB, &p.to_string(), b.clone()).unwrap();
                published.push((p, stored.sequence_number, b.clone()));
            }
        }
        published
    };
    let one = publish(&records[..third]);
    assert!(one.iter().all(|(_, seq, _)| *seq >= 5000));
    let live = start_live(&config, None).await;
    wait_status(&live, "part one taken", |s| s.bodies == one.len() as u64).await;
    live.finish();
    within("run one finishes", live.wait()).await.unwrap();

    let removed = publish(&records[third..2 * third]);
    let mut kept = publish(&records[2 * third..]);
    for p in 0..2 {
        kept.push((p, 0, sentinel(AFTER_THE_HOUR)));
        standin
            .publish(HUB, &p.to_string(), sentinel(AFTER_THE_HOUR))
            .unwrap();
        let through = removed
            .iter()
            .filter(|r| r.0 == p)
            .map(|r| r.1)
            .max()
            .unwrap();
        let gone = standin
            .faults()
            .expire_events(HUB, &p.to_string(), through)
            .unwrap();
        assert!(
            gone >= removed.iter().filter(|r| r.0 == p).count(),
            "partition {p}"
        );
    }
    let live = start_live(&config, None).await;
    let end = DateTime::parse_from_rfc3339(AFTER_THE_HOUR)
        .unwrap()
        .to_utc()
        - chrono::Duration::minutes(5);
    let status = wait_status(&live, "the rest taken", |s| s.watermark == Some(end)).await;
    assert_eq!(
        status.bodies,
        kept.len() as u64,
        "what retention kept, nothing else"
    );
    // No silent loss: each partition reports one gap, of exactly the bodies removed.
    assert_eq!(status.gaps, 2, "one gap per partition");
    let prom = live.metrics().expect("metrics").render().unwrap();
    assert_eq!(metric_sum(&prom, "kvwatch_eventhubs_gaps_total"), 2.0);
    assert_eq!(
        metric_sum(&prom, "kvwatch_eventhubs_gap_events_total"),
        removed.len() as f64,
        "the events skipped are the events removed"
    );
    live.shutdown();
    within("run two stops", live.wait()).await.unwrap();
    let seen: Vec<Vec<u8>> = one.into_iter().chain(kept).map(|r| r.2).collect();
    assert_exactly(&hook.alerts(), &reference_alerts(&config, &seen));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sdk_sees_partitions_added_to_a_hub() {
    let standin = standin(&[(HUB, 2)]).await;
    let client = consumer(&standin, HUB).await;
    let props = within("hub properties", client.get_eventhub_properties())
        .await
        .unwrap();
    assert_eq!(props.partition_ids, ["0", "1"]);
    let added = standin.faults().add_partitions(HUB, 4).unwrap();
    assert_eq!(added, ["2", "3"]);
    let props = within("hub properties", client.get_eventhub_properties())
        .await
        .unwrap();
    assert_eq!(props.partition_ids, ["0", "1", "2", "3"]);
    let open = ProducerClient::builder()
        .with_custom_endpoint(standin.endpoint())
        .open(standin.namespace(), HUB, credential());
    let producer = within("open a producer", open).await.unwrap();
    let options = SendEventOptions {
        partition_id: Some("3".into()),
    };
    within("send", producer.send_event("to the new one", Some(options)))
        .await
        .expect("sent to an added partition");
    let stored = within("stored", standin.wait_for_events(HUB, "3", 1))
        .await
        .unwrap();
    assert_eq!(stored[0].body, b"to the new one");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kvwatch_reads_partitions_added_while_it_runs() {
    let standin = standin(&[(HUB, 2)]).await;
    let hook = Hook::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = config(
        dir.path(),
        "growth",
        "5m",
        "idle_after = \"1h\"\nrelist_interval = \"200ms\"",
        &format!(
            "{}\n{}",
            hub_toml(&standin, HUB, &[], None),
            webhook_toml(dir.path(), &hook.url())
        ),
    );
    let records = probing_hour();
    let (early, late) = records.split_at(records.len() / 2);
    let mut all = Vec::new();
    for (p, bodies) in deal(early, 4, 2).iter().enumerate() {
        for b in bodies {
            standin.publish(HUB, &p.to_string(), b.clone()).unwrap();
            all.push(b.clone());
        }
    }
    let live = start_live(&config, None).await;
    let phase_one = all.len() as u64;
    wait_status(&live, "phase one taken", |s| {
        s.bodies == phase_one && s.started == 2
    })
    .await;
    assert_eq!(standin.faults().add_partitions(HUB, 4).unwrap(), ["2", "3"]);
    wait_status(&live, "the added partitions read", |s| {
        s.started == 4 && s.owned == 4
    })
    .await;
    for (p, bodies) in deal(late, 4, 4).iter().enumerate() {
        for b in bodies.iter().cloned().chain([sentinel(AFTER_THE_HOUR)]) {
            standin.publish(HUB, &p.to_string(), b.clone()).unwrap();
            all.push(b);
        }
    }
    for p in 0..2 {
        standin
            .publish(HUB, &p.to_string(), sentinel(AFTER_THE_HOUR))
            .unwrap();
        all.push(sentinel(AFTER_THE_HOUR));
    }
    let end = DateTime::parse_from_rfc3339(AFTER_THE_HOUR)
        .unwrap()
        .to_utc()
        - chrono::Duration::minutes(5);
    let status = wait_status(&live, "everything taken", |s| s.watermark == Some(end)).await;
    assert_eq!(
        status.bodies,
        all.len() as u64,
        "every body once, the added partitions' too"
    );
    let expected = reference_alerts(&config, &all);
    hook.wait_for(expected.len()).await;
    live.shutdown();
    within("the run stops", live.wait()).await.unwrap();
    assert_exactly(&hook.alerts(), &expected);
}
