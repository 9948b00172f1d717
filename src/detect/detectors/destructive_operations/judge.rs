//! The judgement of `destructive_operations` on an episode of deletions: is this many
//! distinct objects in the window usual for this principal (or, while it has no
//! history of deleting, for its kind), and is it a principal's first purge? In steps:
//! the verdict (against which limit, how improbable), the severity, the words
//! (`wording.rs`) and the evidence.

use serde_json::json;

use super::rule::{Rule, NAME};
use super::settings::Settings;
use super::state::{Episode, History};
use super::wording;
use crate::alert::{Evidence, Severity};
use crate::detect::baseline::keys::time_of;
use crate::detect::baseline::stats::{count_tail, expected_count, LogHist};
use crate::detect::definition::secs;
use crate::detect::finding::{raise, Finding};
use crate::detect::observation::Observation;
use crate::detect::text::{duration, odds};

/// Why a count is too many, against what limit, and how improbable it is.
pub struct Verdict {
    /// The count at which the rule holds.
    pub limit: u32,
    /// Why, in words.
    pub why: String,
    /// Whether the principal's own history was the yardstick.
    pub learned: bool,
    /// The probability of the count under the learned per-window rate.
    pub probability: f64,
    /// The expected count per window with deletions.
    pub expected: f64,
    /// The population quantile used before the principal learned (0: none).
    pub population_limit: u32,
}

/// Reports `bulk_delete` when `n` distinct objects in the window are beyond the
/// principal's own history (or its kind's) and improbable under its rate.
#[allow(clippy::too_many_arguments)]
pub fn bulk_delete(
    s: &Settings,
    obs: &Observation<'_>,
    a: &mut Episode,
    own: &History,
    population: &LogHist,
    n: u32,
    purged: u32,
    findings: &mut Vec<Finding>,
) {
    let Some(v) = verdict(s, obs, own, population, n) else {
        return;
    };
    if !a.report_bulk(n, purged > 0) {
        return;
    }
    let sev = &s.severity;
    let mut steps = if purged > 0 { sev.purged } else { 0 };
    if f64::from(n) >= f64::from(v.limit) * sev.raise_ratio {
        steps += 1;
    }
    let severity: Severity = raise(sev.of(Rule::BulkDelete), steps);
    let mut f = finding(s, obs, a, Rule::BulkDelete, severity);
    let usual = wording::usual(
        own,
        v.learned,
        &v.why,
        &s.window.window.to_string(),
        history_days(obs),
        obs.learning(),
    );
    f.summary = wording::bulk_delete(obs, a, n, purged, &span(s, obs, a), &usual);
    f.evidence = evidence(s, obs, a, own, population, n, purged, Some(&v));
    findings.push(f);
}

/// Reports `first_purge`: a principal past its learning period that never purged,
/// purging at least `min_purges` objects in the window.
pub fn first_purge(
    s: &Settings,
    obs: &Observation<'_>,
    a: &mut Episode,
    own: &History,
    purged: u32,
    findings: &mut Vec<Finding>,
) {
    if obs.learning() || own.purges > 0 || purged < s.purge.min_purges {
        return;
    }
    if !a.report(Rule::FirstPurge, purged) {
        return;
    }
    let severity = s.severity.of(Rule::FirstPurge);
    let mut f = finding(s, obs, a, Rule::FirstPurge, severity);
    f.summary = wording::first_purge(obs, a, purged, &span(s, obs, a), history_days(obs));
    let n = a.objects.len() as u32;
    f.evidence = evidence(s, obs, a, own, &LogHist::default(), n, purged, None);
    f.evidence = f
        .evidence
        .with_list("purged_objects", a.purged_samples.iter().cloned());
    f.evidence.insert(
        "expected",
        json!({ "min_purges": s.purge.min_purges, "purges_before": own.purges }),
    );
    findings.push(f);
}

/// The limit the count is held against and its probability; `None` when the count is
/// usual or probable enough.
fn verdict(
    s: &Settings,
    obs: &Observation<'_>,
    own: &History,
    population: &LogHist,
    n: u32,
) -> Option<Verdict> {
    let (w, h) = (&s.window, &s.history);
    if n < w.min_distinct {
        return None;
    }
    let learned = !obs.learning() && own.windows.total() >= w.min_history_windows;
    let population_limit = population.quantile(h.population_quantile);
    let (limit, why) = if learned {
        let own_max = own.windows.max();
        let limit = ((f64::from(own_max) * h.own_ratio).floor() as u32 + 1).max(w.min_distinct);
        (
            limit,
            format!("more than it ever deleted (max {own_max} per {})", w.window),
        )
    } else {
        let limit = (population_limit + 1).max(w.min_distinct);
        let why = if population_limit > 0 {
            format!(
                "{:.0}% of {}s' windows with deletions had at most {population_limit}",
                h.population_quantile * 100.0,
                obs.event.principal.kind.as_str().replace('_', " ")
            )
        } else {
            "no principal of its kind deleted in bulk before".to_owned()
        };
        (limit, why)
    };
    if n < limit {
        return None;
    }
    // Gamma-Poisson tail of the count per window with deletions (own history, the
    // population mean as prior).
    let (pop_sum, pop_n) = sum_of(population);
    let prior = if pop_n > 0.0 { pop_sum / pop_n } else { 1.0 };
    let (own_sum, own_n) = if obs.learning() {
        (0.0, 0.0)
    } else {
        sum_of(&own.windows)
    };
    let probability = count_tail(u64::from(n), own_sum, own_n, 1.0, prior, h.prior_windows);
    if probability > h.max_probability {
        return None;
    }
    Some(Verdict {
        limit,
        why,
        learned,
        probability,
        expected: expected_count(own_sum, own_n, 1.0, prior, h.prior_windows),
        population_limit,
    })
}

/// Sum and count of a histogram's windows (bucket quantiles standing for the values).
fn sum_of(h: &LogHist) -> (f64, f64) {
    let n = f64::from(h.total());
    if n == 0.0 {
        return (0.0, 0.0);
    }
    let steps = 20;
    let sum: f64 = (0..steps)
        .map(|i| f64::from(h.quantile((f64::from(i) + 0.5) / f64::from(steps))))
        .sum();
    (sum / f64::from(steps) * n, n)
}

fn history_days(obs: &Observation<'_>) -> f64 {
    obs.profile.map_or(0.0, |p| p.history_days(obs.now))
}

/// The episode's span within the window, in words.
fn span(s: &Settings, obs: &Observation<'_>, a: &Episode) -> String {
    let since = obs.now.saturating_sub(secs(s.window.window));
    duration(obs.now.saturating_sub(a.first.max(since)))
}

fn finding(
    s: &Settings,
    obs: &Observation<'_>,
    a: &Episode,
    rule: Rule,
    severity: Severity,
) -> Finding {
    let since = obs.now.saturating_sub(secs(s.window.window));
    let mut f = Finding::about(obs, NAME, rule.as_str(), severity);
    f.first_seen = time_of(a.first.max(since));
    f
}

#[allow(clippy::too_many_arguments)]
fn evidence(
    s: &Settings,
    obs: &Observation<'_>,
    a: &Episode,
    own: &History,
    population: &LogHist,
    n: u32,
    purged: u32,
    v: Option<&Verdict>,
) -> Evidence {
    let h = &s.history;
    let days = history_days(obs);
    let mut evidence = Evidence::new()
        .with("observed", json!({ "distinct_objects": n, "purged": purged, "window": s.window.window.to_string(),
            "span": span(s, obs, a), "operations": a.operations, "place": obs.geo.label(), "hour_utc": (obs.now % 86_400) / 3600 }))
        .with("baseline", json!({ "learning": obs.learning(), "history_days": (days * 10.0).round() / 10.0,
            "own": { "windows_with_deletions": own.windows.total(), "largest_window": own.windows.max(), "purges": own.purges, "vault_deletes": own.vault_deletes },
            "population": { "kind": obs.event.principal.kind.as_str(), "windows": population.total(), "quantile": v.map_or(0, |v| v.population_limit) } }))
        .with_list("objects", a.samples.iter().cloned())
        .with_list("addresses", a.addresses.iter().map(|ip| ip.to_string()));
    if let Some(v) = v {
        evidence.insert("expected", json!({ "limit": v.limit, "min_distinct": s.window.min_distinct, "own_history_used": v.learned,
            "expected_per_window": (v.expected * 100.0).round() / 100.0, "probability": v.probability, "odds": odds(v.probability),
            "max_probability": h.max_probability, "reason": v.why }));
    }
    if n as usize > a.samples.len() {
        evidence.insert("objects_total", n);
    }
    evidence
}
