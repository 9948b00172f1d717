//! `[coordination]`: several `kvwatch run` instances sharing one hub through an Azure
//! Blob Storage container: one active, the others hot standbys that take over when
//! its ownership expires (see `crate::coordinate`).
//!
//! Absent, `kvwatch run` keeps its single-instance local state (`[state]`). Present,
//! the container holds ownership, checkpoints and state snapshots. The timings are
//! checked against each other at load: an owner must be able to renew (and retry
//! once) well inside its expiry, and it stops delivering a safety margin before a
//! standby may claim.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::eventhubs::{CredentialConfig, EventHubsConfig};
use super::{ConfigDuration, SecretRef};

/// `[coordination]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CoordinationConfig {
    /// The storage account's blob endpoint, `https://ACCOUNT.blob.core.windows.net`
    /// (`http://127.0.0.1:10000/devstoreaccount1` for Azurite). Not given with a
    /// connection string, which carries it.
    pub account_url: Option<String>,
    /// The container (it must exist; give it to kvwatch alone).
    pub container: String,
    /// How kvwatch authenticates to the account (default: the system-assigned
    /// managed identity, which needs Storage Blob Data Contributor on the container).
    pub credential: StorageCredentialConfig,
    /// The ownership group: instances with the same group share one set of
    /// partitions and one state. Default: derived from `[[eventhubs.hubs]]`
    /// (namespace, hub, consumer group and partitions), so identical configs agree.
    pub group: Option<String>,
    /// How instances share the hub: `active_standby` (the default: one instance
    /// holds every partition with one state, the others stand by) or `balanced`
    /// (for the keyed hub `kvwatch route` writes to: the partitions are spread over
    /// the instances, each partition with its own state, which follows it).
    pub mode: CoordinationMode,
    /// How this instance names itself in the ownership blobs (default: the host
    /// name, which is the pod's name on Kubernetes). The owner id is always
    /// `NAME-PID-RANDOM`, new at every start, so two processes never share one even
    /// when every replica has the same config.
    pub instance_name: Option<String>,
    /// How long an ownership lasts without renewal, judged on the storage service's
    /// clock. A standby takes over this long after the active one's last renewal.
    pub ownership_expiry: ConfigDuration,
    /// How often the active instance renews its ownership.
    pub renew_interval: ConfigDuration,
    /// The active instance stops delivering and committing this long before its
    /// ownership could expire (covers the service's 1-second timestamps and clock
    /// drift between this host and the service).
    pub safety_margin: ConfigDuration,
    /// How often a standby checks whether the ownership expired.
    pub standby_poll: ConfigDuration,
    /// The bound on one Blob Storage call.
    pub operation_timeout: ConfigDuration,
    /// The active instance gives the group up (last checkpoint, then release, then
    /// exit 3 for its supervisor to restart it as a standby) once every partition
    /// it reads has failed to reach Event Hubs for this long: a standby that can
    /// reach them takes over at its next poll.
    pub hand_over_after: ConfigDuration,
    /// State snapshots kept in the container, the newest included (older ones are
    /// deleted after each commit).
    pub snapshots_kept: u32,
    /// The largest snapshot loaded or written (bytes, compressed or not); a larger
    /// one is an error naming the blob.
    pub max_snapshot_bytes: u64,
    /// Extra trusted root certificates (PEM) for the blob endpoint: a TLS-inspecting
    /// proxy or a private certificate authority. Relative to the config file.
    pub ca_file: Option<PathBuf>,
}

impl Default for CoordinationConfig {
    fn default() -> Self {
        CoordinationConfig {
            account_url: None,
            container: "kvwatch".to_owned(),
            credential: StorageCredentialConfig::default(),
            group: None,
            mode: CoordinationMode::ActiveStandby,
            instance_name: None,
            ownership_expiry: ConfigDuration::seconds(30),
            renew_interval: ConfigDuration::seconds(10),
            safety_margin: ConfigDuration::seconds(5),
            standby_poll: ConfigDuration::seconds(5),
            operation_timeout: ConfigDuration::seconds(5),
            hand_over_after: ConfigDuration::minutes(2),
            snapshots_kept: 2,
            max_snapshot_bytes: 256 << 20,
            ca_file: None,
        }
    }
}

/// How instances share the hub (`[coordination] mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CoordinationMode {
    /// One active instance holds every partition (one group, one state); the
    /// others are hot standbys. Right for the unkeyed diagnostic-settings hub,
    /// where every principal's records are on every partition.
    #[default]
    ActiveStandby,
    /// Each partition is a group of its own, with its own state; every instance
    /// holds about its share of the partitions and stands by for the rest. Only
    /// for a hub keyed by principal (`kvwatch route`'s target), one hub.
    Balanced,
}

/// The longest `group` in balanced mode: each partition's group is
/// `{group}.p{partition}` and a group name has at most 63 characters.
pub const BALANCED_GROUP_MAX: usize = 55;

/// How kvwatch authenticates to Blob Storage (`credential = { kind = "…", … }`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum StorageCredentialConfig {
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
    /// Microsoft Entra Workload ID (AKS): defaults from `AZURE_CLIENT_ID`,
    /// `AZURE_TENANT_ID` and `AZURE_FEDERATED_TOKEN_FILE`.
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
    /// The storage account key (Shared Key).
    SharedKey {
        /// The account name. Default: from `account_url` (its first host label, or
        /// its first path segment for an IP address or `localhost`, as Azurite).
        #[serde(default)]
        account: Option<String>,
        /// Where the key (base64, as the portal shows it) is.
        key: SecretRef,
    },
    /// A shared access signature (`sv=…&sig=…`) for the container, with read,
    /// add, create, write, delete and list permissions.
    Sas {
        /// Where the signature is.
        token: SecretRef,
    },
    /// An Azure Storage connection string (`DefaultEndpointsProtocol=…;AccountName=…;
    /// AccountKey=…`, `BlobEndpoint=…;SharedAccessSignature=…`), which also gives the
    /// endpoint.
    ConnectionString {
        /// Where the connection string is.
        connection_string: SecretRef,
    },
}

impl Default for StorageCredentialConfig {
    fn default() -> Self {
        StorageCredentialConfig::ManagedIdentity {
            client_id: None,
            object_id: None,
            resource_id: None,
        }
    }
}

fn default_client_secret() -> SecretRef {
    SecretRef::Env("AZURE_CLIENT_SECRET".to_owned())
}

impl StorageCredentialConfig {
    /// The Microsoft Entra credential this describes, in the Event Hubs form (the
    /// same credential builder serves both); `None` for keys, SAS and connection
    /// strings.
    pub fn as_identity(&self) -> Option<CredentialConfig> {
        Some(match self.clone() {
            StorageCredentialConfig::ManagedIdentity {
                client_id,
                object_id,
                resource_id,
            } => CredentialConfig::ManagedIdentity {
                client_id,
                object_id,
                resource_id,
            },
            StorageCredentialConfig::WorkloadIdentity {
                client_id,
                tenant_id,
                token_file,
            } => CredentialConfig::WorkloadIdentity {
                client_id,
                tenant_id,
                token_file,
            },
            StorageCredentialConfig::ClientSecret {
                tenant_id,
                client_id,
                secret,
            } => CredentialConfig::ClientSecret {
                tenant_id,
                client_id,
                secret,
            },
            _ => return None,
        })
    }
}

impl CoordinationConfig {
    /// The ownership group: the configured one, or one derived from the hubs.
    pub fn group_name(&self, eventhubs: &EventHubsConfig) -> String {
        if let Some(group) = &self.group {
            return group.clone();
        }
        let mut lines: Vec<String> = eventhubs
            .hubs
            .iter()
            .map(|h| {
                let mut partitions = h.partitions.clone();
                partitions.sort();
                format!(
                    "{}/{}/{}:{}",
                    h.namespace.trim().to_ascii_lowercase(),
                    h.hub.trim().to_ascii_lowercase(),
                    h.consumer_group.trim().to_ascii_lowercase(),
                    partitions.join(",")
                )
            })
            .collect();
        lines.sort();
        format!(
            "run-{:016x}",
            xxhash_rust::xxh3::xxh3_64(lines.join("\n").as_bytes())
        )
    }
}

/// Checks the section; errors name the key (`coordination.renew_interval`).
pub fn validate(
    c: &CoordinationConfig,
    eventhubs: &EventHubsConfig,
) -> Result<(), (String, String)> {
    let bad = |key: &str, message: String| Err((format!("coordination.{key}"), message));
    let is_connection_string = matches!(
        c.credential,
        StorageCredentialConfig::ConnectionString { .. }
    );
    match (&c.account_url, is_connection_string) {
        (Some(_), true) => {
            return bad(
                "account_url",
                "leave it out with a connection string, which gives the endpoint".into(),
            )
        }
        (None, false) => return bad("account_url", "give the account's blob endpoint".into()),
        (Some(url), false) => {
            let parsed = reqwest::Url::parse(url).map_err(|e| {
                (
                    "coordination.account_url".to_owned(),
                    format!("not a URL ({e})"),
                )
            })?;
            if !matches!(parsed.scheme(), "http" | "https") || parsed.query().is_some() {
                return bad(
                    "account_url",
                    "an http(s) URL without a query (a SAS goes in the credential)".into(),
                );
            }
        }
        (None, true) => {}
    }
    crate::coordinate::blob::check_container_name(&c.container).or_else(|m| bad("container", m))?;
    if let Some(group) = &c.group {
        crate::coordinate::layout::check_group_name(group).or_else(|m| bad("group", m))?;
        if c.mode == CoordinationMode::Balanced && group.len() > BALANCED_GROUP_MAX {
            return bad(
                "group",
                format!("at most {BALANCED_GROUP_MAX} characters in balanced mode (each partition's group adds `.pN`)"),
            );
        }
    }
    if c.mode == CoordinationMode::Balanced && eventhubs.hubs.len() != 1 {
        return bad(
            "mode",
            format!(
                "balanced mode reads exactly one hub, the one `kvwatch route` keys by principal ({} [[eventhubs.hubs]] configured)",
                eventhubs.hubs.len()
            ),
        );
    }
    if let Some(id) = &c.instance_name {
        let ok = (1..=60).contains(&id.len())
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if !ok {
            return bad(
                "instance_name",
                "1 to 60 of letters, digits, '-', '_' and '.'".into(),
            );
        }
    }
    if let StorageCredentialConfig::ManagedIdentity {
        client_id,
        object_id,
        resource_id,
    } = &c.credential
    {
        if [client_id, object_id, resource_id]
            .iter()
            .filter(|v| v.is_some())
            .count()
            > 1
        {
            return bad(
                "credential",
                "give at most one of client_id, object_id and resource_id".into(),
            );
        }
    }
    let d = |v: ConfigDuration| v.as_std();
    let ms = Duration::from_millis;
    let table: [(&str, Duration, Duration, &str); 5] = [
        ("ownership_expiry", d(c.ownership_expiry), ms(2_000), "2s"),
        ("renew_interval", d(c.renew_interval), ms(100), "100ms"),
        (
            "safety_margin",
            d(c.safety_margin),
            ms(2_000),
            "2s (timestamps have 1-second resolution)",
        ),
        ("standby_poll", d(c.standby_poll), ms(100), "100ms"),
        (
            "operation_timeout",
            d(c.operation_timeout),
            ms(200),
            "200ms",
        ),
    ];
    for (key, value, min, text) in table {
        if value < min {
            return bad(key, format!("must be at least {text}"));
        }
    }
    if d(c.ownership_expiry) > Duration::from_secs(600) {
        return bad("ownership_expiry", "must be at most 10m".into());
    }
    if d(c.ownership_expiry) <= d(c.renew_interval) + d(c.operation_timeout) + d(c.safety_margin) {
        return bad(
            "ownership_expiry",
            format!(
                "must be more than renew_interval + operation_timeout + safety_margin ({} + {} + {})",
                c.renew_interval, c.operation_timeout, c.safety_margin
            ),
        );
    }
    if d(c.hand_over_after) < Duration::from_secs(5) {
        return bad("hand_over_after", "must be at least 5s".into());
    }
    if c.standby_poll > c.ownership_expiry {
        return bad("standby_poll", "must be at most ownership_expiry".into());
    }
    if c.snapshots_kept == 0 {
        return bad("snapshots_kept", "must be at least 1".into());
    }
    if c.max_snapshot_bytes < 64 * 1024 {
        return bad("max_snapshot_bytes", "must be at least 65536".into());
    }
    for (i, hub) in eventhubs.hubs.iter().enumerate() {
        if hub.owner_level.is_some() {
            return Err((
                format!("eventhubs.hubs[{i}].owner_level"),
                "leave it out with [coordination]: the coordination epoch is the owner level"
                    .to_owned(),
            ));
        }
    }
    Ok(())
}

/// Resolves relative paths (secret files, the CA file) against the config's folder.
pub fn resolve_paths(c: &mut CoordinationConfig, base: &Path) {
    let resolve = |p: &mut PathBuf| {
        if p.is_relative() {
            *p = base.join(&*p);
        }
    };
    if let Some(p) = c.ca_file.as_mut() {
        resolve(p);
    }
    match &mut c.credential {
        StorageCredentialConfig::ClientSecret {
            secret: SecretRef::File(p),
            ..
        }
        | StorageCredentialConfig::SharedKey {
            key: SecretRef::File(p),
            ..
        }
        | StorageCredentialConfig::Sas {
            token: SecretRef::File(p),
        }
        | StorageCredentialConfig::ConnectionString {
            connection_string: SecretRef::File(p),
        }
        | StorageCredentialConfig::WorkloadIdentity {
            token_file: Some(p),
            ..
        } => resolve(p),
        _ => {}
    }
}

#[cfg(test)]
mod tests;
