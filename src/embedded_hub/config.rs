//! What an embedded hub serves, and the errors of its API.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use super::sas::SharedAccessKey;

/// The namespace clients name unless the configuration says otherwise. The hub does
/// not check it; the SDK only puts it in URLs, token audiences and the AMQP
/// `hostname`.
pub const DEFAULT_NAMESPACE: &str = "kvwatch-embedded.servicebus.windows.net";

/// The largest message a link accepts, as on the Standard tier (1 MiB). The SDK sizes
/// batches from it and cannot create a batch without it.
pub const DEFAULT_MAX_MESSAGE_SIZE: u64 = 1024 * 1024;

/// How long the hub holds back the disposition of a transfer that a client waits on;
/// works around a lost-disposition race in fe2o3-amqp 0.16 (see
/// `links::pause_before_settling`).
pub const DEFAULT_SETTLE_DELAY: Duration = Duration::from_millis(10);

/// How long the tokens of [`super::EmbeddedHub::credential`] are valid by default, as
/// an Entra token roughly is.
pub const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(3600);

/// Errors of the hub's own API.
#[derive(Debug, thiserror::Error)]
pub enum HubError {
    /// The listening socket could not be opened.
    #[error("could not listen on {addr}: {source}")]
    Listen {
        /// The address asked for.
        addr: SocketAddr,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// No hub of that name.
    #[error("the embedded namespace has no event hub named '{0}'")]
    UnknownHub(String),
    /// No partition of that id.
    #[error("event hub '{hub}' has no partition '{partition}'")]
    UnknownPartition {
        /// The hub.
        hub: String,
        /// The partition id asked for.
        partition: String,
    },
    /// The configuration cannot be served.
    #[error("invalid embedded hub configuration: {0}")]
    InvalidConfig(String),
    /// `restart` while serving.
    #[error("the embedded hub is already serving")]
    AlreadyRunning,
}

/// The result type of the hub's API.
pub type Result<T, E = HubError> = std::result::Result<T, E>;

/// One Event Hub to serve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubSpec {
    /// The hub's name (case-insensitive, as on the service).
    pub name: String,
    /// Partitions are named `"0"` to `"<partition_count - 1>"`; the count can grow at
    /// run time ([`super::Faults::add_partitions`]).
    pub partition_count: usize,
    /// The sequence number of each partition's first event: above 0 stands for a hub
    /// whose older events the retention already removed.
    pub first_sequence_number: i64,
    /// Events older than this (by enqueued time) are removed as time passes, as the
    /// service's retention does. `None` keeps everything.
    pub retention: Option<Duration>,
}

impl HubSpec {
    /// A hub with `partition_count` partitions, beginning at sequence number 0 and
    /// keeping every event.
    pub fn new(name: impl Into<String>, partition_count: usize) -> Self {
        HubSpec {
            name: name.into(),
            partition_count,
            first_sequence_number: 0,
            retention: None,
        }
    }

    /// Partitions begin at this sequence number.
    pub fn beginning_at(mut self, first_sequence_number: i64) -> Self {
        self.first_sequence_number = first_sequence_number;
        self
    }

    /// Events older than `retention` are removed.
    pub fn with_retention(mut self, retention: Duration) -> Self {
        self.retention = Some(retention);
        self
    }
}

/// What to serve and where.
#[derive(Debug, Clone)]
pub struct EmbeddedHubConfig {
    /// The hubs of the namespace.
    pub hubs: Vec<HubSpec>,
    /// Where to listen; port `0` picks a free port. Anything but loopback is reachable
    /// from other hosts without TLS: the caller decides (and warns).
    pub listen: SocketAddr,
    /// The namespace name clients use in URLs and token audiences.
    pub namespace: String,
    /// The shared access keys that sign valid tokens (a random one when empty).
    pub keys: Vec<SharedAccessKey>,
    /// The lifetime of the tokens [`super::EmbeddedHub::credential`] issues. The SDK
    /// refreshes a token six minutes (± 5 s) before it expires, so a lifetime just
    /// above six minutes makes it refresh every few seconds.
    pub token_lifetime: Duration,
    /// The hub treats every token as expired this long after it was put, whatever the
    /// token says, and detaches the links it authorized: a client that does not
    /// re-authorize in time is cut off (`amqp:unauthorized-access`). `None` honours
    /// each token's own expiry.
    pub max_token_lifetime: Option<Duration>,
    /// The largest message a link accepts.
    pub max_message_size: u64,
    /// Delay before settling client transfers; keep it above zero with fe2o3-amqp
    /// 0.16 clients.
    pub settle_delay: Duration,
}

impl Default for EmbeddedHubConfig {
    fn default() -> Self {
        Self {
            hubs: Vec::new(),
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            namespace: DEFAULT_NAMESPACE.to_string(),
            keys: Vec::new(),
            token_lifetime: DEFAULT_TOKEN_LIFETIME,
            max_token_lifetime: None,
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            settle_delay: DEFAULT_SETTLE_DELAY,
        }
    }
}

impl EmbeddedHubConfig {
    /// An empty namespace on `127.0.0.1`, a free port.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a hub with `partition_count` partitions.
    pub fn with_hub(self, name: impl Into<String>, partition_count: usize) -> Self {
        self.with_hub_spec(HubSpec::new(name, partition_count))
    }

    /// Adds a hub.
    pub fn with_hub_spec(mut self, spec: HubSpec) -> Self {
        self.hubs.push(spec);
        self
    }

    /// Listens on this port of `127.0.0.1` instead of a free one.
    pub fn with_port(mut self, port: u16) -> Self {
        self.listen.set_port(port);
        self
    }

    /// Issues tokens valid for `lifetime` (see [`Self::token_lifetime`]).
    pub fn with_token_lifetime(mut self, lifetime: Duration) -> Self {
        self.token_lifetime = lifetime;
        self
    }

    /// Expires every token this long after it was put (see
    /// [`Self::max_token_lifetime`]).
    pub fn with_max_token_lifetime(mut self, lifetime: Duration) -> Self {
        self.max_token_lifetime = Some(lifetime);
        self
    }

    pub(crate) fn validate(&self) -> Result<()> {
        let mut names: Vec<String> = self.hubs.iter().map(|h| h.name.to_lowercase()).collect();
        names.sort();
        names.dedup();
        if names.len() != self.hubs.len() {
            return Err(HubError::InvalidConfig("hub names must be unique".into()));
        }
        if let Some(hub) = self
            .hubs
            .iter()
            .find(|h| h.name.is_empty() || h.name.contains('/') || h.partition_count == 0)
        {
            return Err(HubError::InvalidConfig(format!(
                "hub '{}' needs a name without '/' and at least one partition",
                hub.name
            )));
        }
        if let Some(hub) = self.hubs.iter().find(|h| h.first_sequence_number < 0) {
            return Err(HubError::InvalidConfig(format!(
                "hub '{}': the first sequence number cannot be negative",
                hub.name
            )));
        }
        if self
            .hubs
            .iter()
            .any(|h| h.retention.is_some_and(|r| r.is_zero()))
        {
            return Err(HubError::InvalidConfig(
                "a retention must be longer than zero".into(),
            ));
        }
        Ok(())
    }
}
