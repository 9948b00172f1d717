//! `kvwatch route`: re-publishes every record of the diagnostic-setting hub to a
//! second hub, keyed by principal, so several `kvwatch run` processes can each own
//! some partitions of the keyed hub and still see all of a principal's events.
//!
//! Diagnostic settings spread records over partitions with no key, so one principal's
//! records land everywhere; per-principal detector state needs them in one place.
//! This is the Kafka-Streams repartition step, on Event Hubs itself: records are
//! grouped by principal key (`ip:<address>` for anonymous callers), each group is sent
//! as `{"records":[…]}` bodies with the key as the partition key, and a source position
//! is checkpointed only after the keyed hub accepted everything up to it. Nothing is
//! dropped: a record that does not decode goes on under the key `unparsed`, a body that
//! is not an envelope goes on whole. A crash between sending and checkpointing sends
//! some records twice; `kvwatch run` drops exact duplicates.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use azure_core::credentials::TokenCredential;
use azure_messaging_eventhubs::{EventDataBatchOptions, ProducerClient};
use futures::StreamExt;
use serde_json::value::RawValue;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::pipeline::clock::Clock;
use crate::source::eventhubs::{
    list_partitions, read_partition, ticks, Activity, Auth, Connector, PartitionSlot,
    ReaderSettings, SourceMsg,
};
use crate::state::{Checkpoint, CheckpointMeta, PartitionPosition, StateStore};

/// The partition key of records that do not decode.
pub const UNPARSED_KEY: &str = "unparsed";
/// Bodies taken from the channel per publishing round.
const ROUND: usize = 256;
/// Key groups sent at once.
const IN_FLIGHT: usize = 32;
/// The most bytes of records in one re-published body (the service takes 1 MB).
const MAX_BODY_BYTES: usize = 512 * 1024;

/// Everything `kvwatch route` needs.
#[derive(Clone)]
pub struct RouteOptions {
    /// The configuration: `[[eventhubs.hubs]]` to read, `[route]` to write.
    pub config: Config,
    /// Use this credential for every hub instead of the configured ones (tests).
    pub credential: Option<Arc<dyn TokenCredential>>,
    /// The wall clock.
    pub clock: Arc<dyn Clock>,
}

/// What a running route has done.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RouteStatus {
    /// Bodies read.
    pub bodies: u64,
    /// Records re-published.
    pub records: u64,
    /// Events (keyed bodies) sent.
    pub sent: u64,
    /// Checkpoints committed.
    pub checkpoints: u64,
    /// Positions of the last checkpoint.
    pub positions: BTreeMap<String, PartitionPosition>,
}

/// A running `kvwatch route`.
pub struct Router {
    cancel: CancellationToken,
    status: watch::Receiver<RouteStatus>,
    task: JoinHandle<Result<RouteStatus>>,
}

impl Router {
    /// Connects and starts routing in the background.
    pub async fn start(opts: RouteOptions) -> Result<Router> {
        let config = &opts.config;
        let Some(target) = &config.route.target else {
            bail!("the config has no [route.target]: nowhere to publish")
        };
        if config.eventhubs.hubs.is_empty() {
            bail!("the config has no [[eventhubs.hubs]]: nothing to read");
        }
        let eh = &config.eventhubs;
        let backoff = (eh.reconnect_initial.as_std(), eh.reconnect_max.as_std());
        let auth = |c, key: &str| match &opts.credential {
            Some(t) => Ok(Auth::Token(t.clone())),
            None => Auth::from_config(c, key),
        };
        let target = Connector::for_target(
            target,
            auth(&target.credential, "route.target.credential")?,
            eh.operation_timeout.as_std(),
            backoff,
        );
        let mut sources = Vec::new();
        for (i, hub) in eh.hubs.iter().enumerate() {
            let a = auth(&hub.credential, &format!("eventhubs.hubs[{i}].credential"))?;
            sources.push(Connector::for_hub(
                hub,
                a,
                eh.operation_timeout.as_std(),
                backoff,
            ));
        }
        let path = config.route.resolved_state_path();
        let store = StateStore::open(&path)
            .context("cannot open route's checkpoint store ([route] state_path)")?;
        let cancel = CancellationToken::new();
        let (tx, status) = watch::channel(RouteStatus::default());
        let task = tokio::spawn(serve(opts, target, sources, store, tx, cancel.clone()));
        Ok(Router {
            cancel,
            status,
            task,
        })
    }

    /// Asks route to stop after the bodies it holds are sent and checkpointed.
    pub fn shutdown(&self) {
        self.cancel.cancel();
    }

    /// Route's progress.
    pub fn status(&self) -> watch::Receiver<RouteStatus> {
        self.status.clone()
    }

    /// Waits for route to end.
    pub async fn wait(self) -> Result<RouteStatus> {
        self.task.await.context("route panicked")?
    }
}

async fn serve(
    opts: RouteOptions,
    target: Connector,
    sources: Vec<Connector>,
    store: StateStore,
    status: watch::Sender<RouteStatus>,
    cancel: CancellationToken,
) -> Result<RouteStatus> {
    let config = &opts.config;
    let eh = &config.eventhubs;
    let backoff = (eh.reconnect_initial.as_std(), eh.reconnect_max.as_std());
    let checkpoint = store.load()?;
    let Some(producer) = connect(&target, backoff, &cancel).await else {
        return Ok(status.borrow().clone());
    };
    let mut slots = Vec::new();
    let (tx, mut rx) = mpsc::channel(eh.queue_bodies);
    let mut tasks = Vec::new();
    for (i, (hub, connector)) in eh.hubs.iter().zip(&sources).enumerate() {
        let Some(ids) = list_partitions(connector, &hub.partitions, backoff, &cancel).await? else {
            break;
        };
        for id in ids {
            let slot = PartitionSlot::new(i, connector, &id);
            let resume_after = checkpoint
                .as_ref()
                .and_then(|c| c.partitions.get(&slot.key))
                .and_then(|p| p.resume_after);
            let settings = ReaderSettings {
                slot: slots.len(),
                partition: id,
                connector: connector.clone(),
                start: hub.start,
                resume_after,
                prefetch: hub.prefetch,
                owner_level: hub.owner_level,
                backoff,
                lag_interval: eh.lag_interval.as_std(),
                activity: Arc::new(Activity::new(opts.clock.now())),
                clock: opts.clock.clone(),
                metrics: None,
            };
            slots.push((slot, resume_after));
            tasks.push(tokio::spawn(read_partition(
                settings,
                tx.clone(),
                cancel.clone(),
            )));
        }
    }
    let every = (config.route.checkpoint_interval.as_std() / 4)
        .clamp(Duration::from_millis(20), Duration::from_secs(1));
    let ticker = tokio::spawn(ticks(tx, every, cancel.clone()));
    let interval = config.route.checkpoint_interval.as_chrono();
    let mut last_checkpoint = opts.clock.now();
    let mut dirty = false;
    while let Some(first) = rx.recv().await {
        let mut round = vec![first];
        while round.len() < ROUND {
            match rx.try_recv() {
                Ok(msg) => round.push(msg),
                Err(_) => break,
            }
        }
        let mut bodies = Vec::new();
        for msg in round {
            match msg {
                SourceMsg::Started { slot, resume_after } => {
                    if let Some(s) = slots.get_mut(slot) {
                        s.1 = s.1.or(resume_after);
                        dirty = true;
                    }
                }
                SourceMsg::Body(body) => bodies.push(body),
                SourceMsg::Lost { .. } | SourceMsg::Added { .. } | SourceMsg::Tick => {}
            }
        }
        if !bodies.is_empty() {
            let groups = group_by_key(
                bodies.iter().map(|b| b.bytes.as_slice()),
                config.route.max_records_per_body,
            );
            let Some((sent, records)) = publish(&producer, &target, groups, backoff, &cancel).await
            else {
                break;
            };
            for b in &bodies {
                if let Some(s) = slots.get_mut(b.slot) {
                    s.1 = Some(b.sequence);
                }
            }
            dirty = true;
            status.send_modify(|s| {
                s.bodies += bodies.len() as u64;
                s.records += records;
                s.sent += sent;
            });
        }
        if dirty && opts.clock.now() - last_checkpoint >= interval {
            commit(&store, &slots, &status, opts.clock.now())?;
            last_checkpoint = opts.clock.now();
            dirty = false;
        }
    }
    cancel.cancel();
    futures::future::join_all(tasks).await;
    ticker.abort();
    if dirty {
        commit(&store, &slots, &status, opts.clock.now())?;
    }
    let _ = target
        .bounded("closing the producer".to_owned(), producer.close())
        .await;
    let final_status = status.borrow().clone();
    Ok(final_status)
}

async fn connect(
    target: &Connector,
    (initial, max): (Duration, Duration),
    cancel: &CancellationToken,
) -> Option<ProducerClient> {
    let mut delay = initial;
    loop {
        match target.producer().await {
            Ok(p) => return Some(p),
            Err(e) => tracing::error!("{e}; retrying in {}", humantime::format_duration(delay)),
        }
        tokio::select! {
            () = cancel.cancelled() => return None,
            () = tokio::time::sleep(delay) => {}
        }
        delay = (delay * 2).min(max);
    }
}

fn commit(
    store: &StateStore,
    slots: &[(PartitionSlot, Option<i64>)],
    status: &watch::Sender<RouteStatus>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<()> {
    let partitions: BTreeMap<String, PartitionPosition> = slots
        .iter()
        .map(|(s, p)| {
            (
                s.key.clone(),
                PartitionPosition {
                    resume_after: *p,
                    replay: Vec::new(),
                },
            )
        })
        .collect();
    let meta = CheckpointMeta {
        written_at: Some(now),
        ..Default::default()
    };
    store.commit(&Checkpoint {
        meta,
        partitions: partitions.clone(),
        detectors: Vec::new(),
        dedup: Vec::new(),
    })?;
    status.send_modify(|s| {
        s.checkpoints += 1;
        s.positions = partitions;
    });
    Ok(())
}

/// Records grouped by partition key, in arrival order within a key, as ready bodies.
pub fn group_by_key<'a>(
    bodies: impl Iterator<Item = &'a [u8]>,
    max_records: usize,
) -> BTreeMap<String, Vec<(Vec<u8>, u64)>> {
    let mut raw: BTreeMap<String, Vec<&'a [u8]>> = BTreeMap::new();
    for body in bodies {
        #[derive(serde::Deserialize)]
        struct Envelope<'b> {
            #[serde(borrow)]
            records: Vec<&'b RawValue>,
        }
        match serde_json::from_slice::<Envelope<'a>>(body) {
            Ok(envelope) => {
                for record in envelope.records {
                    let text = record.get().as_bytes();
                    let key = match crate::decode::decode_record(text) {
                        Ok(event) => event.identity().into_owned(),
                        Err(_) => UNPARSED_KEY.to_owned(),
                    };
                    raw.entry(key).or_default().push(text);
                }
            }
            // Not an envelope: a lone record keeps its key, anything else goes on whole.
            Err(_) => match crate::decode::decode_record(body) {
                Ok(event) => raw
                    .entry(event.identity().into_owned())
                    .or_default()
                    .push(body),
                Err(_) => raw.entry(UNPARSED_KEY.to_owned()).or_default().push(body),
            },
        }
    }
    raw.into_iter()
        .map(|(key, records)| (key, envelopes(&records, max_records)))
        .collect()
}

/// `{"records":[…]}` bodies of at most `max_records` records and about
/// [`MAX_BODY_BYTES`], each with its record count.
fn envelopes(records: &[&[u8]], max_records: usize) -> Vec<(Vec<u8>, u64)> {
    let mut out = Vec::new();
    let mut body = Vec::new();
    let mut count = 0u64;
    for r in records {
        if count > 0 && (count as usize >= max_records || body.len() + r.len() > MAX_BODY_BYTES) {
            body.extend_from_slice(b"]}");
            out.push((std::mem::take(&mut body), count));
            count = 0;
        }
        body.extend_from_slice(if count == 0 { b"{\"records\":[" } else { b"," });
        body.extend_from_slice(r);
        count += 1;
    }
    if count > 0 {
        body.extend_from_slice(b"]}");
        out.push((body, count));
    }
    out
}

/// Encoded bodies of one partition key, each with the number of records it carries.
type Bodies = Vec<(Vec<u8>, u64)>;

/// Sends every group with its key as the partition key, retrying until the hub takes
/// all of them; `None` when cancelled first. Returns (events, records) sent.
async fn publish(
    producer: &ProducerClient,
    target: &Connector,
    groups: BTreeMap<String, Vec<(Vec<u8>, u64)>>,
    (initial, max): (Duration, Duration),
    cancel: &CancellationToken,
) -> Option<(u64, u64)> {
    let mut pending: Vec<(String, Bodies)> = groups.into_iter().collect();
    let (mut sent, mut records) = (0, 0);
    let mut delay = initial;
    loop {
        let results: Vec<_> = futures::stream::iter(pending)
            .map(|(key, bodies)| async move {
                let result = send_group(producer, target, &key, &bodies).await;
                (key, bodies, result)
            })
            .buffer_unordered(IN_FLIGHT)
            .collect()
            .await;
        pending = Vec::new();
        for (key, bodies, result) in results {
            match result {
                Ok(()) => {
                    sent += bodies.len() as u64;
                    records += bodies.iter().map(|b| b.1).sum::<u64>();
                }
                Err(e) => {
                    tracing::warn!(
                        "cannot publish to {}: {e}; retrying in {}",
                        target.name(),
                        humantime::format_duration(delay)
                    );
                    pending.push((key, bodies));
                }
            }
        }
        if pending.is_empty() {
            return Some((sent, records));
        }
        tokio::select! {
            () = cancel.cancelled() => return None,
            () = tokio::time::sleep(delay) => {}
        }
        delay = (delay * 2).min(max);
    }
}

async fn send_group(
    producer: &ProducerClient,
    target: &Connector,
    key: &str,
    bodies: &[(Vec<u8>, u64)],
) -> Result<()> {
    let options = || EventDataBatchOptions {
        partition_key: Some(key.to_owned()),
        ..Default::default()
    };
    let mut batch = target
        .bounded(
            "creating a batch".to_owned(),
            producer.create_batch(Some(options())),
        )
        .await?;
    for (body, _) in bodies {
        if !batch.try_add_event_data(body.clone(), None)? {
            let full = std::mem::replace(
                &mut batch,
                target
                    .bounded(
                        "creating a batch".to_owned(),
                        producer.create_batch(Some(options())),
                    )
                    .await?,
            );
            target
                .bounded(
                    "sending a batch".to_owned(),
                    producer.send_batch(full, None),
                )
                .await?;
            if !batch.try_add_event_data(body.clone(), None)? {
                bail!(
                    "a re-published body of {} bytes does not fit in an empty batch",
                    body.len()
                );
            }
        }
    }
    if !batch.is_empty() {
        target
            .bounded(
                "sending a batch".to_owned(),
                producer.send_batch(batch, None),
            )
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(spec: &str) -> Vec<String> {
        #[derive(serde::Deserialize)]
        struct Events {
            events: Vec<crate::detect::examples::EventSpec>,
        }
        let events: Events = toml::from_str(spec).unwrap();
        crate::detect::examples::records(&events.events)
            .unwrap()
            .into_iter()
            .map(|(_, r)| r)
            .collect()
    }

    #[test]
    fn records_are_grouped_by_principal_and_nothing_is_lost() {
        let alice = records("[[events]]\nat = \"2024-05-06T09:00:00Z\"\nrepeat = 2\nop = \"SecretGet\"\noid = \"11111111-1111-4111-8111-111111111111\"\nip = \"81.2.69.160\"\n");
        let anonymous = records("[[events]]\nat = \"2024-05-06T09:00:00Z\"\nop = \"SecretGet\"\nstatus = 403\nip = \"81.2.69.161\"\n");
        let body = format!(
            r#"{{"records":[{},{},7,{}]}}"#,
            alice[0], anonymous[0], alice[1]
        );
        let groups = group_by_key([body.as_bytes(), b"not json".as_slice()].into_iter(), 500);
        assert_eq!(groups.len(), 3, "{:?}", groups.keys().collect::<Vec<_>>());
        assert!(groups.contains_key("ip:81.2.69.161") && groups.contains_key(UNPARSED_KEY));
        let total: u64 = groups.values().flatten().map(|b| b.1).sum();
        assert_eq!(total, 5, "4 array elements and the stray body");
        let (_, principal) = groups
            .iter()
            .find(|(k, _)| k.as_str() != UNPARSED_KEY && !k.starts_with("ip:"))
            .unwrap();
        assert_eq!(principal[0].1, 2);
        let parsed: serde_json::Value = serde_json::from_slice(&principal[0].0).unwrap();
        assert_eq!(parsed["records"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn big_groups_are_split() {
        let one = records("[[events]]\nat = \"2024-05-06T09:00:00Z\"\nop = \"SecretGet\"\n");
        let records: Vec<&[u8]> = std::iter::repeat_n(one[0].as_bytes(), 7).collect();
        let bodies = envelopes(&records, 3);
        assert_eq!(bodies.iter().map(|b| b.1).collect::<Vec<_>>(), [3, 3, 1]);
        for (b, _) in bodies {
            assert!(serde_json::from_slice::<serde_json::Value>(&b).is_ok());
        }
    }
}
