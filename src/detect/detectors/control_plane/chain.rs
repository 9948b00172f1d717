//! `grant_then_read`: the grantee of a role assignment reading Key Vault data soon
//! after the grant, across the two logs (the grant is in the Activity Log, the read
//! in AuditEvent).
//!
//! The finding carries the grant's identity (the granter) and vault, so it joins
//! the grant's incident as an escalation instead of opening a second one: one
//! incident, "granted, then used". Each grant is followed once.

use serde_json::json;

use super::coverage;
use super::rule::{Rule, NAME};
use super::settings::Settings;
use super::state::State;
use super::wording;
use crate::alert::{Evidence, PrincipalSummary};
use crate::detect::definition::secs;
use crate::detect::finding::Finding;
use crate::detect::observation::Observation;
use crate::detect::text::who;
use crate::event::ScopeLevel;

/// A successful read of a value by `key`, which may have a grant waiting.
pub fn observe(
    s: &Settings,
    state: &mut State,
    obs: &Observation<'_>,
    key: u128,
    findings: &mut Vec<Finding>,
) {
    let Some(p) = state.pending.get(&key) else {
        return;
    };
    let e = obs.event;
    if obs.now < p.at {
        // The grant was read on arrival, this read is older: it is not a use of it.
        return;
    }
    let elapsed = obs.now - p.at;
    if elapsed > secs(s.grant.chain_window) {
        state.pending.remove(&key);
        return;
    }
    let level = ScopeLevel::of(&p.scope);
    if !coverage::reaches(state, &p.scope, level, &e.vault) {
        return;
    }
    let Some(p) = state.pending.remove(&key) else {
        return;
    };
    let severity = s.severity.grant_then_read.max(p.severity);
    let mut f = Finding::about(obs, NAME, Rule::GrantThenRead.as_str(), severity);
    f.identity = p.granter.clone();
    f.vault = p.vault.clone();
    f.principal = granter_summary(&p.granter_words, &p.granter);
    f.first_seen = crate::detect::baseline::keys::time_of(p.at);
    let object = e
        .object
        .as_ref()
        .map(|o| format!("{}/{}", o.kind, o.name.as_deref().unwrap_or("?")));
    f.summary = wording::grant_then_read(&p, &who(e), &e.vault, &e.operation.to_string(), elapsed);
    f.evidence = Evidence::new()
        .with("grant", json!({ "granter": p.granter_words, "role": p.role, "scope": p.scope, "vault_of_the_grant": p.vault }))
        .with("read", json!({ "reader": who(e), "upn": e.principal.upn, "guest": e.principal.upn.as_deref().is_some_and(|u| u.contains("#EXT#")), "vault": e.vault.to_string(), "operation": e.operation.to_string(), "object": object, "at": e.time.to_rfc3339() }))
        .with("seconds_after_grant", json!(elapsed))
        .with_list("addresses", e.caller_ip.map(|ip| ip.to_string()))
        .with_list("vaults", [e.vault.to_string()]);
    findings.push(f);
}

/// The granter as the alert names it (the incident is the granter's).
fn granter_summary(words: &str, identity: &str) -> PrincipalSummary {
    let upn = words
        .strip_prefix("user ")
        .and_then(|w| w.split(' ').next())
        .filter(|u| u.contains('@'))
        .map(str::to_owned);
    PrincipalSummary {
        upn,
        oid: Some(identity.to_owned()),
        kind: if words.starts_with("user ") {
            "user".into()
        } else {
            "service_principal".into()
        },
        ..Default::default()
    }
}
