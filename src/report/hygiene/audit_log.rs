//! `monitoring.audit_log_stopped`: a vault whose diagnostic setting the Activity Log
//! shows deleted, or rewritten without `AuditEvent`, and no setting sending
//! `AuditEvent` written for it since: its audit records stopped flowing to that
//! destination (the `control_plane` detector alerts the change as
//! `monitoring_disabled`; the report keeps it open until a setting is restored).
//!
//! The report sees only the settings the Activity Log shows changing: a vault may
//! have others that still send `AuditEvent`, which is what its records arriving
//! after the change suggest, so that case is medium and says so.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{Check, Finding, Practice, Subject};
use crate::alert::Severity;
use crate::report::collect::Collected;

/// `monitoring.audit_log_stopped`.
pub const AUDIT_LOG_STOPPED: Check = Check {
    id: "monitoring.audit_log_stopped",
    title: "Audit log no longer sent",
    practice: Practice::Monitoring,
    method: "Vaults whose diagnostic setting the Activity Log shows deleted or rewritten without AuditEvent (category, or the audit or allLogs group), with no setting sending AuditEvent written for the vault after it.",
};

/// The evidence of [`AUDIT_LOG_STOPPED`].
#[derive(Debug, Clone, Serialize)]
pub struct StoppedEvidence {
    /// The settings that stopped sending `AuditEvent`: `name: deleted|written`.
    pub settings: Vec<String>,
    /// The last such change.
    pub changed_at: DateTime<Utc>,
    /// Who made it.
    pub changed_by: String,
    /// The vault's last AuditEvent record in the period, if any.
    pub last_audit_record: Option<DateTime<Utc>>,
    /// AuditEvent records kept arriving after the change (another setting may still
    /// send them).
    pub records_after_change: bool,
}

/// One finding per vault left without a known setting sending `AuditEvent`: high
/// when none of its records came after the change, medium when some did.
pub fn stopped(c: &Collected) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut vaults: Vec<_> = c.audit_settings.vaults.iter().collect();
    vaults.sort_by(|a, b| a.0.cmp(b.0));
    for (vault, settings) in vaults {
        if settings.values().any(|s| s.flows) {
            continue;
        }
        let Some(last) = settings.values().max_by_key(|s| s.at) else {
            continue;
        };
        let names: Vec<String> = settings
            .iter()
            .map(|(n, s)| {
                format!(
                    "{n}: {}",
                    if s.change == "deleted" {
                        "deleted"
                    } else {
                        "rewritten without AuditEvent"
                    }
                )
            })
            .collect();
        let audit = c
            .vaults
            .map
            .get(vault.as_str())
            .filter(|v| v.seen.count > 0)
            .map(|v| v.seen.last);
        let after = audit.is_some_and(|t| t > last.at);
        let by = last
            .by_upn
            .clone()
            .unwrap_or_else(|| super::display(c, &last.by));
        let summary = format!(
            "The Activity Log shows vault {vault}'s diagnostic setting{} {} by {by} at {}, and no setting sending AuditEvent written since: {}",
            if names.len() == 1 { "" } else { "s" },
            names.join(", "),
            last.at.format("%Y-%m-%d %H:%M"),
            if after {
                "its AuditEvent records still arrived after it (another setting may still send them); check that the destinations you rely on still receive them."
            } else {
                "none of its AuditEvent records arrived after it. Restore the setting and review what happened on the vault while it was dark."
            },
        );
        let evidence = StoppedEvidence {
            settings: names,
            changed_at: last.at,
            changed_by: by,
            last_audit_record: audit,
            records_after_change: after,
        };
        out.push(Finding::new(
            AUDIT_LOG_STOPPED,
            if after {
                Severity::Medium
            } else {
                Severity::High
            },
            Subject::vault(vault),
            summary,
            &evidence,
        ));
    }
    out
}
