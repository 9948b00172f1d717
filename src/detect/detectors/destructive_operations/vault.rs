//! `vault_delete`: a whole vault deleted or purged. Rare and grave, so it is reported
//! for any principal that does not routinely do it: one still learning, or one that
//! never deleted a vault before. A test-environment teardown that deletes vaults
//! every night is learned and stays quiet.

use serde_json::json;

use super::rule::{Rule, NAME};
use super::settings::Settings;
use super::state::{History, State};
use super::wording;
use crate::alert::Evidence;
use crate::detect::finding::Finding;
use crate::detect::observation::Observation;

/// Learns the vault deletion and reports it unless it is the principal's routine.
pub fn observe(
    s: &Settings,
    state: &mut State,
    obs: &Observation<'_>,
    key: u128,
    findings: &mut Vec<Finding>,
) {
    let e = obs.event;
    let h = state.history.get_or_insert_with(key, History::default);
    let before = h.vault_deletes;
    h.vault_deletes = h.vault_deletes.saturating_add(1);
    h.last = obs.now;
    h.kind = e.principal.kind.index() as u8;
    if !obs.learning() && before > 0 {
        return;
    }
    let rule = Rule::VaultDelete;
    let mut f = Finding::about(obs, NAME, rule.as_str(), s.severity.of(rule));
    let days = obs.profile.map_or(0.0, |p| p.history_days(obs.now));
    f.summary = wording::vault_delete(obs, before, days);
    f.evidence = Evidence::new()
        .with("observed", json!({ "operation": e.operation.to_string(), "vault": e.vault.to_string(), "place": obs.geo.label() }))
        .with("baseline", json!({ "learning": obs.learning(), "history_days": (days * 10.0).round() / 10.0, "vault_deletes_before": before }))
        .with_list("addresses", e.caller_ip.map(|ip| ip.to_string()))
        .with_list("vaults", [e.vault.to_string()]);
    findings.push(f);
}
