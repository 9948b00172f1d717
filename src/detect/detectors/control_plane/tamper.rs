//! Blinding and unlocking: `monitoring_disabled` (a vault's diagnostic setting
//! deleted, or rewritten so its AuditEvent records no longer flow; the
//! subscription's own Activity Log export deleted), `lock_removed` (a delete or
//! read-only lock taken off a vault or a scope above known vaults) and
//! `elevate_access` (a Global Administrator taking User Access Administrator at the
//! root). Only finished changes count (`Success`). Azure Policy re-writing a
//! setting that still sends AuditEvent is routine and stays quiet. A vault blinded
//! this way is then watched for its records (`silence.rs`: `audit_log_stopped`).

use serde_json::json;

use super::coverage;
use super::grants::finding_vault;
use super::rule::{Rule, NAME};
use super::settings::Settings;
use super::silence;
use super::state::{State, MAX_PLACES};
use super::wording;
use crate::alert::Evidence;
use crate::detect::baseline::keys::hash64;
use crate::detect::finding::Finding;
use crate::detect::observation::Observation;
use crate::detect::text::who;
use crate::event::{ActivityStatus, ChangeKind, ControlPlane, ScopeLevel};

/// A diagnostic setting, lock or elevation change.
pub fn observe(
    s: &Settings,
    state: &mut State,
    obs: &Observation<'_>,
    c: &ControlPlane<'_>,
    findings: &mut Vec<Finding>,
) {
    if c.status == ActivityStatus::Start && c.change == ChangeKind::DiagnosticSettingWritten {
        remember_start(state, obs, c);
        return;
    }
    if c.status != ActivityStatus::Success {
        return;
    }
    match c.change {
        ChangeKind::DiagnosticSettingDeleted | ChangeKind::DiagnosticSettingWritten => {
            diagnostic(s, state, obs, c, findings);
        }
        ChangeKind::LockRemoved => lock(s, state, obs, c, findings),
        ChangeKind::ElevateAccess => {
            let mut f = Finding::about(
                obs,
                NAME,
                Rule::ElevateAccess.as_str(),
                s.severity.elevate_access,
            );
            f.vault = "*".into();
            f.summary = wording::elevate_access(&who(obs.event));
            f.evidence = base(obs, c).with("after", json!({ "role": "User Access Administrator", "scope": "/", "reaches": "every subscription and vault of the tenant" }));
            findings.push(f);
        }
        _ => {}
    }
}

fn base(obs: &Observation<'_>, c: &ControlPlane<'_>) -> Evidence {
    let e = obs.event;
    Evidence::new()
        .with("change", json!({ "operation": c.operation, "status": c.status, "substatus": c.substatus, "correlation_id": e.correlation_id, "resource": c.resource_id }))
        .with("caller", json!({ "who": who(e), "authorized_by": c.authorization }))
        .with_list("addresses", e.caller_ip.map(|ip| ip.to_string()))
}

/// Keeps what a `Start` record says the new setting will be, for its `Success`.
fn remember_start(state: &mut State, obs: &Observation<'_>, c: &ControlPlane<'_>) {
    let (Some(d), Some(id)) = (
        c.diagnostic_setting.as_ref(),
        obs.event.correlation_id.as_deref(),
    ) else {
        return;
    };
    if d.audit_event_flows.is_some() && state.started.len() < MAX_PLACES {
        let enabled = d.enabled.iter().map(ToString::to_string).collect();
        state.started.insert(
            hash64(id.as_bytes()),
            (obs.now, d.audit_event_flows, enabled),
        );
    }
}

fn diagnostic(
    s: &Settings,
    state: &mut State,
    obs: &Observation<'_>,
    c: &ControlPlane<'_>,
    findings: &mut Vec<Finding>,
) {
    let e = obs.event;
    let d = c.diagnostic_setting.as_ref();
    let name = d.and_then(|d| d.name.as_deref()).unwrap_or("?");
    let on_vault = c.scope_level == ScopeLevel::Vault && !e.vault.is_empty();
    let on_subscription = c.scope_level == ScopeLevel::Subscription;
    let key = hash64(format!("{}|{name}", e.vault).as_bytes());
    let before = state.settings.get(&key).cloned();
    let deleted = c.change == ChangeKind::DiagnosticSettingDeleted;
    let started = e
        .correlation_id
        .as_deref()
        .and_then(|id| state.started.remove(&hash64(id.as_bytes())));
    let (flows, enabled): (Option<bool>, Vec<String>) = match (d, started) {
        (Some(d), _) if d.audit_event_flows.is_some() => (
            d.audit_event_flows,
            d.enabled.iter().map(ToString::to_string).collect(),
        ),
        (_, Some((_, flows, enabled))) => (flows, enabled),
        _ => (None, Vec::new()),
    };
    if deleted {
        state.settings.remove(&key);
    } else if flows.is_some() && on_vault && (state.settings.len() < MAX_PLACES || before.is_some())
    {
        state.settings.insert(key, enabled.clone());
    }
    let blinds = if on_vault {
        deleted || flows == Some(false)
    } else {
        // The subscription's own export of the Activity Log.
        on_subscription && deleted
    };
    if !blinds {
        return;
    }
    let mut f = Finding::about(
        obs,
        NAME,
        Rule::MonitoringDisabled.as_str(),
        s.severity.monitoring_disabled,
    );
    f.vault = if on_vault {
        e.vault.to_string()
    } else {
        "*".into()
    };
    f.summary = wording::monitoring_disabled(&who(e), &f.vault, name, deleted, on_vault);
    let after = if deleted {
        json!({ "setting": name, "exists": false, "audit_event_flows": false })
    } else {
        json!({ "setting": name, "enabled": enabled, "audit_event_flows": flows })
    };
    f.evidence = base(obs, c)
        .with(
            "before",
            json!({ "setting": name, "enabled": before, "known": before.is_some() }),
        )
        .with("after", after)
        .with_list("vaults", [f.vault.clone()]);
    findings.push(f);
    if on_vault {
        silence::watch(s, state, obs, name, deleted);
    }
}

fn lock(
    s: &Settings,
    state: &mut State,
    obs: &Observation<'_>,
    c: &ControlPlane<'_>,
    findings: &mut Vec<Finding>,
) {
    let Some(scope) = c.scope.as_deref() else {
        return;
    };
    let cov = coverage::of(state, scope, c.scope_level);
    if cov.total == 0 {
        return;
    }
    let mut f = Finding::about(
        obs,
        NAME,
        Rule::LockRemoved.as_str(),
        s.severity.lock_removed,
    );
    f.vault = finding_vault(obs, c.scope_level);
    f.summary = wording::lock_removed(&who(obs.event), scope, &cov.vaults, cov.total);
    f.evidence = base(obs, c)
        .with("before", json!({ "lock": c.resource_id, "scope": scope }))
        .with(
            "after",
            json!({ "lock": "removed: the vaults below can be deleted or changed" }),
        )
        .with(
            "vaults_covered",
            json!({ "known": cov.vaults, "known_total": cov.total }),
        );
    findings.push(f);
}
