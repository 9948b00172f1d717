//! A detector's report: something worth an analyst's attention. Findings are not
//! alerts: the incident tracker (`incident.rs`) decides whether one opens an
//! incident, escalates one, or extends one silently.

use chrono::{DateTime, Utc};

use super::observation::Observation;
use crate::alert::{Evidence, PrincipalSummary, Severity};

/// A detector's report: something worth an analyst's attention.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// The detector's name.
    pub detector: &'static str,
    /// The specific rule that fired.
    pub rule: String,
    /// How urgent.
    pub severity: Severity,
    /// The principal key or `ip:<address>`.
    pub identity: String,
    /// What the records said about the principal.
    pub principal: PrincipalSummary,
    /// The vault (or `*` when the finding spans vaults).
    pub vault: String,
    /// Incident grouping beyond detector, identity and vault (often empty).
    pub group: String,
    /// The first event the finding covers.
    pub first_seen: DateTime<Utc>,
    /// The event that triggered the finding.
    pub last_seen: DateTime<Utc>,
    /// One sentence an analyst can act on.
    pub summary: String,
    /// The evidence.
    pub evidence: Evidence,
}

impl Finding {
    /// A finding about the observed event's caller on its vault.
    pub fn about(
        obs: &Observation<'_>,
        detector: &'static str,
        rule: &str,
        severity: Severity,
    ) -> Finding {
        let e = obs.event;
        Finding {
            detector,
            rule: rule.to_owned(),
            severity,
            identity: e.identity().into_owned(),
            principal: PrincipalSummary::of(&e.principal),
            vault: e.vault.to_string(),
            group: String::new(),
            first_seen: e.time,
            last_seen: e.time,
            summary: String::new(),
            evidence: Evidence::new(),
        }
    }
}

/// A severity raised `n` steps.
pub fn raise(s: Severity, n: u32) -> Severity {
    (0..n).fold(s, |s, _| s.raised())
}
