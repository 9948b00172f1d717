//! The configuration file (`--config FILE`, TOML): typed, validated at load, every
//! unknown key an error that names the file and the key.
//!
//! Each section belongs to one part of the data flow and is documented field by
//! field; every field has a default, so an empty file (or none) is a valid config.
//! Secrets are never written here: fields that need one name an environment variable
//! or a file holding it.

pub mod coordination;
pub mod delivery;
pub mod duration;
pub mod eventhubs;
pub mod limits;
pub mod locate;
pub mod maintenance;
pub mod metrics;
pub mod report;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

pub use coordination::{CoordinationConfig, CoordinationMode, StorageCredentialConfig};
pub use delivery::{OutboxConfig, SecretRef, SinkConfig, SinkKind, SinkSettings};
pub use duration::ConfigDuration;
pub use eventhubs::{EventHubsConfig, RouteConfig, StateConfig};
pub use metrics::MetricsConfig;
pub use report::ReportConfig;

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML or does not fit the schema.
    #[error("invalid config file {path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong and where (line, key); never a line of the file.
        message: String,
    },
    /// A value is out of range or inconsistent.
    #[error("invalid config file {path}{}: `{key}`: {message}", at_line(*.line))]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The offending key (dotted path).
        key: String,
        /// The line the key is on, when the file writes it (else it is a default).
        line: Option<usize>,
        /// What is wrong.
        message: String,
    },
}

fn at_line(line: Option<usize>) -> String {
    line.map(|l| format!(", line {l}")).unwrap_or_default()
}

/// The whole configuration.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Ordering, deduplication and input limits.
    pub pipeline: PipelineConfig,
    /// Where detector definitions come from and how they learn.
    pub detectors: DetectorsConfig,
    /// Caller-address geolocation.
    pub geoip: GeoIpConfig,
    /// How findings group into incidents.
    pub incidents: IncidentsConfig,
    /// The durable queue between the pipeline and the sinks (`[outbox]`).
    pub outbox: OutboxConfig,
    /// Where alerts are delivered (`[[sinks]]`: email, webhooks, files), each routed by
    /// detector and minimum severity. None: alerts only go to the replay's output.
    pub sinks: Vec<SinkConfig>,
    /// The Prometheus endpoint (`/metrics`, `/healthz`, `/readyz`) and its label bounds.
    pub metrics: MetricsConfig,
    /// `kvwatch report`: hygiene thresholds (rotation tiers, expiry notice, dormancy)
    /// and how much the report keeps per principal and vault.
    pub report: ReportConfig,
    /// The Event Hubs `kvwatch run` consumes (`[eventhubs]`, `[[eventhubs.hubs]]`).
    pub eventhubs: EventHubsConfig,
    /// Where `kvwatch run` keeps checkpoints: partition positions and detector state.
    pub state: StateConfig,
    /// Where `kvwatch route` re-publishes records keyed by principal (`[route]`).
    pub route: RouteConfig,
    /// Several instances sharing the hubs through Azure Blob Storage: one active,
    /// the others hot standbys (`[coordination]`). None: one instance, local state.
    pub coordination: Option<CoordinationConfig>,
}

/// `[pipeline]`: ordering, deduplication and input limits.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PipelineConfig {
    /// How late (event time) a record may arrive and still be processed in order.
    /// Azure exports within about 10 minutes; the default leaves a margin.
    pub lateness: ConfigDuration,
    /// How long (event time) exact duplicates are remembered.
    pub dedup_window: ConfigDuration,
    /// The most events held for reordering; past it the oldest leave early.
    pub reorder_capacity: usize,
    /// The longest record accepted, in bytes (longer ones are counted and skipped).
    /// Inputs are streamed, so this (with the chunk size) bounds the reading memory.
    pub max_record_bytes: usize,
    /// The most a `.gz` input may expand, in output bytes per compressed byte read
    /// (after its first 16 MiB): past it the input is refused as a decompression
    /// bomb, before anything more is expanded. Real logs expand 5 to 30 times.
    pub max_expansion_ratio: u64,
    /// Deprecated and ignored: inputs are streamed, so no whole-input cap applies
    /// (the bomb cap is `max_expansion_ratio`). Accepted so old configs still load.
    pub max_decompressed_bytes: Option<u64>,
    /// Deprecated and ignored: inputs are streamed and never read whole, so an input
    /// of any size is read in bounded memory. Accepted so old configs still load.
    pub max_input_bytes: Option<u64>,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        let limits = crate::decode::Limits::default();
        PipelineConfig {
            lateness: ConfigDuration::minutes(15),
            dedup_window: ConfigDuration::minutes(60),
            reorder_capacity: 1_000_000,
            max_record_bytes: limits.max_record_bytes,
            max_expansion_ratio: limits.max_expansion_ratio,
            max_decompressed_bytes: None,
            max_input_bytes: None,
        }
    }
}

/// `[detectors]`: where detector definitions come from, how baselines learn, and the
/// suppressions that apply to every detector.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DetectorsConfig {
    /// A folder of detector definitions (`*.toml`) replacing the built-in ones.
    /// Relative paths are relative to the config file.
    pub dir: Option<PathBuf>,
    /// A roles file replacing the built-in `detectors/roles/azure_roles.toml` (same
    /// format): copy the built-in file and add your tenant's custom roles, so a role
    /// assignment of one is named and judged by what it reads and grants instead of
    /// "a role kvwatch does not know". Relative paths are relative to the config file.
    pub roles: Option<PathBuf>,
    /// How long a principal is only learned, not compared with its own history
    /// (population comparisons and rule-based alerts apply from its first event).
    pub learning_period: ConfigDuration,
    /// The most principals whose baselines are kept; past it the longest-idle go.
    pub max_principals: usize,
    /// A principal quiet this long has its transient state (windows) dropped.
    pub idle_after: ConfigDuration,
    /// A principal quiet this long is forgotten altogether.
    pub forget_after: ConfigDuration,
    /// Suppressions that apply to every detector (each detector file adds its own).
    pub suppress: SuppressConfig,
}

impl Default for DetectorsConfig {
    fn default() -> Self {
        DetectorsConfig {
            dir: None,
            roles: None,
            learning_period: ConfigDuration::hours(72),
            max_principals: 200_000,
            idle_after: ConfigDuration::hours(6),
            forget_after: ConfigDuration::hours(90 * 24),
            suppress: SuppressConfig::with_platform_defaults(),
        }
    }
}

/// Azure Resource Graph: indexes every vault with VaultGet (Sentinel excludes it).
pub const APPID_AZURE_RESOURCE_GRAPH: &str = "509e4652-da8d-478d-a730-e9d4a1996ca4";
/// Microsoft Policy Insights Provider Data Plane (Sentinel excludes it).
pub const APPID_POLICY_INSIGHTS: &str = "8cae6e77-e04e-42ce-b5cb-50d82bce26b1";

/// Allow-lists and maintenance windows: findings matching any of them are dropped
/// (the events still feed the baselines). Used in the config file (`[detectors.suppress]`,
/// every detector) and in each detector file (`[suppress]`, that detector only).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SuppressConfig {
    /// Principal keys (object ids or app ids, any case) never alerted on.
    pub principals: Vec<String>,
    /// Client application ids (`appid` claim) never alerted on.
    pub appids: Vec<String>,
    /// Caller address ranges (CIDR) never alerted on.
    pub addresses: Vec<ipnet::IpNet>,
    /// Vault names never alerted on.
    pub vaults: Vec<String>,
    /// Known maintenance windows (UTC): findings inside them are dropped.
    pub maintenance: Vec<MaintenanceWindow>,
}

impl SuppressConfig {
    /// The platform's own indexers (Azure Resource Graph, Policy Insights).
    pub fn with_platform_defaults() -> Self {
        SuppressConfig {
            appids: vec![
                APPID_AZURE_RESOURCE_GRAPH.to_owned(),
                APPID_POLICY_INSIGHTS.to_owned(),
            ],
            ..Default::default()
        }
    }
}

/// A recurring maintenance window, in UTC.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct MaintenanceWindow {
    /// A name the alert log and the README can refer to.
    pub name: String,
    /// Days of the week (`mon` … `sun`); empty means every day.
    pub days: Vec<String>,
    /// Start time of day, `HH:MM` (UTC).
    pub start: String,
    /// End time of day, `HH:MM` (UTC); before `start` means the window crosses midnight.
    pub end: String,
    /// Only these vaults (empty: all).
    pub vaults: Vec<String>,
    /// Only these principals (empty: all).
    pub principals: Vec<String>,
}

/// `[geoip]`: caller-address geolocation.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GeoIpConfig {
    /// A MaxMind-format database (GeoLite2-City/-Country, DB-IP or IPinfo lite
    /// `.mmdb`). Without one, geography falls back to network prefixes.
    pub database: Option<PathBuf>,
    /// Extra address ranges to treat as Azure-internal (never "new geography").
    pub azure_ranges: Vec<ipnet::IpNet>,
    /// Extra address ranges to treat as private (VPN exits, office NAT …).
    pub private_ranges: Vec<ipnet::IpNet>,
}

/// `[incidents]`: how findings group into incidents.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IncidentsConfig {
    /// Findings further apart than this (event time) open a new incident.
    pub gap: ConfigDuration,
}

impl Default for IncidentsConfig {
    fn default() -> Self {
        IncidentsConfig {
            gap: ConfigDuration::minutes(60),
        }
    }
}

/// Where an HTTP endpoint listens (defaults to loopback).
pub type ListenAddr = SocketAddr;

impl Config {
    /// Loads and validates a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let mut config = Config::parse(&text, path)?;
        config.resolve_paths(path.parent().unwrap_or(Path::new(".")));
        Ok(config)
    }

    /// Parses and validates config text; `path` names it in errors. Errors name the
    /// key and its line, and never quote the text (a line may hold a secret).
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let parse_err = |message: String| ConfigError::Parse {
            path: path.to_owned(),
            message,
        };
        let doc = locate::Document::parse(text).map_err(parse_err)?;
        let config: Config =
            toml::from_str(text).map_err(|e| parse_err(locate::schema_error(&doc, &e)))?;
        config.validate(path, &doc)?;
        for key in config.deprecated_keys() {
            tracing::warn!(
                "{}: `{key}` is deprecated and ignored: inputs are streamed in bounded memory (see pipeline.max_expansion_ratio)",
                path.display()
            );
        }
        Ok(config)
    }

    /// The deprecated keys this config sets (accepted, ignored, warned about).
    pub fn deprecated_keys(&self) -> Vec<&'static str> {
        let mut keys = Vec::new();
        if self.pipeline.max_input_bytes.is_some() {
            keys.push("pipeline.max_input_bytes");
        }
        if self.pipeline.max_decompressed_bytes.is_some() {
            keys.push("pipeline.max_decompressed_bytes");
        }
        keys
    }

    fn validate(&self, path: &Path, doc: &locate::Document<'_>) -> Result<(), ConfigError> {
        let invalid = |key: &str, message: &str| ConfigError::Invalid {
            path: path.to_owned(),
            key: key.to_owned(),
            line: doc.line_of(key),
            message: message.to_owned(),
        };
        limits::check(self).map_err(|(key, message)| invalid(&key, &message))?;
        self.metrics
            .validate()
            .map_err(|(key, message)| invalid(&format!("metrics.{key}"), &message))?;
        self.report
            .validate()
            .map_err(|(key, message)| invalid(&format!("report.{key}"), &message))?;
        if self.pipeline.reorder_capacity == 0 {
            return Err(invalid("pipeline.reorder_capacity", "must be at least 1"));
        }
        if self.pipeline.max_record_bytes < 1024 {
            return Err(invalid(
                "pipeline.max_record_bytes",
                "must be at least 1024",
            ));
        }
        if self.pipeline.max_expansion_ratio < 10 {
            return Err(invalid(
                "pipeline.max_expansion_ratio",
                "must be at least 10 (real logs expand up to about 30 times)",
            ));
        }
        if self.pipeline.lateness.as_std() > std::time::Duration::from_secs(48 * 3600) {
            return Err(invalid("pipeline.lateness", "must be at most 48h"));
        }
        if self.pipeline.dedup_window.as_std() < std::time::Duration::from_secs(60) {
            return Err(invalid("pipeline.dedup_window", "must be at least 1m"));
        }
        if self.incidents.gap.as_std() < std::time::Duration::from_secs(60) {
            return Err(invalid("incidents.gap", "must be at least 1m"));
        }
        let d = &self.detectors;
        if d.learning_period.as_std() > std::time::Duration::from_secs(30 * 86_400) {
            return Err(invalid("detectors.learning_period", "must be at most 30d"));
        }
        if d.max_principals < 100 {
            return Err(invalid("detectors.max_principals", "must be at least 100"));
        }
        if d.idle_after.as_std() < std::time::Duration::from_secs(3600) {
            return Err(invalid("detectors.idle_after", "must be at least 1h"));
        }
        if d.forget_after < d.idle_after || d.forget_after < d.learning_period {
            return Err(invalid(
                "detectors.forget_after",
                "must be at least idle_after and learning_period",
            ));
        }
        maintenance::validate(&d.suppress.maintenance)
            .map_err(|(key, message)| invalid(&format!("detectors.suppress.{key}"), &message))?;
        delivery::validate(&self.outbox, &self.sinks)
            .map_err(|(key, message)| invalid(&key, &message))?;
        eventhubs::validate(&self.eventhubs, &self.state, &self.route)
            .map_err(|(key, message)| invalid(&key, &message))?;
        if let Some(c) = &self.coordination {
            coordination::validate(c, &self.eventhubs)
                .map_err(|(key, message)| invalid(&key, &message))?;
        }
        Ok(())
    }

    fn resolve_paths(&mut self, base: &Path) {
        delivery::resolve_paths(&mut self.outbox, &mut self.sinks, base);
        eventhubs::resolve_paths(&mut self.state, &mut self.route, &mut self.eventhubs, base);
        if let Some(c) = self.coordination.as_mut() {
            coordination::resolve_paths(c, base);
        }
        let resolve = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        if let Some(dir) = self.detectors.dir.as_mut() {
            resolve(dir);
        }
        if let Some(roles) = self.detectors.roles.as_mut() {
            resolve(roles);
        }
        if let Some(db) = self.geoip.database.as_mut() {
            resolve(db);
        }
    }

    /// The decoder limits this config sets.
    pub fn limits(&self) -> crate::decode::Limits {
        crate::decode::Limits {
            max_record_bytes: self.pipeline.max_record_bytes,
            max_expansion_ratio: self.pipeline.max_expansion_ratio,
            ..crate::decode::Limits::default()
        }
    }
}

#[cfg(test)]
mod validation_tests;

#[cfg(test)]
mod tests;
