//! Diffing two configurations of one vault for changes that weaken access control.
//!
//! Only weakenings are reported: a firewall that opens, network rules added, RBAC
//! turned off (the vault falls back to access policies, reviving legacy grants),
//! purge protection or soft delete turned off or shortened, and deployment paths
//! (VMs, ARM templates, disk encryption) allowed to read secrets. Tightening is
//! learned silently: nobody needs to be woken because a vault got safer.

use super::rule::Rule;
use super::settings::Severities;
use crate::alert::Severity;
use crate::detect::finding::raise;
use crate::event::VaultConfig;

/// One weakening.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// The rule it falls under.
    pub rule: Rule,
    /// Its severity before the caller's context is considered.
    pub severity: Severity,
    /// What changed, in words.
    pub what: String,
}

fn on(v: Option<bool>) -> bool {
    v == Some(true)
}

fn broad(rule: &str) -> bool {
    let prefix = rule
        .rsplit_once('/')
        .and_then(|(_, p)| p.parse::<u8>().ok());
    let addr = rule.split('/').next().unwrap_or("");
    matches!(prefix, Some(p) if p <= 8) || addr == "0.0.0.0" || addr == "::" || rule == "*"
}

/// The weakenings from `old` to `new`.
pub fn weakenings(
    old: &VaultConfig,
    new: &VaultConfig,
    sev: &Severities,
    broad_raise: u32,
) -> Vec<Change> {
    let mut out = Vec::new();
    let mut add = |rule: Rule, severity, what: String| {
        out.push(Change {
            rule,
            severity,
            what,
        })
    };
    if !old.is_publicly_reachable() && new.is_publicly_reachable() {
        let how = match (&old.public_network_access, &new.public_network_access) {
            (Some(a), Some(b)) if !a.eq_ignore_ascii_case(b) => {
                format!("public network access {a} → {b}")
            }
            _ => {
                let before = old
                    .network_acls
                    .as_ref()
                    .and_then(|n| n.default_action.clone())
                    .unwrap_or_else(|| "?".into());
                let after = new
                    .network_acls
                    .as_ref()
                    .and_then(|n| n.default_action.clone())
                    .unwrap_or_else(|| "none (open)".into());
                format!("firewall default action {before} → {after}")
            }
        };
        add(
            Rule::NetworkOpened,
            sev.of(Rule::NetworkOpened),
            format!("{how}: any address can now reach the vault"),
        );
    }
    let empty = Vec::new();
    let old_ip = old.network_acls.as_ref().map_or(&empty, |n| &n.ip_rules);
    let new_ip = new.network_acls.as_ref().map_or(&empty, |n| &n.ip_rules);
    let added: Vec<&String> = new_ip.iter().filter(|r| !old_ip.contains(r)).collect();
    if !added.is_empty() {
        let wide = added.iter().any(|r| broad(r));
        let severity = if wide {
            raise(sev.of(Rule::NetworkRuleAdded), broad_raise)
        } else {
            sev.of(Rule::NetworkRuleAdded)
        };
        let list: Vec<&str> = added.iter().map(|s| s.as_str()).collect();
        add(
            Rule::NetworkRuleAdded,
            severity,
            format!(
                "IP rules added: {}{}",
                list.join(", "),
                if wide { " (a very broad range)" } else { "" }
            ),
        );
    }
    let old_vn = old
        .network_acls
        .as_ref()
        .map_or(&empty, |n| &n.virtual_network_rules);
    let new_vn = new
        .network_acls
        .as_ref()
        .map_or(&empty, |n| &n.virtual_network_rules);
    let added_vn: Vec<&str> = new_vn
        .iter()
        .filter(|r| !old_vn.contains(r))
        .map(String::as_str)
        .collect();
    if !added_vn.is_empty() {
        add(
            Rule::NetworkRuleAdded,
            sev.of(Rule::NetworkRuleAdded),
            format!("virtual-network rules added: {}", added_vn.join(", ")),
        );
    }
    let bypass = |c: &VaultConfig| {
        c.network_acls
            .as_ref()
            .and_then(|n| n.bypass.clone())
            .unwrap_or_default()
    };
    if old.network_acls.is_some()
        && bypass(old).eq_ignore_ascii_case("none")
        && bypass(new).eq_ignore_ascii_case("azureservices")
    {
        add(
            Rule::NetworkRuleAdded,
            sev.of(Rule::NetworkRuleAdded),
            "trusted Azure services may now bypass the firewall".into(),
        );
    }
    if on(old.enable_rbac_authorization) && new.enable_rbac_authorization == Some(false) {
        add(
            Rule::RbacDisabled,
            sev.of(Rule::RbacDisabled),
            "RBAC authorization turned off: legacy access policies apply again".into(),
        );
    }
    if on(old.enable_purge_protection) && !on(new.enable_purge_protection) {
        add(
            Rule::PurgeProtectionDisabled,
            sev.of(Rule::PurgeProtectionDisabled),
            "purge protection turned off: deleted secrets can be purged for good".into(),
        );
    }
    if on(old.enable_soft_delete) && new.enable_soft_delete == Some(false) {
        add(
            Rule::SoftDeleteWeakened,
            sev.of(Rule::SoftDeleteWeakened),
            "soft delete turned off".into(),
        );
    }
    if let (Some(a), Some(b)) = (
        old.soft_delete_retention_days,
        new.soft_delete_retention_days,
    ) {
        if b < a {
            add(
                Rule::SoftDeleteWeakened,
                sev.of(Rule::SoftDeleteWeakened),
                format!("soft-delete retention shortened from {a} to {b} days"),
            );
        }
    }
    for (name, a, b) in [
        (
            "VM deployment (enabledForDeployment)",
            old.enabled_for_deployment,
            new.enabled_for_deployment,
        ),
        (
            "ARM template deployment (enabledForTemplateDeployment)",
            old.enabled_for_template_deployment,
            new.enabled_for_template_deployment,
        ),
        (
            "disk encryption (enabledForDiskEncryption)",
            old.enabled_for_disk_encryption,
            new.enabled_for_disk_encryption,
        ),
    ] {
        if !on(a) && on(b) {
            add(
                Rule::DeploymentAccessEnabled,
                sev.of(Rule::DeploymentAccessEnabled),
                format!("{name} may now read secrets"),
            );
        }
    }
    out
}

/// Every field that differs, as `name: before → after` (for changes that weaken nothing).
pub fn differences(old: &VaultConfig, new: &VaultConfig) -> Vec<String> {
    let show = |v: serde_json::Value| match v {
        serde_json::Value::Null => "unset".to_owned(),
        serde_json::Value::String(s) => s,
        other => other.to_string(),
    };
    let (a, b) = (
        serde_json::to_value(old).unwrap_or_default(),
        serde_json::to_value(new).unwrap_or_default(),
    );
    let empty = serde_json::Map::new();
    let (a, b) = (
        a.as_object().unwrap_or(&empty),
        b.as_object().unwrap_or(&empty),
    );
    let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .map(|k| {
            format!(
                "{k}: {} → {}",
                show(a.get(k).cloned().unwrap_or_default()),
                show(b.get(k).cloned().unwrap_or_default())
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::NetworkAcls;

    fn sev() -> Severities {
        Severities {
            access_policy_added: Severity::Medium,
            access_policy_removed: Severity::Low,
            grant_then_revoke: Severity::High,
            grant_then_read: Severity::High,
            network_opened: Severity::High,
            network_rule_added: Severity::Medium,
            rbac_disabled: Severity::High,
            purge_protection_disabled: Severity::High,
            soft_delete_weakened: Severity::Medium,
            deployment_access_enabled: Severity::Low,
            weakened_config_observed: Severity::Low,
            vault_changed: Severity::Info,
        }
    }

    fn closed() -> VaultConfig {
        VaultConfig {
            network_acls: Some(NetworkAcls {
                default_action: Some("Deny".into()),
                bypass: Some("None".into()),
                ..Default::default()
            }),
            enable_rbac_authorization: Some(true),
            enable_purge_protection: Some(true),
            enable_soft_delete: Some(true),
            soft_delete_retention_days: Some(90),
            ..Default::default()
        }
    }

    #[test]
    fn weakenings_table() {
        let mut open = closed();
        open.network_acls.as_mut().unwrap().default_action = Some("Allow".into());
        let mut ip = closed();
        ip.network_acls.as_mut().unwrap().ip_rules = vec!["0.0.0.0/0".into()];
        let mut rbac = closed();
        rbac.enable_rbac_authorization = Some(false);
        let mut purge = closed();
        purge.enable_purge_protection = None;
        let mut retention = closed();
        retention.soft_delete_retention_days = Some(7);
        let mut deploy = closed();
        deploy.enabled_for_template_deployment = Some(true);
        let table: Vec<(&VaultConfig, &str, Severity)> = vec![
            (&open, "network_opened", Severity::High),
            (&ip, "network_rule_added", Severity::High),
            (&rbac, "rbac_disabled", Severity::High),
            (&purge, "purge_protection_disabled", Severity::High),
            (&retention, "soft_delete_weakened", Severity::Medium),
            (&deploy, "deployment_access_enabled", Severity::Low),
        ];
        for (new, rule, severity) in table {
            let got = weakenings(&closed(), new, &sev(), 1);
            assert_eq!(got.len(), 1, "{rule}: {got:?}");
            assert_eq!((got[0].rule.as_str(), got[0].severity), (rule, severity));
        }
        assert!(
            weakenings(&open, &closed(), &sev(), 1).is_empty(),
            "tightening is silent"
        );
        assert!(weakenings(&closed(), &closed(), &sev(), 1).is_empty());
        assert_eq!(
            differences(&rbac, &closed()),
            vec!["enableRbacAuthorization: false → true".to_owned()]
        );
    }
}
