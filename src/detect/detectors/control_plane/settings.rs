//! The settings of `control_plane`: the file `detectors/control_plane.toml` as typed
//! sections, and the checks that refuse impossible values (naming the file and key).

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::rule::Rule;
use crate::alert::Severity;
use crate::config::{ConfigDuration, SuppressConfig};
use crate::detect::definition::{require, Header, Source};
use crate::detect::detector::DetectorError;
use crate::detect::examples::{Example, ExampleGeo};
use crate::detect::loader::DetectorFile;
use crate::event::roles::RoleCatalog;

/// `[grant]`: role assignments and what follows them.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Grant {
    /// A grantee reading Key Vault data this soon after its grant is `grant_then_read`.
    pub chain_window: ConfigDuration,
    /// Only grants alerted at this severity or above are followed for a read.
    pub chain_min_severity: Severity,
    /// A granter that already made this many new grants on vault scopes is a routine
    /// granter: its grants of non-privileged roles on one vault or resource group
    /// start at `severity.routine_grant`.
    pub routine_after: u32,
    /// The most role assignments remembered (re-applies of a remembered assignment
    /// are quiet); the oldest are forgotten first.
    pub max_known_assignments: usize,
    /// A granter's usual hours are judged once it made this many successful
    /// Activity Log changes (any kind) before.
    #[serde(default = "usual_hours_after")]
    pub usual_hours_after: u32,
    /// A grant is outside the granter's usual hours when fewer than this share of
    /// its earlier changes were made within an hour of the grant's hour (UTC).
    #[serde(default = "off_hours_share")]
    pub off_hours_share: f64,
}

/// `[silence]`: naming a vault whose audit log stopped after its monitoring was
/// disabled (`audit_log_stopped`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Silence {
    /// How long (event time) a vault is watched for its own AuditEvent records after
    /// `monitoring_disabled`; keep it under the incident gap (1h) so the finding
    /// joins the change's incident as a revision.
    pub after: ConfigDuration,
    /// The vault is named when the chance of no record at all in `after`, at its
    /// usual rate (the lower of its last day's and last three hours'), is below this.
    pub max_chance: f64,
}

impl Default for Silence {
    fn default() -> Self {
        Silence {
            after: ConfigDuration::minutes(30),
            max_chance: 0.001,
        }
    }
}

fn one() -> u32 {
    1
}

fn critical() -> Severity {
    Severity::Critical
}

fn usual_hours_after() -> u32 {
    10
}

fn off_hours_share() -> f64 {
    0.05
}

/// `[severity]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Severities {
    /// `role_grant`: a new grant of a role that reads data or gives access.
    pub role_grant: Severity,
    /// `role_grant` by a routine granter (non-privileged role, one vault or group).
    pub routine_grant: Severity,
    /// `role_grant` of a role that reads no data and gives no access (Key Vault Reader).
    pub control_plane_role: Severity,
    /// `grant_then_read`.
    pub grant_then_read: Severity,
    /// `role_removed` (at most `low`: removing access is not an attack on the vault).
    pub role_removed: Severity,
    /// `monitoring_disabled`.
    pub monitoring_disabled: Severity,
    /// `lock_removed`.
    pub lock_removed: Severity,
    /// `elevate_access`.
    pub elevate_access: Severity,
    /// `audit_log_stopped`.
    #[serde(default = "critical")]
    pub audit_log_stopped: Severity,
    /// Steps added to `role_grant` for a privileged role (it can give access, or
    /// Microsoft lists it as privileged).
    pub privileged: u32,
    /// Steps added for a scope above a resource group (subscription, management
    /// group, root).
    pub broad_scope: u32,
    /// Steps added when the grantee was never seen by kvwatch.
    pub new_grantee: u32,
    /// Steps added when the granter grants to itself.
    pub self_grant: u32,
    /// Steps added for a grant outside the granter's usual hours (and such a grant
    /// is never routine).
    #[serde(default = "one")]
    pub off_hours: u32,
    /// Steps added when the granter or the grantee is a guest (`#EXT#`).
    pub guest: u32,
}

impl Severities {
    /// The base severity of a rule.
    pub fn of(&self, rule: Rule) -> Severity {
        match rule {
            Rule::RoleGrant => self.role_grant,
            Rule::GrantThenRead => self.grant_then_read,
            Rule::RoleRemoved => self.role_removed,
            Rule::MonitoringDisabled => self.monitoring_disabled,
            Rule::LockRemoved => self.lock_removed,
            Rule::ElevateAccess => self.elevate_access,
            Rule::AuditLogStopped => self.audit_log_stopped,
        }
    }
}

/// The whole `detectors/control_plane.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct File {
    /// `[detector]`.
    pub detector: Header,
    /// `[grant]`.
    pub grant: Grant,
    /// `[severity]`.
    pub severity: Severities,
    /// `[silence]`.
    #[serde(default)]
    pub silence: Silence,
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
    let g = &f.grant;
    let window = g.chain_window.as_std().as_secs();
    require(
        (60..=7 * 86_400).contains(&window),
        src,
        "grant.chain_window",
        "must be between 1m and 7d",
    )?;
    require(
        g.routine_after >= 1,
        src,
        "grant.routine_after",
        "must be at least 1",
    )?;
    require(
        g.max_known_assignments >= 100,
        src,
        "grant.max_known_assignments",
        "must be at least 100",
    )?;
    require(
        g.usual_hours_after >= 3,
        src,
        "grant.usual_hours_after",
        "must be at least 3: fewer changes say nothing about anyone's hours",
    )?;
    require(
        (0.0..=0.5).contains(&g.off_hours_share),
        src,
        "grant.off_hours_share",
        "must be between 0 and 0.5",
    )?;
    let after = f.silence.after.as_std().as_secs();
    require(
        (600..=6 * 3600).contains(&after),
        src,
        "silence.after",
        "must be between 10m and 6h",
    )?;
    require(
        f.silence.max_chance > 0.0 && f.silence.max_chance <= 0.1,
        src,
        "silence.max_chance",
        "must be above 0 and at most 0.1",
    )?;
    require(
        f.severity.role_removed <= Severity::Low,
        src,
        "severity.role_removed",
        "must be info or low: removing access never pages anyone",
    )
}

/// Validated settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `[grant]`.
    pub grant: Grant,
    /// `[severity]`.
    pub severity: Severities,
    /// `[silence]`.
    pub silence: Silence,
    /// The roles catalogue role assignments are judged by.
    pub roles: Arc<RoleCatalog>,
}

impl Settings {
    /// The validated settings of a file, judging roles by `roles`.
    pub fn of(f: &File, roles: Arc<RoleCatalog>) -> Settings {
        Settings {
            grant: f.grant.clone(),
            severity: f.severity.clone(),
            silence: f.silence.clone(),
            roles,
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
