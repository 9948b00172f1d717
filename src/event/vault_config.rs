//! Vault configuration and access-policy changes carried by control-plane records.
//!
//! `VaultGet`, `VaultPut` and `VaultPatch` records carry the vault's configuration
//! *after* the call (`properties.properties`), never a diff; the access-change
//! detector keeps the last known configuration per vault and diffs against it.
//! Access-policy edits also carry `addedAccessPolicy` / `removedAccessPolicy`.
//! These are rare records, so the types own their data.

use serde::{Deserialize, Serialize};

use crate::decode::lenient;

/// The security-relevant part of a vault's configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct VaultConfig {
    /// SKU name, lower case (`standard`, `premium`; ARM writes `Standard` in some
    /// API versions, so the case is dropped to keep configurations comparable).
    #[serde(
        alias = "Sku",
        deserialize_with = "lower_sku",
        skip_serializing_if = "Option::is_none"
    )]
    pub sku: Option<String>,
    /// The Entra tenant the vault trusts (lower case).
    #[serde(
        rename = "tenantId",
        alias = "TenantId",
        deserialize_with = "lenient::opt_lower_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub tenant_id: Option<String>,
    /// Firewall rules; `None` when the record says `networkAcls: null` (open).
    #[serde(
        rename = "networkAcls",
        alias = "NetworkAcls",
        deserialize_with = "lenient::opt_object_or_json",
        skip_serializing_if = "Option::is_none"
    )]
    pub network_acls: Option<NetworkAcls>,
    /// `publicNetworkAccess` (`Enabled`, `Disabled`).
    #[serde(
        rename = "publicNetworkAccess",
        alias = "PublicNetworkAccess",
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub public_network_access: Option<String>,
    /// VMs may retrieve certificates stored as secrets.
    #[serde(
        rename = "enabledForDeployment",
        alias = "EnabledForDeployment",
        deserialize_with = "lenient::opt_bool",
        skip_serializing_if = "Option::is_none"
    )]
    pub enabled_for_deployment: Option<bool>,
    /// Azure Disk Encryption may retrieve secrets and unwrap keys.
    #[serde(
        rename = "enabledForDiskEncryption",
        alias = "EnabledForDiskEncryption",
        deserialize_with = "lenient::opt_bool",
        skip_serializing_if = "Option::is_none"
    )]
    pub enabled_for_disk_encryption: Option<bool>,
    /// ARM template deployments may retrieve secrets.
    #[serde(
        rename = "enabledForTemplateDeployment",
        alias = "EnabledForTemplateDeployment",
        deserialize_with = "lenient::opt_bool",
        skip_serializing_if = "Option::is_none"
    )]
    pub enabled_for_template_deployment: Option<bool>,
    /// Soft delete.
    #[serde(
        rename = "enableSoftDelete",
        alias = "EnableSoftDelete",
        deserialize_with = "lenient::opt_bool",
        skip_serializing_if = "Option::is_none"
    )]
    pub enable_soft_delete: Option<bool>,
    /// Days a deleted object stays recoverable.
    #[serde(
        rename = "softDeleteRetentionInDays",
        alias = "SoftDeleteRetentionInDays",
        deserialize_with = "lenient::opt_u32",
        skip_serializing_if = "Option::is_none"
    )]
    pub soft_delete_retention_days: Option<u32>,
    /// RBAC authorisation instead of access policies.
    #[serde(
        rename = "enableRbacAuthorization",
        alias = "EnableRbacAuthorization",
        deserialize_with = "lenient::opt_bool",
        skip_serializing_if = "Option::is_none"
    )]
    pub enable_rbac_authorization: Option<bool>,
    /// Purge protection (`null` in records means off).
    #[serde(
        rename = "enablePurgeProtection",
        alias = "EnablePurgeProtection",
        deserialize_with = "lenient::opt_bool",
        skip_serializing_if = "Option::is_none"
    )]
    pub enable_purge_protection: Option<bool>,
}

fn lower_sku<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(lenient::sku_name(d)?.map(|s| s.to_ascii_lowercase()))
}

/// The vault firewall.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NetworkAcls {
    /// `AzureServices` or `None`: trusted services bypass the firewall.
    #[serde(
        alias = "Bypass",
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub bypass: Option<String>,
    /// `Allow` (open) or `Deny` (only the rules below).
    #[serde(
        rename = "defaultAction",
        alias = "DefaultAction",
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub default_action: Option<String>,
    /// Allowed public address ranges.
    #[serde(
        rename = "ipRules",
        alias = "IpRules",
        deserialize_with = "lenient::rule_values"
    )]
    pub ip_rules: Vec<String>,
    /// Allowed virtual-network subnets.
    #[serde(
        rename = "virtualNetworkRules",
        alias = "VirtualNetworkRules",
        deserialize_with = "lenient::rule_values"
    )]
    pub virtual_network_rules: Vec<String>,
}

impl NetworkAcls {
    /// Whether the firewall lets any address in (`defaultAction: Allow`).
    pub fn is_open(&self) -> bool {
        self.default_action
            .as_deref()
            .is_none_or(|a| a.eq_ignore_ascii_case("allow"))
    }
}

impl VaultConfig {
    /// Whether the vault accepts requests from any public address.
    pub fn is_publicly_reachable(&self) -> bool {
        let public_disabled = self
            .public_network_access
            .as_deref()
            .is_some_and(|p| p.eq_ignore_ascii_case("disabled"));
        !public_disabled && self.network_acls.as_ref().is_none_or(NetworkAcls::is_open)
    }
}

/// One access-policy entry (who, and which permissions).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AccessPolicyEntry {
    /// The principal granted (object id, lower case).
    #[serde(
        rename = "objectId",
        alias = "ObjectId",
        deserialize_with = "lenient::opt_lower_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub object_id: Option<String>,
    /// Its tenant.
    #[serde(
        rename = "tenantId",
        alias = "TenantId",
        deserialize_with = "lenient::opt_lower_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub tenant_id: Option<String>,
    /// A compound identity's application, if any.
    #[serde(
        rename = "applicationId",
        alias = "ApplicationId",
        deserialize_with = "lenient::opt_lower_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub application_id: Option<String>,
    /// The permissions.
    #[serde(alias = "Permissions", deserialize_with = "lenient::permissions")]
    pub permissions: Permissions,
}

/// Access-policy permissions per object kind (lower case).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Permissions {
    /// Key permissions.
    #[serde(alias = "Keys", deserialize_with = "lenient::permission_list")]
    pub keys: Vec<String>,
    /// Secret permissions.
    #[serde(alias = "Secrets", deserialize_with = "lenient::permission_list")]
    pub secrets: Vec<String>,
    /// Certificate permissions.
    #[serde(alias = "Certificates", deserialize_with = "lenient::permission_list")]
    pub certificates: Vec<String>,
    /// Storage permissions.
    #[serde(alias = "Storage", deserialize_with = "lenient::permission_list")]
    pub storage: Vec<String>,
}

impl Permissions {
    /// Whether the entry grants reading secret values (`get` on secrets, or `all`).
    pub fn can_read_secrets(&self) -> bool {
        self.secrets.iter().any(|p| p == "get" || p == "all")
    }

    /// Every permission, as `kind:permission`.
    pub fn flat(&self) -> Vec<String> {
        let kinds = [
            ("keys", &self.keys),
            ("secrets", &self.secrets),
            ("certificates", &self.certificates),
            ("storage", &self.storage),
        ];
        kinds
            .iter()
            .flat_map(|(kind, perms)| perms.iter().map(move |p| format!("{kind}:{p}")))
            .collect()
    }
}

/// An access-policy change carried by a VaultPut or VaultPatch.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PolicyChange {
    /// `addedAccessPolicy`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub added: Option<AccessPolicyEntry>,
    /// `removedAccessPolicy`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub removed: Option<AccessPolicyEntry>,
}

impl PolicyChange {
    /// Whether the change carries anything.
    pub fn is_empty(&self) -> bool {
        self.added.is_none() && self.removed.is_none()
    }
}

/// Whether a vault write (`VaultPut`/`VaultPatch`) changed nothing a defender can see,
/// by comparing the configuration its record carries (`after`) with the last one
/// known for the vault (`before`). Infrastructure as code re-applying identical
/// settings and tag-only edits look like this: the record shows the same
/// configuration, or none at all (tags are not part of it). A write that edits an
/// access policy changes something; so does one whose configuration differs. With no
/// earlier configuration known, a write carrying one cannot be judged and counts as a
/// change. The access-change detector, the report and the metrics all ask this, so
/// they agree on what "changed nothing" means.
pub fn write_changes_nothing(
    before: Option<&VaultConfig>,
    after: Option<&VaultConfig>,
    policy: Option<&PolicyChange>,
) -> bool {
    if policy.is_some_and(|p| !p.is_empty()) {
        return false;
    }
    match (before, after) {
        (_, None) => true,
        (Some(before), Some(after)) => before == after,
        (None, Some(_)) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn which_writes_change_nothing() {
        let closed = VaultConfig {
            enable_rbac_authorization: Some(true),
            ..Default::default()
        };
        let open = VaultConfig {
            enable_rbac_authorization: Some(false),
            ..Default::default()
        };
        let grant = PolicyChange {
            added: Some(AccessPolicyEntry::default()),
            removed: None,
        };
        let empty = PolicyChange::default();
        // (before, after, policy, changes nothing)
        type Row<'a> = (
            Option<&'a VaultConfig>,
            Option<&'a VaultConfig>,
            Option<&'a PolicyChange>,
            bool,
        );
        let table: [Row<'_>; 7] = [
            (Some(&closed), Some(&closed), None, true),
            (Some(&closed), None, None, true),
            (None, None, None, true),
            (Some(&closed), Some(&closed), Some(&empty), true),
            (Some(&closed), Some(&open), None, false),
            (None, Some(&closed), None, false),
            (Some(&closed), Some(&closed), Some(&grant), false),
        ];
        for (i, (before, after, policy, nothing)) in table.into_iter().enumerate() {
            assert_eq!(
                write_changes_nothing(before, after, policy),
                nothing,
                "row {i}"
            );
        }
    }
}
