//! Vault settings: network exposure, soft delete and purge protection.
//!
//! `VaultGet`, `VaultPut` and `VaultPatch` records carry the vault's configuration
//! after the call. The checks judge the last configuration seen in the period, and
//! name the change that made it so when it changed during the period. A vault with
//! no such record in the period is not judged (its section says so).

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{display, Check, Finding, Practice, Subject};
use crate::alert::Severity;
use crate::event::VaultConfig;
use crate::report::collect::Collected;
use crate::report::stats::VaultStats;

/// `network.public`.
pub const PUBLIC_NETWORK: Check = Check {
    id: "network.public",
    title: "Reachable from every public network",
    practice: Practice::Network,
    method: "The last vault configuration seen has public network access enabled and no firewall (networkAcls null).",
};

/// `network.default_allow`.
pub const DEFAULT_ALLOW: Check = Check {
    id: "network.default_allow",
    title: "Firewall default action Allow",
    practice: Practice::Network,
    method: "The last vault configuration seen has public network access enabled and networkAcls.defaultAction Allow, so its IP and virtual-network rules restrict nothing.",
};

/// `recovery.soft_delete_off`.
pub const SOFT_DELETE_OFF: Check = Check {
    id: "recovery.soft_delete_off",
    title: "Soft delete off",
    practice: Practice::Recovery,
    method: "The last vault configuration seen has enableSoftDelete false.",
};

/// `recovery.purge_protection_off`.
pub const PURGE_PROTECTION_OFF: Check = Check {
    id: "recovery.purge_protection_off",
    title: "Purge protection off",
    practice: Practice::Recovery,
    method: "The last vault configuration seen has enablePurgeProtection false or null.",
};

/// The evidence of the vault-setting checks.
#[derive(Debug, Clone, Serialize)]
pub struct SettingEvidence {
    /// When the configuration was seen.
    pub config_seen: DateTime<Utc>,
    /// The setting's value as seen (`null` when absent).
    pub setting: &'static str,
    /// Its value.
    pub value: serde_json::Value,
    /// Whether it was different at the start of the period.
    pub changed_in_period: bool,
    /// The change that set it, when it changed in the period.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changed_by: Option<String>,
    /// When.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changed_at: Option<DateTime<Utc>>,
    /// Firewall IP rules (network checks).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip_rules: Option<usize>,
    /// Firewall virtual-network rules (network checks).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub virtual_network_rules: Option<usize>,
    /// Successful requests from public addresses in the period (network checks).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_requests_served: Option<u64>,
}

struct Rule {
    check: Check,
    setting: &'static str,
    /// Whether a configuration is bad by this rule.
    bad: fn(&VaultConfig) -> bool,
    value: fn(&VaultConfig) -> serde_json::Value,
    severity: Severity,
    says: &'static str,
}

fn public(c: &VaultConfig) -> bool {
    !c.public_network_access
        .as_deref()
        .is_some_and(|p| p.eq_ignore_ascii_case("disabled"))
}

const RULES: [Rule; 4] = [
    Rule {
        check: PUBLIC_NETWORK,
        setting: "networkAcls",
        bad: |c| public(c) && c.network_acls.is_none(),
        value: |_| serde_json::Value::Null,
        severity: Severity::Medium,
        says: "has no firewall: every public network can reach it",
    },
    Rule {
        check: DEFAULT_ALLOW,
        setting: "networkAcls.defaultAction",
        bad: |c| public(c) && c.network_acls.as_ref().is_some_and(crate::event::vault_config::NetworkAcls::is_open),
        value: |c| c.network_acls.as_ref().and_then(|a| a.default_action.clone()).map_or(serde_json::Value::Null, serde_json::Value::String),
        severity: Severity::Medium,
        says: "has its firewall's default action set to Allow: its rules restrict nothing",
    },
    Rule {
        check: SOFT_DELETE_OFF,
        setting: "enableSoftDelete",
        bad: |c| c.enable_soft_delete == Some(false),
        value: |c| c.enable_soft_delete.map_or(serde_json::Value::Null, serde_json::Value::Bool),
        severity: Severity::High,
        says: "has soft delete off: a deleted secret is gone at once",
    },
    Rule {
        check: PURGE_PROTECTION_OFF,
        setting: "enablePurgeProtection",
        bad: |c| c.enable_purge_protection != Some(true),
        value: |c| c.enable_purge_protection.map_or(serde_json::Value::Null, serde_json::Value::Bool),
        severity: Severity::Medium,
        says: "has purge protection off: anyone with purge permission can destroy deleted secrets for good",
    },
];

fn judge(c: &Collected, name: &str, v: &VaultStats, rules: &[Rule]) -> Vec<Finding> {
    let Some((seen, last)) = &v.last_config else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for rule in rules {
        if !(rule.bad)(last) {
            continue;
        }
        // The change that made it bad, when the period started good.
        let change = v.changes.iter().rev().find(|ch| {
            ch.after.as_ref().is_some_and(rule.bad)
                && ch.before.as_ref().is_some_and(|b| !(rule.bad)(b))
        });
        let network = rule.setting.starts_with("network");
        let acls = last.network_acls.as_ref();
        let evidence = SettingEvidence {
            config_seen: *seen,
            setting: rule.setting,
            value: (rule.value)(last),
            changed_in_period: change.is_some(),
            changed_by: change.map(|ch| display(c, &ch.identity)),
            changed_at: change.map(|c| c.time),
            ip_rules: network.then(|| acls.map_or(0, |a| a.ip_rules.len())),
            virtual_network_rules: network
                .then(|| acls.map_or(0, |a| a.virtual_network_rules.len())),
            public_requests_served: network.then_some(v.public_ok),
        };
        let (severity, how) = match change {
            Some(ch) => (
                rule.severity.raised(),
                format!(
                    " since {} changed it ({}) at {}",
                    display(c, &ch.identity),
                    ch.operation,
                    ch.time.format("%Y-%m-%d %H:%M")
                ),
            ),
            None => (rule.severity, String::new()),
        };
        let summary = format!(
            "Vault {name} {}{how} (configuration seen {}).",
            rule.says,
            seen.format("%Y-%m-%d %H:%M")
        );
        out.push(Finding::new(
            rule.check,
            severity,
            Subject::vault(name),
            summary,
            &evidence,
        ));
    }
    out
}

/// Vaults reachable from public networks or with the firewall default Allow.
pub fn network(c: &Collected) -> Vec<Finding> {
    c.vaults
        .map
        .iter()
        .flat_map(|(name, v)| judge(c, name, v, &RULES[..2]))
        .collect()
}

/// Vaults with soft delete or purge protection off.
pub fn recovery(c: &Collected) -> Vec<Finding> {
    c.vaults
        .map
        .iter()
        .flat_map(|(name, v)| judge(c, name, v, &RULES[2..]))
        .collect()
}
