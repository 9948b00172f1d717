//! Hygiene findings: the Key Vault practices a SOC follows, checked against the same
//! audit log the detectors read.
//!
//! Each check lives with its family ([`identity`]: MFA; [`rotation`]: rotation and
//! expiry; [`review`]: access-review candidates; [`rbac`]: role assignments from the
//! Activity Log; [`guests`]: guests with data access; [`vault`]: network and
//! recovery settings; [`activity`]: destructive and denied operations;
//! [`audit_log`]: diagnostic settings no longer sending AuditEvent). A check reads the
//! collected aggregates and returns [`Finding`]s: typed, serialisable, each with a
//! stable `id` (`check/subject`, the same for the same subject in every report, so a
//! finding can be tracked from one week's report to the next), the practice it maps
//! to, a severity, its subject and the evidence that triggered it.

pub mod activity;
pub mod audit_log;
pub mod guests;
pub mod identity;
pub mod rbac;
pub mod review;
pub mod rotation;
pub mod vault;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use super::collect::Collected;
use crate::alert::Severity;
use crate::config::ReportConfig;
use crate::event::roles::RoleCatalog;

/// A practice from the Key Vault best practices a finding maps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Practice {
    /// Require multi-factor authentication for every human.
    Mfa,
    /// Least privilege and regular access reviews.
    AccessReview,
    /// Rotate secrets, keys and certificates on a schedule; renew before expiry.
    Rotation,
    /// Soft delete and purge protection.
    Recovery,
    /// Restrict network access (firewall, private endpoints).
    Network,
    /// Log with alerts: review sensitive and denied operations.
    Monitoring,
}

impl Practice {
    /// Every practice, in the order the report shows them.
    pub const ALL: [Practice; 6] = [
        Self::Mfa,
        Self::AccessReview,
        Self::Rotation,
        Self::Recovery,
        Self::Network,
        Self::Monitoring,
    ];

    /// The stable id (as serialised).
    pub fn id(self) -> &'static str {
        match self {
            Self::Mfa => "mfa",
            Self::AccessReview => "access_review",
            Self::Rotation => "rotation",
            Self::Recovery => "recovery",
            Self::Network => "network",
            Self::Monitoring => "monitoring",
        }
    }

    /// The practice, as a heading.
    pub fn title(self) -> &'static str {
        match self {
            Self::Mfa => "MFA for every human",
            Self::AccessReview => "Least privilege and regular access reviews",
            Self::Rotation => "Rotation on a schedule",
            Self::Recovery => "Soft delete and purge protection",
            Self::Network => "Network restrictions",
            Self::Monitoring => "Logging with alerts",
        }
    }

    /// What the practice asks for, in one sentence.
    pub fn guidance(self) -> &'static str {
        match self {
            Self::Mfa => "People who reach vaults should sign in with multi-factor authentication (Conditional Access); a password alone is one phish away from the secrets.",
            Self::AccessReview => "Grant each identity only the access it uses, and review grants regularly: unused access is risk with no benefit.",
            Self::Rotation => "Rotate secrets, keys and certificates on a schedule and renew them before they expire.",
            Self::Recovery => "Keep soft delete and purge protection on, so a deleted secret can be recovered and nobody can destroy it for good.",
            Self::Network => "Restrict vaults to the networks that need them (firewall default Deny, private endpoints), not the whole internet.",
            Self::Monitoring => "Log with alerts and review who deletes, purges, backs up, or is denied: these are how attacks and mistakes show.",
        }
    }
}

/// What a finding is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Subject {
    /// `principal`, `vault`, `object` or `principal_on_vault`.
    pub kind: &'static str,
    /// The vault, when the subject has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vault: Option<String>,
    /// The principal's identity (object id, app id, `ip:…`), when the subject has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
    /// The principal's readable name (UPN), when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub principal_name: Option<String>,
    /// The object (`secret/name`, `key/name`, `certificate/name`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object: Option<String>,
}

impl Subject {
    /// A principal.
    pub fn principal(identity: &str, name: Option<&str>) -> Subject {
        Subject {
            kind: "principal",
            vault: None,
            principal: Some(identity.to_owned()),
            principal_name: name.map(str::to_owned),
            object: None,
        }
    }

    /// A vault.
    pub fn vault(vault: &str) -> Subject {
        Subject {
            kind: "vault",
            vault: Some(vault.to_owned()),
            principal: None,
            principal_name: None,
            object: None,
        }
    }

    /// An object of a vault.
    pub fn object(vault: &str, object: &str) -> Subject {
        Subject {
            kind: "object",
            object: Some(object.to_owned()),
            ..Subject::vault(vault)
        }
    }

    /// A principal's activity on a vault.
    pub fn principal_on_vault(identity: &str, name: Option<&str>, vault: &str) -> Subject {
        Subject {
            kind: "principal_on_vault",
            vault: Some(vault.to_owned()),
            ..Subject::principal(identity, name)
        }
    }

    /// The stable path used in finding ids: `vault:v/object:o`, `principal:p` …
    pub fn path(&self) -> String {
        let mut parts = Vec::new();
        if let Some(v) = &self.vault {
            parts.push(format!("vault:{v}"));
        }
        if let Some(o) = &self.object {
            parts.push(format!("object:{o}"));
        }
        if let Some(p) = &self.principal {
            parts.push(format!("principal:{p}"));
        }
        parts.join("/")
    }

    /// A short label for headings: the name, else the identity, with the vault.
    pub fn label(&self) -> String {
        let who = self.principal_name.as_deref().or(self.principal.as_deref());
        match (who, &self.vault, &self.object) {
            (Some(p), Some(v), _) => format!("{p} on {v}"),
            (Some(p), None, _) => p.to_owned(),
            (None, Some(v), Some(o)) => format!("{v}: {o}"),
            (None, Some(v), None) => v.clone(),
            (None, None, _) => "tenant".to_owned(),
        }
    }
}

/// One hygiene finding.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// Stable: `<check>/<subject path>`.
    pub id: String,
    /// The check that found it (`identity.no_mfa` …).
    pub check: &'static str,
    /// The check's title.
    pub title: &'static str,
    /// The practice it maps to.
    pub practice: Practice,
    /// How urgent.
    pub severity: Severity,
    /// What it is about.
    pub subject: Subject,
    /// One sentence a SOC lead can act on.
    pub summary: String,
    /// What the logs showed (check-specific, typed).
    pub evidence: serde_json::Value,
}

impl Finding {
    /// A finding of `check` about `subject`, with its evidence serialised.
    pub fn new(
        check: Check,
        severity: Severity,
        subject: Subject,
        summary: String,
        evidence: &impl Serialize,
    ) -> Finding {
        Finding {
            id: format!("{}/{}", check.id, subject.path()),
            check: check.id,
            title: check.title,
            practice: check.practice,
            severity,
            subject,
            summary,
            evidence: serde_json::to_value(evidence).unwrap_or(serde_json::Value::Null),
        }
    }
}

/// A check's identity: stable id, title and practice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Check {
    /// The stable id.
    pub id: &'static str,
    /// The title.
    pub title: &'static str,
    /// The practice.
    pub practice: Practice,
    /// What it checks and from which records (for the report's method section).
    pub method: &'static str,
}

/// Every check, in catalogue order.
pub fn catalogue() -> Vec<Check> {
    vec![
        identity::NO_MFA,
        rotation::OVERDUE,
        rotation::NEAR_EXPIRY,
        rotation::EXPIRED,
        review::UNUSED_OBJECT,
        review::DORMANT_PRINCIPAL,
        review::UNUSED_GRANT,
        rbac::PRIVILEGED_ROLE,
        guests::GUEST_DATA_ACCESS,
        rbac::UNUSED_ASSIGNMENT,
        vault::PUBLIC_NETWORK,
        vault::DEFAULT_ALLOW,
        vault::SOFT_DELETE_OFF,
        vault::PURGE_PROTECTION_OFF,
        activity::DESTRUCTIVE,
        activity::DENIED,
        audit_log::AUDIT_LOG_STOPPED,
    ]
}

/// The period the logs cover and the thresholds, as every check needs them.
#[derive(Debug, Clone)]
pub struct Context<'a> {
    /// The first event.
    pub start: DateTime<Utc>,
    /// The last event.
    pub end: DateTime<Utc>,
    /// The thresholds.
    pub config: &'a ReportConfig,
    /// The roles file role assignments are judged by (`[detectors] roles`, else
    /// the built-in one).
    pub roles: &'a RoleCatalog,
}

impl Context<'_> {
    /// The period's length.
    pub fn span(&self) -> Duration {
        self.end - self.start
    }
}

/// A principal's readable name (its UPN when a record carried one), else the identity.
pub fn display(c: &Collected, identity: &str) -> String {
    c.principals
        .map
        .get(identity)
        .map_or_else(|| identity.to_owned(), |p| p.display_name().to_owned())
}

/// Whole days in a duration (rounded down).
pub fn days(d: Duration) -> i64 {
    d.num_days()
}

/// Runs every check over the collected aggregates; findings sorted by severity
/// (most urgent first), then id.
pub fn run(c: &Collected, ctx: &Context<'_>) -> Vec<Finding> {
    let mut findings = Vec::new();
    findings.extend(identity::no_mfa(c));
    findings.extend(rotation::overdue(c, ctx));
    findings.extend(rotation::expiry(c, ctx));
    findings.extend(review::unused_objects(c, ctx));
    findings.extend(review::dormant_principals(c, ctx));
    findings.extend(review::unused_grants(c, ctx));
    findings.extend(rbac::privileged_roles(c, ctx));
    findings.extend(guests::guests(c, ctx));
    findings.extend(rbac::unused(c, ctx));
    findings.extend(vault::network(c));
    findings.extend(vault::recovery(c));
    findings.extend(activity::destructive(c));
    findings.extend(activity::denied(c));
    findings.extend(audit_log::stopped(c));
    findings.sort_by(|a, b| b.severity.cmp(&a.severity).then_with(|| a.id.cmp(&b.id)));
    findings
}

#[cfg(test)]
pub(crate) mod tests;
