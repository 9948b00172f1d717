//! The hub's data, seen from the process that embeds it: publishing without a client,
//! reading what partitions hold, and waiting for receivers and events (tests wait on
//! these, never on sleeps).

use std::sync::Arc;

use super::config::{HubError, Result};
use super::registry::{ReceiverInfo, ReceiverKey};
use super::store::{Hub, NewEvent, Partition, StoredEvent};
use super::EmbeddedHub;

impl EmbeddedHub {
    /// Stores an event as if a producer had sent it to `partition`, and returns it
    /// with its sequence number, offset and enqueued time.
    pub fn publish(&self, hub: &str, partition: &str, body: Vec<u8>) -> Result<StoredEvent> {
        let event = NewEvent {
            body,
            ..NewEvent::default()
        };
        Ok(self.partition(hub, partition)?.append_one(event))
    }

    /// The hubs' names, as configured.
    pub fn hub_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.shared.hubs.values().map(|h| h.name.clone()).collect();
        names.sort();
        names
    }

    /// A hub's partition ids, in order.
    pub fn partition_ids(&self, hub: &str) -> Result<Vec<String>> {
        Ok(self.hub(hub)?.partition_ids())
    }

    /// Returns every event still available in a partition, in order.
    pub fn events(&self, hub: &str, partition: &str) -> Result<Vec<StoredEvent>> {
        Ok(self.partition(hub, partition)?.snapshot())
    }

    /// The first sequence number still available in a partition (the next one when
    /// the partition is empty).
    pub fn first_available(&self, hub: &str, partition: &str) -> Result<i64> {
        Ok(self
            .partition(hub, partition)?
            .properties()
            .begin_sequence_number)
    }

    /// Waits until a partition has stored events up to at least sequence number
    /// `through` and returns the available events.
    pub async fn wait_for_sequence(
        &self,
        hub: &str,
        partition: &str,
        through: i64,
    ) -> Result<Vec<StoredEvent>> {
        let partition = self.partition(hub, partition)?;
        let mut next = partition.subscribe();
        // `wait_for` also checks the current value, so an append before the call is
        // not missed.
        let _ = next.wait_for(|next| *next > through).await;
        Ok(partition.snapshot())
    }

    /// Waits until a partition beginning at sequence number 0 holds at least `count`
    /// events and returns them.
    pub async fn wait_for_events(
        &self,
        hub: &str,
        partition: &str,
        count: usize,
    ) -> Result<Vec<StoredEvent>> {
        let through = i64::try_from(count).unwrap_or(i64::MAX) - 1;
        self.wait_for_sequence(hub, partition, through).await
    }

    /// Returns the partition a partition key maps to.
    pub fn partition_for_key(&self, hub: &str, key: &str) -> Result<String> {
        self.hub(hub)?
            .partition_for_key(key)
            .map(|p| p.id.clone())
            .ok_or_else(|| HubError::UnknownHub(hub.into()))
    }

    /// Returns the active receivers of a partition in a consumer group.
    pub fn receivers(&self, hub: &str, consumer_group: &str, partition: &str) -> Vec<ReceiverInfo> {
        let key = ReceiverKey::new(hub, consumer_group, partition);
        self.shared.registry.receivers(&key)
    }

    /// Returns the owner level that holds a partition, if any receiver has one.
    pub fn owner_level(&self, hub: &str, consumer_group: &str, partition: &str) -> Option<i64> {
        self.receivers(hub, consumer_group, partition)
            .iter()
            .filter_map(|r| r.owner_level)
            .max()
    }

    /// Waits until the receivers of a partition satisfy `done`; bound it with a
    /// timeout. Use it to know that a receiver has attached (the SDK attaches on the
    /// first poll of `stream_events`, not in `open_receiver_on_partition`).
    pub async fn wait_for_receivers(
        &self,
        hub: &str,
        consumer_group: &str,
        partition: &str,
        done: impl Fn(&[ReceiverInfo]) -> bool,
    ) {
        let key = ReceiverKey::new(hub, consumer_group, partition);
        self.shared.registry.wait_for(&key, done).await;
    }

    /// How many client connections are open.
    pub fn connections(&self) -> usize {
        self.shared.connections.count()
    }

    /// How many receiving (consumer) links of a hub are being served.
    pub fn consumer_links(&self, hub: &str) -> usize {
        let hub = hub.to_lowercase();
        self.shared
            .links
            .entries()
            .iter()
            .filter(|l| l.kind == super::link_table::LinkKind::Consumer && l.hub == hub)
            .count()
    }

    fn hub(&self, hub: &str) -> Result<&Arc<Hub>> {
        self.shared
            .hub(hub)
            .ok_or_else(|| HubError::UnknownHub(hub.into()))
    }

    fn partition(&self, hub: &str, partition: &str) -> Result<Arc<Partition>> {
        self.hub(hub)?
            .partition(partition)
            .ok_or_else(|| HubError::UnknownPartition {
                hub: hub.into(),
                partition: partition.into(),
            })
    }
}
