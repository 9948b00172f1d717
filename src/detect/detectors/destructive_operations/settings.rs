//! The settings of `destructive_operations`: the file
//! `detectors/destructive_operations.toml` as typed sections, and the checks that
//! refuse impossible values (naming the file and key).

use serde::{Deserialize, Serialize};

use super::rule::{Destroy, Rule};
use crate::alert::Severity;
use crate::config::{ConfigDuration, SuppressConfig};
use crate::detect::definition::{require, Header, Source};
use crate::detect::detector::DetectorError;
use crate::detect::examples::{Example, ExampleGeo};
use crate::detect::loader::DetectorFile;

/// `[operations]`: what counts as destroying, by what it destroys.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Operations {
    /// Operations that delete an object (recoverable while soft delete lasts).
    pub delete: Vec<String>,
    /// Operations that purge a deleted object for good.
    pub purge: Vec<String>,
    /// Operations that delete or purge a whole vault.
    pub vault: Vec<String>,
}

/// `[window]`: the sliding window deletions are counted in.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Window {
    /// Its length.
    pub window: ConfigDuration,
    /// Fewest distinct objects that can alert, whatever the baselines say.
    pub min_distinct: u32,
    /// Windows with deletions a principal needs (after its learning period) before
    /// its own history is used instead of its kind's.
    pub min_history_windows: u32,
}

/// `[history]`: how counts are compared with baselines.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct History {
    /// A learned principal may delete up to its own largest window times this.
    pub own_ratio: f64,
    /// Before that, the limit is this quantile of its kind's windows with deletions.
    pub population_quantile: f64,
    /// The count must be at most this probable under the learned per-window rate.
    pub max_probability: f64,
    /// How many windows of evidence the population mean is worth as a prior.
    pub prior_windows: f64,
}

/// `[purge]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Purge {
    /// Purges in the window by a principal that never purged that are `first_purge`.
    pub min_purges: u32,
}

/// `[severity]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Severities {
    /// `bulk_delete`.
    pub bulk_delete: Severity,
    /// `first_purge`.
    pub first_purge: Severity,
    /// `vault_delete`.
    pub vault_delete: Severity,
    /// Steps added to `bulk_delete` when some objects were purged.
    pub purged: u32,
    /// A count this many times the limit raises one step.
    pub raise_ratio: f64,
}

impl Severities {
    /// The base severity of a rule.
    pub fn of(&self, rule: Rule) -> Severity {
        match rule {
            Rule::BulkDelete => self.bulk_delete,
            Rule::FirstPurge => self.first_purge,
            Rule::VaultDelete => self.vault_delete,
        }
    }
}

/// The whole `detectors/destructive_operations.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct File {
    /// `[detector]`.
    pub detector: Header,
    /// `[operations]`.
    pub operations: Operations,
    /// `[window]`.
    pub window: Window,
    /// `[history]`.
    pub history: History,
    /// `[purge]`.
    pub purge: Purge,
    /// `[severity]`.
    pub severity: Severities,
    /// `[suppress]`.
    #[serde(default)]
    pub suppress: SuppressConfig,
    /// `[[example]]`.
    #[serde(default)]
    pub example: Vec<Example>,
    /// `[[example_geo]]`.
    #[serde(default)]
    pub example_geo: Vec<ExampleGeo>,
}

/// Refuses impossible values, naming the file and the key.
pub fn validate(f: &File, src: &Source) -> Result<(), DetectorError> {
    let o = &f.operations;
    require(
        !(o.delete.is_empty() && o.purge.is_empty() && o.vault.is_empty()),
        src,
        "operations",
        "must name at least one operation",
    )?;
    let w = &f.window;
    let secs = w.window.as_std().as_secs();
    require(
        (60..=86_400).contains(&secs),
        src,
        "window.window",
        "must be between 1m and 24h",
    )?;
    require(
        w.min_distinct >= 2,
        src,
        "window.min_distinct",
        "must be at least 2 (one deletion is never bulk)",
    )?;
    require(
        w.min_history_windows >= 1,
        src,
        "window.min_history_windows",
        "must be at least 1",
    )?;
    let h = &f.history;
    require(
        h.own_ratio >= 1.0,
        src,
        "history.own_ratio",
        "must be at least 1",
    )?;
    require(
        h.population_quantile > 0.0 && h.population_quantile <= 1.0,
        src,
        "history.population_quantile",
        "must be in (0, 1]",
    )?;
    require(
        h.max_probability > 0.0 && h.max_probability < 0.5,
        src,
        "history.max_probability",
        "must be in (0, 0.5)",
    )?;
    require(
        h.prior_windows >= 0.0,
        src,
        "history.prior_windows",
        "must not be negative",
    )?;
    require(
        f.purge.min_purges >= 1,
        src,
        "purge.min_purges",
        "must be at least 1",
    )?;
    require(
        f.severity.purged <= 4,
        src,
        "severity.purged",
        "must be between 0 and 4 steps",
    )?;
    require(
        f.severity.raise_ratio > 1.0,
        src,
        "severity.raise_ratio",
        "must be more than 1",
    )
}

/// Validated settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `[operations]`.
    pub operations: Operations,
    /// `[window]`.
    pub window: Window,
    /// `[history]`.
    pub history: History,
    /// `[purge]`.
    pub purge: Purge,
    /// `[severity]`.
    pub severity: Severities,
}

impl Settings {
    /// The validated settings of a file.
    pub fn of(f: &File) -> Settings {
        Settings {
            operations: f.operations.clone(),
            window: f.window.clone(),
            history: f.history.clone(),
            purge: f.purge.clone(),
            severity: f.severity.clone(),
        }
    }

    /// What `op` destroys, if it is one of the configured operations.
    pub fn destroys(&self, op: &str) -> Option<Destroy> {
        let listed = |ops: &[String]| ops.iter().any(|o| o.eq_ignore_ascii_case(op));
        let o = &self.operations;
        if listed(&o.delete) {
            Some(Destroy::Delete)
        } else if listed(&o.purge) {
            Some(Destroy::Purge)
        } else if listed(&o.vault) {
            Some(Destroy::Vault)
        } else {
            None
        }
    }
}

impl DetectorFile for File {
    fn validate(&self, src: &Source) -> Result<(), DetectorError> {
        validate(self, src)
    }

    fn shared(&self) -> (&SuppressConfig, &[Example], &[ExampleGeo]) {
        (&self.suppress, &self.example, &self.example_geo)
    }
}
