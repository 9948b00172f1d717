//! An in-process Azure Event Hubs stand-in that speaks real AMQP 1.0.
//!
//! kvwatch reads Key Vault audit logs from Event Hubs with the real SDK
//! (`azure_messaging_eventhubs`), and CI has neither Azure nor Docker. This
//! module serves the part of the Event Hubs protocol the SDK uses, on
//! `127.0.0.1`, so tests drive the real `ProducerClient` and `ConsumerClient`
//! (built `with_custom_endpoint(standin.endpoint())`) through real AMQP.
//!
//! What it serves:
//!
//! * SASL ANONYMOUS (what the SDK sends) and PLAIN; no TLS (`amqp://`).
//! * `$cbs` put-token (answered 202; any token passes) and `$management`
//!   `READ` of `com.microsoft:eventhub` and `com.microsoft:partition` (200).
//! * Receivers on `<hub>/ConsumerGroups/<cg>/Partitions/<n>`, starting at the
//!   selector filter's offset, sequence number or enqueued time (`>` and
//!   `>=`), `-1` (earliest) or `@latest`, then tailing the partition under
//!   link credit. Owner levels (`com.microsoft:epoch`) steal and refuse as on
//!   the service (see [`registry`]).
//! * Senders on `<hub>` and `<hub>/Partitions/<n>`, single messages and batch
//!   envelopes (message format `0x80013700`), with partition keys.
//!
//! Stored events carry `x-opt-sequence-number` (from 0), `x-opt-offset` (a
//! string), `x-opt-enqueued-time` and, when set, `x-opt-partition-key`; each
//! is delivered with its body in one Data section, pre-settled.
//!
//! Transfers that a client waits on (sends, management and CBS requests) are
//! settled after a short delay, [`DEFAULT_SETTLE_DELAY`]: without it
//! fe2o3-amqp 0.16 clients, the SDK included, now and then lose the
//! disposition and hang (see `links::pause_before_settling`).
//!
//! Include it at the root of a test crate with
//! `#[path = "../support/eventhubs_standin/mod.rs"] mod eventhubs_standin;` (as
//! `tests/live/main.rs` does).
//!
//! ```ignore
//! let standin = EventHubStandin::start(StandinConfig::new().with_hub("audit", 2)).await?;
//! let consumer = ConsumerClient::builder()
//!     .with_custom_endpoint(standin.endpoint())
//!     .open(standin.namespace(), "audit".into(), StaticTokenCredential::shared())
//!     .await?;
//! standin.publish("audit", "0", br#"{"records":[]}"#.to_vec())?;
//! ```

// Each test crate that includes this module uses a different part of it.
#![allow(dead_code, unused_imports)]

mod address;
mod config;
mod consumer_link;
mod credential;
mod filter;
mod links;
mod management;
mod producer_link;
mod registry;
mod routing;
mod sasl;
mod server;
mod store;

pub use config::{
    HubConfig, Result, StandinConfig, StandinError, DEFAULT_MAX_MESSAGE_SIZE, DEFAULT_NAMESPACE,
    DEFAULT_SETTLE_DELAY,
};
pub use credential::StaticTokenCredential;
pub use registry::ReceiverInfo;
pub use store::StoredEvent;

use registry::{ReceiverKey, Registry};
use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};
use store::{lock, Hub, NewEvent, Partition};

/// State shared by the API and every connection.
#[derive(Debug)]
struct Shared {
    max_message_size: u64,
    settle_delay: Duration,
    hubs: HashMap<String, Arc<Hub>>,
    registry: Arc<Registry>,
}

impl Shared {
    /// Finds a hub; names are case-insensitive, as on the service.
    fn hub(&self, name: &str) -> Option<&Arc<Hub>> {
        self.hubs.get(&name.to_lowercase())
    }
}

/// A running stand-in. Dropping it stops the listener.
#[derive(Debug)]
pub struct EventHubStandin {
    shared: Arc<Shared>,
    addr: SocketAddr,
    namespace: String,
    serving: Mutex<Option<server::Serving>>,
}

impl EventHubStandin {
    /// Starts serving the configured hubs on `127.0.0.1`.
    pub async fn start(config: StandinConfig) -> Result<Self> {
        config.validate()?;
        let listener = server::bind(config.port)?;
        let addr = listener.local_addr()?;
        let hubs = config
            .hubs
            .iter()
            .map(|h| {
                let hub = Hub::new(h.name.clone(), h.partition_count);
                (h.name.to_lowercase(), Arc::new(hub))
            })
            .collect();
        let shared = Arc::new(Shared {
            max_message_size: config.max_message_size,
            settle_delay: config.settle_delay,
            hubs,
            registry: Registry::new(),
        });
        let serving = server::serve(listener, Arc::clone(&shared));
        Ok(Self {
            shared,
            addr,
            namespace: config.namespace,
            serving: Mutex::new(Some(serving)),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The value for the SDK builders' `with_custom_endpoint`.
    pub fn endpoint(&self) -> String {
        format!("amqp://{}", self.addr)
    }

    /// The value for the SDK builders' `fully_qualified_namespace`.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// Whether the listener is up.
    pub fn is_running(&self) -> bool {
        lock(&self.serving).is_some()
    }

    /// Stops serving: closes the listening socket and drops every connection
    /// abruptly (no AMQP close). The port is free when this returns. Stored
    /// events are kept for [`restart`](Self::restart).
    pub async fn shutdown(&self) {
        let serving = lock(&self.serving).take();
        if let Some(serving) = serving {
            serving.stop().await;
        }
        self.shared.registry.clear();
    }

    /// Serves again on the same port, with the events stored so far.
    pub async fn restart(&self) -> Result<()> {
        let mut serving = lock(&self.serving);
        if serving.is_some() {
            return Err(StandinError::AlreadyRunning);
        }
        let listener = server::bind(self.addr.port())?;
        *serving = Some(server::serve(listener, Arc::clone(&self.shared)));
        Ok(())
    }

    /// Stores an event as if a producer had sent it to `partition`, and
    /// returns it with its sequence number, offset and enqueued time.
    pub fn publish(&self, hub: &str, partition: &str, body: Vec<u8>) -> Result<StoredEvent> {
        let event = NewEvent {
            body,
            ..NewEvent::default()
        };
        Ok(self.partition(hub, partition)?.append_one(event))
    }

    /// Returns every event stored in a partition, in order.
    pub fn events(&self, hub: &str, partition: &str) -> Result<Vec<StoredEvent>> {
        Ok(self.partition(hub, partition)?.snapshot())
    }

    /// Waits until a partition holds at least `count` events and returns them.
    pub async fn wait_for_events(
        &self,
        hub: &str,
        partition: &str,
        count: usize,
    ) -> Result<Vec<StoredEvent>> {
        let partition = self.partition(hub, partition)?;
        let mut stored = partition.subscribe();
        // The watch holds the event count; `wait_for` also checks the
        // current value, so an append before the call is not missed.
        let _ = stored.wait_for(|stored| *stored >= count).await;
        Ok(partition.snapshot())
    }

    /// Returns the partition a partition key maps to.
    pub fn partition_for_key(&self, hub: &str, key: &str) -> Result<String> {
        let hub_state = self.hub(hub)?;
        hub_state
            .partition_for_key(key)
            .map(|p| p.id.clone())
            .ok_or_else(|| StandinError::UnknownHub(hub.into()))
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

    /// Waits until the receivers of a partition satisfy `done`; bound it with
    /// a timeout. Use it to know that a receiver has attached (the SDK
    /// attaches on the first poll of `stream_events`, not in
    /// `open_receiver_on_partition`).
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

    fn hub(&self, hub: &str) -> Result<&Arc<Hub>> {
        self.shared
            .hub(hub)
            .ok_or_else(|| StandinError::UnknownHub(hub.into()))
    }

    fn partition(&self, hub: &str, partition: &str) -> Result<&Arc<Partition>> {
        self.hub(hub)?
            .partition(partition)
            .ok_or_else(|| StandinError::UnknownPartition {
                hub: hub.into(),
                partition: partition.into(),
            })
    }
}

impl Drop for EventHubStandin {
    fn drop(&mut self) {
        if let Some(serving) = lock(&self.serving).as_ref() {
            serving.abort();
        }
    }
}
