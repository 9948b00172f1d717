//! Validates `kvwatch replay` arguments into [`ReplayOptions`].

use std::collections::HashSet;

use anyhow::{bail, Context, Result};
use chrono::{DateTime, NaiveDate, Utc};

use super::args::RawReplayArgs;
use crate::app::replay::ReplayOptions;
use crate::config::Config;
use crate::pipeline::EventFilter;

/// Turns raw arguments into options, or says what to fix.
pub fn validate(raw: RawReplayArgs) -> Result<ReplayOptions> {
    let format = raw.format.parse().map_err(anyhow::Error::msg)?;
    let mut config = match &raw.config {
        Some(path) => Config::load(path)?,
        None => Config::default(),
    };
    if let Some(db) = raw.geoip {
        config.geoip.database = Some(db);
    }
    let since = raw.since.as_deref().map(|s| parse_time(s, "--since")).transpose()?;
    let until = raw.until.as_deref().map(|s| parse_time(s, "--until")).transpose()?;
    if let (Some(s), Some(u)) = (since, until) {
        if s >= u {
            bail!("--since ({s}) must be before --until ({u})");
        }
    }
    let vaults: HashSet<String> = raw.vault.iter().map(|v| v.trim().to_ascii_lowercase()).filter(|v| !v.is_empty()).collect();
    for path in &raw.paths {
        if path.as_os_str() != "-" && !path.exists() {
            bail!("{} does not exist; give files or folders of Key Vault logs, or - for standard input", path.display());
        }
    }
    Ok(ReplayOptions {
        paths: raw.paths,
        format,
        config,
        filter: EventFilter { since, until, vaults },
        output: raw.output,
        summary: raw.summary,
        strict: raw.strict,
        progress: !raw.no_progress,
    })
}

/// RFC 3339, or a date (midnight UTC).
pub fn parse_time(text: &str, flag: &str) -> Result<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .with_context(|| format!("{flag} {text:?}: write an RFC 3339 time (2024-04-08T15:00:00Z) or a date (2024-04-08)"))?;
    Ok(date.and_hms_opt(0, 0, 0).map(|t| t.and_utc()).unwrap_or_default())
}
