//! Azure Resource Manager scopes: what a control-plane change applies to, and which
//! vaults it reaches.
//!
//! A role assignment, a lock or a diagnostic setting applies at a *scope*: the root
//! (`/`), a management group (`/providers/Microsoft.Management/managementGroups/<mg>`),
//! a subscription (`/subscriptions/<sub>`), a resource group (`…/resourceGroups/<rg>`)
//! or one resource (`…/providers/Microsoft.KeyVault/vaults/<vault>`, or anything else).
//! Access granted at a scope is inherited by everything below it, so a grant on a
//! subscription reaches every vault in it.
//!
//! # Which known vaults a scope covers
//!
//! A later rule answers "which vaults does this grant reach?" with the vaults it has
//! seen. A vault's place in the hierarchy is its resource id,
//! `/SUBSCRIPTIONS/<sub>/RESOURCEGROUPS/<rg>/PROVIDERS/MICROSOFT.KEYVAULT/VAULTS/<name>`:
//! every AuditEvent record carries it (`resourceId`; `_ResourceId` in Log Analytics),
//! and so does every Activity Log record about the vault (its writes, its diagnostic
//! settings, role assignments at its scope: [`ControlPlane::resource_id`]). The rule
//! keeps a small map, vault name → [`ScopePath`] (subscription, resource group), one
//! entry per vault, and for a change at `scope`:
//!
//! - [`ScopeLevel::Root`] covers every vault;
//! - [`ScopeLevel::ManagementGroup`] covers the vaults of the subscriptions under it:
//!   every Activity Log record carries `properties.hierarchy`
//!   (`<tenant>/<mg>/<mg>/…/<subscription>`, kept in [`ControlPlane::hierarchy`]),
//!   which tells the rule which management groups each subscription sits under;
//! - any other level covers a vault when [`covers`] says the scope is the vault's
//!   resource id or one of its ancestors (segment by segment, case-insensitively, as
//!   ARM compares ids); [`ScopePath::subscription`] and
//!   [`ScopePath::resource_group`] of both sides answer the same without the full id;
//! - a scope below a vault (one secret: `…/vaults/<v>/secrets/<s>`) reaches only
//!   that object of that vault, and [`ScopePath::vault`] still names the vault.
//!
//! The AuditEvent keeps only the vault's name today (its hot path stays small), so
//! the map is filled from the Activity Log's records naming the vault; for a vault
//! seen only in AuditEvent, phase 2 adds the vault's [`ScopePath`] to the event as one
//! shared, interned value per vault (a pointer, not a copy per event), parsed once
//! by the decoder from `resourceId`.
//!
//! [`ControlPlane::resource_id`]: super::ControlPlane::resource_id
//! [`ControlPlane::hierarchy`]: super::ControlPlane::hierarchy

use std::fmt;

use serde::Serialize;

/// How high in the hierarchy a scope sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ScopeLevel {
    /// `/`: the whole tenant (`elevateAccess`, root role assignments).
    Root,
    /// A management group.
    ManagementGroup,
    /// A subscription.
    Subscription,
    /// A resource group.
    ResourceGroup,
    /// A Key Vault or Managed HSM, or an object inside one.
    Vault,
    /// Another resource (a storage account, a private endpoint …).
    Resource,
    /// No scope, or one that is not an ARM path.
    #[default]
    Unknown,
}

impl ScopeLevel {
    /// The stable label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Root => "root",
            Self::ManagementGroup => "management_group",
            Self::Subscription => "subscription",
            Self::ResourceGroup => "resource_group",
            Self::Vault => "vault",
            Self::Resource => "resource",
            Self::Unknown => "unknown",
        }
    }

    /// The level of a scope path.
    pub fn of(scope: &str) -> ScopeLevel {
        ScopePath::parse(scope).level()
    }
}

impl fmt::Display for ScopeLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The named parts of an ARM path, borrowed from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ScopePath<'s> {
    /// The path is `/` (or empty after trimming slashes, with a leading slash).
    pub root: bool,
    /// `managementGroups/<name>`.
    pub management_group: Option<&'s str>,
    /// `subscriptions/<id>`.
    pub subscription: Option<&'s str>,
    /// `resourceGroups/<name>`.
    pub resource_group: Option<&'s str>,
    /// The Key Vault or Managed HSM named by `providers/Microsoft.KeyVault/vaults|managedHSMs/<name>`
    /// or `…/locations/<l>/deletedVaults|deletedManagedHSMs/<name>`.
    pub vault: Option<&'s str>,
    /// That vault is a Managed HSM.
    pub managed_hsm: bool,
    /// The path names a resource (a `providers/<namespace>/<type>/<name>` part).
    pub resource: bool,
}

impl<'s> ScopePath<'s> {
    /// Reads the parts of an ARM path; anything unrecognised is ignored, so a
    /// malformed path gives fewer parts, never an error.
    pub fn parse(path: &'s str) -> ScopePath<'s> {
        let trimmed = path.trim();
        let mut out = ScopePath {
            root: trimmed == "/",
            ..ScopePath::default()
        };
        let segments: Vec<&str> = trimmed.split('/').filter(|s| !s.is_empty()).collect();
        let eq = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
        let mut i = 0;
        while i < segments.len() {
            let (key, next) = (segments[i], segments.get(i + 1).copied());
            if eq(key, "subscriptions") && out.subscription.is_none() {
                out.subscription = next;
                i += 2;
            } else if eq(key, "resourceGroups") && out.resource_group.is_none() {
                out.resource_group = next;
                i += 2;
            } else if eq(key, "providers") {
                i += 1 + out.provider_part(&segments[i + 1..]);
            } else {
                i += 1;
            }
        }
        out
    }

    /// Reads one `providers/<namespace>/…` part; returns how many segments it used.
    fn provider_part(&mut self, rest: &[&'s str]) -> usize {
        let eq = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
        let Some(namespace) = rest.first() else {
            return 0;
        };
        if eq(namespace, "Microsoft.Management")
            && rest.get(1).is_some_and(|t| eq(t, "managementGroups"))
        {
            if self.subscription.is_none() {
                self.management_group = rest.get(2).copied();
            }
            return 3.min(rest.len());
        }
        if eq(namespace, "Microsoft.KeyVault") && self.vault.is_none() {
            match rest.get(1) {
                Some(t) if eq(t, "vaults") || eq(t, "managedHSMs") => {
                    self.vault = rest.get(2).copied();
                    self.managed_hsm = eq(t, "managedHSMs");
                    self.resource = true;
                    return 3.min(rest.len());
                }
                Some(t) if eq(t, "locations") => {
                    let kind = rest.get(3);
                    if kind.is_some_and(|k| eq(k, "deletedVaults") || eq(k, "deletedManagedHSMs")) {
                        self.vault = rest.get(4).copied();
                        self.managed_hsm = kind.is_some_and(|k| eq(k, "deletedManagedHSMs"));
                        self.resource = true;
                        return 5.min(rest.len());
                    }
                }
                _ => {}
            }
        }
        // Another provider: a resource when it has a type and a name.
        if rest.len() >= 3 && !eq(namespace, "Microsoft.Authorization") {
            self.resource = true;
        }
        1
    }

    /// The level of the scope.
    pub fn level(&self) -> ScopeLevel {
        if self.vault.is_some() {
            ScopeLevel::Vault
        } else if self.resource {
            ScopeLevel::Resource
        } else if self.resource_group.is_some() {
            ScopeLevel::ResourceGroup
        } else if self.subscription.is_some() {
            ScopeLevel::Subscription
        } else if self.management_group.is_some() {
            ScopeLevel::ManagementGroup
        } else if self.root {
            ScopeLevel::Root
        } else {
            ScopeLevel::Unknown
        }
    }
}

/// Whether a change at `scope` reaches the resource `resource_id` (a vault's id):
/// the scope is `/`, or the resource id itself, or one of its ancestors. Segments
/// are compared case-insensitively; a management-group scope is not decided here
/// (it needs the subscription's hierarchy, see the module documentation).
pub fn covers(scope: &str, resource_id: &str) -> bool {
    let scope = scope.trim();
    if scope == "/" {
        return true;
    }
    let mut want = scope.split('/').filter(|s| !s.is_empty());
    let mut have = resource_id.trim().split('/').filter(|s| !s.is_empty());
    let mut matched = 0usize;
    loop {
        match (want.next(), have.next()) {
            (None, _) => return matched > 0,
            (Some(_), None) => return false,
            (Some(w), Some(h)) if w.eq_ignore_ascii_case(h) => matched += 1,
            _ => return false,
        }
    }
}

/// The prefix of `id` before `/providers/<namespace>/<kind>/` (case-insensitive):
/// the scope a role assignment, lock or diagnostic setting resource lives under.
/// `None` when `id` has no such part; `Some("/")` for one at the root.
pub fn scope_before<'s>(id: &'s str, namespace: &str, kind: &str) -> Option<&'s str> {
    let lower = id.to_ascii_lowercase();
    let needle = format!(
        "/providers/{}/{}/",
        namespace.to_ascii_lowercase(),
        kind.to_ascii_lowercase()
    );
    let at = lower.rfind(&needle)?;
    // ASCII lower-casing keeps byte offsets, so `at` is a boundary in `id` too.
    Some(if at == 0 { "/" } else { id.get(..at)? })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_of_scopes() {
        let table = [
            ("/", ScopeLevel::Root),
            (
                "/providers/Microsoft.Management/managementGroups/corp",
                ScopeLevel::ManagementGroup,
            ),
            ("/subscriptions/s1", ScopeLevel::Subscription),
            ("/SUBSCRIPTIONS/S1/RESOURCEGROUPS/RG", ScopeLevel::ResourceGroup),
            (
                "/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv1",
                ScopeLevel::Vault,
            ),
            (
                "/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv1/secrets/db",
                ScopeLevel::Vault,
            ),
            (
                "/subscriptions/s/providers/Microsoft.KeyVault/locations/eastus/deletedVaults/kv2",
                ScopeLevel::Vault,
            ),
            (
                "/subscriptions/s/resourcegroups/rg/providers/Microsoft.Storage/storageAccounts/st",
                ScopeLevel::Resource,
            ),
            (
                "/subscriptions/s/providers/Microsoft.Authorization/roleAssignments/x",
                ScopeLevel::Subscription,
            ),
            ("", ScopeLevel::Unknown),
            ("garbage", ScopeLevel::Unknown),
            ("/providers", ScopeLevel::Unknown),
        ];
        for (scope, want) in table {
            assert_eq!(ScopeLevel::of(scope), want, "{scope}");
        }
        let p = ScopePath::parse(
            "/subscriptions/S/resourceGroups/RG/providers/Microsoft.KeyVault/vaults/KV/providers/Microsoft.Insights/diagnosticSettings/x",
        );
        assert_eq!(
            (p.subscription, p.resource_group, p.vault),
            (Some("S"), Some("RG"), Some("KV"))
        );
    }

    #[test]
    fn which_scopes_cover_a_vault() {
        let vault = "/SUBSCRIPTIONS/S1/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.KEYVAULT/VAULTS/KV";
        let table = [
            ("/", true),
            ("/subscriptions/s1", true),
            ("/subscriptions/s1/", true),
            ("/subscriptions/s1/resourceGroups/rg", true),
            ("/subscriptions/s1/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv", true),
            ("/subscriptions/s1/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv2", false),
            ("/subscriptions/s1/resourceGroups/rg2", false),
            ("/subscriptions/s", false),
            ("/subscriptions/s1/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv/secrets/a", false),
            ("", false),
        ];
        for (scope, want) in table {
            assert_eq!(covers(scope, vault), want, "{scope}");
        }
    }

    #[test]
    fn scope_of_a_child_resource() {
        let id = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Authorization/roleAssignments/abc";
        assert_eq!(
            scope_before(id, "Microsoft.Authorization", "roleAssignments"),
            Some("/subscriptions/s/resourceGroups/rg")
        );
        assert_eq!(
            scope_before(
                "/providers/Microsoft.Authorization/roleAssignments/abc",
                "microsoft.authorization",
                "roleassignments"
            ),
            Some("/")
        );
        assert_eq!(
            scope_before("/subscriptions/s", "Microsoft.Authorization", "locks"),
            None
        );
        // Multi-byte text never panics.
        assert_eq!(scope_before("/é/providers/x/y/", "x", "y"), Some("/é"));
    }
}
