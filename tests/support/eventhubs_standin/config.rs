//! Configuration and errors of the stand-in.

use std::time::Duration;

/// The namespace clients name unless the configuration says otherwise. The
/// stand-in does not check it; the SDK only puts it in URLs and the AMQP
/// `hostname`.
pub const DEFAULT_NAMESPACE: &str = "kvwatch-standin.servicebus.windows.net";

/// The largest message a link accepts, as on the Standard tier (1 MiB). The
/// SDK sizes batches from it and cannot create a batch without it.
pub const DEFAULT_MAX_MESSAGE_SIZE: u64 = 1024 * 1024;

/// How long the stand-in holds back the disposition of a transfer that a
/// client waits on; works around a lost-disposition race in fe2o3-amqp 0.16
/// (see `links::pause_before_settling`).
pub const DEFAULT_SETTLE_DELAY: Duration = Duration::from_millis(10);

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
    /// Delay before settling client transfers; keep it above zero with
    /// fe2o3-amqp 0.16 clients.
    pub settle_delay: Duration,
}

impl Default for StandinConfig {
    fn default() -> Self {
        Self {
            hubs: Vec::new(),
            port: 0,
            namespace: DEFAULT_NAMESPACE.to_string(),
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            settle_delay: DEFAULT_SETTLE_DELAY,
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

    pub(super) fn validate(&self) -> Result<()> {
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
