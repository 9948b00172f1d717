//! The alert contract: what every sink delivers and every receiver can rely on.
//!
//! One JSON object per alert, stable field names, documented in the README:
//! `id` (deterministic: the same input gives the same ids; the idempotency key),
//! `incident_id` and `revision` (an incident's first alert is revision 1, escalations
//! raise later revisions), `detector`, `rule`, `severity`, `identity`, `principal`,
//! `vault`, `first_seen`, `last_seen` (RFC 3339, event time), `summary` and a bounded
//! `evidence` object. Every alert is made within [`bounds`] (clipped names and
//! summary, an evidence budget), so every sink can deliver it.

pub mod bounds;
pub mod evidence;
pub mod id;

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize, Serializer};

pub use evidence::Evidence;

use crate::event::{Principal, PrincipalKind};

/// How urgent an alert is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// For the record.
    Info,
    /// Worth a look.
    Low,
    /// Investigate today.
    Medium,
    /// Investigate now.
    High,
    /// An attack in progress.
    Critical,
}

impl Severity {
    /// Every severity, lowest first.
    pub const ALL: [Severity; 5] = [
        Self::Info,
        Self::Low,
        Self::Medium,
        Self::High,
        Self::Critical,
    ];

    /// The stable label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
            Self::Critical => "critical",
        }
    }

    /// One step more urgent (critical stays critical).
    pub fn raised(self) -> Severity {
        match self {
            Self::Info => Self::Low,
            Self::Low => Self::Medium,
            Self::Medium => Self::High,
            Self::High | Self::Critical => Self::Critical,
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Severity::ALL
            .into_iter()
            .find(|v| v.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                format!("unknown severity {s:?}; expected info, low, medium, high or critical")
            })
    }
}

/// Who the alert is about, as far as the records said.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct PrincipalSummary {
    /// User principal name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upn: Option<String>,
    /// Client application id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub appid: Option<String>,
    /// Object id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oid: Option<String>,
    /// `user`, `service_principal`, `managed_identity` or `anonymous`.
    pub kind: String,
}

impl PrincipalSummary {
    /// Summarises a principal.
    pub fn of(p: &Principal<'_>) -> Self {
        PrincipalSummary {
            upn: p.upn.as_deref().map(str::to_owned),
            appid: p.appid.as_deref().map(str::to_owned),
            oid: p.oid.as_deref().map(str::to_owned),
            kind: p.kind.as_str().to_owned(),
        }
    }

    /// An anonymous caller.
    pub fn anonymous() -> Self {
        PrincipalSummary {
            kind: PrincipalKind::Anonymous.as_str().to_owned(),
            ..Default::default()
        }
    }

    /// The most readable name: UPN, else object id, else app id.
    pub fn display_name(&self) -> &str {
        self.upn
            .as_deref()
            .or(self.oid.as_deref())
            .or(self.appid.as_deref())
            .unwrap_or("anonymous")
    }
}

/// One alert, as delivered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// Unique per delivery-worthy alert, deterministic; the idempotency key.
    pub id: String,
    /// The incident this alert opens or updates.
    pub incident_id: String,
    /// 1 for the incident's first alert, then one more per escalation.
    pub revision: u32,
    /// The detector (`failed_auth`, `unusual_geo`, `access_policy_change`,
    /// `bulk_secret_retrieval`, …).
    pub detector: String,
    /// The specific logic that fired.
    pub rule: String,
    /// How urgent.
    pub severity: Severity,
    /// The principal key, or `ip:<address>` for anonymous callers.
    pub identity: String,
    /// What the records said about the principal.
    pub principal: PrincipalSummary,
    /// The vault.
    pub vault: String,
    /// The first event of the incident (event time).
    #[serde(serialize_with = "rfc3339")]
    pub first_seen: DateTime<Utc>,
    /// The latest event of the incident (event time).
    #[serde(serialize_with = "rfc3339")]
    pub last_seen: DateTime<Utc>,
    /// One sentence an analyst can act on.
    pub summary: String,
    /// Counts, the baseline broken, samples; bounded in size.
    pub evidence: Evidence,
}

fn rfc3339<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&t.to_rfc3339_opts(SecondsFormat::AutoSi, true))
}

impl Alert {
    /// The alert as one line of JSON (no trailing newline).
    pub fn to_json_line(&self) -> String {
        // Serialising plain data with string keys cannot fail.
        serde_json::to_string(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }
}
