//! Control-plane changes from the Azure Activity Log, in the one event model.
//!
//! On a vault that uses Azure RBAC, "who may read its secrets" changes through role
//! assignments, and the first move of a careful attacker is to delete the vault's
//! diagnostic setting; both exist only in the subscription's Activity Log. Its
//! records become [`AuditEvent`](super::AuditEvent)s like any Key Vault request, so
//! they flow through the same deduplication, reordering, detection and metrics. What
//! only a control-plane change has (its kind, the activity status, the scope, the
//! grantee and role, the new diagnostic setting) lives in a [`ControlPlane`], boxed
//! inside the event's [`Operation`](super::Operation): an AuditEvent pays nothing for
//! it, neither in size nor in decoding.
//!
//! The caller is the event's [`Principal`](super::Principal), built from the token
//! claims by the same rules as AuditEvent's (the object id from the long URI claim or
//! `oid`, then `appid`), so one identity has one baseline across both logs. Which
//! known vaults a scope covers is described in [`super::scope`].

use std::borrow::Cow;
use std::fmt;

use compact_str::CompactString;
use serde::Serialize;

use super::scope::ScopeLevel;
use super::OperationClass;

/// Which log an event came from (the metrics' `category` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LogSource {
    /// A vault's own `AuditEvent` resource log.
    AuditEvent,
    /// The subscription's Activity Log (category `Administrative`).
    ActivityLog,
}

impl LogSource {
    /// The stable label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AuditEvent => "audit_event",
            Self::ActivityLog => "activity_log",
        }
    }
}

impl fmt::Display for LogSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a control-plane operation changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// `Microsoft.Authorization/roleAssignments/write`: a role granted (or re-applied;
    /// the status says whether it was new, `Created`, or already there).
    RoleAssignmentCreated,
    /// `Microsoft.Authorization/roleAssignments/delete`: a role removed.
    RoleAssignmentDeleted,
    /// `Microsoft.KeyVault/vaults/write` answered `Created`.
    VaultCreated,
    /// `Microsoft.KeyVault/vaults/write` answered `OK`: an existing vault updated.
    VaultUpdated,
    /// `Microsoft.KeyVault/vaults/write` whose result does not say which (a `Start`,
    /// `Accept` or failed record).
    VaultWritten,
    /// `Microsoft.KeyVault/vaults/delete` (soft delete: the vault can be recovered).
    VaultDeleted,
    /// `Microsoft.KeyVault/locations/deletedVaults/purge/action`: gone for good.
    VaultPurged,
    /// `Microsoft.KeyVault/vaults/accessPolicies/write`: access policies edited.
    AccessPolicyWritten,
    /// `Microsoft.Insights/diagnosticSettings/write`: where a resource's logs go.
    DiagnosticSettingWritten,
    /// `Microsoft.Insights/diagnosticSettings/delete`: a resource's logs stop going there.
    DiagnosticSettingDeleted,
    /// `Microsoft.Authorization/elevateAccess/action`: a Global Administrator takes
    /// User Access Administrator at the root.
    ElevateAccess,
    /// `Microsoft.Authorization/locks/delete`: a delete or read-only lock removed.
    LockRemoved,
    /// Private endpoints and private endpoint connections of vaults
    /// (`Microsoft.Network/privateEndpoints/*`,
    /// `Microsoft.KeyVault/vaults/privateEndpointConnections/*`).
    NetworkChanged,
    /// Any other Key Vault, authorisation or diagnostic-setting operation.
    Other,
}

impl ChangeKind {
    /// The stable label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RoleAssignmentCreated => "role_assignment_created",
            Self::RoleAssignmentDeleted => "role_assignment_deleted",
            Self::VaultCreated => "vault_created",
            Self::VaultUpdated => "vault_updated",
            Self::VaultWritten => "vault_written",
            Self::VaultDeleted => "vault_deleted",
            Self::VaultPurged => "vault_purged",
            Self::AccessPolicyWritten => "access_policy_written",
            Self::DiagnosticSettingWritten => "diagnostic_setting_written",
            Self::DiagnosticSettingDeleted => "diagnostic_setting_deleted",
            Self::ElevateAccess => "elevate_access",
            Self::LockRemoved => "lock_removed",
            Self::NetworkChanged => "network_changed",
            Self::Other => "other",
        }
    }

    /// The operation class it counts under (metrics, reports).
    pub fn class(self, operation: &str) -> OperationClass {
        match self {
            Self::VaultDeleted | Self::VaultPurged => OperationClass::Destroy,
            Self::Other => class_of_arm_verb(operation),
            _ => OperationClass::AccessChange,
        }
    }
}

impl fmt::Display for ChangeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The class of an ARM operation by its last segments (`…/write`, `…/delete`).
fn class_of_arm_verb(operation: &str) -> OperationClass {
    let lower = operation.to_ascii_lowercase();
    if lower.ends_with("/delete") || lower.ends_with("/purge/action") {
        OperationClass::Destroy
    } else if lower.ends_with("/write") {
        OperationClass::Write
    } else if lower.ends_with("/read") {
        OperationClass::Enumerate
    } else {
        OperationClass::Other
    }
}

/// Where an Azure Resource Manager operation stands (`resultType`, `status.value`,
/// `ActivityStatusValue`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ActivityStatus {
    /// The request started (`Start`, `Started`); its result follows under the same
    /// correlation id.
    Start,
    /// Accepted for asynchronous completion (`Accept`, `Accepted`).
    Accept,
    /// Succeeded (`Success`, `Succeeded`).
    Success,
    /// Failed (`Failure`, `Failed`): refused or in error, nothing changed.
    Failure,
    /// Missing or another value (`Active`, `Resolved`, `In Progress` …).
    Other,
}

impl ActivityStatus {
    /// Reads a status in any of its spellings.
    pub fn parse(text: &str) -> ActivityStatus {
        let t = text.trim();
        let is = |names: &[&str]| names.iter().any(|n| t.eq_ignore_ascii_case(n));
        if is(&["Start", "Started", "BeginRequest"]) {
            Self::Start
        } else if is(&["Accept", "Accepted"]) {
            Self::Accept
        } else if is(&["Success", "Succeeded", "EndRequest"]) {
            Self::Success
        } else if is(&["Failure", "Failed"]) {
            Self::Failure
        } else {
            Self::Other
        }
    }

    /// The stable label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Start => "start",
            Self::Accept => "accept",
            Self::Success => "success",
            Self::Failure => "failure",
            Self::Other => "other",
        }
    }
}

/// A role assignment created or deleted.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct RoleAssignment<'a> {
    /// The assignment's GUID (the last segment of its resource id), lower case.
    pub id: Option<Cow<'a, str>>,
    /// The grantee's object id, lower case.
    pub principal_id: Option<Cow<'a, str>>,
    /// The grantee's type: `User`, `Group`, `ServicePrincipal`, `ForeignGroup`, `Device`.
    pub principal_type: Option<Cow<'a, str>>,
    /// The role definition's GUID, lower case.
    pub role_definition_id: Option<Cow<'a, str>>,
    /// The role's name, when the roles file knows it.
    pub role_name: Option<Cow<'a, str>>,
}

/// A diagnostic setting written or deleted.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct DiagnosticSetting<'a> {
    /// The setting's name.
    pub name: Option<Cow<'a, str>>,
    /// Whether the resource's `AuditEvent` records still flow through this setting
    /// after the change (the `AuditEvent` category, or the `audit` or `allLogs`
    /// group, enabled): `false` after a delete; `None` when the record does not
    /// carry the new setting.
    pub audit_event_flows: Option<bool>,
    /// The log categories and category groups the new setting enables (at most
    /// [`MAX_ENABLED_CATEGORIES`]).
    pub enabled: Vec<CompactString>,
}

/// The most enabled categories kept per diagnostic setting.
pub const MAX_ENABLED_CATEGORIES: usize = 16;

/// Why the caller was allowed (`identity.authorization.evidence`): the caller's own
/// role assignment, not the one a role-assignment record creates.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize)]
pub struct CallerAuthorization<'a> {
    /// The role that let the caller act (`evidence.role`, a name).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<Cow<'a, str>>,
    /// Its role definition GUID.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role_definition_id: Option<Cow<'a, str>>,
    /// The scope of the caller's assignment, lower case.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role_assignment_scope: Option<Cow<'a, str>>,
    /// The caller's assignment id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role_assignment_id: Option<Cow<'a, str>>,
    /// The principal holding it (the caller, or a group the caller is in).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub principal_id: Option<Cow<'a, str>>,
    /// That principal's type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub principal_type: Option<Cow<'a, str>>,
}

/// One Azure Resource Manager operation from the Activity Log.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct ControlPlane<'a> {
    /// The operation, lower case (`microsoft.authorization/roleassignments/write`):
    /// ARM names are case-insensitive and the shapes disagree (`AzureActivity` and
    /// Storage often write them in upper case), so one spelling makes one event.
    pub operation: Cow<'a, str>,
    /// What it changes.
    pub change: ChangeKind,
    /// Where it stands.
    pub status: ActivityStatus,
    /// The sub-status: `Created`, `OK`, `Conflict`, `Forbidden` … (from
    /// `resultSignature`, `subStatus`, `ActivitySubstatusValue` or `statusCode`).
    pub substatus: Option<Cow<'a, str>>,
    /// The error code of a failure (`RoleAssignmentExists`, `AuthorizationFailed`),
    /// from the status message or response body.
    pub error_code: Option<Cow<'a, str>>,
    /// The resource the operation acted on (`resourceId`), lower case (Log
    /// Analytics' `_ResourceId` is lower case, and ARM ids are case-insensitive).
    pub resource_id: Option<Cow<'a, str>>,
    /// The scope the change applies to, lower case: a role assignment's or lock's
    /// scope, the resource a diagnostic setting belongs to, the resource otherwise.
    pub scope: Option<Cow<'a, str>>,
    /// How high that scope sits.
    pub scope_level: ScopeLevel,
    /// The role assignment created or deleted.
    pub role_assignment: Option<RoleAssignment<'a>>,
    /// The diagnostic setting written or deleted.
    pub diagnostic_setting: Option<DiagnosticSetting<'a>>,
    /// Why the caller was allowed.
    pub authorization: Option<CallerAuthorization<'a>>,
    /// `properties.hierarchy`: `<tenant>/<management groups>/…/<subscription>`.
    pub hierarchy: Option<Cow<'a, str>>,
}

impl ControlPlane<'_> {
    /// The operation class this change counts under.
    pub fn class(&self) -> OperationClass {
        self.change.class(&self.operation)
    }

    /// Detaches from the input buffer.
    pub fn into_owned(self) -> ControlPlane<'static> {
        ControlPlane {
            operation: own(self.operation),
            change: self.change,
            status: self.status,
            substatus: self.substatus.map(own),
            error_code: self.error_code.map(own),
            resource_id: self.resource_id.map(own),
            scope: self.scope.map(own),
            scope_level: self.scope_level,
            role_assignment: self.role_assignment.map(|r| RoleAssignment {
                id: r.id.map(own),
                principal_id: r.principal_id.map(own),
                principal_type: r.principal_type.map(own),
                role_definition_id: r.role_definition_id.map(own),
                role_name: r.role_name.map(own),
            }),
            diagnostic_setting: self.diagnostic_setting.map(|d| DiagnosticSetting {
                name: d.name.map(own),
                audit_event_flows: d.audit_event_flows,
                enabled: d.enabled,
            }),
            authorization: self.authorization.map(|a| CallerAuthorization {
                role: a.role.map(own),
                role_definition_id: a.role_definition_id.map(own),
                role_assignment_scope: a.role_assignment_scope.map(own),
                role_assignment_id: a.role_assignment_id.map(own),
                principal_id: a.principal_id.map(own),
                principal_type: a.principal_type.map(own),
            }),
            hierarchy: self.hierarchy.map(own),
        }
    }
}

fn own(s: Cow<'_, str>) -> Cow<'static, str> {
    Cow::Owned(s.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_in_every_spelling() {
        let table = [
            ("Start", ActivityStatus::Start),
            ("Started", ActivityStatus::Start),
            ("accept", ActivityStatus::Accept),
            ("Succeeded", ActivityStatus::Success),
            ("Success", ActivityStatus::Success),
            (" Failed ", ActivityStatus::Failure),
            ("Failure", ActivityStatus::Failure),
            ("Active", ActivityStatus::Other),
            ("", ActivityStatus::Other),
        ];
        for (text, want) in table {
            assert_eq!(ActivityStatus::parse(text), want, "{text}");
        }
    }

    #[test]
    fn classes_of_changes() {
        let table = [
            (
                ChangeKind::RoleAssignmentCreated,
                "x",
                OperationClass::AccessChange,
            ),
            (ChangeKind::VaultPurged, "x", OperationClass::Destroy),
            (
                ChangeKind::DiagnosticSettingDeleted,
                "x",
                OperationClass::AccessChange,
            ),
            (
                ChangeKind::Other,
                "Microsoft.KeyVault/vaults/secrets/write",
                OperationClass::Write,
            ),
            (
                ChangeKind::Other,
                "MICROSOFT.KEYVAULT/VAULTS/KEYS/PURGE/ACTION",
                OperationClass::Destroy,
            ),
            (
                ChangeKind::Other,
                "Microsoft.KeyVault/vaults/certificates/read",
                OperationClass::Enumerate,
            ),
            (
                ChangeKind::Other,
                "Microsoft.KeyVault/vaults/deploy/action",
                OperationClass::Other,
            ),
        ];
        for (kind, op, want) in table {
            assert_eq!(kind.class(op), want, "{kind} {op}");
        }
    }
}
