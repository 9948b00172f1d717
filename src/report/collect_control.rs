//! The report's record of Activity Log changes on a vault: role assignments granted
//! or removed and diagnostic settings deleted or rewritten without AuditEvent, listed
//! with the vault's configuration changes.
//!
//! Split from [`super::collect`], which owns the state and watches the pipeline.

use super::collect::{Collected, MAX_CHANGES};
use super::stats::{ChangeRecord, VaultStats};
use crate::event::{
    ActivityStatus, AuditEvent, ChangeKind, ControlPlane, RoleAssignment, ScopeLevel,
};

/// Records a finished role assignment or diagnostic-setting change on one vault
/// (broader scopes are the alerts' to list: the report knows vaults by name only).
pub(super) fn control_change(state: &mut Collected, e: &AuditEvent<'_>) {
    let Some(c) = e.control_plane() else { return };
    if c.status != ActivityStatus::Success
        || c.scope_level != ScopeLevel::Vault
        || e.vault.is_empty()
    {
        return;
    }
    let role = |r: &RoleAssignment<'_>| {
        let name = r.role_name.as_deref().map_or_else(
            || format!("role {}", r.role_definition_id.as_deref().unwrap_or("?")),
            str::to_owned,
        );
        let grantee = format!(
            "{} {}",
            r.principal_type.as_deref().unwrap_or("principal"),
            r.principal_id.as_deref().unwrap_or("?")
        );
        (name, grantee)
    };
    let setting = |c: &ControlPlane<'_>| {
        c.diagnostic_setting
            .as_ref()
            .and_then(|d| d.name.as_deref())
            .unwrap_or("?")
            .to_owned()
    };
    let change = match (c.change, &c.role_assignment) {
        (ChangeKind::RoleAssignmentCreated, Some(r)) => {
            let (name, grantee) = role(r);
            if !c
                .substatus
                .as_deref()
                .is_some_and(|s| s.eq_ignore_ascii_case("Created"))
                && e.status != 201
            {
                return;
            }
            (
                format!("role assignment: {name}"),
                "not assigned".to_owned(),
                format!("assigned to {grantee}"),
            )
        }
        (ChangeKind::RoleAssignmentDeleted, Some(r)) => {
            let (name, grantee) = role(r);
            (
                format!("role assignment: {name}"),
                format!("assigned to {grantee}"),
                "removed".to_owned(),
            )
        }
        (ChangeKind::DiagnosticSettingDeleted, _) => (
            format!("diagnostic setting {}", setting(c)),
            "exists".to_owned(),
            "deleted: AuditEvent no longer sent there".to_owned(),
        ),
        (ChangeKind::DiagnosticSettingWritten, _)
            if c.diagnostic_setting
                .as_ref()
                .and_then(|d| d.audit_event_flows)
                == Some(false) =>
        {
            (
                format!("diagnostic setting {}", setting(c)),
                "?".to_owned(),
                "rewritten without AuditEvent".to_owned(),
            )
        }
        _ => return,
    };
    let (max_objects, cap) = (state.max_objects, state.cap);
    let identity = e.identity().into_owned();
    if let Some(vault) = state
        .vaults
        .entry_with(e.vault.as_str(), str::to_owned, || {
            VaultStats::new(e.time, max_objects, cap)
        })
    {
        if vault.changes.len() < MAX_CHANGES {
            vault.changes.push(ChangeRecord {
                time: e.time,
                identity,
                operation: c.operation.to_string(),
                before: None,
                after: None,
                policy: None,
                control: Some(change),
            });
        } else {
            vault.changes_more += 1;
        }
    }
}
