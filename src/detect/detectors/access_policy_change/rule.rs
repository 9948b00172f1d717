//! The name of `access_policy_change` and of its rules, as alerts carry them.

/// The detector's name.
pub const NAME: &str = "access_policy_change";

/// The rules of `access_policy_change`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// An access policy added.
    AccessPolicyAdded,
    /// An access policy removed.
    AccessPolicyRemoved,
    /// A grant removed shortly after it was made (add, dump, remove).
    GrantThenRevoke,
    /// A grant followed by reads by the grantee.
    GrantThenRead,
    /// Firewall default action to Allow, or public network access enabled.
    NetworkOpened,
    /// IP or virtual-network rules added, or trusted-service bypass enabled.
    NetworkRuleAdded,
    /// RBAC authorisation turned off (access policies apply again).
    RbacDisabled,
    /// Purge protection turned off.
    PurgeProtectionDisabled,
    /// Soft delete turned off or its retention shortened.
    SoftDeleteWeakened,
    /// VMs, ARM templates or disk encryption allowed to read secrets.
    DeploymentAccessEnabled,
    /// A `VaultGet` shows a weaker configuration than the last one, with no change
    /// record seen.
    WeakenedConfigObserved,
    /// Any other successful VaultPut/VaultPatch.
    VaultChanged,
}

impl Rule {
    /// The stable rule name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AccessPolicyAdded => "access_policy_added",
            Self::AccessPolicyRemoved => "access_policy_removed",
            Self::GrantThenRevoke => "grant_then_revoke",
            Self::GrantThenRead => "grant_then_read",
            Self::NetworkOpened => "network_opened",
            Self::NetworkRuleAdded => "network_rule_added",
            Self::RbacDisabled => "rbac_disabled",
            Self::PurgeProtectionDisabled => "purge_protection_disabled",
            Self::SoftDeleteWeakened => "soft_delete_weakened",
            Self::DeploymentAccessEnabled => "deployment_access_enabled",
            Self::WeakenedConfigObserved => "weakened_config_observed",
            Self::VaultChanged => "vault_changed",
        }
    }
}
