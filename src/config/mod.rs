//! The configuration file (`--config FILE`, TOML): typed, validated at load, every
//! unknown key an error that names the file and the key.
//!
//! Each section belongs to one part of the data flow and is documented field by
//! field; every field has a default, so an empty file (or none) is a valid config.
//! Secrets are never written here: fields that need one name an environment variable
//! or a file holding it.

pub mod duration;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

pub use duration::ConfigDuration;

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
        /// What is wrong and where (line, key).
        message: String,
    },
    /// A value is out of range or inconsistent.
    #[error("invalid config file {path}: `{key}`: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The offending key (dotted path).
        key: String,
        /// What is wrong.
        message: String,
    },
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
    pub max_record_bytes: usize,
    /// The most bytes a `.gz` input may expand to (decompression-bomb cap).
    pub max_decompressed_bytes: u64,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        let limits = crate::decode::Limits::default();
        PipelineConfig {
            lateness: ConfigDuration::minutes(15),
            dedup_window: ConfigDuration::minutes(60),
            reorder_capacity: 1_000_000,
            max_record_bytes: limits.max_record_bytes,
            max_decompressed_bytes: limits.max_decompressed_bytes,
        }
    }
}

/// `[detectors]`: where detector definitions come from.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DetectorsConfig {
    /// A folder of detector definitions (`*.toml`) replacing the built-in ones.
    /// Relative paths are relative to the config file.
    pub dir: Option<PathBuf>,
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
        IncidentsConfig { gap: ConfigDuration::minutes(60) }
    }
}

/// Where an HTTP endpoint listens (defaults to loopback).
pub type ListenAddr = SocketAddr;

impl Config {
    /// Loads and validates a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
        let mut config = Config::parse(&text, path)?;
        config.resolve_paths(path.parent().unwrap_or(Path::new(".")));
        Ok(config)
    }

    /// Parses and validates config text; `path` names it in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text)
            .map_err(|e| ConfigError::Parse { path: path.to_owned(), message: e.to_string() })?;
        config.validate(path)?;
        Ok(config)
    }

    fn validate(&self, path: &Path) -> Result<(), ConfigError> {
        let invalid = |key: &str, message: &str| ConfigError::Invalid {
            path: path.to_owned(),
            key: key.to_owned(),
            message: message.to_owned(),
        };
        if self.pipeline.reorder_capacity == 0 {
            return Err(invalid("pipeline.reorder_capacity", "must be at least 1"));
        }
        if self.pipeline.max_record_bytes < 1024 {
            return Err(invalid("pipeline.max_record_bytes", "must be at least 1024"));
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
        Ok(())
    }

    fn resolve_paths(&mut self, base: &Path) {
        let resolve = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        if let Some(dir) = self.detectors.dir.as_mut() {
            resolve(dir);
        }
        if let Some(db) = self.geoip.database.as_mut() {
            resolve(db);
        }
    }

    /// The decoder limits this config sets.
    pub fn limits(&self) -> crate::decode::Limits {
        crate::decode::Limits {
            max_record_bytes: self.pipeline.max_record_bytes,
            max_decompressed_bytes: self.pipeline.max_decompressed_bytes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("test.toml"))
    }

    #[test]
    fn empty_config_is_valid() {
        let c = parse("").unwrap();
        assert_eq!(c.pipeline.lateness.as_std().as_secs(), 900);
    }

    #[test]
    fn errors_name_the_file_and_key() {
        let table = [
            ("[pipeline]\nlatenes = \"5m\"\n", "unknown field `latenes`"),
            ("[pipline]\n", "unknown field `pipline`"),
            ("[pipeline]\nlateness = \"soon\"\n", "invalid duration"),
            ("[pipeline]\nreorder_capacity = 0\n", "pipeline.reorder_capacity"),
            ("[pipeline]\nlateness = \"3d\"\n", "pipeline.lateness"),
        ];
        for (text, want) in table {
            let err = parse(text).unwrap_err().to_string();
            assert!(err.contains("test.toml"), "{err}");
            assert!(err.contains(want), "{text:?} → {err}");
        }
    }

    #[test]
    fn values_parse() {
        let c = parse("[pipeline]\nlateness = \"10m\"\n[geoip]\ndatabase = \"geo.mmdb\"\nazure_ranges = [\"20.0.0.0/8\"]\n").unwrap();
        assert_eq!(c.pipeline.lateness.as_std().as_secs(), 600);
        assert_eq!(c.geoip.azure_ranges.len(), 1);
    }
}
