//! Drives the real Event Hubs SDK (`azure_messaging_eventhubs` 0.16) against
//! the embedded hub (`kvwatch::embedded_hub`), over real AMQP on 127.0.0.1.
//!
//! Every await is bounded by [`STEP`]. Nothing sleeps to synchronise: a test
//! that needs a receiver to be attached waits for the stand-in to list it.

use azure_messaging_eventhubs::{
    error::ErrorKind,
    models::{EventData, ReceivedEventData},
    ConsumerClient, EventDataBatchOptions, EventHubsError, OpenReceiverOptions, ProducerClient,
    SendEventOptions, StartLocation, StartPosition,
};
use futures::{Stream, StreamExt};
use kvwatch::embedded_hub::{EmbeddedHub, EmbeddedHubConfig, StoredEvent};
use std::{future::Future, time::Duration};
use tokio::{sync::mpsc, task::JoinHandle, time::timeout};

const HUB: &str = "audit-logs";
const DEFAULT_GROUP: &str = "$Default";
/// The bound on every single await; generous for a loaded 2-core CI machine.
const STEP: Duration = Duration::from_secs(30);

type Received = Result<ReceivedEventData, EventHubsError>;

/// Awaits `future`, failing the test if it takes longer than [`STEP`].
async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    timeout(STEP, future)
        .await
        .unwrap_or_else(|_| panic!("timed out after {STEP:?}: {what}"))
}

/// Sends `tracing` output to the test's captured output; `RUST_LOG` filters it.
fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .with_ansi(false)
        .try_init();
}

async fn start_standin() -> EmbeddedHub {
    init_tracing();
    let config = EmbeddedHubConfig::new().with_hub(HUB, 2);
    within("start the embedded hub", EmbeddedHub::start(config))
        .await
        .expect("the stand-in starts")
}

async fn open_consumer(standin: &EmbeddedHub) -> ConsumerClient {
    let open = ConsumerClient::builder()
        .with_custom_endpoint(standin.endpoint())
        .open(standin.namespace(), HUB.to_string(), standin.credential());
    within("open a consumer", open)
        .await
        .expect("the consumer connects")
}

async fn open_producer(standin: &EmbeddedHub) -> ProducerClient {
    let open = ProducerClient::builder()
        .with_custom_endpoint(standin.endpoint())
        .open(standin.namespace(), HUB, standin.credential());
    within("open a producer", open)
        .await
        .expect("the producer connects")
}

fn from(location: StartLocation, inclusive: bool, owner_level: Option<i64>) -> OpenReceiverOptions {
    OpenReceiverOptions {
        start_position: Some(StartPosition {
            location,
            inclusive,
        }),
        owner_level,
        ..Default::default()
    }
}

/// Opens a receiver and polls its stream on a task, forwarding every item.
/// The SDK attaches the link on the first poll, so the task is what attaches.
async fn spawn_receiver(
    consumer: &ConsumerClient,
    partition: &str,
    options: Option<OpenReceiverOptions>,
) -> (mpsc::UnboundedReceiver<Received>, JoinHandle<()>) {
    let open = consumer.open_receiver_on_partition(partition.to_string(), options);
    let receiver = within("open a receiver", open)
        .await
        .expect("the receiver opens");
    let (tx, rx) = mpsc::unbounded_channel();
    let task = tokio::spawn(async move {
        let mut events = std::pin::pin!(receiver.stream_events());
        while let Some(item) = events.next().await {
            if tx.send(item).is_err() {
                return;
            }
        }
    });
    (rx, task)
}

async fn next_item(items: &mut mpsc::UnboundedReceiver<Received>) -> Received {
    within("receive from the stream", items.recv())
        .await
        .expect("the receiving task is still running")
}

async fn next_event(items: &mut mpsc::UnboundedReceiver<Received>) -> ReceivedEventData {
    next_item(items).await.expect("an event, not an error")
}

/// Polls a stream for the next event and returns its sequence number.
async fn next_sequence_number(events: &mut (impl Stream<Item = Received> + Unpin)) -> i64 {
    let item = within("next event", events.next()).await;
    let event = item.expect("the stream goes on").expect("an event");
    event.sequence_number().expect("a sequence number")
}

async fn wait_for_receiver(standin: &EmbeddedHub, partition: &str, owner_level: Option<i64>) {
    let attached = standin.wait_for_receivers(HUB, DEFAULT_GROUP, partition, |receivers| {
        receivers.len() == 1 && receivers[0].owner_level == owner_level
    });
    within("the stand-in lists the receiver", attached).await;
}

fn assert_matches_stored(received: &ReceivedEventData, stored: &StoredEvent) {
    assert_eq!(received.event_data().body(), Some(stored.body.as_slice()));
    assert_eq!(received.sequence_number(), Some(stored.sequence_number));
    assert_eq!(received.offset().as_deref(), Some(stored.offset.as_str()));
    assert_eq!(received.enqueued_time(), Some(stored.enqueued_time));
}

fn is_consumer_disconnected(item: &Received) -> bool {
    matches!(item, Err(e) if matches!(e.kind, ErrorKind::ConsumerDisconnected(_)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hub_reads_hub_and_partition_properties() {
    let standin = start_standin().await;
    let consumer = open_consumer(&standin).await;

    let hub = within("hub properties", consumer.get_eventhub_properties())
        .await
        .expect("hub properties");
    assert_eq!(hub.name, HUB);
    assert_eq!(hub.partition_ids, vec!["0".to_string(), "1".to_string()]);
    assert!(hub.created_on.is_some());

    let empty = within("empty partition", consumer.get_partition_properties("1"))
        .await
        .expect("partition properties");
    assert!(empty.is_empty);
    assert_eq!(empty.last_enqueued_sequence_number, -1);
    assert_eq!(empty.last_enqueued_time_utc, None);

    standin
        .publish(HUB, "0", b"first".to_vec())
        .expect("publish");
    let last = standin
        .publish(HUB, "0", b"second".to_vec())
        .expect("publish");
    let filled = within("filled partition", consumer.get_partition_properties("0"))
        .await
        .expect("partition properties");
    assert_eq!(filled.id, "0");
    assert_eq!(filled.eventhub, HUB);
    assert!(!filled.is_empty);
    assert_eq!(filled.beginning_sequence_number, 0);
    assert_eq!(filled.last_enqueued_sequence_number, 1);
    assert_eq!(filled.last_enqueued_offset, last.offset);
    assert_eq!(filled.last_enqueued_time_utc, Some(last.enqueued_time));

    let missing = within("unknown partition", consumer.get_partition_properties("7")).await;
    assert!(missing.is_err(), "an unknown partition is an error");
    within("close", consumer.close()).await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hub_sends_a_batch_and_an_event_then_receives_them_from_earliest() {
    let standin = start_standin().await;
    let producer = open_producer(&standin).await;
    let batch_options = EventDataBatchOptions {
        partition_id: Some("0".to_string()),
        ..Default::default()
    };
    let batch = within("create a batch", producer.create_batch(Some(batch_options)))
        .await
        .expect("a batch");
    for body in ["alpha", "beta", "gamma"] {
        assert!(batch
            .try_add_event_data(body, None)
            .expect("add to the batch"));
    }
    within("send the batch", producer.send_batch(batch, None))
        .await
        .expect("the batch is accepted");
    let event = EventData::builder()
        .with_body(b"delta".to_vec())
        .with_content_type("application/json".to_string())
        .add_property("vault".to_string(), "kv-prod")
        .build();
    let options = SendEventOptions {
        partition_id: Some("0".to_string()),
    };
    within("send an event", producer.send_event(event, Some(options)))
        .await
        .expect("the event is accepted");

    let stored = standin.events(HUB, "0").expect("stored events");
    let bodies: Vec<&[u8]> = stored.iter().map(|e| e.body.as_slice()).collect();
    assert_eq!(bodies, [&b"alpha"[..], b"beta", b"gamma", b"delta"]);
    assert_eq!(
        stored.iter().map(|e| e.sequence_number).collect::<Vec<_>>(),
        [0, 1, 2, 3]
    );

    let consumer = open_consumer(&standin).await;
    let options = from(StartLocation::Earliest, false, None);
    let (mut items, _task) = spawn_receiver(&consumer, "0", Some(options)).await;
    for expected in &stored {
        let received = next_event(&mut items).await;
        assert_matches_stored(&received, expected);
    }
    let last = standin.events(HUB, "0").expect("stored")[3].clone();
    assert_eq!(
        last.properties.and_then(|p| p.content_type).map(|c| c.0),
        Some("application/json".to_string())
    );
    within("close the producer", producer.close())
        .await
        .expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hub_a_partition_key_picks_one_partition_and_travels_with_the_events() {
    let standin = start_standin().await;
    let producer = open_producer(&standin).await;
    let key = "vault-kv-prod";
    let batch_options = EventDataBatchOptions {
        partition_key: Some(key.to_string()),
        ..Default::default()
    };
    let batch = within("create a batch", producer.create_batch(Some(batch_options)))
        .await
        .expect("a batch");
    assert!(batch.try_add_event_data("keyed-1", None).expect("add"));
    assert!(batch.try_add_event_data("keyed-2", None).expect("add"));
    within("send the batch", producer.send_batch(batch, None))
        .await
        .expect("the batch is accepted");

    // Events that name neither a partition nor a key go round-robin.
    for body in ["spread-1", "spread-2"] {
        within("send", producer.send_event(body, None))
            .await
            .expect("sent");
    }
    for partition in ["0", "1"] {
        let stored = standin.events(HUB, partition).expect("stored");
        let spread = stored
            .iter()
            .filter(|e| e.body.starts_with(b"spread"))
            .count();
        assert_eq!(spread, 1, "partition {partition}");
    }

    let partition = standin.partition_for_key(HUB, key).expect("a partition");
    let stored = standin.events(HUB, &partition).expect("stored events");
    let keyed: Vec<_> = stored
        .iter()
        .filter(|e| e.body.starts_with(b"keyed"))
        .collect();
    assert_eq!(keyed.len(), 2);
    assert!(keyed
        .iter()
        .all(|e| e.partition_key.as_deref() == Some(key)));

    let consumer = open_consumer(&standin).await;
    let options = from(StartLocation::Earliest, false, None);
    let (mut items, _task) = spawn_receiver(&consumer, &partition, Some(options)).await;
    let received = next_event(&mut items).await;
    assert_eq!(received.partition_key().as_deref(), Some(key));
    assert_eq!(received.event_data().body(), Some(&b"keyed-1"[..]));
}

/// Opens a fresh client, reads the first event from `options`' position and
/// returns its sequence number.
async fn first_sequence_number(standin: &EmbeddedHub, options: OpenReceiverOptions) -> i64 {
    let consumer = open_consumer(standin).await;
    let (mut items, task) = spawn_receiver(&consumer, "1", Some(options)).await;
    let first = next_event(&mut items).await;
    task.abort();
    first.sequence_number().expect("a sequence number")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hub_starts_from_a_sequence_number_an_offset_or_an_enqueued_time() {
    let standin = start_standin().await;
    let stored: Vec<StoredEvent> = (0..5)
        .map(|n| {
            standin
                .publish(HUB, "1", format!("event-{n}").into_bytes())
                .expect("publish")
        })
        .collect();
    let cases = [
        (StartLocation::SequenceNumber(2), false, 3),
        (StartLocation::SequenceNumber(2), true, 2),
        (StartLocation::Offset(stored[1].offset.clone()), false, 2),
        (StartLocation::Offset(stored[1].offset.clone()), true, 1),
        (
            StartLocation::EnqueuedTime(stored[0].enqueued_time),
            true,
            0,
        ),
        (StartLocation::Earliest, false, 0),
    ];
    for (location, inclusive, expected) in cases {
        let label = format!("{location:?} inclusive={inclusive}");
        let options = from(location, inclusive, None);
        assert_eq!(
            first_sequence_number(&standin, options).await,
            expected,
            "{label}"
        );
    }

    // A start beyond the last event waits for it, skipping the ones before.
    let consumer = open_consumer(&standin).await;
    let options = from(StartLocation::SequenceNumber(6), true, None);
    let (mut items, _task) = spawn_receiver(&consumer, "1", Some(options)).await;
    for n in 5..7 {
        let body = format!("event-{n}").into_bytes();
        standin.publish(HUB, "1", body).expect("publish");
    }
    assert_eq!(next_event(&mut items).await.sequence_number(), Some(6));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hub_a_receiver_tails_events_stored_after_it_attached() {
    let standin = start_standin().await;
    standin
        .publish(HUB, "1", b"before".to_vec())
        .expect("publish");
    let consumer = open_consumer(&standin).await;
    // Default start position is "latest"; a small prefetch makes the test
    // cross several rounds of link credit.
    let options = OpenReceiverOptions {
        prefetch: Some(2),
        ..Default::default()
    };
    let (mut items, _task) = spawn_receiver(&consumer, "1", Some(options)).await;
    wait_for_receiver(&standin, "1", None).await;

    for n in 0..7 {
        standin
            .publish(HUB, "1", format!("live-{n}").into_bytes())
            .expect("publish");
    }
    let producer = open_producer(&standin).await;
    let options = SendEventOptions {
        partition_id: Some("1".to_string()),
    };
    within("send", producer.send_event("from-producer", Some(options)))
        .await
        .expect("sent");

    let stored = standin.events(HUB, "1").expect("stored");
    for expected in &stored[1..] {
        let received = next_event(&mut items).await;
        assert_matches_stored(&received, expected);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hub_a_higher_owner_level_steals_the_partition() {
    let standin = start_standin().await;
    standin.publish(HUB, "0", b"one".to_vec()).expect("publish");

    let first_client = open_consumer(&standin).await;
    let first_options = from(StartLocation::Earliest, false, Some(1));
    let (mut first, _t1) = spawn_receiver(&first_client, "0", Some(first_options)).await;
    assert_eq!(next_event(&mut first).await.sequence_number(), Some(0));
    wait_for_receiver(&standin, "0", Some(1)).await;

    let second_client = open_consumer(&standin).await;
    let second_options = from(StartLocation::Earliest, false, Some(2));
    let (mut second, _t2) = spawn_receiver(&second_client, "0", Some(second_options)).await;
    assert_eq!(next_event(&mut second).await.sequence_number(), Some(0));
    wait_for_receiver(&standin, "0", Some(2)).await;

    let displaced = next_item(&mut first).await;
    assert!(is_consumer_disconnected(&displaced), "{displaced:?}");
    let after = within("the stream ends", first.recv()).await;
    assert!(after.is_none(), "no item follows the steal: {after:?}");
    assert_eq!(standin.owner_level(HUB, DEFAULT_GROUP, "0"), Some(2));

    // A lower owner level, and no owner level at all, are refused.
    for owner_level in [Some(1), None] {
        let client = open_consumer(&standin).await;
        let options = from(StartLocation::Earliest, false, owner_level);
        let (mut refused, _t) = spawn_receiver(&client, "0", Some(options)).await;
        let item = next_item(&mut refused).await;
        assert!(is_consumer_disconnected(&item), "{owner_level:?}: {item:?}");
    }

    // The owner keeps receiving.
    standin.publish(HUB, "0", b"two".to_vec()).expect("publish");
    assert_eq!(next_event(&mut second).await.sequence_number(), Some(1));
    assert_eq!(standin.receivers(HUB, DEFAULT_GROUP, "0").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hub_restarts_on_the_same_port_and_serves_new_clients() {
    let standin = start_standin().await;
    let port = standin.port();
    standin
        .publish(HUB, "0", b"kept".to_vec())
        .expect("publish");
    let consumer = open_consumer(&standin).await;
    let (mut items, _task) = spawn_receiver(&consumer, "0", None).await;
    wait_for_receiver(&standin, "0", None).await;

    within("shutdown", standin.shutdown()).await;
    assert!(!standin.is_running());
    // While the stand-in is down the SDK cannot reconnect, so the stream
    // yields the error, and after an error the stream is finished.
    let dropped = next_item(&mut items).await;
    assert!(
        dropped.is_err(),
        "a dropped connection surfaces as an error: {dropped:?}"
    );
    let after = within("the stream ends", items.recv()).await;
    assert!(after.is_none(), "no item follows the error: {after:?}");

    within("restart", standin.restart()).await.expect("restart");
    assert_eq!(standin.port(), port);
    let fresh = open_consumer(&standin).await;
    let properties = within("properties", fresh.get_partition_properties("0"))
        .await
        .expect("properties after the restart");
    assert_eq!(properties.last_enqueued_sequence_number, 0);
    let options = from(StartLocation::Earliest, false, None);
    let (mut fresh_items, _t) = spawn_receiver(&fresh, "0", Some(options)).await;
    assert_eq!(
        next_event(&mut fresh_items).await.event_data().body(),
        Some(&b"kept"[..])
    );
}

/// Documents an SDK behaviour that the live consumer must handle: when the
/// connection drops and the SDK reconnects on its own, it re-attaches with the
/// filter it was opened with, so the stream delivers the events it already
/// delivered again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hub_a_reconnecting_receiver_replays_from_its_original_start() {
    let standin = start_standin().await;
    for body in ["a", "b"] {
        standin
            .publish(HUB, "0", body.as_bytes().to_vec())
            .expect("publish");
    }
    let consumer = open_consumer(&standin).await;
    let options = from(StartLocation::Earliest, false, None);
    let open = consumer.open_receiver_on_partition("0".to_string(), Some(options));
    let receiver = within("open", open).await.expect("a receiver");
    // Polled inline, so nothing polls the stream while the stand-in is down.
    let mut events = std::pin::pin!(receiver.stream_events());
    assert_eq!(next_sequence_number(&mut events).await, 0);
    assert_eq!(next_sequence_number(&mut events).await, 1);

    within("shutdown", standin.shutdown()).await;
    within("restart", standin.restart()).await.expect("restart");
    standin.publish(HUB, "0", b"c".to_vec()).expect("publish");
    let after_blip = [
        next_sequence_number(&mut events).await,
        next_sequence_number(&mut events).await,
        next_sequence_number(&mut events).await,
    ];
    assert_eq!(after_blip, [0, 1, 2], "events 0 and 1 come again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hub_a_new_stand_in_can_take_over_a_released_port() {
    let first = start_standin().await;
    let port = first.port();
    first.publish(HUB, "0", b"gone".to_vec()).expect("publish");
    within("shutdown", first.shutdown()).await;
    drop(first);

    let config = EmbeddedHubConfig::new().with_hub(HUB, 2).with_port(port);
    let second = within("start again", EmbeddedHub::start(config))
        .await
        .expect("the port is free again");
    assert_eq!(second.port(), port);
    let consumer = open_consumer(&second).await;
    let properties = within("properties", consumer.get_partition_properties("0"))
        .await
        .expect("properties");
    assert!(properties.is_empty, "a new stand-in starts empty");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hub_a_connection_string_client_authorizes_with_a_sas_token() {
    let standin = start_standin().await;
    let connection_string = standin.connection_string(None);
    let open = ProducerClient::builder()
        .with_custom_endpoint(standin.endpoint())
        .open_with_connection_string(&connection_string, Some(HUB));
    let producer = within("open", open)
        .await
        .expect("open with a connection string");
    let options = SendEventOptions {
        partition_id: Some("1".to_string()),
    };
    within("send", producer.send_event("sas", Some(options)))
        .await
        .expect("sent");
    let stored = within("stored", standin.wait_for_events(HUB, "1", 1))
        .await
        .expect("stored");
    assert_eq!(stored[0].body, b"sas");
}

/// Other AMQP clients may log in with SASL PLAIN (a SAS key name and key)
/// and send plain messages with an amqp-value body; the stand-in takes both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hub_a_plain_amqp_client_can_log_in_with_sasl_plain_and_send() {
    use fe2o3_amqp::{sasl_profile::SaslProfile, Connection, Sender, Session};

    let standin = start_standin().await;
    let endpoint = standin.endpoint();
    let open = Connection::builder()
        .container_id("plain-client")
        .sasl_profile(SaslProfile::Plain {
            username: standin.key().name().to_string(),
            password: standin.key().expose().to_string(),
        })
        .open(endpoint.as_str());
    let mut connection = within("connect", open).await.expect("SASL PLAIN passes");
    let mut session = within("begin", Session::begin(&mut connection))
        .await
        .expect("a session");
    let target = format!("{HUB}/Partitions/1");
    let attach = Sender::attach(&mut session, "plain-sender", target);
    let mut sender = within("attach", attach).await.expect("a sender");
    let outcome = within("send", sender.send("plain body"))
        .await
        .expect("sent");
    assert!(outcome.is_accepted(), "{outcome:?}");
    let stored = standin.events(HUB, "1").expect("stored");
    assert_eq!(stored[0].body, b"plain body");

    within("close the sender", sender.close())
        .await
        .expect("closed");
    within("end the session", session.end())
        .await
        .expect("ended");
    within("close the connection", connection.close())
        .await
        .expect("closed");
}

/// `EventReceiver::close` sends a non-closing detach and waits for the
/// answer; the stand-in answers in kind, so the close completes and the
/// partition is free again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hub_closing_a_receiver_detaches_it() {
    let standin = start_standin().await;
    standin.publish(HUB, "0", b"one".to_vec()).expect("publish");
    let consumer = open_consumer(&standin).await;
    let options = from(StartLocation::Earliest, false, Some(5));
    let open = consumer.open_receiver_on_partition("0".to_string(), Some(options));
    let receiver = within("open", open).await.expect("a receiver");
    {
        let mut events = std::pin::pin!(receiver.stream_events());
        assert_eq!(next_sequence_number(&mut events).await, 0);
    }
    assert_eq!(standin.owner_level(HUB, DEFAULT_GROUP, "0"), Some(5));

    // fe2o3-amqp 0.16 now and then reports "Illegal local state" for a detach that
    // did go out (a race in its link state machine, about one close in 25 here).
    // What kvwatch relies on is that the partition is free afterwards, which the
    // stand-in checks below; kvwatch itself only logs a failed close.
    if let Err(e) = within("close the receiver", receiver.close()).await {
        eprintln!("receiver close reported an error: {e}");
    }
    let released = standin.wait_for_receivers(HUB, DEFAULT_GROUP, "0", <[_]>::is_empty);
    within("the partition is released", released).await;
    within("close the consumer", consumer.close())
        .await
        .expect("closed");
}

/// Every new connection authorizes on a `$cbs` session of its own, drops it,
/// and at once begins the partition's session. fe2o3-amqp 0.16 loses the
/// whole connection when answers to its fire-and-forget detaches arrive while
/// it ends that `$cbs` session (see `hold_cbs_detach_answer`); before the
/// stand-in held those answers back, about one connection in twenty here
/// failed its first receive with "Connection must have been closed". Forty
/// fresh clients in a row must all get their event.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hub_fresh_clients_keep_their_connection_after_authorizing() {
    const CLIENTS: usize = 40;
    let standin = start_standin().await;
    standin
        .publish(HUB, "0", b"first".to_vec())
        .expect("publish");
    for client in 0..CLIENTS {
        let consumer = open_consumer(&standin).await;
        let options = from(StartLocation::Earliest, true, None);
        let open = consumer.open_receiver_on_partition("0".to_string(), Some(options));
        let receiver = within("open", open).await.expect("a receiver");
        let mut events = std::pin::pin!(receiver.stream_events());
        let item = within("the first event", events.next()).await;
        let event = item.expect("the stream goes on").unwrap_or_else(|error| {
            panic!("client {client} of {CLIENTS} lost its connection: {error}")
        });
        assert_eq!(event.sequence_number(), Some(0));
        within("close the consumer", consumer.close())
            .await
            .expect("closed");
    }
}
