//! The settings of `access_policy_change`: the file
//! `detectors/access_policy_change.toml` as typed sections, and the checks that
//! refuse impossible values (naming the file and key).

use serde::{Deserialize, Serialize};

use super::rule::Rule;
use crate::alert::Severity;
use crate::config::{ConfigDuration, SuppressConfig};
use crate::detect::definition::{require, Header, Source};
use crate::detect::detector::DetectorError;
use crate::detect::examples::{Example, ExampleGeo};
use crate::detect::loader::DetectorFile;

/// `[chain]`: what happens after a grant.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Chain {
    /// Reads by the grantee within this long after a grant are linked to it.
    pub read_window: ConfigDuration,
    /// A grant removed again within this long is `grant_then_revoke` (add, dump, remove).
    pub revoke_window: ConfigDuration,
    /// The most open grants remembered (oldest forgotten first).
    pub max_open_grants: usize,
}

/// `[severity]`: the base severity of each rule.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Severities {
    /// An access policy added.
    pub access_policy_added: Severity,
    /// An access policy removed.
    pub access_policy_removed: Severity,
    /// A grant removed shortly after it was made.
    pub grant_then_revoke: Severity,
    /// A grant followed by reads by the grantee.
    pub grant_then_read: Severity,
    /// Firewall default action to Allow, or public network access enabled.
    pub network_opened: Severity,
    /// IP or virtual-network rules added, or trusted-service bypass enabled.
    pub network_rule_added: Severity,
    /// RBAC authorisation turned off (access policies apply again).
    pub rbac_disabled: Severity,
    /// Purge protection turned off.
    pub purge_protection_disabled: Severity,
    /// Soft delete turned off or its retention shortened.
    pub soft_delete_weakened: Severity,
    /// VMs, ARM templates or disk encryption allowed to read secrets.
    pub deployment_access_enabled: Severity,
    /// A `VaultGet` shows a weaker configuration than the last one, with no change record seen.
    pub weakened_config_observed: Severity,
    /// Any other successful VaultPut/VaultPatch (tightening, tags, no visible change).
    pub vault_changed: Severity,
}

impl Severities {
    /// The base severity of a rule.
    pub fn of(&self, rule: Rule) -> Severity {
        match rule {
            Rule::AccessPolicyAdded => self.access_policy_added,
            Rule::AccessPolicyRemoved => self.access_policy_removed,
            Rule::GrantThenRevoke => self.grant_then_revoke,
            Rule::GrantThenRead => self.grant_then_read,
            Rule::NetworkOpened => self.network_opened,
            Rule::NetworkRuleAdded => self.network_rule_added,
            Rule::RbacDisabled => self.rbac_disabled,
            Rule::PurgeProtectionDisabled => self.purge_protection_disabled,
            Rule::SoftDeleteWeakened => self.soft_delete_weakened,
            Rule::DeploymentAccessEnabled => self.deployment_access_enabled,
            Rule::WeakenedConfigObserved => self.weakened_config_observed,
            Rule::VaultChanged => self.vault_changed,
        }
    }
}

/// `[changes]`: which changes are reported at all.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Changes {
    /// Report every successful VaultPut/VaultPatch, even one that weakens nothing
    /// (rule `vault_changed`, at its own severity), so the change log is complete.
    pub report_all: bool,
}

/// `[raise]`: steps each aggravating fact adds (0 turns it off).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Raise {
    /// The caller granted itself.
    pub self_grant: u32,
    /// The grantee never made a request kvwatch saw.
    pub new_grantee: u32,
    /// The caller called from a place it never used (after learning).
    pub unusual_place: u32,
    /// The caller never changed a vault before (after learning).
    pub first_access_change: u32,
    /// An IP rule covering a /8 or more (or everything).
    pub broad_ip_rule: u32,
}

/// The whole `detectors/access_policy_change.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct File {
    /// `[detector]`.
    pub detector: Header,
    /// `[chain]`.
    pub chain: Chain,
    /// `[severity]`.
    pub severity: Severities,
    /// `[raise]`.
    pub raise: Raise,
    /// `[changes]`.
    pub changes: Changes,
    /// `[suppress]`.
    #[serde(default)]
    pub suppress: SuppressConfig,
    /// `[[example]]`.
    #[serde(default)]
    pub example: Vec<Example>,
    /// `[[example_geo]]`.
    #[serde(default)]
    pub example_geo: Vec<ExampleGeo>,
}

/// Refuses impossible values, naming the file and the key.
pub fn validate(f: &File, src: &Source) -> Result<(), DetectorError> {
    let c = &f.chain;
    require(
        c.read_window.as_std().as_secs() >= 60,
        src,
        "chain.read_window",
        "must be at least 1m",
    )?;
    require(
        c.revoke_window.as_std().as_secs() >= 60,
        src,
        "chain.revoke_window",
        "must be at least 1m",
    )?;
    require(
        c.max_open_grants >= 1,
        src,
        "chain.max_open_grants",
        "must be at least 1",
    )?;
    let r = &f.raise;
    for (key, v) in [
        ("raise.self_grant", r.self_grant),
        ("raise.new_grantee", r.new_grantee),
        ("raise.unusual_place", r.unusual_place),
        ("raise.first_access_change", r.first_access_change),
        ("raise.broad_ip_rule", r.broad_ip_rule),
    ] {
        require(
            v <= 4,
            src,
            key,
            "must be between 0 and 4 (steps from info to critical)",
        )?;
    }
    Ok(())
}

/// Validated settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `[chain]`.
    pub chain: Chain,
    /// `[severity]`.
    pub severity: Severities,
    /// `[raise]`.
    pub raise: Raise,
    /// `[changes] report_all`.
    pub report_all: bool,
}

impl Settings {
    /// The validated settings of a file.
    pub fn of(f: &File) -> Settings {
        Settings {
            chain: f.chain.clone(),
            severity: f.severity.clone(),
            raise: f.raise.clone(),
            report_all: f.changes.report_all,
        }
    }
}

impl DetectorFile for File {
    fn validate(&self, src: &Source) -> Result<(), DetectorError> {
        validate(self, src)
    }

    fn shared(&self) -> (&SuppressConfig, &[Example], &[ExampleGeo]) {
        (&self.suppress, &self.example, &self.example_geo)
    }
}
