//! The simulated vaults: their objects, their configuration and its history.
//!
//! A vault's control-plane records (`VaultGet`, `VaultPut`, `VaultPatch`) carry the
//! whole configuration *after* the call, so every change made during the period
//! (an admin adding an IP rule, an attacker opening the firewall) is recorded as a
//! [`Change`] at a time, and [`ConfigHistory`] answers "what was the configuration
//! at time t?" for any record. Data-plane records use the same answer to decide
//! between `isRbacAuthorized` and `isAccessPolicyMatch` and whether the firewall
//! evaluated the caller's address.

use super::clock::Tick;

/// Key Vault or Managed HSM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `MICROSOFT.KEYVAULT/VAULTS`.
    Vault,
    /// `MICROSOFT.KEYVAULT/MANAGEDHSMS`.
    ManagedHsm,
}

/// The kinds of object a vault holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ObjKind {
    /// `/secrets/`.
    Secret,
    /// `/keys/`.
    Key,
    /// `/certificates/`.
    Certificate,
}

impl ObjKind {
    /// The URL collection segment.
    pub(crate) fn segment(self) -> &'static str {
        match self {
            ObjKind::Secret => "secrets",
            ObjKind::Key => "keys",
            ObjKind::Certificate => "certificates",
        }
    }

    /// The singular noun the service uses in error texts.
    pub(crate) fn noun(self) -> &'static str {
        match self {
            ObjKind::Secret => "secret",
            ObjKind::Key => "key",
            ObjKind::Certificate => "certificate",
        }
    }
}

/// One object in a vault.
#[derive(Debug, Clone)]
pub(crate) struct Object {
    /// The name, as created.
    pub name: String,
    /// The current version (32 hex digits).
    pub version: String,
    /// Expiry (`exp`, epoch seconds) when set.
    pub expires: Option<i64>,
}

/// The firewall part of a configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Firewall {
    /// `AzureServices` or `None`.
    pub bypass: &'static str,
    /// `defaultAction: Deny` (only the rules pass) or `Allow`.
    pub deny: bool,
    /// Allowed public ranges (`a.b.c.d/32`).
    pub ip_rules: Vec<String>,
    /// Allowed subnets (ARM ids, lower case).
    pub vnet_rules: Vec<String>,
}

/// The configuration `properties.properties` reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Config {
    /// `standard` or `premium`.
    pub sku: &'static str,
    /// The Entra tenant.
    pub tenant_id: String,
    /// `networkAcls`; `None` renders as `null` (no firewall).
    pub firewall: Option<Firewall>,
    /// `enabledForDeployment`.
    pub for_deployment: bool,
    /// `enabledForDiskEncryption`.
    pub for_disk_encryption: bool,
    /// `enabledForTemplateDeployment`.
    pub for_template_deployment: bool,
    /// `softDeleteRetentionInDays`.
    pub soft_delete_days: u32,
    /// `enableRbacAuthorization`.
    pub rbac: bool,
    /// `enablePurgeProtection` (`false` renders as `null`, as Azure does).
    pub purge_protection: bool,
}

impl Config {
    /// Whether the firewall evaluates callers (`defaultAction: Deny`).
    pub(crate) fn firewalled(&self) -> bool {
        self.firewall.as_ref().is_some_and(|f| f.deny)
    }
}

/// A change to a vault's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Change {
    /// `networkAcls.defaultAction`: `true` for Deny.
    DefaultDeny(bool),
    /// An `ipRules` entry added.
    AddIpRule(String),
    /// An `ipRules` entry removed.
    RemoveIpRule(String),
    /// `enableRbacAuthorization`.
    Rbac(bool),
    /// `enablePurgeProtection`.
    PurgeProtection(bool),
    /// `softDeleteRetentionInDays`.
    SoftDeleteDays(u32),
    /// `enabledForTemplateDeployment` and `enabledForDeployment` together.
    DeploymentAccess(bool),
    /// Tags or other properties the record does not show.
    Nothing,
}

impl Change {
    fn apply(&self, c: &mut Config) {
        match self {
            Change::DefaultDeny(deny) => {
                if let Some(f) = c.firewall.as_mut() {
                    f.deny = *deny;
                } else {
                    c.firewall = Some(Firewall {
                        bypass: "AzureServices",
                        deny: *deny,
                        ip_rules: vec![],
                        vnet_rules: vec![],
                    });
                }
            }
            Change::AddIpRule(r) => {
                if let Some(f) = c.firewall.as_mut() {
                    if !f.ip_rules.contains(r) {
                        f.ip_rules.push(r.clone());
                    }
                }
            }
            Change::RemoveIpRule(r) => {
                if let Some(f) = c.firewall.as_mut() {
                    f.ip_rules.retain(|x| x != r);
                }
            }
            Change::Rbac(on) => c.rbac = *on,
            Change::PurgeProtection(on) => c.purge_protection = *on,
            Change::SoftDeleteDays(d) => c.soft_delete_days = *d,
            Change::DeploymentAccess(on) => {
                c.for_deployment = *on;
                c.for_template_deployment = *on;
            }
            Change::Nothing => {}
        }
    }
}

/// One vault or managed HSM.
#[derive(Debug, Clone)]
pub(crate) struct Vault {
    /// The name as created (mixed case allowed; URLs and texts use it).
    pub name: String,
    /// Lower case (host names, labels).
    pub lower: String,
    /// Vault or managed HSM.
    pub kind: Kind,
    /// Subscription id (lower case).
    pub subscription: String,
    /// Resource group as created.
    pub resource_group: String,
    /// Azure region.
    pub location: &'static str,
    /// What the vault is for (for `_tenant.json`).
    pub purpose: &'static str,
    /// Secrets.
    pub secrets: Vec<Object>,
    /// Keys.
    pub keys: Vec<Object>,
    /// Certificates.
    pub certificates: Vec<Object>,
    /// The configuration at the start of the period.
    pub initial: Config,
}

impl Vault {
    /// `/SUBSCRIPTIONS/…/VAULTS/NAME`, upper case as Azure writes it.
    pub(crate) fn resource_id(&self) -> String {
        let kind = match self.kind {
            Kind::Vault => "VAULTS",
            Kind::ManagedHsm => "MANAGEDHSMS",
        };
        format!(
            "/SUBSCRIPTIONS/{}/RESOURCEGROUPS/{}/PROVIDERS/MICROSOFT.KEYVAULT/{kind}/{}",
            self.subscription, self.resource_group, self.name
        )
        .to_ascii_uppercase()
    }

    /// The ARM path (`/subscriptions/…/providers/Microsoft.KeyVault/vaults/name`).
    pub(crate) fn arm_path(&self) -> String {
        let kind = match self.kind {
            Kind::Vault => "vaults",
            Kind::ManagedHsm => "managedHSMs",
        };
        format!(
            "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.KeyVault/{kind}/{}",
            self.subscription, self.resource_group, self.name
        )
    }

    /// The data-plane base URL (`https://name.vault.azure.net`).
    pub(crate) fn base_url(&self) -> String {
        match self.kind {
            Kind::Vault => format!("https://{}.vault.azure.net", self.lower),
            Kind::ManagedHsm => format!("https://{}.managedhsm.azure.net", self.lower),
        }
    }

    /// The objects of one kind.
    pub(crate) fn objects(&self, kind: ObjKind) -> &[Object] {
        match kind {
            ObjKind::Secret => &self.secrets,
            ObjKind::Key => &self.keys,
            ObjKind::Certificate => &self.certificates,
        }
    }
}

/// Every configuration each vault had during the period.
#[derive(Debug, Clone, Default)]
pub(crate) struct ConfigHistory {
    /// Per vault: (time, configuration from then on), time-ordered.
    per_vault: Vec<Vec<(Tick, Config)>>,
}

impl ConfigHistory {
    /// Applies `changes` (any order) to the vaults' initial configurations.
    pub(crate) fn build(vaults: &[Vault], changes: &[(usize, Tick, Change)]) -> Self {
        let mut per_vault: Vec<Vec<(Tick, Config)>> = vaults
            .iter()
            .map(|v| vec![(Tick::MIN, v.initial.clone())])
            .collect();
        let mut sorted: Vec<&(usize, Tick, Change)> = changes.iter().collect();
        sorted.sort_by_key(|(v, t, _)| (*t, *v));
        for (vault, time, change) in sorted {
            let Some(history) = per_vault.get_mut(*vault) else {
                continue;
            };
            let mut next = history
                .last()
                .map(|(_, c)| c.clone())
                .unwrap_or_else(|| vaults[*vault].initial.clone());
            change.apply(&mut next);
            history.push((*time, next));
        }
        ConfigHistory { per_vault }
    }

    /// The configuration of `vault` at `t` (changes made at `t` included).
    pub(crate) fn at(&self, vault: usize, t: Tick) -> Option<&Config> {
        let history = self.per_vault.get(vault)?;
        let idx = history.partition_point(|(start, _)| *start <= t);
        history.get(idx.checked_sub(1)?).map(|(_, c)| c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        Config {
            sku: "standard",
            tenant_id: "t".into(),
            firewall: Some(Firewall {
                bypass: "AzureServices",
                deny: true,
                ip_rules: vec!["1.2.3.4/32".into()],
                vnet_rules: vec![],
            }),
            for_deployment: false,
            for_disk_encryption: false,
            for_template_deployment: false,
            soft_delete_days: 90,
            rbac: true,
            purge_protection: true,
        }
    }

    #[test]
    fn history_applies_changes_in_time_order() {
        let vault = Vault {
            name: "V".into(),
            lower: "v".into(),
            kind: Kind::Vault,
            subscription: "s".into(),
            resource_group: "rg".into(),
            location: "westeurope",
            purpose: "",
            secrets: vec![],
            keys: vec![],
            certificates: vec![],
            initial: config(),
        };
        let changes = vec![
            (0, 200, Change::DefaultDeny(true)),
            (0, 100, Change::DefaultDeny(false)),
            (0, 150, Change::Rbac(false)),
        ];
        let h = ConfigHistory::build(std::slice::from_ref(&vault), &changes);
        assert!(h.at(0, 99).unwrap().firewalled());
        assert!(!h.at(0, 100).unwrap().firewalled());
        assert!(h.at(0, 150).unwrap().firewall.is_some());
        assert!(!h.at(0, 160).unwrap().rbac);
        assert!(h.at(0, 200).unwrap().firewalled());
        assert!(!h.at(0, 200).unwrap().rbac);
        assert_eq!(
            vault.resource_id(),
            "/SUBSCRIPTIONS/S/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.KEYVAULT/VAULTS/V"
        );
        assert!(h.at(1, 0).is_none());
    }
}
