//! The name of `control_plane` and its rules.

/// The detector's name.
pub const NAME: &str = "control_plane";

/// The rules of `control_plane`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// A new role assignment that reads Key Vault data or can give access, on a
    /// vault or a scope covering vaults.
    RoleGrant,
    /// The grantee of such an assignment reading secrets, keys or certificates soon
    /// after it: one incident with the grant.
    GrantThenRead,
    /// A role assignment removed (access taken away: low at most).
    RoleRemoved,
    /// A vault's diagnostic setting deleted, or rewritten so its AuditEvent records
    /// no longer flow.
    MonitoringDisabled,
    /// After `monitoring_disabled`, the vault sent no AuditEvent record where its
    /// usual rate made that silence unlikely: its log has stopped.
    AuditLogStopped,
    /// A resource lock removed on a vault or a scope covering vaults.
    LockRemoved,
    /// A Global Administrator took User Access Administrator at the root.
    ElevateAccess,
}

impl Rule {
    /// The stable rule name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RoleGrant => "role_grant",
            Self::GrantThenRead => "grant_then_read",
            Self::RoleRemoved => "role_removed",
            Self::MonitoringDisabled => "monitoring_disabled",
            Self::AuditLogStopped => "audit_log_stopped",
            Self::LockRemoved => "lock_removed",
            Self::ElevateAccess => "elevate_access",
        }
    }
}
