//! `borrowed_identity`: a workload principal (a managed identity or service
//! principal) reading several objects it never read, within a short window, from a
//! source network it never used: its token replayed from another machine, most
//! often another VM in the same Azure region (same country, an Azure address, the
//! identity's own client), which geography cannot see.
//!
//! Every accepted data-plane call of a workload teaches its networks and clients
//! (`borrowed.rs`); every successful read teaches its objects. A read of an object
//! new to the principal, from a network first seen less than `window` ago (not its
//! first network), is counted against that network and judged: at least
//! `min_new_objects`, more than `own_ratio` times the most new objects the principal
//! ever read in one window, and the joint probability at most `max_probability`:
//! how often a window of its shows a new network, times the Gamma-Poisson tail of
//! that many new objects in a window that does (its kind's rates as priors worth
//! `prior_windows`, and a half window of either outcome so that no principal is
//! ever certain). A workload scaling out to new VMs reads its
//! usual objects (nothing new); a release reading two or three new secrets does so
//! from its usual network; hosted runners that show a new network every run make a
//! new network probable; a new application is still learning. A client or an
//! autonomous system the principal never used raises the severity.

use serde_json::json;

use super::borrowed::{object_key, prefix_text, Population, Workload, Workloads, SAMPLES};
use super::country::finding;
use super::rule::Rule;
use super::settings::Borrowed;
use crate::alert::Evidence;
use crate::detect::baseline::keys::time_of;
use crate::detect::baseline::stats::{count_tail, expected_count};
use crate::detect::definition::secs;
use crate::detect::enrichment::class_label;
use crate::detect::finding::{raise, Finding};
use crate::detect::observation::Observation;
use crate::detect::text::{duration, list, odds, plural, who};
use crate::event::Outcome;

/// Reads one event for `borrowed_identity`.
pub fn observe(
    b: &Borrowed,
    w: &mut Workloads,
    obs: &Observation<'_>,
    findings: &mut Vec<Finding>,
) {
    let e = obs.event;
    let (Some(key), Some(ip)) = (obs.principal, e.caller_ip) else {
        return;
    };
    // Only accepted Key Vault calls of the kinds judged say where a workload runs.
    if e.control_plane().is_some()
        || !b.kinds.contains(&e.principal.kind)
        || !matches!(
            e.outcome,
            Outcome::Ok | Outcome::NotFound | Outcome::Throttled
        )
    {
        return;
    }
    let (now, window) = (obs.now, secs(b.window));
    if now >= w.last_prune.saturating_add(3600) {
        prune(w, obs, window);
    }
    let kind = e.principal.kind.index().min(3);
    let entry = w.by_principal.entry(key).or_default();
    entry.kind = kind as u8;
    if let Some((new, net)) = entry.roll(now, window, secs(b.settle)) {
        let pop = &mut w.population[kind];
        pop.windows = pop.windows.saturating_add(1);
        pop.new_sum = pop.new_sum.saturating_add(u64::from(new));
        pop.net_windows = pop.net_windows.saturating_add(u64::from(net));
        if net {
            pop.net_new_sum = pop.net_new_sum.saturating_add(u64::from(new));
        }
    }
    let fresh = entry.call_from(ip, obs.geo.asn, now, window);
    let client_since = e.client_info.as_deref().map(|c| entry.client(c, now));
    if e.outcome != Outcome::Ok || !b.is_read(e.operation.as_str()) {
        return;
    }
    let Some(object) = e.object.as_ref() else {
        return;
    };
    let Some(name) = object.name.as_deref() else {
        return;
    };
    if !entry.learn(object_key(object.kind.as_str(), name, obs.vault)) {
        return;
    }
    entry.tumble_new = entry.tumble_new.saturating_add(1);
    let Some(suspect) = entry.suspect.as_mut().filter(|_| fresh) else {
        return;
    };
    suspect.new_objects = suspect.new_objects.saturating_add(1);
    if suspect.samples.len() < SAMPLES {
        suspect
            .samples
            .push(format!("{}/{name} in {}", object.kind, e.vault));
    }
    let (count, since) = (suspect.new_objects, suspect.first);
    if count < b.min_new_objects
        || f64::from(count) <= f64::from(entry.new_max) * b.own_ratio
        || entry.windows < b.min_history_windows
        || obs.learning()
    {
        return;
    }
    let pop = w.population[kind];
    // A client first used since the network appeared is new with it.
    let client_known = client_since.map(|first| first < since);
    judge(b, entry, pop, obs, client_known, findings);
}

/// The kind's population: (mean new objects in a window with a new network, share
/// of windows with a new network).
fn priors(pop: Population) -> (f64, f64) {
    let new = if pop.net_windows > 0 {
        pop.net_new_sum as f64 / pop.net_windows as f64
    } else if pop.windows > 0 {
        pop.new_sum as f64 / pop.windows as f64
    } else {
        1.0
    };
    let net = if pop.windows > 0 {
        pop.net_windows as f64 / pop.windows as f64
    } else {
        0.1
    };
    (new, net)
}

/// Judges the new objects read from the principal's new network.
fn judge(
    b: &Borrowed,
    entry: &mut Workload,
    pop: Population,
    obs: &Observation<'_>,
    client_known: Option<bool>,
    findings: &mut Vec<Finding>,
) {
    let Some(suspect) = entry.suspect.as_deref() else {
        return;
    };
    let (count, net) = (suspect.new_objects, suspect.net);
    let (prior_new, prior_net) = priors(pop);
    let windows = f64::from(entry.windows);
    let net_windows = f64::from(entry.net_windows);
    let p_network = ((net_windows + prior_net * b.prior_windows + 0.5)
        / (windows + b.prior_windows + 1.0))
        .min(1.0);
    let p_objects = count_tail(
        u64::from(count),
        f64::from(entry.net_new_sum),
        net_windows,
        1.0,
        prior_new,
        b.prior_windows,
    );
    let probability = p_objects * p_network;
    if probability > b.max_probability {
        return;
    }
    let asn = entry.asn_of(net);
    let asn_known = entry.knows_asn(asn, net);
    let Some(suspect) = entry.suspect.as_deref_mut() else {
        return;
    };
    if suspect.reported != 0 && count < suspect.reported.saturating_mul(2) {
        return;
    }
    suspect.reported = count;
    let (first, samples) = (suspect.first, suspect.samples.clone());
    let mut steps = 0;
    let mut boosters = Vec::new();
    if client_known == Some(false) {
        steps += b.new_client;
        boosters.push("a client it never used".to_owned());
    }
    if asn_known == Some(false) {
        steps += b.new_provider;
        boosters.push(format!("a provider it never used (AS{asn})"));
    }
    let rule = Rule::BorrowedIdentity;
    let expected = expected_count(
        f64::from(entry.net_new_sum),
        net_windows,
        1.0,
        prior_new,
        b.prior_windows,
    );
    let e = obs.event;
    let class = obs.geo.class.map_or("no address", class_label);
    let known: Vec<String> = entry
        .networks
        .iter()
        .filter(|k| k.net != net)
        .map(|k| prefix_text(k.net))
        .collect();
    let net = prefix_text(net);
    let span = duration(obs.now.saturating_sub(first));
    let agent = e.client_info.as_deref().unwrap_or("(none)");
    let share = entry.new_network_share();
    let mut summary = format!(
        "{} read {count} objects it had never read in {span}, from {net} ({class}), a network it had never used (its networks: {}; a new one in {:.0}% of its {} windows of {}); client {agent} ({}); its usual is {:.2} new objects a window (at most {}; with a new network expected {expected:.2}; together {}); objects: {}",
        who(e),
        list(&known, known.len(), 4),
        share * 100.0,
        entry.windows,
        b.window,
        match client_known {
            Some(true) => "its usual",
            Some(false) => "new to it",
            None => "unknown",
        },
        f64::from(entry.new_sum) / windows.max(1.0),
        entry.new_max,
        odds(probability),
        list(&samples, count as usize, 4),
    );
    for booster in &boosters {
        summary.push_str(&format!("; {booster}"));
    }
    let mut f = finding(obs, rule, raise(b.severity, steps), summary);
    f.first_seen = time_of(first);
    f.evidence = Evidence::new()
        .with("observed", json!({ "network": net, "address": obs.event.caller_ip.map(|ip| ip.to_string()),
            "address_class": class, "asn": (asn != 0).then_some(asn), "client": agent, "client_known": client_known,
            "new_objects": count, "window": b.window.to_string(), "span": span, "operation": e.operation.to_string() }))
        .with("baseline", json!({ "learning": false, "networks": known, "clients_known": entry.clients.len(),
            "windows": entry.windows, "new_network_windows": entry.net_windows,
            "mean_new_per_window": ((f64::from(entry.new_sum) / windows.max(1.0)) * 100.0).round() / 100.0,
            "max_new_per_window": entry.new_max, "new_objects_in_new_network_windows": entry.net_new_sum,
            "population": { "kind": e.principal.kind.as_str(), "windows": pop.windows,
                "mean_new_with_new_network": (prior_new * 100.0).round() / 100.0,
                "new_network_share": (prior_net * 1000.0).round() / 1000.0 } }))
        .with("expected", json!({ "min_new_objects": b.min_new_objects, "expected_new_with_new_network": (expected * 100.0).round() / 100.0,
            "probability_objects": p_objects, "probability_new_network": (p_network * 1000.0).round() / 1000.0,
            "probability": probability, "odds": odds(probability), "max_probability": b.max_probability, "own_ratio": b.own_ratio,
            "reason": format!("{} new to it from a network first seen {span} before, more than {} times its largest window (max {})",
                plural(count as usize, "object", "objects"), b.own_ratio, entry.new_max) }))
        .with_list("objects", samples)
        .with_list("addresses", obs.event.caller_ip.map(|ip| ip.to_string()))
        .with_list("vaults", [e.vault.to_string()]);
    findings.push(f);
}

/// Hourly: forgets principals the baselines forgot and sample names of networks no
/// longer new.
fn prune(w: &mut Workloads, obs: &Observation<'_>, window: u32) {
    let now = obs.now;
    w.last_prune = now;
    let forget = now.saturating_sub(obs.baselines.settings().forget_secs);
    w.by_principal
        .retain(|k, p| p.last >= forget && obs.baselines.principal(*k).is_some());
    let before = now.saturating_sub(window);
    for p in w.by_principal.values_mut() {
        p.settle_networks(before);
    }
}
