//! Diagnostic settings on vaults as the Activity Log shows them over a report's
//! period, kept for the `monitoring.audit_log_stopped` hygiene check.
//!
//! A vault's `AuditEvent` reaches anyone only through a diagnostic setting; deleting
//! the setting, or rewriting it without the `AuditEvent` category (or the `audit` /
//! `allLogs` group), blinds every reader of that destination. Each setting's last
//! finished change is kept by vault and name, so a setting deleted and later written
//! again with `AuditEvent` counts as restored. Bounded by [`MAX_SETTINGS`].

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};

use crate::event::{ActivityStatus, AuditEvent, ChangeKind};

/// The most diagnostic settings kept (over all vaults).
pub const MAX_SETTINGS: usize = 10_000;

/// A setting's last change in the period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingChange {
    /// `AuditEvent` still flows through it after the change.
    pub flows: bool,
    /// `deleted` or `written`.
    pub change: &'static str,
    /// When.
    pub at: DateTime<Utc>,
    /// Who (identity).
    pub by: String,
    /// Their UPN, when the record carried one.
    pub by_upn: Option<String>,
}

/// Every vault's diagnostic settings seen changing.
#[derive(Debug, Clone, Default)]
pub struct AuditSettings {
    /// Vault -> setting name -> its last change.
    pub vaults: HashMap<String, BTreeMap<String, SettingChange>>,
    /// Changes left out past [`MAX_SETTINGS`].
    pub more: u64,
    kept: usize,
}

impl AuditSettings {
    /// Folds one event (finished diagnostic-setting changes on a vault only).
    pub fn observe(&mut self, e: &AuditEvent<'_>) {
        let Some(c) = e.control_plane() else { return };
        let Some(d) = c.diagnostic_setting.as_ref() else {
            return;
        };
        if c.status != ActivityStatus::Success || e.vault.is_empty() {
            return;
        }
        let (change, flows) = match c.change {
            ChangeKind::DiagnosticSettingDeleted => ("deleted", false),
            ChangeKind::DiagnosticSettingWritten => match d.audit_event_flows {
                Some(flows) => ("written", flows),
                None => return,
            },
            _ => return,
        };
        let name = d.name.as_deref().unwrap_or("?").to_owned();
        let settings = self.vaults.entry(e.vault.to_string()).or_default();
        if !settings.contains_key(&name) {
            if self.kept >= MAX_SETTINGS {
                self.more += 1;
                return;
            }
            self.kept += 1;
        }
        settings.insert(
            name,
            SettingChange {
                flows,
                change,
                at: e.time,
                by: e.identity().into_owned(),
                by_upn: e.principal.upn.as_deref().map(str::to_owned),
            },
        );
    }
}
