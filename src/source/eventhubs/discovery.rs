//! Partitions added to a hub while kvwatch reads it: the hub's partition ids are read
//! again every `[eventhubs] relist_interval`, and each new partition gets a reader.
//!
//! Event Hubs lets the Premium and Dedicated tiers (and the embedded hub) add
//! partitions to a hub that is in use; a reader that listed them once at start would
//! never read the new ones, and whatever Azure Monitor sends there would be lost
//! without a word. A new partition is read from its earliest event (everything in it
//! arrived after kvwatch last listed the hub). Hubs that list their `partitions`
//! explicitly are left alone: their owner chose.

use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::ownership::ask_partitions;
use super::{read_partition, Activity, PartitionSlot, ReaderSettings, SourceMsg};
use crate::config::eventhubs::StartConfig;

/// One hub whose partitions are watched.
#[derive(Clone)]
pub struct WatchedHub {
    /// The index of its `[[eventhubs.hubs]]` entry.
    pub hub: usize,
    /// The settings of its readers (slot, partition, start and activity are set per
    /// new partition).
    pub template: ReaderSettings,
    /// The partition ids read already.
    pub known: Vec<String>,
}

/// Re-lists the partitions of `hubs` every `every`, starting a reader (slot numbers
/// from `next_slot` on) for each new one, until `cancel` fires; then waits for those
/// readers to stop (each close is bounded by its connector's timeout).
pub async fn discover_partitions(
    mut hubs: Vec<WatchedHub>,
    mut next_slot: usize,
    every: Duration,
    tx: mpsc::Sender<SourceMsg>,
    cancel: CancellationToken,
) {
    let mut readers = JoinSet::new();
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    'watch: loop {
        tokio::select! {
            () = cancel.cancelled() => break,
            _ = ticks.tick() => {}
        }
        for watched in &mut hubs {
            let connector = &watched.template.connector;
            let ids = match ask_partitions(connector).await {
                Ok(ids) => ids,
                Err(e) => {
                    tracing::debug!("partitions of {} not re-listed: {e}", connector.name());
                    continue;
                }
            };
            let added: Vec<String> = ids
                .into_iter()
                .filter(|id| !watched.known.contains(id))
                .collect();
            for id in added {
                tracing::info!(
                    hub = %connector.name(), partition = %id,
                    "a partition was added to the hub; reading it from its earliest event"
                );
                let activity = std::sync::Arc::new(Activity::new(watched.template.clock.now()));
                let mut settings = watched.template.clone();
                settings.slot = next_slot;
                settings.partition = id.clone();
                settings.start = StartConfig::Earliest;
                settings.resume_after = None;
                settings.activity = activity.clone();
                let added = SourceMsg::Added {
                    slot: next_slot,
                    partition: PartitionSlot::new(watched.hub, connector, &id),
                    activity,
                };
                if tx.send(added).await.is_err() {
                    break 'watch;
                }
                readers.spawn(read_partition(settings, tx.clone(), cancel.clone()));
                watched.known.push(id);
                next_slot += 1;
            }
        }
    }
    drop(tx);
    while readers.join_next().await.is_some() {}
}
