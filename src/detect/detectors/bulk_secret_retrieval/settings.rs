//! The settings of `bulk_secret_retrieval`: the file
//! `detectors/bulk_secret_retrieval.toml` as typed sections, and the checks that
//! refuse impossible values (naming the file and key).

use serde::{Deserialize, Serialize};

use super::rule::{Rule, Win};
use super::runs::RunSettings;
use crate::alert::Severity;
use crate::config::{ConfigDuration, SuppressConfig};
use crate::detect::definition::{require, Header, Source};
use crate::detect::detector::DetectorError;
use crate::detect::examples::{Example, ExampleGeo};
use crate::detect::loader::DetectorFile;

/// `[objects]`: what counts as retrieving an object.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Objects {
    /// Operations whose success hands out a secret value, a certificate or a backup.
    pub operations: Vec<String>,
    /// Operations that list a vault's objects (List followed by Gets is a dump's shape).
    pub list_operations: Vec<String>,
}

/// `[short]` and `[long]`: one sliding window.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Window {
    /// Its length.
    pub window: ConfigDuration,
    /// Fewest distinct objects that can alert, whatever the baselines say.
    pub min_distinct: u32,
    /// Windows with reads a principal needs (after its learning period) before its
    /// own history in this window is used instead of the population's.
    pub min_history_windows: u32,
}

/// `[history]`: how counts are compared with baselines.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct History {
    /// The quantile of past windows that is "usual" (reported as pNN).
    pub quantile: f64,
    /// A learned principal may read up to its own largest window times this.
    pub own_ratio: f64,
    /// A principal still learning is compared with this quantile, over the principals of
    /// its kind, of each one's largest window (so a few bulk readers do not set the bar) …
    pub population_quantile: f64,
    /// … once that many principals of the kind have history (before, min_distinct alone).
    pub min_population_principals: u32,
    /// The count must be at most this probable under the learned per-window rate.
    pub max_probability: f64,
    /// How many windows of evidence the population mean is worth as a prior.
    pub prior_windows: f64,
    /// A principal whose large reads all fell within this many hours of the day is "scheduled".
    pub scheduled_max_hours: u32,
    /// Large windows needed before a schedule is believed.
    pub scheduled_min_windows: u32,
    /// Hours either side of a scheduled hour that still count as on schedule.
    pub schedule_slack_hours: u32,
}

/// `[severity]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Severities {
    /// `burst`: the short window beyond history or population.
    pub burst: Severity,
    /// `low_and_slow`: the long window beyond history or population.
    pub low_and_slow: Severity,
    /// `unusual_context`: a volume the principal knows, at an hour or place it does not.
    pub unusual_context: Severity,
    /// A count this many times the limit raises one step.
    pub raise_ratio: f64,
    /// Steps added when a List preceded the reads.
    pub list_then_get: u32,
    /// Steps added when the vault throttled the principal (429).
    pub throttled: u32,
    /// Steps added when the reads come from a place the principal never used.
    pub new_place: u32,
}

impl Severities {
    /// The base severity of a rule in a window (`unfamiliar_objects` takes its window's).
    pub fn of(&self, rule: Rule, w: Win) -> Severity {
        match (rule, w) {
            (Rule::Burst, _) | (Rule::UnfamiliarObjects, Win::Short) => self.burst,
            (Rule::LowAndSlow, _) | (Rule::UnfamiliarObjects, Win::Long) => self.low_and_slow,
            (Rule::UnusualContext, _) => self.unusual_context,
            // Its own severity is `[novelty] severity`; this is the fallback.
            (Rule::DailyNovelty, _) => self.low_and_slow,
        }
    }
}

/// `[novelty]`: the slow thief, objects a principal never read before, counted over a
/// day across all vaults and judged against its own usual day.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Novelty {
    /// The sliding window new objects are counted in (a day).
    pub window: ConfigDuration,
    /// Fewest objects new to the principal in the window that can alert.
    pub min_new_objects: u32,
    /// The count must be more than this many times the principal's largest day.
    pub own_ratio: f64,
    /// The count must be at most this probable under the principal's learned daily
    /// rate of new objects (negative binomial tail, its kind's mean as prior).
    pub max_probability: f64,
    /// How many days of evidence the kind's mean daily novelty is worth as a prior.
    pub prior_days: f64,
    /// Days with reads a principal needs (after its learning period) before it is judged.
    pub min_history_days: u32,
    /// The severity of `daily_novelty`.
    pub severity: Severity,
    /// Steps added when some of the vaults were new to the principal.
    pub new_vault: u32,
    /// Steps added when the new objects are at least this share of a vault's known
    /// inventory (objects anyone read there), for one of the vaults …
    pub inventory_share: f64,
    /// … whose known inventory has at least this many objects.
    pub min_inventory: u32,
}

/// `[new_principal]`: a principal in its learning period is judged by the share of the
/// vault's known inventory it reads, not by a count alone: an application booting
/// reads its own subset, an intruder most of the vault.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NewPrincipal {
    /// A new principal's window alerts (against its kind) only when it read at least
    /// this share of the vault's known inventory, or listed the vault first.
    pub min_share: f64,
    /// Vaults with fewer known objects than this are not judged by share (the count decides).
    pub min_inventory: u32,
}

/// The whole `detectors/bulk_secret_retrieval.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct File {
    /// `[detector]`.
    pub detector: Header,
    /// `[objects]`.
    pub objects: Objects,
    /// `[short]`.
    pub short: Window,
    /// `[long]`.
    pub long: Window,
    /// `[history]`.
    pub history: History,
    /// `[severity]`.
    pub severity: Severities,
    /// `[novelty]` (absent in copies older than the rule: the rule is then off).
    #[serde(default)]
    pub novelty: Option<Novelty>,
    /// `[new_principal]` (absent: new principals are judged by the count alone).
    #[serde(default)]
    pub new_principal: Option<NewPrincipal>,
    /// `[runs]` (absent: a workload's runs are not learned; its largest window rules).
    #[serde(default)]
    pub runs: Option<RunSettings>,
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

/// Validated settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `[objects]`, parsed.
    pub read_ops: Vec<String>,
    /// List operations.
    pub list_ops: Vec<String>,
    /// `[short]`.
    pub short: Window,
    /// `[long]`.
    pub long: Window,
    /// `[history]`.
    pub history: History,
    /// `[severity]`.
    pub severity: Severities,
    /// `[novelty]`, when the file has it.
    pub novelty: Option<Novelty>,
    /// `[new_principal]`, when the file has it.
    pub new_principal: Option<NewPrincipal>,
    /// `[runs]`, when the file has it.
    pub runs: Option<RunSettings>,
}

/// Refuses impossible values, naming the file and the key.
pub fn validate(f: &File, src: &Source) -> Result<(), DetectorError> {
    require(
        !f.objects.operations.is_empty(),
        src,
        "objects.operations",
        "must name at least one operation",
    )?;
    let (s, l) = (&f.short, &f.long);
    require(
        s.window.as_std().as_secs() >= 60,
        src,
        "short.window",
        "must be at least 1m",
    )?;
    require(
        l.window > s.window,
        src,
        "long.window",
        "must be longer than short.window",
    )?;
    require(
        l.window.as_std().as_secs() <= 7 * 86_400,
        src,
        "long.window",
        "must be at most 7d",
    )?;
    require(
        s.min_distinct >= 2,
        src,
        "short.min_distinct",
        "must be at least 2 (one read is never bulk)",
    )?;
    require(
        l.min_distinct >= s.min_distinct,
        src,
        "long.min_distinct",
        "must be at least short.min_distinct",
    )?;
    require(
        s.min_history_windows >= 1,
        src,
        "short.min_history_windows",
        "must be at least 1",
    )?;
    require(
        l.min_history_windows >= 1,
        src,
        "long.min_history_windows",
        "must be at least 1",
    )?;
    let h = &f.history;
    for (key, q) in [
        ("history.quantile", h.quantile),
        ("history.population_quantile", h.population_quantile),
    ] {
        require(q > 0.0 && q <= 1.0, src, key, "must be in (0, 1]")?;
    }
    require(
        h.own_ratio >= 1.0,
        src,
        "history.own_ratio",
        "must be at least 1",
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
        h.scheduled_max_hours <= 24,
        src,
        "history.scheduled_max_hours",
        "must be at most 24",
    )?;
    require(
        h.schedule_slack_hours <= 6,
        src,
        "history.schedule_slack_hours",
        "must be at most 6",
    )?;
    require(
        f.severity.raise_ratio > 1.0,
        src,
        "severity.raise_ratio",
        "must be more than 1",
    )?;
    for (key, v) in [
        ("severity.list_then_get", f.severity.list_then_get),
        ("severity.throttled", f.severity.throttled),
        ("severity.new_place", f.severity.new_place),
    ] {
        require(v <= 4, src, key, "must be between 0 and 4 steps")?;
    }
    if let Some(n) = &f.novelty {
        let w = n.window.as_std().as_secs();
        require(
            (3600..=7 * 86_400).contains(&w),
            src,
            "novelty.window",
            "must be between 1h and 7d",
        )?;
        require(
            n.min_new_objects >= 2,
            src,
            "novelty.min_new_objects",
            "must be at least 2",
        )?;
        require(
            n.own_ratio >= 1.0,
            src,
            "novelty.own_ratio",
            "must be at least 1",
        )?;
        require(
            n.max_probability > 0.0 && n.max_probability < 0.5,
            src,
            "novelty.max_probability",
            "must be in (0, 0.5)",
        )?;
        require(
            n.prior_days >= 0.0,
            src,
            "novelty.prior_days",
            "must not be negative",
        )?;
        require(
            n.new_vault <= 4,
            src,
            "novelty.new_vault",
            "must be between 0 and 4 steps",
        )?;
        require(
            n.inventory_share > 0.0 && n.inventory_share <= 1.0,
            src,
            "novelty.inventory_share",
            "must be in (0, 1]",
        )?;
    }
    if let Some(p) = &f.new_principal {
        require(
            p.min_share > 0.0 && p.min_share <= 1.0,
            src,
            "new_principal.min_share",
            "must be in (0, 1]",
        )?;
    }
    if let Some(r) = &f.runs {
        r.validate(src)?;
    }
    Ok(())
}

impl Settings {
    /// The validated settings of a file.
    pub fn of(f: &File) -> Settings {
        let lower = |ops: &[String]| ops.iter().map(|o| o.to_ascii_lowercase()).collect();
        Settings {
            read_ops: lower(&f.objects.operations),
            list_ops: lower(&f.objects.list_operations),
            short: f.short.clone(),
            long: f.long.clone(),
            history: f.history.clone(),
            severity: f.severity.clone(),
            novelty: f.novelty.clone(),
            new_principal: f.new_principal.clone(),
            runs: f.runs.clone(),
        }
    }

    /// Whether a successful `op` hands out an object.
    pub fn is_read(&self, op: &str) -> bool {
        self.read_ops.iter().any(|o| o.eq_ignore_ascii_case(op))
    }

    /// Whether `op` lists a vault's objects.
    pub fn is_list(&self, op: &str) -> bool {
        self.list_ops.iter().any(|o| o.eq_ignore_ascii_case(op))
    }

    /// The settings of a window.
    pub fn window(&self, w: Win) -> &Window {
        match w {
            Win::Short => &self.short,
            Win::Long => &self.long,
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
