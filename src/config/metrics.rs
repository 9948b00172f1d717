//! `[metrics]`: the Prometheus endpoint and the bounds on its label values.
//!
//! Kept apart from the other sections because the metrics code, the replay flags
//! and the live service all read it; it only holds settings, the metrics
//! themselves live in [`crate::metrics`].

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use serde::Deserialize;

use super::ConfigDuration;

/// The default port: in the range Prometheus exporters use, not taken by a
/// well-known exporter.
pub const DEFAULT_METRICS_PORT: u16 = 9187;

/// `[metrics]`: where `/metrics`, `/healthz` and `/readyz` are served, and how many
/// vaults get a label of their own.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// The address the HTTP endpoint listens on (`/metrics`, `/healthz`, `/readyz`).
    /// Loopback by default: publishing it on another interface is a deliberate
    /// choice (write `0.0.0.0:9187` or a specific address).
    pub listen: SocketAddr,
    /// The most vaults counted under their own `vault` label; events of further
    /// vaults (and of names that are not valid vault names) are counted under
    /// `vault="other"`, so a tenant with thousands of vaults cannot blow up the
    /// number of series.
    pub max_vault_labels: usize,
    /// The most connections the endpoint serves at once; further ones are answered
    /// `503` and closed at once, so idle or hostile clients cannot take the
    /// descriptors the pipeline needs (lowered further when the process's open-file
    /// limit is low).
    pub max_connections: usize,
    /// How long a client may take to send a request's headers, and how long an idle
    /// connection stays open; a slower client is disconnected.
    pub request_timeout: ConfigDuration,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            listen: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), DEFAULT_METRICS_PORT),
            max_vault_labels: 50,
            max_connections: 32,
            request_timeout: ConfigDuration::seconds(10),
        }
    }
}

impl MetricsConfig {
    /// The largest `max_vault_labels` accepted.
    pub const MAX_VAULT_LABELS: usize = 2000;

    /// Checks the values; on error returns the key (below `metrics.`) and why.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        if self.max_connections == 0 {
            return Err(("max_connections", "must be at least 1".to_owned()));
        }
        if self.request_timeout.as_std() < std::time::Duration::from_secs(1) {
            return Err(("request_timeout", "must be at least 1s".to_owned()));
        }
        if self.max_vault_labels == 0 || self.max_vault_labels > Self::MAX_VAULT_LABELS {
            return Err((
                "max_vault_labels",
                format!(
                    "must be between 1 and {} (each vault label multiplies the event series)",
                    Self::MAX_VAULT_LABELS
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_loopback_and_bounded() {
        let c = MetricsConfig::default();
        assert!(c.listen.ip().is_loopback());
        assert_eq!(c.listen.port(), DEFAULT_METRICS_PORT);
        assert!(c.validate().is_ok());
        let zero = MetricsConfig {
            max_vault_labels: 0,
            ..c
        };
        assert_eq!(zero.validate().map_err(|e| e.0), Err("max_vault_labels"));
    }

    #[test]
    fn the_section_parses_and_errors_name_the_key() {
        let parse =
            |text: &str| crate::config::Config::parse(text, std::path::Path::new("kv.toml"));
        let c =
            parse("[metrics]\nlisten = \"[::1]:9300\"\nmax_vault_labels = 10\n").expect("valid");
        assert_eq!(c.metrics.listen, "[::1]:9300".parse().expect("address"));
        assert_eq!(c.metrics.max_vault_labels, 10);
        assert_eq!(parse("").expect("valid").metrics, MetricsConfig::default());
        let table = [
            (
                "[metrics]\nmax_vault_labels = 0\n",
                "metrics.max_vault_labels",
            ),
            (
                "[metrics]\nmax_vault_labels = 5000\n",
                "metrics.max_vault_labels",
            ),
            ("[metrics]\nlisten = \"localhost\"\n", "listen"),
            ("[metrics]\nport = 9187\n", "unknown field `port`"),
        ];
        for (text, want) in table {
            let err = parse(text).map(|_| ()).unwrap_err().to_string();
            assert!(
                err.contains("kv.toml") && err.contains(want),
                "{text:?} → {err}"
            );
        }
    }
}
