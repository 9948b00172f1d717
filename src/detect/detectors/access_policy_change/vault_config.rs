//! Vault configuration changes. `VaultPut`/`VaultPatch` records carry the
//! configuration *after* the call and never a diff, so the last known configuration
//! of every vault is kept (learned from `VaultGet` too) and diffed against
//! (`diff.rs`): a change that weakens access is reported by its worst weakening, a
//! `VaultGet` showing a weaker configuration with no change seen is reported as
//! such, and any other change, when `report_all` is on, as `vault_changed`. A write
//! that changes nothing visible (identical settings re-applied, tags edited) raises
//! nothing: `kvwatch_vault_writes_without_change_total` counts it and the report
//! shows it in the vault's changes.

use serde_json::json;

use super::caller::{self, CallerContext};
use super::diff::{differences, weakenings, Change};
use super::rule::{Rule, NAME};
use super::settings::Settings;
use super::state::{State, VaultState};
use super::wording;
use crate::alert::Evidence;
use crate::detect::baseline::keys::time_of;
use crate::detect::finding::{raise, Finding};
use crate::detect::observation::Observation;
use crate::detect::text::who;

/// Learns the vault's configuration from this event and reports what changed.
pub fn config_change(
    s: &Settings,
    state: &mut State,
    obs: &Observation<'_>,
    findings: &mut Vec<Finding>,
) {
    let e = obs.event;
    let is_change = e.is_vault_write();
    // A policy change is reported as such, not as a configuration change.
    let plain_change = is_change && e.policy_change.is_none();
    let previous = state
        .vaults
        .get(&obs.vault)
        .map(|v| (v.config.clone(), v.seen));
    // A write that changes nothing visible (an infrastructure-as-code re-apply of
    // identical settings, a tag-only edit) is no alert at any severity: the metrics
    // count it and the report shows it as a line of the vault's changes.
    let nothing = plain_change && e.write_changes_nothing(previous.as_ref().map(|(c, _)| c));
    let Some(new) = e.vault_config.as_deref() else {
        return;
    };
    state.remember(
        obs.vault,
        VaultState {
            name: e.vault.to_string(),
            config: new.clone(),
            seen: obs.now,
        },
    );
    let Some((old, seen)) = previous else {
        if plain_change {
            let why = vec!["no earlier configuration known to compare with".into()];
            vault_changed(s, obs, why, findings);
        }
        return;
    };
    if nothing {
        return;
    }
    let changes: Vec<Change> = weakenings(&old, new, &s.severity, s.raise.broad_ip_rule);
    let Some(worst) = changes.iter().max_by_key(|c| c.severity) else {
        if plain_change {
            vault_changed(s, obs, differences(&old, new), findings);
        }
        return;
    };
    let ctx = if is_change {
        caller::context(&s.raise, obs)
    } else {
        CallerContext::default()
    };
    let (rule, severity) = if is_change {
        (worst.rule, raise(worst.severity, ctx.steps))
    } else {
        let rule = Rule::WeakenedConfigObserved;
        (rule, s.severity.of(rule))
    };
    let what: Vec<String> = changes.iter().map(|c| c.what.clone()).collect();
    let mut f = Finding::about(obs, NAME, rule.as_str(), severity);
    f.summary = if is_change {
        wording::weakened(&who(e), &e.vault, &what, &ctx.suffix())
    } else {
        wording::weakened_observed(
            e.operation.as_str(),
            &e.vault,
            obs.now.saturating_sub(seen),
            &what,
        )
    };
    f.evidence = Evidence::new()
        .with("observed", json!({ "operation": e.operation.to_string(), "changes": what, "place": obs.geo.label() }))
        .with("baseline", json!({ "previous_configuration": old, "known_since": time_of(seen).to_rfc3339() }))
        .with_list("reasons", ctx.reasons)
        .with_list("addresses", e.caller_ip.map(|ip| ip.to_string()));
    findings.push(f);
}

/// A change that weakens nothing, reported so the change log is complete.
fn vault_changed(
    s: &Settings,
    obs: &Observation<'_>,
    what: Vec<String>,
    findings: &mut Vec<Finding>,
) {
    if !s.report_all {
        return;
    }
    let e = obs.event;
    let rule = Rule::VaultChanged;
    let mut f = Finding::about(obs, NAME, rule.as_str(), s.severity.of(rule));
    let place = obs.geo.label();
    f.summary = wording::vault_changed(&who(e), &e.vault, e.operation.as_str(), &place, &what);
    f.evidence = Evidence::new()
        .with(
            "observed",
            json!({ "operation": e.operation.to_string(), "changes": what, "place": place }),
        )
        .with_list("addresses", e.caller_ip.map(|ip| ip.to_string()));
    findings.push(f);
}
