//! Which partitions this process reads, and under which claim.
//!
//! Ownership is static and explicit: a `[[eventhubs.hubs]]` entry reads every
//! partition of its hub, or the `partitions` it lists, so several `kvwatch run`
//! processes can split a keyed hub between them (see `docs/scaling.md`). An
//! `owner_level` (the service's epoch) makes a claim exclusive: a reader with a higher
//! level takes the partition over, and the displaced reader stops (`SourceMsg::Lost`),
//! which is how a standby replaces a failed instance without both reading at once.
//! There is no dynamic balancing: nothing moves partitions between live processes.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::client::{ClientError, Connector};
use crate::state::partition_key;

/// One partition this process reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionSlot {
    /// The index of its `[[eventhubs.hubs]]` entry.
    pub hub: usize,
    /// The hub's name (metrics label).
    pub hub_name: String,
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

/// The partitions to read: the hub's partition ids (asked of the service, retried
/// with backoff until it answers or `cancel` fires), keeping only `wanted` when it
/// is not empty. A wanted id the hub does not have is an error.
pub async fn list_partitions(
    connector: &Connector,
    wanted: &[String],
    (initial, max): (Duration, Duration),
    cancel: &CancellationToken,
) -> Result<Option<Vec<String>>, ClientError> {
    let mut delay = initial;
    let ids = loop {
        match ask_partitions(connector).await {
            Ok(ids) => break ids,
            Err(e) => {
                tracing::error!(
                    "cannot list the partitions of {}: {e}; retrying in {}",
                    connector.name(),
                    humantime::format_duration(delay)
                );
                tokio::select! {
                    () = cancel.cancelled() => return Ok(None),
                    () = tokio::time::sleep(delay) => {}
                }
                delay = (delay * 2).min(max);
            }
        }
    };
    if wanted.is_empty() {
        return Ok(Some(ids));
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
    Ok(Some(wanted.to_vec()))
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
