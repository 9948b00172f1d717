//! `access_policy_change`: every access-policy grant or removal, and every vault
//! configuration change that weakens access control, from Key Vault's own log.
//!
//! `VaultPut`/`VaultPatch` records carry the vault configuration *after* the call and
//! never a diff, so the detector keeps the last known configuration of every vault
//! (learned from `VaultGet` too, which Azure Resource Graph issues for every vault)
//! and diffs against it (see `access_diff.rs`). Rules apply from the first event; a
//! grant is raised in severity for a self-grant, a grantee never seen, a caller at an
//! unusual place, or a caller that never changed a vault before, and it stays open
//! for a while so that reads by the grantee are linked to it as a chain.

use serde::{Deserialize, Serialize};

use super::access_diff::{differences, weakenings, Change};
use super::access_state::{Grant, State, VaultState};
use super::baseline::keys::{principal_key, time_of};
use super::defs::{self, require, Header, Source};
use super::examples::{Example, ExampleGeo};
use super::suppress::Suppressor;
use super::text::{duration, list, who};
use super::{raise, Detector, DetectorError, DetectorMemory, Finding, Observation};
use crate::alert::{Evidence, PrincipalSummary, Severity};
use crate::config::{Config, ConfigDuration, SuppressConfig};
use crate::event::{KnownOperation, OperationClass, Outcome};

/// The detector's name.
pub const NAME: &str = "access_policy_change";

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

/// Loads, validates and checks the examples of an `access_policy_change` file.
pub fn load(src: &Source, config: &Config) -> Result<Box<dyn Detector>, DetectorError> {
    let f: File = defs::parse(src)?;
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
    let suppressor = defs::suppressor(src, config, &f.suppress)?;
    let make = || -> Box<dyn Detector> {
        Box::new(AccessChange {
            chain: f.chain.clone(),
            severity: f.severity.clone(),
            raise: f.raise.clone(),
            report_all: f.changes.report_all,
            suppressor: suppressor.clone(),
            state: State::default(),
        })
    };
    super::examples::check(&src.file, &f.example, &f.example_geo, &make)?;
    Ok(make())
}

/// The detector.
pub struct AccessChange {
    chain: Chain,
    pub(crate) severity: Severities,
    raise: Raise,
    report_all: bool,
    suppressor: Suppressor,
    state: State,
}

impl AccessChange {
    /// Aggravating facts about the caller (after learning): (steps, reasons).
    fn caller_context(&self, obs: &Observation<'_>) -> (u32, Vec<String>) {
        let mut steps = 0;
        let mut why = Vec::new();
        if obs.learning() {
            return (0, why);
        }
        if obs.profile.and_then(|p| p.knows_place(obs.geo)) == Some(false)
            && self.raise.unusual_place > 0
        {
            steps += self.raise.unusual_place;
            why.push(format!(
                "made from {}, a place this caller never used",
                obs.geo.label()
            ));
        }
        if obs.profile.is_some_and(|p| p.access_changes == 0) && self.raise.first_access_change > 0
        {
            steps += self.raise.first_access_change;
            let days = obs.profile.map_or(0.0, |p| p.history_days(obs.now));
            why.push(format!(
                "the caller never changed a vault in {days:.0} days"
            ));
        }
        (steps, why)
    }

    fn policy_change(&mut self, obs: &Observation<'_>, findings: &mut Vec<Finding>) {
        let e = obs.event;
        let Some(change) = e.policy_change.as_deref() else {
            return;
        };
        let (ctx_steps, ctx_why) = self.caller_context(obs);
        if let Some(added) = &change.added {
            let grantee_id = added.object_id.clone().unwrap_or_else(|| "?".into());
            let grantee = principal_key(&grantee_id);
            let self_grant = e.principal.oid.as_deref() == Some(grantee_id.as_str());
            let never_seen = obs.baselines.principal(grantee).is_none();
            let mut steps = ctx_steps;
            let mut why = ctx_why.clone();
            if self_grant && self.raise.self_grant > 0 {
                steps += self.raise.self_grant;
                why.insert(0, "the caller granted itself".into());
            }
            if never_seen && !self_grant && self.raise.new_grantee > 0 {
                steps += self.raise.new_grantee;
                why.push(format!(
                    "grantee {grantee_id} never made a request kvwatch saw"
                ));
            }
            let perms = added.permissions.flat();
            let severity = raise(self.severity.access_policy_added, steps);
            let s = format!(
                "{} added an access policy on vault {} for {} granting {}{}{}",
                who(e),
                e.vault,
                if self_grant {
                    "itself".to_owned()
                } else {
                    grantee_id.clone()
                },
                list(&perms, perms.len(), 6),
                if added.permissions.can_read_secrets() {
                    " (it can read secret values)"
                } else {
                    ""
                },
                if why.is_empty() {
                    String::new()
                } else {
                    format!("; {}", why.join("; "))
                }
            );
            let mut f = Finding::about(obs, NAME, "access_policy_added", severity);
            f.summary = s;
            f.evidence = Evidence::new()
                .with("observed", serde_json::json!({ "operation": e.operation.to_string(), "grantee": grantee_id, "permissions": perms,
                    "self_grant": self_grant, "grantee_never_seen": never_seen, "place": obs.geo.label(), "can_read_secrets": added.permissions.can_read_secrets() }))
                .with("baseline", serde_json::json!({ "caller_learning": obs.learning(), "caller_access_changes": obs.profile.map_or(0, |p| p.access_changes) }))
                .with_list("reasons", why)
                .with_list("addresses", e.caller_ip.map(|ip| ip.to_string()));
            findings.push(f);
            self.state.open_grant(
                Grant {
                    vault: obs.vault,
                    vault_name: e.vault.to_string(),
                    grantee,
                    grantee_id,
                    at: obs.now,
                    caller_identity: e.identity().into_owned(),
                    caller: PrincipalSummary::of(&e.principal),
                    caller_who: who(e),
                    self_grant,
                    permissions: perms,
                    reads: 0,
                    objects: Vec::new(),
                    reported: 0,
                    first_read: 0,
                    revoked: false,
                },
                self.chain.max_open_grants,
            );
        }
        if let Some(removed) = &change.removed {
            let grantee_id = removed.object_id.clone().unwrap_or_else(|| "?".into());
            let grantee = principal_key(&grantee_id);
            let revoke_secs = defs::secs(self.chain.revoke_window);
            let recent =
                self.state
                    .recent_grant(obs.vault, grantee, obs.now.saturating_sub(revoke_secs));
            let (rule, base) = match recent {
                Some(_) => ("grant_then_revoke", self.severity.grant_then_revoke),
                None => ("access_policy_removed", self.severity.access_policy_removed),
            };
            let mut f = Finding::about(obs, NAME, rule, raise(base, ctx_steps));
            let chain = recent.map(|g| {
                g.revoked = true;
                serde_json::json!({ "granted_at": time_of(g.at).to_rfc3339(), "granted_by": g.caller_identity, "reads_between": g.reads, "objects": g.objects })
            });
            f.summary = match &chain {
                Some(c) => format!("{} removed the access policy of {grantee_id} on vault {} {} after it was granted, with {} reads in between: the add-dump-remove pattern{}",
                    who(e), e.vault, c["granted_at"].as_str().and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                        .map(|t| duration(obs.now.saturating_sub(t.timestamp() as u32))).unwrap_or_default(),
                    c["reads_between"], if ctx_why.is_empty() { String::new() } else { format!("; {}", ctx_why.join("; ")) }),
                None => format!("{} removed the access policy of {grantee_id} on vault {}{}", who(e), e.vault,
                    if ctx_why.is_empty() { String::new() } else { format!("; {}", ctx_why.join("; ")) }),
            };
            f.evidence = Evidence::new()
                .with("observed", serde_json::json!({ "operation": e.operation.to_string(), "grantee": grantee_id, "permissions": removed.permissions.flat(), "place": obs.geo.label() }))
                .with_list("reasons", ctx_why.clone())
                .with_list("addresses", e.caller_ip.map(|ip| ip.to_string()));
            if let Some(c) = chain {
                f.evidence.insert("chain", c);
            }
            findings.push(f);
        }
    }

    fn config_change(&mut self, obs: &Observation<'_>, findings: &mut Vec<Finding>) {
        let e = obs.event;
        let is_change =
            e.operation.is(KnownOperation::VaultPut) || e.operation.is(KnownOperation::VaultPatch);
        let previous = self
            .state
            .vaults
            .get(&obs.vault)
            .map(|v| (v.config.clone(), v.seen));
        let Some(new) = e.vault_config.as_deref() else {
            if is_change && e.policy_change.is_none() {
                self.vault_changed(obs, Vec::new(), findings);
            }
            return;
        };
        self.state.remember(
            obs.vault,
            VaultState {
                name: e.vault.to_string(),
                config: new.clone(),
                seen: obs.now,
            },
        );
        let Some((old, seen)) = previous else {
            if is_change && e.policy_change.is_none() {
                self.vault_changed(
                    obs,
                    vec!["no earlier configuration known to compare with".into()],
                    findings,
                );
            }
            return;
        };
        let changes: Vec<Change> = weakenings(&old, new, &self.severity, self.raise.broad_ip_rule);
        let Some(worst) = changes.iter().max_by_key(|c| c.severity) else {
            if is_change && e.policy_change.is_none() {
                self.vault_changed(obs, differences(&old, new), findings);
            }
            return;
        };
        let (ctx_steps, ctx_why) = if is_change {
            self.caller_context(obs)
        } else {
            (0, Vec::new())
        };
        let (rule, severity) = if is_change {
            (worst.rule, raise(worst.severity, ctx_steps))
        } else {
            (
                "weakened_config_observed",
                self.severity.weakened_config_observed,
            )
        };
        let what: Vec<String> = changes.iter().map(|c| c.what.clone()).collect();
        let mut f = Finding::about(obs, NAME, rule, severity);
        f.summary = if is_change {
            format!(
                "{} weakened vault {}: {}{}",
                who(e),
                e.vault,
                what.join("; "),
                if ctx_why.is_empty() {
                    String::new()
                } else {
                    format!("; {}", ctx_why.join("; "))
                }
            )
        } else {
            format!("a {} of vault {} shows a weaker configuration than {} ago with no change record in between: {}", e.operation, e.vault,
                duration(obs.now.saturating_sub(seen)), what.join("; "))
        };
        f.evidence = Evidence::new()
            .with("observed", serde_json::json!({ "operation": e.operation.to_string(), "changes": what, "place": obs.geo.label() }))
            .with("baseline", serde_json::json!({ "previous_configuration": old, "known_since": time_of(seen).to_rfc3339() }))
            .with_list("reasons", ctx_why)
            .with_list("addresses", e.caller_ip.map(|ip| ip.to_string()));
        findings.push(f);
    }

    /// A change that weakens nothing, reported so the change log is complete.
    fn vault_changed(&self, obs: &Observation<'_>, what: Vec<String>, findings: &mut Vec<Finding>) {
        if !self.report_all {
            return;
        }
        let e = obs.event;
        let mut f = Finding::about(obs, NAME, "vault_changed", self.severity.vault_changed);
        f.summary = format!(
            "{} changed vault {} ({}) from {}; nothing that weakens access: {}",
            who(e),
            e.vault,
            e.operation,
            obs.geo.label(),
            if what.is_empty() {
                "no configuration difference visible".to_owned()
            } else {
                what.join("; ")
            }
        );
        f.evidence = Evidence::new()
            .with("observed", serde_json::json!({ "operation": e.operation.to_string(), "changes": what, "place": obs.geo.label() }))
            .with_list("addresses", e.caller_ip.map(|ip| ip.to_string()));
        findings.push(f);
    }

    fn grantee_reads(&mut self, obs: &Observation<'_>, findings: &mut Vec<Finding>) {
        let e = obs.event;
        let Some(key) = obs.principal else { return };
        let since = obs.now.saturating_sub(defs::secs(self.chain.read_window));
        let object = e
            .object
            .as_ref()
            .map(|o| o.to_string())
            .unwrap_or_else(|| e.operation.to_string());
        let Some(g) = self.state.grant_for_read(obs.vault, key, since) else {
            return;
        };
        g.reads += 1;
        if g.first_read == 0 {
            g.first_read = obs.now;
        }
        if g.objects.len() < 10 && !g.objects.contains(&object) {
            g.objects.push(object);
        }
        if !(g.reported == 0 || g.reads >= g.reported * 2) {
            return;
        }
        g.reported = g.reads;
        let severity = raise(self.severity.grant_then_read, u32::from(g.self_grant));
        let mut f = Finding::about(obs, NAME, "grant_then_read", severity);
        f.identity = g.caller_identity.clone();
        f.principal = g.caller.clone();
        f.vault = g.vault_name.clone();
        f.first_seen = time_of(g.at);
        f.summary = format!(
            "{} read {} on vault {} {} after {} granted it access ({}): a grant followed by use",
            if g.self_grant {
                "the same caller".to_owned()
            } else {
                format!("grantee {}", g.grantee_id)
            },
            list(&g.objects, g.reads as usize, 4),
            g.vault_name,
            duration(g.first_read.saturating_sub(g.at)),
            g.caller_who,
            list(&g.permissions, g.permissions.len(), 4)
        );
        f.evidence = Evidence::new()
            .with("chain", serde_json::json!({ "granted_at": time_of(g.at).to_rfc3339(), "granted_by": g.caller_identity, "grantee": g.grantee_id,
                "permissions": g.permissions, "first_read": time_of(g.first_read).to_rfc3339(), "reads": g.reads, "reader": who(e) }))
            .with_list("objects", g.objects.clone())
            .with_list("addresses", e.caller_ip.map(|ip| ip.to_string()));
        findings.push(f);
    }
}

impl Detector for AccessChange {
    fn name(&self) -> &'static str {
        NAME
    }

    fn observe(&mut self, obs: &Observation<'_>, findings: &mut Vec<Finding>) {
        let e = obs.event;
        if e.outcome != Outcome::Ok {
            return;
        }
        match e.class {
            OperationClass::ReadValue if self.state.has_open_grants() => {
                self.state.expire(obs.now.saturating_sub(
                    defs::secs(self.chain.read_window).max(defs::secs(self.chain.revoke_window)),
                ));
                self.grantee_reads(obs, findings);
            }
            OperationClass::AccessChange | OperationClass::Enumerate
                if e.vault_config.is_some() || e.policy_change.is_some() =>
            {
                self.policy_change(obs, findings);
                self.config_change(obs, findings);
            }
            _ => {}
        }
    }

    fn suppressor(&self) -> Option<&Suppressor> {
        Some(&self.suppressor)
    }

    fn save(&self) -> Vec<u8> {
        serde_json::to_vec(&self.state).unwrap_or_default()
    }

    fn restore(&mut self, state: &[u8]) -> Result<(), DetectorError> {
        self.state = serde_json::from_slice(state).map_err(|e| DetectorError::Restore {
            detector: NAME.into(),
            message: e.to_string(),
        })?;
        Ok(())
    }

    fn memory(&self) -> DetectorMemory {
        self.state.memory()
    }
}
