//! `[eventhubs]`, `[state]` and `[route]`: where `kvwatch run` reads live audit logs,
//! where it keeps its checkpoints, and where `kvwatch route` re-publishes them.
//!
//! Azure Monitor diagnostic settings stream Key Vault audit logs into an Event Hub;
//! each `[[eventhubs.hubs]]` names one such hub, the consumer group kvwatch reads it
//! through and how kvwatch authenticates. Credentials are never literal: a connection
//! string or a client secret is `{ env = "NAME" }` or `{ file = "path" }`.

use std::path::PathBuf;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer};

use super::{ConfigDuration, SecretRef};

/// `[eventhubs]`: the hubs `kvwatch run` consumes and how the readers behave.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EventHubsConfig {
    /// The hubs to consume (`[[eventhubs.hubs]]`), every partition of each unless the
    /// hub lists `partitions`.
    pub hubs: Vec<HubConfig>,
    /// A partition that has delivered nothing for this long (wall clock), while its
    /// reader has nothing waiting, stops holding back the watermark; when every
    /// partition is idle, everything buffered is released to the detectors.
    pub idle_after: ConfigDuration,
    /// How far behind the most advanced hub (in event time) a hub that is reading
    /// what the service has just received may hold the watermark. The Activity Log
    /// usually reaches its hub minutes after AuditEvent reaches the vaults' hub, and
    /// either can fall an hour behind when Azure is slow; past this limit the slow
    /// hub's records are processed as they arrive, counted as late, instead of
    /// holding every other hub's alerts back. A hub reading a backlog is never cut
    /// loose. A very long value (`"30d"`) turns the limit off.
    pub hub_lag_limit: ConfigDuration,
    /// The most event bodies waiting between the partition readers and the pipeline;
    /// when full, readers stop taking events (and the service stops sending).
    pub queue_bodies: usize,
    /// The first delay before reconnecting a dropped partition; doubles per failure.
    pub reconnect_initial: ConfigDuration,
    /// The longest delay between reconnection attempts.
    pub reconnect_max: ConfigDuration,
    /// The longest a connection, a management request or a close may take.
    pub operation_timeout: ConfigDuration,
    /// How often each partition's last enqueued sequence number is read, for the lag
    /// metric.
    pub lag_interval: ConfigDuration,
    /// How often the partition ids of each hub that reads every partition are read
    /// again, so that partitions added to a hub are read too (from their earliest
    /// event).
    pub relist_interval: ConfigDuration,
}

impl Default for EventHubsConfig {
    fn default() -> Self {
        EventHubsConfig {
            hubs: Vec::new(),
            idle_after: ConfigDuration::minutes(1),
            hub_lag_limit: ConfigDuration::minutes(15),
            queue_bodies: 128,
            reconnect_initial: ConfigDuration::seconds(1),
            reconnect_max: ConfigDuration::minutes(1),
            operation_timeout: ConfigDuration::seconds(30),
            lag_interval: ConfigDuration::seconds(30),
            relist_interval: ConfigDuration::minutes(1),
        }
    }
}

/// One `[[eventhubs.hubs]]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HubConfig {
    /// The fully qualified namespace: `contoso-audit.servicebus.windows.net`.
    pub namespace: String,
    /// The Event Hub the diagnostic setting writes to (`insights-logs-auditevent` when
    /// the setting lets Azure pick the name).
    pub hub: String,
    /// The consumer group kvwatch reads through. Give kvwatch its own: `$Default` is
    /// shared with every other reader of the hub (a warning says so).
    #[serde(default = "default_consumer_group")]
    pub consumer_group: String,
    /// How kvwatch authenticates (default: the system-assigned managed identity).
    #[serde(default)]
    pub credential: CredentialConfig,
    /// Where a partition starts when there is no checkpoint for it yet: `latest`
    /// (default), `earliest`, or an enqueued time (RFC 3339). Afterwards, checkpoints.
    #[serde(default)]
    pub start: StartConfig,
    /// Events the service may send ahead of what kvwatch has taken, per partition.
    #[serde(default = "default_prefetch")]
    pub prefetch: u32,
    /// The owner level (epoch) to claim partitions with: a reader with a higher one
    /// takes the partition over, and this one stops reading it. None: no claim.
    #[serde(default)]
    pub owner_level: Option<i64>,
    /// Only these partition ids (default: every partition of the hub).
    #[serde(default)]
    pub partitions: Vec<String>,
    /// Connect here instead of the namespace (`amqps://…` for a private endpoint or
    /// proxy, `amqp://127.0.0.1:PORT` for tests).
    #[serde(default)]
    pub endpoint: Option<String>,
}

fn default_consumer_group() -> String {
    "$Default".to_owned()
}

fn default_prefetch() -> u32 {
    300
}

/// How kvwatch authenticates to Event Hubs (`credential = { kind = "…", … }`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum CredentialConfig {
    /// A managed identity: system-assigned unless one of the ids names a
    /// user-assigned identity.
    ManagedIdentity {
        /// The user-assigned identity's client id.
        #[serde(default)]
        client_id: Option<String>,
        /// The user-assigned identity's object (principal) id.
        #[serde(default)]
        object_id: Option<String>,
        /// The user-assigned identity's Azure resource id.
        #[serde(default)]
        resource_id: Option<String>,
    },
    /// Microsoft Entra Workload ID (AKS): defaults come from `AZURE_CLIENT_ID`,
    /// `AZURE_TENANT_ID` and `AZURE_FEDERATED_TOKEN_FILE`, as the webhook sets them.
    WorkloadIdentity {
        /// The application's client id.
        #[serde(default)]
        client_id: Option<String>,
        /// The tenant id.
        #[serde(default)]
        tenant_id: Option<String>,
        /// The projected service account token.
        #[serde(default)]
        token_file: Option<PathBuf>,
    },
    /// A service principal's client secret (default `{ env = "AZURE_CLIENT_SECRET" }`;
    /// ids default to `AZURE_TENANT_ID` and `AZURE_CLIENT_ID`).
    ClientSecret {
        /// The tenant id.
        #[serde(default)]
        tenant_id: Option<String>,
        /// The application's client id.
        #[serde(default)]
        client_id: Option<String>,
        /// Where the secret is.
        #[serde(default = "default_client_secret")]
        secret: SecretRef,
    },
    /// A shared access connection string (`Endpoint=sb://…;SharedAccessKeyName=…`),
    /// from an environment variable or a file.
    ConnectionString {
        /// Where the connection string is.
        connection_string: SecretRef,
    },
}

impl Default for CredentialConfig {
    fn default() -> Self {
        CredentialConfig::ManagedIdentity {
            client_id: None,
            object_id: None,
            resource_id: None,
        }
    }
}

fn default_client_secret() -> SecretRef {
    SecretRef::Env("AZURE_CLIENT_SECRET".to_owned())
}

/// Where a partition without a checkpoint starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StartConfig {
    /// Only events enqueued from now on.
    #[default]
    Latest,
    /// Everything the hub still retains.
    Earliest,
    /// Events enqueued at or after this time.
    EnqueuedAt(DateTime<Utc>),
}

impl FromStr for StartConfig {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "latest" => Ok(StartConfig::Latest),
            "earliest" => Ok(StartConfig::Earliest),
            other => DateTime::parse_from_rfc3339(other).map(|t| StartConfig::EnqueuedAt(t.with_timezone(&Utc))).map_err(
                |_| format!("start {other:?}: write latest, earliest, or an RFC 3339 time (2024-05-06T09:00:00Z)"),
            ),
        }
    }
}

impl<'de> Deserialize<'de> for StartConfig {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// `[state]`: the checkpoint store of `kvwatch run` (partition positions and detector
/// state, written together).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StateConfig {
    /// The database file. Default: `state.redb` in the state directory (see
    /// `[outbox] path`). Relative paths are relative to the config file.
    pub path: Option<PathBuf>,
    /// How often a checkpoint is written (also at shutdown).
    pub checkpoint_interval: ConfigDuration,
}

impl Default for StateConfig {
    fn default() -> Self {
        StateConfig {
            path: None,
            checkpoint_interval: ConfigDuration::seconds(10),
        }
    }
}

impl StateConfig {
    /// The database file: the configured path, or `state.redb` in the state directory.
    pub fn resolved_path(&self) -> PathBuf {
        self.path
            .clone()
            .unwrap_or_else(|| super::delivery::state_dir().join("state.redb"))
    }
}

/// `[route]`: where `kvwatch route` re-publishes the records it reads from
/// `[[eventhubs.hubs]]`, keyed by principal.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RouteConfig {
    /// The keyed hub (`[route.target]`).
    pub target: Option<TargetHubConfig>,
    /// Route's checkpoint file. Default: `route.redb` in the state directory.
    pub state_path: Option<PathBuf>,
    /// How often route writes its checkpoint (positions whose records were all
    /// accepted by the keyed hub).
    pub checkpoint_interval: ConfigDuration,
    /// The most records in one re-published body.
    pub max_records_per_body: usize,
}

impl Default for RouteConfig {
    fn default() -> Self {
        RouteConfig {
            target: None,
            state_path: None,
            checkpoint_interval: ConfigDuration::seconds(5),
            max_records_per_body: 500,
        }
    }
}

impl RouteConfig {
    /// The checkpoint file: the configured one, or `route.redb` in the state directory.
    pub fn resolved_state_path(&self) -> PathBuf {
        self.state_path
            .clone()
            .unwrap_or_else(|| super::delivery::state_dir().join("route.redb"))
    }
}

/// `[route.target]`: the hub route publishes to.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetHubConfig {
    /// The fully qualified namespace.
    pub namespace: String,
    /// The keyed hub.
    pub hub: String,
    /// How route authenticates (needs Azure Event Hubs Data Sender on the hub).
    #[serde(default)]
    pub credential: CredentialConfig,
    /// Connect here instead of the namespace.
    #[serde(default)]
    pub endpoint: Option<String>,
}

/// Checks the sections; errors name the key (`eventhubs.hubs[0].prefetch`).
pub fn validate(
    eh: &EventHubsConfig,
    state: &StateConfig,
    route: &RouteConfig,
) -> Result<(), (String, String)> {
    let bad = |key: String, message: &str| Err((key, message.to_owned()));
    let secs = std::time::Duration::from_secs;
    if eh.queue_bodies == 0 {
        return bad("eventhubs.queue_bodies".into(), "must be at least 1");
    }
    if eh.idle_after.as_std() < std::time::Duration::from_millis(100) {
        return bad("eventhubs.idle_after".into(), "must be at least 100ms");
    }
    if eh.hub_lag_limit.as_std() < secs(1) {
        return bad("eventhubs.hub_lag_limit".into(), "must be at least 1s");
    }
    if eh.reconnect_initial.as_std().is_zero() || eh.reconnect_initial > eh.reconnect_max {
        return bad(
            "eventhubs.reconnect_initial".into(),
            "must be more than 0 and at most reconnect_max",
        );
    }
    if eh.operation_timeout.as_std() < secs(1) || eh.lag_interval.as_std() < secs(1) {
        return bad(
            "eventhubs.operation_timeout".into(),
            "operation_timeout and lag_interval must be at least 1s",
        );
    }
    let mut seen = std::collections::HashSet::new();
    for (i, h) in eh.hubs.iter().enumerate() {
        let key = |k: &str| format!("eventhubs.hubs[{i}].{k}");
        if h.namespace.trim().is_empty()
            || h.hub.trim().is_empty()
            || h.consumer_group.trim().is_empty()
        {
            return bad(
                key("hub"),
                "namespace, hub and consumer_group must not be empty",
            );
        }
        if !seen.insert((
            h.namespace.to_ascii_lowercase(),
            h.hub.to_ascii_lowercase(),
            h.consumer_group.to_ascii_lowercase(),
        )) {
            return bad(
                key("hub"),
                "the same namespace, hub and consumer group are listed twice",
            );
        }
        if !(1..=10_000).contains(&h.prefetch) {
            return bad(key("prefetch"), "must be between 1 and 10000");
        }
        if h.owner_level.is_some_and(|l| l < 0) {
            return bad(key("owner_level"), "must not be negative");
        }
        check_credential(&h.credential).map_err(|m| (key("credential"), m))?;
    }
    if state.checkpoint_interval.as_std() < std::time::Duration::from_millis(100) {
        return bad("state.checkpoint_interval".into(), "must be at least 100ms");
    }
    if route.max_records_per_body == 0 {
        return bad("route.max_records_per_body".into(), "must be at least 1");
    }
    if let Some(t) = &route.target {
        check_credential(&t.credential).map_err(|m| ("route.target.credential".to_owned(), m))?;
    }
    Ok(())
}

fn check_credential(c: &CredentialConfig) -> Result<(), String> {
    if let CredentialConfig::ManagedIdentity {
        client_id,
        object_id,
        resource_id,
    } = c
    {
        if [client_id, object_id, resource_id]
            .iter()
            .filter(|v| v.is_some())
            .count()
            > 1
        {
            return Err("give at most one of client_id, object_id and resource_id".to_owned());
        }
    }
    Ok(())
}

/// Resolves relative paths against the config file's folder.
pub fn resolve_paths(
    state: &mut StateConfig,
    route: &mut RouteConfig,
    eh: &mut EventHubsConfig,
    base: &std::path::Path,
) {
    let resolve = |p: &mut PathBuf| {
        if p.is_relative() {
            *p = base.join(&*p);
        }
    };
    state
        .path
        .iter_mut()
        .chain(route.state_path.iter_mut())
        .for_each(resolve);
    let secrets = eh
        .hubs
        .iter_mut()
        .map(|h| &mut h.credential)
        .chain(route.target.iter_mut().map(|t| &mut t.credential));
    for credential in secrets {
        match credential {
            CredentialConfig::ConnectionString {
                connection_string: SecretRef::File(p),
            }
            | CredentialConfig::ClientSecret {
                secret: SecretRef::File(p),
                ..
            } => resolve(p),
            CredentialConfig::WorkloadIdentity {
                token_file: Some(p),
                ..
            } => resolve(p),
            _ => {}
        }
    }
}

#[cfg(test)]
#[path = "eventhubs_tests.rs"]
mod tests;
