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
//! is delivered with its body in one Data section.
//!
//! ```ignore
//! let standin = EventHubStandin::start(StandinConfig::new().with_hub("audit", 2)).await?;
//! let consumer = ConsumerClient::builder()
//!     .with_custom_endpoint(standin.endpoint())
//!     .open(standin.namespace(), "audit".into(), StaticTokenCredential::shared())
//!     .await?;
//! standin.publish("audit", "0", br#"{"records":[]}"#.to_vec())?;
//! ```

mod address;
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

pub use credential::StaticTokenCredential;
pub use registry::ReceiverInfo;
pub use store::StoredEvent;

use registry::{ReceiverKey, Registry};
use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{Arc, Mutex},
};
use store::{lock, Hub, NewEvent, Partition};

/// The namespace clients name unless the configuration says otherwise. The
/// stand-in does not check it; the SDK only puts it in URLs and the AMQP
/// `hostname`.
pub const DEFAULT_NAMESPACE: &str = "kvwatch-standin.servicebus.windows.net";

/// The largest message a link accepts, as on the Standard tier (1 MiB). The
/// SDK sizes batches from it and cannot create a batch without it.
pub const DEFAULT_MAX_MESSAGE_SIZE: u64 = 1024 * 1024;

/// Errors of the stand-in's own API.
#[derive(Debug, thiserror::Error)]
pub enum StandinError {
    #[error("could not listen on 127.0.0.1: {0}")]
    Io(#[from] std::io::Error),
    #[error("the stand-in has no event hub named '{0}'")]
    UnknownHub(String),
    #[error("event hub '{hub}' has no partition '{partition}'")]
    UnknownPartition { hub: String, partition: String },
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
    #[error("the stand-in is already serving")]
    AlreadyRunning,
}

/// The result type of the stand-in's API.
pub type Result<T, E = StandinError> = std::result::Result<T, E>;

/// One Event Hub to serve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubConfig {
    pub name: String,
    /// Partitions are named `"0"` to `"<partition_count - 1>"`.
    pub partition_count: usize,
}

/// What to serve and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StandinConfig {
    pub hubs: Vec<HubConfig>,
    /// `0` picks a free port.
    pub port: u16,
    pub namespace: String,
    pub max_message_size: u64,
}

impl Default for StandinConfig {
    fn default() -> Self {
        Self {
            hubs: Vec::new(),
            port: 0,
            namespace: DEFAULT_NAMESPACE.to_string(),
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
        }
    }
}

impl StandinConfig {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a hub with `partition_count` partitions.
    pub fn with_hub(mut self, name: impl Into<String>, partition_count: usize) -> Self {
        self.hubs.push(HubConfig {
            name: name.into(),
            partition_count,
        });
        self
    }

    /// Listens on this port instead of a free one.
    pub fn with_port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    fn validate(&self) -> Result<()> {
        let mut names: Vec<String> = self.hubs.iter().map(|h| h.name.to_lowercase()).collect();
        names.sort();
        names.dedup();
        if names.len() != self.hubs.len() {
            return Err(StandinError::InvalidConfig(
                "hub names must be unique".into(),
            ));
        }
        match self
            .hubs
            .iter()
            .find(|h| h.name.is_empty() || h.partition_count == 0)
        {
            Some(hub) => Err(StandinError::InvalidConfig(format!(
                "hub '{}' needs a name and at least one partition",
                hub.name
            ))),
            None => Ok(()),
        }
    }
}

/// State shared by the API and every connection.
#[derive(Debug)]
struct Shared {
    max_message_size: u64,
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

    /// Stores an event as if a producer had sent it to `partition`.
    pub fn publish(&self, hub: &str, partition: &str, body: Vec<u8>) -> Result<StoredEvent> {
        let event = NewEvent {
            body,
            ..NewEvent::default()
        };
        let stored = self.partition(hub, partition)?.append(vec![event]);
        stored
            .into_iter()
            .next()
            .ok_or_else(|| StandinError::UnknownPartition {
                hub: hub.into(),
                partition: partition.into(),
            })
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
