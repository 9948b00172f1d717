//! `daily_novelty`, the slow thief's rule: far more objects new to a principal within
//! a day, across all its vaults, than its own days (and its kind's) make probable.
//!
//! Every read teaches the vault's inventory and moves the principal's day; a read of
//! an object the principal never read (or of a vault it never read from) is added to
//! its window and judged: at least `min_new_objects`, more than `own_ratio` times its
//! largest earlier day, and at most `max_probability` under the Gamma-Poisson predictive of its
//! daily novelty (its closed days, with its kind's mean daily novelty as a prior worth
//! `prior_days`). A new employee ramping up has days of novelty behind it; a nightly
//! backup met every object on its first night; an application restart reads what it
//! always read. New vaults, and a large share of a vault's inventory, raise severity.

use serde_json::json;

use super::novelty::{share, NovelRead};
use super::rule::{Rule, NAME};
use super::settings::{Novelty as NoveltySettings, Settings};
use super::state::State;
use crate::alert::{Evidence, Severity};
use crate::detect::baseline::keys::time_of;
use crate::detect::baseline::stats::{count_tail, expected_count};
use crate::detect::definition::secs;
use crate::detect::finding::{raise, Finding};
use crate::detect::observation::Observation;
use crate::detect::text::{duration, list, odds, plural, who};
use crate::event::ObjectKind;

/// The most vaults with an inventory.
const MAX_INVENTORIES: usize = 20_000;

/// Reads one successful read of `object` (its hash; `kind` and `name` for words) by
/// the principal `key`; `known` says whether the principal read it before.
#[allow(clippy::too_many_arguments)]
pub fn read(
    s: &Settings,
    state: &mut State,
    obs: &Observation<'_>,
    key: u128,
    object: u64,
    known: bool,
    (kind_name, name): (ObjectKind, &str),
    findings: &mut Vec<Finding>,
) {
    // One lookup for a vault already known (nearly every read).
    if let Some(inventory) = state.inventory.get_mut(&obs.vault) {
        inventory.learn(object);
    } else if state.inventory.len() < MAX_INVENTORIES {
        state.inventory.entry(obs.vault).or_default().learn(object);
    }
    let Some(ns) = &s.novelty else { return };
    let kind = obs.event.principal.kind.index().min(3);
    let n = state.novelty.entry(key).or_default();
    n.kind = kind as u8;
    if let Some(closed) = n.roll(obs.now) {
        let pop = &mut state.pop_novelty[kind];
        pop.0 = pop.0.saturating_add(u64::from(closed));
        pop.1 = pop.1.saturating_add(1);
    }
    let new_vault = obs.pair.is_none_or(|p| p.reads == 0);
    if known && !new_vault {
        return;
    }
    let read = NovelRead {
        at: obs.now,
        vault: obs.vault,
        new_vault,
    };
    let label = format!("{kind_name}/{name}");
    let count = n.add(read, secs(ns.window), &label, &obs.event.vault);
    if count < ns.min_new_objects
        || f64::from(count) <= f64::from(n.max) * ns.own_ratio
        || n.days < ns.min_history_days
    {
        return;
    }
    if obs.learning() {
        return;
    }
    judge(ns, state, obs, key, count, findings);
}

/// Judges `count` new objects in the window of principal `key`.
fn judge(
    ns: &NoveltySettings,
    state: &mut State,
    obs: &Observation<'_>,
    key: u128,
    count: u32,
    findings: &mut Vec<Finding>,
) {
    let Some(n) = state.novelty.get(&key) else {
        return;
    };
    let (pop_sum, pop_days) = state.pop_novelty[usize::from(n.kind).min(3)];
    let prior = if pop_days > 0 {
        pop_sum as f64 / pop_days as f64
    } else {
        1.0
    };
    let (own_sum, own_days) = (n.sum as f64, f64::from(n.days));
    let probability = count_tail(
        u64::from(count),
        own_sum,
        own_days,
        1.0,
        prior,
        ns.prior_days,
    );
    if probability > ns.max_probability {
        return;
    }
    let expected = expected_count(own_sum, own_days, 1.0, prior, ns.prior_days);
    let vaults: Vec<VaultLine> = n
        .per_vault()
        .into_iter()
        .map(|(v, new, new_to_it)| {
            let known = state.inventory.get(&v).map_or(0, |i| i.known);
            VaultLine {
                name: n.vault_name(v).unwrap_or("(another vault)").to_owned(),
                new,
                known,
                share: share(new, known),
                new_to_it,
            }
        })
        .collect();
    let new_vaults = vaults.iter().filter(|v| v.new_to_it).count();
    let top_share = vaults
        .iter()
        .filter(|v| v.known >= ns.min_inventory)
        .map(|v| v.share)
        .fold(0.0, f64::max);
    let first = n.recent.first().map_or(obs.now, |r| r.at);
    let (days, mean, max) = (n.days, n.mean(), n.max);
    let samples = n.samples.clone();
    let Some(n) = state.novelty.get_mut(&key) else {
        return;
    };
    if !n.report(count) {
        return;
    }
    let mut steps = 0;
    let mut boosters = Vec::new();
    if new_vaults > 0 {
        steps += ns.new_vault;
        boosters.push(format!(
            "{} new to it",
            plural(new_vaults, "vault", "vaults")
        ));
    }
    if top_share >= ns.inventory_share {
        steps += 1;
        boosters.push(format!(
            "{:.0}% of a vault's known objects",
            top_share * 100.0
        ));
    }
    let severity: Severity = raise(ns.severity, steps);
    let mut f = Finding::about(obs, NAME, Rule::DailyNovelty.as_str(), severity);
    if vaults.len() > 1 {
        f.vault = "*".into();
    }
    f.first_seen = time_of(first);
    let span = duration(obs.now.saturating_sub(first));
    let per_vault: Vec<String> = vaults
        .iter()
        .map(|v| {
            format!(
                "{} {} ({:.0}% of the {} objects known there{})",
                v.new,
                v.name,
                v.share * 100.0,
                v.known,
                if v.new_to_it {
                    "; a vault new to it"
                } else {
                    ""
                }
            )
        })
        .collect();
    f.summary = format!(
        "{} read {count} objects it had never read before in {span}, across {}: {}; its usual is {mean:.1} new a day (at most {max} on one of {days} days; expected {expected:.1}, {}); objects: {}",
        who(obs.event),
        plural(vaults.len(), "vault", "vaults"),
        per_vault.join(", "),
        odds(probability),
        list(&samples, count as usize, 4),
    );
    for b in &boosters {
        f.summary.push_str(&format!("; {b}"));
    }
    let vault_rows: Vec<serde_json::Value> = vaults
        .iter()
        .map(|v| json!({ "vault": v.name, "new_objects": v.new, "known_objects": v.known, "share": (v.share * 1000.0).round() / 1000.0, "new_to_principal": v.new_to_it }))
        .collect();
    f.evidence = Evidence::new()
        .with("observed", json!({ "new_objects": count, "window": ns.window.to_string(), "span": span, "vaults": vault_rows, "new_vaults": new_vaults, "place": obs.geo.label() }))
        .with("baseline", json!({ "learning": false, "days": days, "mean_new_per_day": (mean * 100.0).round() / 100.0, "max_new_per_day": max,
            "population": { "kind": obs.event.principal.kind.as_str(), "mean_new_per_day": (prior * 100.0).round() / 100.0, "days": pop_days } }))
        .with("expected", json!({ "min_new_objects": ns.min_new_objects, "expected_per_day": (expected * 100.0).round() / 100.0,
            "probability": probability, "odds": odds(probability), "max_probability": ns.max_probability,
            "own_ratio": ns.own_ratio,
            "reason": format!("{count} new objects in {}, more than {} times its largest day of {days} (max {max})", ns.window, ns.own_ratio) }))
        .with_list("objects", samples)
        .with_list("operations", [obs.event.operation.to_string()]);
    findings.push(f);
}

/// One vault of the window, for words and evidence.
struct VaultLine {
    name: String,
    new: u32,
    known: u32,
    share: f64,
    new_to_it: bool,
}
