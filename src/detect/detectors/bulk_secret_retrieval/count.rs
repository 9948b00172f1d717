//! Counting for `bulk_secret_retrieval`: each successful read of an object adds it
//! to the principal's episode on the vault, tumbling windows close into the
//! histories as time moves on, and every read is judged in both sliding windows
//! (`judge.rs`). Lists and 429s are remembered for the severity. The reads of a
//! service principal or managed identity also make its runs (`runs.rs`).

use super::judge::judge;
use super::novelty_judge;
use super::rule::{Report, Win};
use super::settings::Settings;
use super::state::{Active, History, State};
use crate::detect::baseline::keys::hash64;
use crate::detect::definition::secs;
use crate::detect::finding::Finding;
use crate::detect::observation::Observation;
use crate::event::{ObjectKind, Outcome, PrincipalKind};

/// Object names kept per episode, for summaries and evidence.
const SAMPLES: usize = 10;

/// Reads one event.
pub fn observe(
    s: &Settings,
    state: &mut State,
    obs: &Observation<'_>,
    findings: &mut Vec<Finding>,
) {
    let e = obs.event;
    let Some(key) = obs.principal else { return };
    let op = e.operation.as_str();
    let (short_w, long_w) = (secs(s.short.window), secs(s.long.window));
    let now = obs.now;
    if now >= state.last_prune.saturating_add(600) {
        prune(s, state, obs);
    }
    let throttled = e.outcome == Outcome::Throttled;
    let listing = e.outcome == Outcome::Ok && s.is_list(op);
    let reading = e.outcome == Outcome::Ok && s.is_read(op);
    if !(throttled || listing || reading) {
        return;
    }
    let kind = e.principal.kind.index();
    let large_at = large_at(s);
    let mut a = state.active.remove(&(key, obs.vault)).unwrap_or_default();
    // Close tumbles that ended before this event (learning), then start a new episode if quiet.
    if a.last > 0 && now / short_w != a.short_tumble {
        state.record(key, obs.vault, kind, &mut a, short_w, large_at);
    }
    if a.last > 0 && now / long_w != a.long_tumble {
        state.record_long(key, kind, &mut a);
    }
    a.short_tumble = now / short_w;
    a.long_tumble = now / long_w;
    if a.last < now.saturating_sub(long_w) {
        a = Active::starting(now, a.short_tumble, a.long_tumble, kind as u8);
    }
    a.last = now;
    a.kind = kind as u8;
    if throttled {
        a.throttled.add(now, long_w, 1024);
    } else if listing {
        a.last_list = now;
    } else if let Some(name) = e.object.as_ref().and_then(|o| o.name.as_deref()) {
        let kind_name = e.object.as_ref().map_or(ObjectKind::Other, |o| o.kind);
        let h = hash64(name.as_bytes()) ^ hash64(kind_name.as_str().as_bytes()).rotate_left(7);
        let history = state.history.get_or_insert_with(key, History::default);
        let known = history.knows(h);
        history.learn_object(h);
        history.last = now;
        if history.first == 0 {
            history.first = now;
        }
        novelty_judge::read(s, state, obs, key, h, known, (kind_name, name), findings);
        if let Some(rs) = &s.runs {
            if matches!(
                e.principal.kind,
                PrincipalKind::ServicePrincipal | PrincipalKind::ManagedIdentity
            ) {
                state
                    .runs
                    .entry((key, obs.vault))
                    .or_default()
                    .read(rs, h, now);
            }
        }
        a.reads += 1;
        if obs.profile.and_then(|p| p.knows_place(obs.geo)) == Some(false) {
            a.new_place = true;
        }
        if a.objects.touch(h, now, known, 2048) && a.samples.len() < SAMPLES {
            a.samples.push(format!("{kind_name}/{name}"));
        }
        if let Some(ip) = e.caller_ip {
            if a.addresses.len() < 4 && !a.addresses.contains(&ip) {
                a.addresses.push(ip);
            }
        }
        a.objects.prune(now.saturating_sub(long_w));
        let short = a.objects.count_since(now.saturating_sub(short_w)) as u32;
        let long = a.objects.len() as u32;
        a.short_peak = a.short_peak.max(short);
        a.long_peak = a.long_peak.max(long);
        judge(s, state, obs, &mut a, short, Win::Short, findings);
        if !a.reported(Report::Short) {
            judge(s, state, obs, &mut a, long, Win::Long, findings);
        }
    }
    state.active.insert((key, obs.vault), a);
}

/// A short window this large is a "large read" (for the schedule).
fn large_at(s: &Settings) -> u32 {
    (s.short.min_distinct / 2).max(4)
}

/// Every ten minutes: closes idle episodes into the histories, refreshes the
/// population (hourly) and forgets principals the baselines forgot.
fn prune(s: &Settings, state: &mut State, obs: &Observation<'_>) {
    let now = obs.now;
    state.last_prune = now;
    let (short_w, long_w) = (secs(s.short.window), secs(s.long.window));
    let large_at = large_at(s);
    let idle: Vec<(u128, u64)> = state
        .active
        .iter()
        .filter(|(_, a)| a.last < now.saturating_sub(long_w))
        .map(|(k, _)| *k)
        .collect();
    for (key, vault) in idle {
        if let Some(mut a) = state.active.remove(&(key, vault)) {
            let kind = usize::from(a.kind);
            state.record(key, vault, kind, &mut a, short_w, large_at);
            state.record_long(key, kind, &mut a);
        }
    }
    if now >= state.last_population.saturating_add(3600) {
        state.refresh_population(s.history.population_quantile, now);
    }
    let forget = now.saturating_sub(obs.baselines.settings().forget_secs);
    state
        .history
        .retain(|k, h| h.last >= forget && obs.baselines.principal(k).is_some());
    state
        .novelty
        .retain(|k, n| n.last >= forget && obs.baselines.principal(*k).is_some());
    state
        .runs
        .retain(|(k, _), r| r.last >= forget && obs.baselines.principal(*k).is_some());
    if let Some(rs) = &s.runs {
        for r in state.runs.values_mut() {
            r.close_idle(rs, now);
        }
    }
    if let Some(ns) = &s.novelty {
        let window = secs(ns.window);
        for n in state.novelty.values_mut() {
            n.expire(now, window);
        }
    }
    if state.history.capacity() > 2 * state.history.len().max(64) {
        state.history.shrink_to_fit();
        state.active.shrink_to_fit();
        state.novelty.shrink_to_fit();
        state.runs.shrink_to_fit();
    }
}
