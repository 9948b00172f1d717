//! Which partitions this process reads, and under which claim.
//!
//! A `[[eventhubs.hubs]]` entry reads every partition of its hub, or the
//! `partitions` it lists, so several `kvwatch run` processes can split a keyed hub
//! between them (see `docs/scaling.md`). An owner level (the service's epoch: the
//! coordination epoch with `[coordination]`, else the configured `owner_level`)
//! makes a claim exclusive: a reader with a higher level takes the partition over,
//! and the displaced reader stops (`SourceMsg::Lost`), so a replaced instance
//! cannot go on reading beside its replacement.

use super::client::{ClientError, Connector};
use crate::state::partition_key;

/// One partition this process reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionSlot {
    /// The index of its `[[eventhubs.hubs]]` entry.
    pub hub: usize,
    /// The hub's name (metrics label).
    pub hub_name: String,
    /// The hub's namespace.
    pub namespace: String,
    /// The consumer group it is read through.
    pub consumer_group: String,
    /// The partition id.
    pub partition: String,
    /// Its key in the state store (namespace, hub, consumer group, partition).
    pub key: String,
}

impl PartitionSlot {
    /// The slot of `partition` of the hub `connector` opens.
    pub fn new(hub: usize, connector: &Connector, partition: &str) -> Self {
        PartitionSlot {
            hub,
            hub_name: connector.hub.clone(),
            namespace: connector.namespace.clone(),
            consumer_group: connector.consumer_group.clone(),
            partition: partition.to_owned(),
            key: partition_key(
                &connector.namespace,
                &connector.hub,
                &connector.consumer_group,
                partition,
            ),
        }
    }
}

/// The partitions to read of those the hub has (`ids`): `wanted` when it is not
/// empty (a wanted id the hub does not have is an error), else all.
pub fn select_wanted(
    connector: &Connector,
    ids: Vec<String>,
    wanted: &[String],
) -> Result<Vec<String>, ClientError> {
    if wanted.is_empty() {
        return Ok(ids);
    }
    if let Some(missing) = wanted.iter().find(|w| !ids.contains(w)) {
        return Err(ClientError::Config {
            key: "partitions".to_owned(),
            message: format!(
                "{} has no partition {missing:?} (it has {})",
                connector.name(),
                ids.join(", ")
            ),
        });
    }
    Ok(wanted.to_vec())
}

/// The hub's partition ids, asked once.
pub async fn ask_partitions(connector: &Connector) -> Result<Vec<String>, ClientError> {
    let client = connector.consumer().await?;
    let what = format!("reading the properties of {}", connector.name());
    let properties = connector
        .bounded(what, client.get_eventhub_properties())
        .await;
    let _ = connector
        .bounded("closing".to_owned(), client.close())
        .await;
    Ok(properties?.partition_ids)
}
