//! An embedded Azure Event Hubs namespace: the part of the Event Hubs service that the
//! SDK (`azure_messaging_eventhubs`) uses, served over real AMQP 1.0 from inside the
//! process.
//!
//! It exists for two things. `kvwatch run --embedded` uses it to show the live path on
//! a laptop without an Azure subscription: it publishes log files into it and reads
//! them back through the real SDK and a connection string, as it would read Azure
//! ([`crate::app::embedded`]). And the live tests use it as the service: the real SDK
//! and the real `kvwatch run` against it, with faults injected ([`Faults`]). kvwatch
//! reaches it only through the SDK, like any other namespace: it sits beside the data
//! flow (as [`crate::simulate`] does), not in it.
//!
//! What it serves:
//!
//! * SASL ANONYMOUS with `$cbs` put-token of shared access signatures, checked against
//!   the namespace's keys, the token's audience and its expiry; SASL PLAIN with a key
//!   name and key. A link attaches only under an address its connection holds a valid
//!   token for; when a token expires without a fresh one, the links it covered are
//!   detached with `amqp:unauthorized-access`. [`EmbeddedHub::connection_string`] and
//!   [`EmbeddedHub::credential`] give clients what they need (the credential's tokens
//!   may be short-lived, so the SDK's refresh runs).
//! * `$management` `READ` of `com.microsoft:eventhub` and `com.microsoft:partition`.
//! * Receivers on `<hub>/ConsumerGroups/<cg>/Partitions/<n>`, starting at the selector
//!   filter's offset, sequence number or enqueued time (`>` and `>=`), `-1` (earliest)
//!   or `@latest`, then tailing the partition under link credit; owner levels
//!   (`com.microsoft:epoch`) steal and refuse as on the service (see `registry.rs`).
//! * Senders on `<hub>` and `<hub>/Partitions/<n>`, single messages and batch envelopes
//!   (message format `0x80013700`), with partition keys.
//! * Retention (partitions that begin past sequence number 0, and events removed as
//!   they age), partition counts that grow while serving, and the faults of [`Faults`].
//!
//! What it does not model: TLS (it speaks `amqp://`, never `amqps://`; keep it on
//! loopback), Entra ID tokens (only shared access signatures), rights per key (every
//! key may listen and send), consumer groups as entities (any name is accepted),
//! quotas, throttling and message-size tiers beyond the 1 MiB limit, geo-replication
//! and geo-disaster recovery, Capture, Kafka, idempotent publishing, AMQP over
//! WebSockets, transactions, and durability: the events live in memory and go with the
//! process.
//!
//! Transfers that a client waits on (sends, management and CBS requests) are settled
//! after a short delay, [`DEFAULT_SETTLE_DELAY`]: without it fe2o3-amqp 0.16 clients,
//! the SDK included, now and then lose the disposition and hang (see
//! `links::pause_before_settling`, and `links::hold_cbs_detach_answer` for the other
//! fe2o3 0.16 fault it works around).
//!
//! ```ignore
//! let hub = EmbeddedHub::start(EmbeddedHubConfig::new().with_hub("audit", 2)).await?;
//! let consumer = ConsumerClient::builder()
//!     .with_custom_endpoint(hub.endpoint())
//!     .open(hub.namespace(), "audit".into(), hub.credential())
//!     .await?;
//! hub.publish("audit", "0", br#"{"records":[]}"#.to_vec())?;
//! ```

mod address;
mod authorizations;
mod config;
mod connection;
mod consumer_link;
mod credential;
mod faults;
mod filter;
mod link_table;
mod links;
mod management;
mod producer_link;
mod registry;
mod routing;
mod sas;
mod sasl;
mod server;
mod store;
mod view;

pub use config::{
    EmbeddedHubConfig, HubError, HubSpec, Result, DEFAULT_MAX_MESSAGE_SIZE, DEFAULT_NAMESPACE,
    DEFAULT_SETTLE_DELAY, DEFAULT_TOKEN_LIFETIME,
};
pub use credential::HubCredential;
pub use faults::{Faults, HubStats};
pub use registry::ReceiverInfo;
pub use sas::{SharedAccessKey, DEFAULT_KEY_NAME};
pub use store::StoredEvent;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use connection::ConnectionTable;
use faults::Counters;
use link_table::LinkTable;
use registry::Registry;
use store::{lock, Hub};
use tokio::task::JoinHandle;

/// State shared by the API and every connection.
#[derive(Debug)]
struct Shared {
    max_message_size: u64,
    settle_delay: Duration,
    max_token_lifetime: Option<Duration>,
    keys: Arc<[SharedAccessKey]>,
    hubs: HashMap<String, Arc<Hub>>,
    registry: Arc<Registry>,
    links: Arc<LinkTable>,
    connections: Arc<ConnectionTable>,
    counters: Arc<Counters>,
}

impl Shared {
    /// Finds a hub; names are case-insensitive, as on the service.
    fn hub(&self, name: &str) -> Option<&Arc<Hub>> {
        self.hubs.get(&name.to_lowercase())
    }
}

/// A running embedded namespace. Dropping it stops the listener.
#[derive(Debug)]
pub struct EmbeddedHub {
    shared: Arc<Shared>,
    addr: SocketAddr,
    namespace: String,
    token_lifetime: Duration,
    serving: Mutex<Option<server::Serving>>,
    janitor: Option<JoinHandle<()>>,
}

impl EmbeddedHub {
    /// Starts serving the configured hubs. Must be called inside a tokio runtime.
    pub async fn start(config: EmbeddedHubConfig) -> Result<Self> {
        config.validate()?;
        let listen_error = |source| HubError::Listen {
            addr: config.listen,
            source,
        };
        let listener = server::bind(config.listen).map_err(listen_error)?;
        let addr = listener.local_addr().map_err(listen_error)?;
        let hubs: HashMap<String, Arc<Hub>> = config
            .hubs
            .iter()
            .map(|spec| (spec.name.to_lowercase(), Arc::new(Hub::new(spec))))
            .collect();
        let mut keys = config.keys.clone();
        if keys.is_empty() {
            keys.push(SharedAccessKey::generate(DEFAULT_KEY_NAME));
        }
        let janitor = retention_janitor(&hubs);
        let shared = Arc::new(Shared {
            max_message_size: config.max_message_size,
            settle_delay: config.settle_delay,
            max_token_lifetime: config.max_token_lifetime,
            keys: keys.into(),
            hubs,
            registry: Registry::new(),
            links: Arc::default(),
            connections: Arc::default(),
            counters: Arc::default(),
        });
        let serving = server::serve(listener, Arc::clone(&shared));
        Ok(Self {
            shared,
            addr,
            namespace: config.namespace,
            token_lifetime: config.token_lifetime,
            serving: Mutex::new(Some(serving)),
            janitor,
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The value for the SDK builders' `with_custom_endpoint` (and kvwatch's
    /// `endpoint` setting): `amqp://ADDR`.
    pub fn endpoint(&self) -> String {
        format!("amqp://{}", self.addr)
    }

    /// The value for the SDK builders' `fully_qualified_namespace`.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The key clients sign with (the first configured, or the generated one).
    pub fn key(&self) -> &SharedAccessKey {
        // `start` guarantees at least one key.
        &self.shared.keys[0]
    }

    /// A connection string for the namespace (or one hub, as `EntityPath`). Its
    /// `Endpoint` is the listening address, so SDKs that honour
    /// `UseDevelopmentEmulator=true` connect without TLS; the Rust SDK needs
    /// [`Self::endpoint`] as its custom endpoint besides.
    pub fn connection_string(&self, hub: Option<&str>) -> String {
        let key = self.key();
        let mut text = format!(
            "Endpoint=sb://{}/;SharedAccessKeyName={};SharedAccessKey={};UseDevelopmentEmulator=true",
            self.addr,
            key.name(),
            key.expose()
        );
        if let Some(hub) = hub {
            text.push_str(&format!(";EntityPath={hub}"));
        }
        text
    }

    /// A credential that signs namespace-wide tokens valid for the configured token
    /// lifetime (see [`EmbeddedHubConfig::token_lifetime`]).
    pub fn credential(&self) -> Arc<HubCredential> {
        self.credential_with_lifetime(self.token_lifetime)
    }

    /// A credential whose tokens are valid for `lifetime`.
    pub fn credential_with_lifetime(&self, lifetime: Duration) -> Arc<HubCredential> {
        Arc::new(HubCredential::new(
            &self.namespace,
            self.key().clone(),
            lifetime,
        ))
    }

    /// Injects faults (see [`Faults`]).
    pub fn faults(&self) -> Faults {
        Faults {
            shared: Arc::clone(&self.shared),
        }
    }

    /// What the hub has done so far.
    pub fn stats(&self) -> HubStats {
        self.shared.counters.snapshot()
    }

    /// Whether the listener is up.
    pub fn is_running(&self) -> bool {
        lock(&self.serving).is_some()
    }

    /// Stops serving: closes the listening socket and drops every connection abruptly
    /// (no AMQP close). The port is free when this returns. Stored events are kept for
    /// [`restart`](Self::restart).
    pub async fn shutdown(&self) {
        let serving = lock(&self.serving).take();
        if let Some(serving) = serving {
            serving.stop().await;
        }
        self.shared.registry.clear();
    }

    /// Serves again on the same address, with the events stored so far.
    pub async fn restart(&self) -> Result<()> {
        let mut serving = lock(&self.serving);
        if serving.is_some() {
            return Err(HubError::AlreadyRunning);
        }
        let listener = server::bind(self.addr).map_err(|source| HubError::Listen {
            addr: self.addr,
            source,
        })?;
        *serving = Some(server::serve(listener, Arc::clone(&self.shared)));
        Ok(())
    }
}

impl Drop for EmbeddedHub {
    fn drop(&mut self) {
        if let Some(serving) = lock(&self.serving).as_ref() {
            serving.abort();
        }
        if let Some(janitor) = &self.janitor {
            janitor.abort();
        }
    }
}

/// Applies the hubs' retention as time passes: a task that looks a few times per
/// shortest retention (between every 10 ms and every second), or none.
fn retention_janitor(hubs: &HashMap<String, Arc<Hub>>) -> Option<JoinHandle<()>> {
    let shortest = hubs.values().filter_map(|h| h.retention).min()?;
    let every = (shortest / 4).clamp(Duration::from_millis(10), Duration::from_secs(1));
    let hubs: Vec<Arc<Hub>> = hubs.values().cloned().collect();
    Some(tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        loop {
            ticks.tick().await;
            let now = SystemTime::now();
            for hub in &hubs {
                hub.apply_retention(now);
            }
        }
    }))
}
