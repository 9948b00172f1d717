//! Finding the partitions to read: each hub is listed on its own task (one
//! unreachable hub never delays the others), its partitions get a reader each, and
//! hubs read whole are listed again every `[eventhubs] relist_interval`, so
//! partitions added to a hub while kvwatch reads it are read too.
//!
//! Event Hubs lets the Premium and Dedicated tiers (and the embedded hub) add
//! partitions to a hub in use; a reader that listed them once at start would never
//! read the new ones, and whatever Azure Monitor sends there would be lost without a
//! word. A partition found at the first listing starts from its checkpoint or the
//! configured `start`; one added later is read from its earliest event (everything in
//! it arrived after kvwatch last listed the hub). Hubs that list their `partitions`
//! explicitly are not listed again: their owner chose. With coordination, every
//! partition is claimed (the `admit` hook) before its reader starts.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use tokio::sync::{mpsc, Mutex};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::ownership::{ask_partitions, select_wanted};
use super::{read_partition, Activity, PartitionSlot, ReaderSettings, SourceMsg};
use crate::config::eventhubs::StartConfig;
use crate::state::PartitionPosition;

/// One hub whose partitions are read.
#[derive(Clone)]
pub struct WatchedHub {
    /// The index of its `[[eventhubs.hubs]]` entry.
    pub hub: usize,
    /// The settings of its readers (slot, partition, resume_after and activity are
    /// set per partition; `start` applies to the partitions of the first listing).
    pub template: ReaderSettings,
    /// Only these partition ids (empty: every partition, listed again every interval).
    pub wanted: Vec<String>,
    /// The partition ids listed and admitted already; `None`: list them first.
    pub known: Option<Vec<String>>,
}

/// A checkpointed position and the offset of its `resume_after` event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KnownPosition {
    /// The position.
    pub position: PartitionPosition,
    /// The offset of the event at `position.resume_after`, when known.
    pub offset: Option<String>,
}

/// Called with partitions about to be read: `Err` (with why) stops their hub's
/// task without reading them (the ownership is lost).
pub type Admit =
    Arc<dyn Fn(Vec<PartitionSlot>) -> BoxFuture<'static, Result<(), String>> + Send + Sync>;

/// What every hub's task shares.
pub struct Discovery {
    /// How often hubs read whole are listed again.
    pub every: Duration,
    /// Restored positions by partition key.
    pub restored: Arc<BTreeMap<String, KnownPosition>>,
    /// Claims partitions before they are read (coordination); `None`: no claim.
    pub admit: Option<Admit>,
    /// Where readers send.
    pub tx: mpsc::Sender<SourceMsg>,
    /// Stops everything.
    pub cancel: CancellationToken,
    /// The next slot; held while an `Added` is sent, so slots arrive in order.
    next_slot: Mutex<usize>,
}

impl Discovery {
    /// Shared state for the hubs' tasks; slots are numbered from `first_slot`.
    pub fn new(
        every: Duration,
        restored: BTreeMap<String, KnownPosition>,
        admit: Option<Admit>,
        tx: mpsc::Sender<SourceMsg>,
        cancel: CancellationToken,
    ) -> Arc<Discovery> {
        Arc::new(Discovery {
            every,
            restored: Arc::new(restored),
            admit,
            tx,
            cancel,
            next_slot: Mutex::new(0),
        })
    }
}

/// Lists and reads every hub, each on its own task, until `cancel` fires; then
/// waits for the readers to stop (each close is bounded by its connector's timeout).
pub async fn read_hubs(hubs: Vec<WatchedHub>, shared: Arc<Discovery>) {
    let mut tasks = JoinSet::new();
    for hub in hubs {
        tasks.spawn(watch_hub(hub, shared.clone()));
    }
    drop(shared);
    while tasks.join_next().await.is_some() {}
}

async fn watch_hub(watched: WatchedHub, shared: Arc<Discovery>) {
    let mut readers = JoinSet::new();
    let connector = watched.template.connector.clone();
    let (initial, max) = watched.template.backoff;
    let mut delay = initial;
    let mut known = watched.known.clone();
    if let Some(ids) = &known {
        let start = watched.template.start;
        if !start_readers(&watched, ids, start, &shared, &mut readers).await {
            while readers.join_next().await.is_some() {}
            return;
        }
        let _ = shared.tx.send(SourceMsg::Listed { hub: watched.hub }).await;
    }
    loop {
        if known.is_some() {
            let pause = if watched.wanted.is_empty() {
                shared.every
            } else {
                Duration::MAX
            };
            tokio::select! {
                () = shared.cancel.cancelled() => break,
                () = sleep(pause) => {}
            }
        }
        let ids = match ask_partitions(&connector).await {
            Ok(ids) => ids,
            Err(e) => {
                if known.is_none() {
                    tracing::error!(
                        "cannot list the partitions of {}: {e}; retrying in {} (the other hubs are read meanwhile)",
                        connector.name(),
                        humantime::format_duration(delay)
                    );
                    tokio::select! {
                        () = shared.cancel.cancelled() => break,
                        () = sleep(delay) => {}
                    }
                    delay = (delay * 2).min(max);
                } else {
                    tracing::debug!("partitions of {} not re-listed: {e}", connector.name());
                }
                continue;
            }
        };
        let first = known.is_none();
        let ids = if first {
            match select_wanted(&connector, ids, &watched.wanted) {
                Ok(ids) => ids,
                Err(e) => {
                    let _ = shared.tx.send(SourceMsg::Failed(e.to_string())).await;
                    break;
                }
            }
        } else {
            ids
        };
        let seen = known.clone().unwrap_or_default();
        let added: Vec<String> = ids.into_iter().filter(|id| !seen.contains(id)).collect();
        let start = if first {
            watched.template.start
        } else {
            for id in &added {
                tracing::info!(
                    hub = %connector.name(), partition = %id,
                    "a partition was added to the hub; reading it from its earliest event"
                );
            }
            StartConfig::Earliest
        };
        if !start_readers(&watched, &added, start, &shared, &mut readers).await {
            break;
        }
        known = Some(seen.into_iter().chain(added).collect());
        if first {
            let _ = shared.tx.send(SourceMsg::Listed { hub: watched.hub }).await;
        }
    }
    while readers.join_next().await.is_some() {}
}

/// `tokio::time::sleep` that takes `Duration::MAX` as "forever".
async fn sleep(d: Duration) {
    match tokio::time::Instant::now().checked_add(d) {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Admits and starts a reader on each of `ids`; `false` when admission refused or
/// the channel's consumer is gone (stop).
async fn start_readers(
    watched: &WatchedHub,
    ids: &[String],
    start: StartConfig,
    shared: &Discovery,
    readers: &mut JoinSet<()>,
) -> bool {
    if ids.is_empty() {
        return true;
    }
    let connector = &watched.template.connector;
    let slots: Vec<PartitionSlot> = ids
        .iter()
        .map(|id| PartitionSlot::new(watched.hub, connector, id))
        .collect();
    if let Some(admit) = &shared.admit {
        if let Err(why) = admit(slots.clone()).await {
            tracing::error!("partitions of {} not read: {why}", connector.name());
            return false;
        }
    }
    let mut next = shared.next_slot.lock().await;
    for partition in slots {
        let known = shared.restored.get(&partition.key).cloned();
        let activity = Arc::new(Activity::new(watched.template.clock.now()));
        let mut settings = watched.template.clone();
        settings.slot = *next;
        settings.partition = partition.partition.clone();
        settings.start = start;
        settings.resume_after = known.as_ref().and_then(|k| k.position.resume_after);
        settings.activity = activity.clone();
        let added = SourceMsg::Added {
            slot: *next,
            partition,
            activity,
            known,
        };
        if shared.tx.send(added).await.is_err() {
            return false;
        }
        readers.spawn(read_partition(
            settings,
            shared.tx.clone(),
            shared.cancel.clone(),
        ));
        *next += 1;
    }
    true
}
