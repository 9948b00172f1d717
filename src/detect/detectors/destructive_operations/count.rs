//! Counting for `destructive_operations`: every successful deletion or purge of an
//! object adds it to the principal's episode on the vault, tumbles close into the
//! histories as time moves on, and every deletion is judged (`judge.rs`); vault
//! deletions go to `vault.rs`. Denied attempts never reach here (they are
//! `failed_auth`'s).

use super::judge;
use super::rule::Destroy;
use super::settings::Settings;
use super::state::{Episode, History, State};
use super::vault;
use crate::detect::baseline::keys::hash64;
use crate::detect::definition::secs;
use crate::detect::finding::Finding;
use crate::detect::observation::Observation;
use crate::event::{OperationClass, Outcome};

/// Reads one event.
pub fn observe(
    s: &Settings,
    state: &mut State,
    obs: &Observation<'_>,
    findings: &mut Vec<Finding>,
) {
    let e = obs.event;
    // Destructive operations are a small class: almost every event leaves here.
    if e.class != OperationClass::Destroy || e.outcome != Outcome::Ok {
        return;
    }
    let Some(key) = obs.principal else { return };
    let Some(what) = s.destroys(e.operation.as_str()) else {
        return;
    };
    // Upkeep runs before a judgement, so other principals' finished episodes are in
    // the population it is judged against.
    if obs.now >= state.last_prune.saturating_add(600) {
        prune(s, state, obs);
    }
    match what {
        Destroy::Vault => vault::observe(s, state, obs, key, findings),
        Destroy::Delete | Destroy::Purge => object(s, state, obs, key, what, findings),
    }
}

/// An object deleted or purged.
fn object(
    s: &Settings,
    state: &mut State,
    obs: &Observation<'_>,
    key: u128,
    what: Destroy,
    findings: &mut Vec<Finding>,
) {
    let e = obs.event;
    let Some((kind, name)) = e
        .object
        .as_ref()
        .and_then(|o| Some((o.kind, o.name.as_deref()?)))
    else {
        return;
    };
    let (now, window) = (obs.now, secs(s.window.window));
    let principal_kind = e.principal.kind.index() as u8;
    let mut a = state.active.remove(&(key, obs.vault)).unwrap_or_default();
    if a.last > 0 && now / window != a.tumble {
        state.record(key, &mut a);
    }
    a.tumble = now / window;
    if a.last < now.saturating_sub(window) {
        a = Episode::starting(now, a.tumble, principal_kind);
    }
    a.last = now;
    a.kind = principal_kind;
    let h = hash64(name.as_bytes()) ^ hash64(kind.as_str().as_bytes()).rotate_left(7);
    if a.objects.touch(h, now, false, 4096) {
        Episode::remember(&mut a.samples, format!("{kind}/{name}"));
    }
    if what == Destroy::Purge {
        if a.purged.touch(h, now, false, 4096) {
            Episode::remember(&mut a.purged_samples, format!("{kind}/{name}"));
        }
        a.purges_in_tumble = a.purges_in_tumble.saturating_add(1);
    }
    if !a.operations.iter().any(|o| o == e.operation.as_str()) {
        Episode::remember(&mut a.operations, e.operation.to_string());
    }
    if let Some(ip) = e.caller_ip {
        Episode::remember(&mut a.addresses, ip);
    }
    let since = now.saturating_sub(window);
    a.objects.prune(since);
    a.purged.prune(since);
    let n = a.objects.count_since(since) as u32;
    let purged = a.purged.count_since(since) as u32;
    a.peak = a.peak.max(n);
    let own = state.history.get(key).cloned().unwrap_or_default();
    let population = &state.population[e.principal.kind.index().min(3)];
    judge::bulk_delete(s, obs, &mut a, &own, population, n, purged, findings);
    judge::first_purge(s, obs, &mut a, &own, purged, findings);
    if let Some(h) = state.history.get_mut(key) {
        h.last = now;
    } else {
        let h = state.history.get_or_insert_with(key, History::default);
        h.last = now;
        h.kind = principal_kind;
    }
    state.active.insert((key, obs.vault), a);
}

/// At most every ten minutes (of deletions): closes quiet episodes into the
/// histories and forgets principals the baselines forgot.
fn prune(s: &Settings, state: &mut State, obs: &Observation<'_>) {
    let now = obs.now;
    state.last_prune = now;
    let window = secs(s.window.window);
    let idle: Vec<(u128, u64)> = state
        .active
        .iter()
        .filter(|(_, a)| a.last < now.saturating_sub(window))
        .map(|(k, _)| *k)
        .collect();
    for (key, vault) in idle {
        if let Some(mut a) = state.active.remove(&(key, vault)) {
            state.record(key, &mut a);
        }
    }
    let forget = now.saturating_sub(obs.baselines.settings().forget_secs);
    state
        .history
        .retain(|k, h| h.last >= forget && obs.baselines.principal(k).is_some());
}
