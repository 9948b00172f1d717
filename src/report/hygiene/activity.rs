//! Operations a SOC reviews by who did them: destructive ones (delete, purge, backup)
//! and denied attempts.
//!
//! These are not misconfigurations but the activity the "logging with alerts"
//! practice asks someone to look at: every successful delete, purge or backup with
//! its author and objects (backups take whole secrets out of the vault), and every
//! principal that was refused, by kind of refusal. The SDK's challenge 401s are
//! benign and never counted.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{Check, Finding, Practice, Subject};
use crate::alert::Severity;
use crate::event::Outcome;
use crate::report::collect::Collected;
use crate::report::stats::{Capped, Seen};

/// `activity.destructive`.
pub const DESTRUCTIVE: Check = Check {
    id: "activity.destructive",
    title: "Destructive operations",
    practice: Practice::Monitoring,
    method: "Successful deletes, purges and backups (Destroy-class operations and *Backup), per principal and vault.",
};

/// `activity.denied`.
pub const DENIED: Check = Check {
    id: "activity.denied",
    title: "Denied attempts",
    practice: Practice::Monitoring,
    method: "Requests refused by authentication (401 with a token), RBAC, access policy or the firewall, per principal; SDK challenge 401s are excluded.",
};

/// The evidence of [`DESTRUCTIVE`].
#[derive(Debug, Clone, Serialize)]
pub struct DestructiveEvidence {
    /// Successful destructive requests.
    pub requests: u64,
    /// By operation (most frequent first).
    pub operations: Vec<String>,
    /// The objects (most frequent first, capped).
    pub objects: Vec<String>,
    /// Objects left out of the list.
    pub objects_more: u64,
    /// The first.
    pub first: DateTime<Utc>,
    /// The last.
    pub last: DateTime<Utc>,
}

/// The evidence of [`DENIED`].
#[derive(Debug, Clone, Serialize)]
pub struct DeniedEvidence {
    /// Denied requests.
    pub requests: u64,
    /// By kind of refusal.
    pub by_outcome: Vec<String>,
    /// The vaults (most frequent first).
    pub vaults: Vec<String>,
    /// The operations (most frequent first).
    pub operations: Vec<String>,
    /// The first.
    pub first: DateTime<Utc>,
    /// The last.
    pub last: DateTime<Utc>,
    /// The service's error text on the first denial.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sample_error: Option<String>,
}

fn counted(map: &Capped<String, Seen>, n: usize) -> Vec<String> {
    map.top(n)
        .into_iter()
        .map(|(k, s)| format!("{k} ×{}", s.count))
        .collect()
}

/// One finding per principal and vault with successful destructive operations:
/// high with a purge, medium with a delete, low for backups only.
pub fn destructive(c: &Collected) -> Vec<Finding> {
    let mut out = Vec::new();
    for (vault, v) in &c.vaults.map {
        for (identity, d) in &v.destructive.map {
            let ops: Vec<&str> = d.operations.map.keys().map(String::as_str).collect();
            let severity = if ops.iter().any(|o| o.ends_with("Purge")) {
                Severity::High
            } else if ops.iter().any(|o| o.contains("Delete")) {
                Severity::Medium
            } else {
                Severity::Low
            };
            let evidence = DestructiveEvidence {
                requests: d.seen.count,
                operations: counted(&d.operations, 10),
                objects: d
                    .objects
                    .top(20)
                    .into_iter()
                    .map(|(k, _)| k.to_owned())
                    .collect(),
                objects_more: (d.objects.len() as u64).saturating_sub(20) + d.objects.more,
                first: d.seen.first,
                last: d.seen.last,
            };
            let name = c
                .principals
                .map
                .get(identity)
                .and_then(|p| p.upn.as_deref());
            let summary = format!(
                "{} ran {} on {vault} ({} objects) between {} and {}: check each against a change or backup schedule.",
                name.unwrap_or(identity),
                evidence.operations.join(", "),
                d.objects.len() as u64 + d.objects.more,
                d.seen.first.format("%Y-%m-%d %H:%M"),
                d.seen.last.format("%Y-%m-%d %H:%M"),
            );
            out.push(Finding::new(
                DESTRUCTIVE,
                severity,
                Subject::principal_on_vault(identity, name, vault),
                summary,
                &evidence,
            ));
        }
    }
    out
}

/// One finding per principal with denied requests: medium from 10 denials or 3
/// vaults, high from 50, low otherwise.
pub fn denied(c: &Collected) -> Vec<Finding> {
    let mut out = Vec::new();
    for p in c.principals.map.values() {
        let d = &p.denials;
        let Some(seen) = d.seen else { continue };
        let vaults = d.vaults.len() as u64 + d.vaults.more;
        let severity = match (seen.count, vaults) {
            (n, _) if n >= 50 => Severity::High,
            (n, v) if n >= 10 || v >= 3 => Severity::Medium,
            _ => Severity::Low,
        };
        let by_outcome = Outcome::ALL
            .iter()
            .filter(|o| d.by_outcome[o.index()] > 0)
            .map(|o| format!("{} ×{}", o.as_str(), d.by_outcome[o.index()]))
            .collect();
        let evidence = DeniedEvidence {
            requests: seen.count,
            by_outcome,
            vaults: counted(&d.vaults, 10),
            operations: counted(&d.operations, 10),
            first: seen.first,
            last: seen.last,
            sample_error: d.sample.clone(),
        };
        let summary = format!(
            "{} was refused {} time{} on {} vault{} ({}) between {} and {}.",
            p.display_name(),
            seen.count,
            if seen.count == 1 { "" } else { "s" },
            vaults,
            if vaults == 1 { "" } else { "s" },
            evidence.by_outcome.join(", "),
            seen.first.format("%Y-%m-%d %H:%M"),
            seen.last.format("%Y-%m-%d %H:%M"),
        );
        out.push(Finding::new(
            DENIED,
            severity,
            Subject::principal(&p.identity, p.upn.as_deref()),
            summary,
            &evidence,
        ));
    }
    out
}
