//! Validates `kvwatch replay` arguments into [`ReplayOptions`].

use std::collections::HashSet;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use chrono::{DateTime, NaiveDate, Utc};

use super::args::{RawInputArgs, RawReplayArgs};
use crate::app::ingest::InputOptions;
use crate::app::metrics::MetricsOptions;
use crate::app::replay::ReplayOptions;
use crate::config::Config;
use crate::pipeline::EventFilter;

/// Turns raw arguments into options, or says what to fix.
pub fn validate(raw: RawReplayArgs) -> Result<ReplayOptions> {
    let input = validate_input(raw.input, &raw.format)?;
    let metrics = metrics_options(
        raw.metrics_listen.as_deref(),
        raw.metrics_linger.as_deref(),
        raw.metrics_out.clone(),
        &input.config,
    )?;
    Ok(ReplayOptions {
        input,
        output: raw.output,
        summary: raw.summary,
        metrics,
        state: raw.state,
        reset_state: raw.reset_state,
    })
}

/// Validates the inputs and filters `kvwatch replay` and `kvwatch report` share;
/// `format` is the input format's text.
pub fn validate_input(raw: RawInputArgs, format: &str) -> Result<InputOptions> {
    let format = format.parse().map_err(anyhow::Error::msg)?;
    let mut config = match &raw.config {
        Some(path) => Config::load(path)?,
        None => Config::default(),
    };
    if let Some(db) = raw.geoip {
        config.geoip.database = Some(db);
    }
    let since = raw
        .since
        .as_deref()
        .map(|s| parse_time(s, "--since"))
        .transpose()?;
    let until = raw
        .until
        .as_deref()
        .map(|s| parse_time(s, "--until"))
        .transpose()?;
    if let (Some(s), Some(u)) = (since, until) {
        if s >= u {
            bail!("--since ({s}) must be before --until ({u})");
        }
    }
    let vaults: HashSet<String> = raw
        .vault
        .iter()
        .map(|v| v.trim().to_ascii_lowercase())
        .filter(|v| !v.is_empty())
        .collect();
    for path in &raw.paths {
        if path.as_os_str() != "-" && !path.exists() {
            bail!("{} does not exist; give files or folders of Key Vault logs, or - for standard input", path.display());
        }
    }
    Ok(InputOptions {
        paths: raw.paths,
        format,
        config,
        filter: EventFilter {
            since,
            until,
            vaults,
        },
        strict: raw.strict,
        progress: !raw.no_progress,
        threads: match raw.threads {
            Some(0) => bail!("--threads 0: give at least 1 (or leave it out: every core)"),
            Some(n) => n,
            None => crate::app::ingest::default_threads(),
        },
    })
}

/// `--metrics-listen`, `--metrics-linger`, `--metrics-out`.
pub(crate) fn metrics_options(
    listen: Option<&str>,
    linger: Option<&str>,
    out: Option<PathBuf>,
    config: &Config,
) -> Result<MetricsOptions> {
    let listen = match listen.map(str::trim) {
        None => None,
        Some("") => Some(config.metrics.listen),
        Some(text) => Some(text.parse().with_context(|| {
            format!("--metrics-listen {text:?}: write an address and port, such as 127.0.0.1:9187 ([::1]:9187 for IPv6)")
        })?),
    };
    let linger = match linger {
        None => std::time::Duration::ZERO,
        Some(text) => humantime::parse_duration(text.trim()).with_context(|| {
            format!("--metrics-linger {text:?}: write a duration such as 30s or 5m")
        })?,
    };
    if let Some(out) = &out {
        let dir = out.parent().filter(|d| !d.as_os_str().is_empty());
        if dir.is_some_and(|d| !d.is_dir()) {
            bail!("--metrics-out {}: its folder does not exist", out.display());
        }
    }
    Ok(MetricsOptions {
        listen,
        linger,
        out,
    })
}

/// RFC 3339, or a date (midnight UTC).
pub fn parse_time(text: &str, flag: &str) -> Result<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d").with_context(|| {
        format!(
            "{flag} {text:?}: write an RFC 3339 time (2024-04-08T15:00:00Z) or a date (2024-04-08)"
        )
    })?;
    Ok(date
        .and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc())
        .unwrap_or_default())
}
