//! The judgement of `bulk_secret_retrieval`: is this many distinct objects, in this
//! window, at this hour, from this place, usual for this principal (or, while it is
//! learning, for its kind)? In four steps: the verdict (which rule, against which
//! limit, and how improbable), the severity (what aggravates it), the words
//! (`wording.rs`) and the evidence.

use serde_json::json;

use super::novelty::share;
use super::rule::{Report, Rule, Win, NAME};
use super::runs::Runs;
use super::runs_judge;
use super::settings::{Settings, Window};
use super::state::{Active, History, State};
use super::wording::{self, Episode};
use crate::alert::{Evidence, Severity};
use crate::detect::baseline::c_str;
use crate::detect::baseline::keys::time_of;
use crate::detect::baseline::stats::{count_tail, expected_count, LogHist};
use crate::detect::definition::secs;
use crate::detect::finding::{raise, Finding};
use crate::detect::observation::Observation;
use crate::detect::text::{duration, odds, plural};

/// What the principal's own history and its kind's population say about a window.
struct Baseline<'s> {
    /// The principal's history (empty when it has none).
    own: &'s History,
    /// Its past windows of this length.
    own_hist: &'s LogHist,
    /// The population's past windows of this length (its kind).
    pop: &'s LogHist,
    /// The kind's principals with read history.
    pop_principals: u32,
    /// The kind's population quantile of principals' largest windows (0: too few principals).
    pop_q: u32,
    /// The principal has learned enough windows for its own history to count.
    learned: bool,
    /// The hour of the day (UTC).
    hour: u32,
    /// Distinct objects anyone read in the vault (approximately).
    inventory: u32,
    /// The principal's runs, when it is a workload that ran before.
    runs: Option<&'s Runs>,
}

impl<'s> Baseline<'s> {
    fn of(
        s: &Settings,
        state: &'s State,
        obs: &Observation<'_>,
        w: Win,
        empty: &'s History,
    ) -> Self {
        let win = s.window(w);
        let k = obs.event.principal.kind.index();
        let own = state
            .history
            .get(obs.principal.unwrap_or(0))
            .unwrap_or(empty);
        let (own_hist, pop) = match w {
            Win::Short => (&own.short, &state.pop_short[k]),
            Win::Long => (&own.long, &state.pop_long[k]),
        };
        let pop_q = if state.pop_principals[k] >= s.history.min_population_principals {
            state.pop_principal[k][w.slot()]
        } else {
            0
        };
        Baseline {
            own,
            own_hist,
            pop,
            pop_principals: state.pop_principals[k],
            pop_q,
            learned: !obs.learning() && own_hist.total() >= win.min_history_windows,
            hour: (obs.now % 86_400) / 3600,
            inventory: state.inventory.get(&obs.vault).map_or(0, |i| i.known),
            runs: obs.principal.and_then(|k| state.runs.get(&(k, obs.vault))),
        }
    }
}

/// A rule that holds, with the limit it was held against and why.
pub struct Verdict {
    /// The rule.
    pub rule: Rule,
    /// The count at which it holds.
    pub limit: u32,
    /// Why, in words.
    pub why: String,
    /// The probability of the count under the learned per-window rate.
    pub probability: f64,
    /// The expected count per window.
    pub expected: f64,
}

/// Judges `n` distinct objects in window `w` of episode `a`; reports a finding
/// when a rule holds and its count is new or doubled.
pub fn judge(
    s: &Settings,
    state: &State,
    obs: &Observation<'_>,
    a: &mut Active,
    n: u32,
    w: Win,
    findings: &mut Vec<Finding>,
) {
    let win = s.window(w);
    if n < win.min_distinct {
        return;
    }
    let empty = History::default();
    let base = Baseline::of(s, state, obs, w, &empty);
    let Some(v) = verdict(s, obs, a, n, w, &base) else {
        return;
    };
    if !a.report(Report::of(v.rule, w), n) {
        return;
    }
    let since = obs.now.saturating_sub(secs(win.window));
    let (steps, boosters) = aggravation(s, obs, a, n, w, &v);
    let episode = Episode {
        n,
        window: win.window.to_string(),
        span: duration(obs.now.saturating_sub(a.first.max(since))),
        addresses: a
            .addresses
            .iter()
            .map(std::string::ToString::to_string)
            .collect(),
        history_days: obs.profile.map_or(0.0, |p| p.history_days(obs.now)),
    };
    let usual = if base.learned || (!obs.learning() && base.own_hist.total() > 0) {
        wording::usual(
            &episode,
            base.own_hist.quantile(s.history.quantile),
            s.history.quantile,
        )
    } else {
        wording::new_principal(obs.learning(), &v.why)
    };
    let summary = wording::summary(
        obs,
        a,
        &episode,
        &usual,
        base.learned.then_some(&v.why),
        &boosters,
    );
    let severity: Severity = raise(s.severity.of(v.rule, w), steps);
    let mut f = Finding::about(obs, NAME, v.rule.as_str(), severity);
    f.first_seen = time_of(a.first.max(since));
    f.summary = summary;
    f.evidence = evidence(s, obs, a, win, w, &base, &v, &episode);
    findings.push(f);
}

/// Which rule holds, if any: against the principal's own history once it has
/// learned, against its kind's population before; volume rules must also be
/// improbable under the learned per-window rate.
fn verdict(
    s: &Settings,
    obs: &Observation<'_>,
    a: &Active,
    n: u32,
    w: Win,
    base: &Baseline<'_>,
) -> Option<Verdict> {
    let (win, h) = (s.window(w), &s.history);
    let (rule, limit, why) = if base.learned {
        let own_max = base.own_hist.max();
        let within = f64::from(n) <= f64::from(own_max) * h.own_ratio;
        let place_known = !a.new_place;
        let scheduled = base
            .own
            .scheduled(h.scheduled_max_hours, h.scheduled_min_windows);
        // The schedule is an hour of the day: it says something about a ten-minute
        // window, nothing about a six-hour one.
        let on_schedule =
            w == Win::Long || !scheduled || base.own.on_schedule(base.hour, h.schedule_slack_hours);
        // Objects it never read before, in this window: a volume it knows, made of
        // secrets it never touches, is someone else using its credentials.
        let since = match w {
            Win::Short => obs.now.saturating_sub(secs(win.window)),
            Win::Long => 0,
        };
        let unfamiliar = n.saturating_sub(a.objects.flagged_since(since) as u32);
        // A workload's runs, not its largest window, are its baseline: its usual runs
        // back to back are normal (from a place it knows), one of its runs and then
        // objects no run read is not, whatever its largest window.
        let view = runs_judge::view(s.runs.as_ref(), base.runs, &a.objects, since, n);
        let runs = s.runs.as_ref().zip(view.as_ref());
        let beyond_runs = runs.is_some_and(|(rs, v)| v.beyond(rs));
        if within && place_known && on_schedule && unfamiliar < win.min_distinct && !beyond_runs {
            return None;
        }
        if within && (unfamiliar >= win.min_distinct || beyond_runs) {
            let why = match runs {
                Some((_, v)) if unfamiliar < win.min_distinct => format!(
                    "{} of them no run of it ever read, more than one run reads: {}",
                    n.saturating_sub(v.known),
                    v.why()
                ),
                _ => format!(
                    "{unfamiliar} of them it never read before: its usual volume, not its usual objects"
                ),
            };
            (Rule::UnfamiliarObjects, win.min_distinct, why)
        } else if within {
            // A volume this principal knows, but not at this hour or from this place:
            // the context, not the count, is the anomaly, so the floor is the limit.
            let mut why = Vec::new();
            if !on_schedule {
                why.push(format!(
                    "it reads this much only around {} UTC, and now it is {:02}:00",
                    base.own.hours().join(", "),
                    base.hour
                ));
            }
            if !place_known {
                why.push(format!("it never called from {} before", obs.geo.label()));
            }
            (Rule::UnusualContext, win.min_distinct, why.join("; "))
        } else {
            // More than ever: its usual runs back to back (the pipeline that deploys
            // twice) explain it; objects no run read, or too many, do not.
            if place_known && runs.is_some_and(|(rs, v)| v.explains(rs, win.min_distinct)) {
                return None;
            }
            let limit =
                ((f64::from(own_max) * h.own_ratio).floor() as u32 + 1).max(win.min_distinct);
            let mut why = format!("more than it ever read (max {own_max})");
            if let Some((_, v)) = runs {
                why = format!("{why}; {}", v.why());
            }
            (Rule::volume(w), limit, why)
        }
    } else {
        let limit = (base.pop_q + 1).max(win.min_distinct);
        if n < limit || booting(s, obs, a, n, w, base) {
            return None;
        }
        let why = if base.pop_q > 0 {
            format!(
                "{:.0}% of {}s never read more than {} per {}",
                h.population_quantile * 100.0,
                obs.event.principal.kind.as_str().replace('_', " "),
                base.pop_q,
                win.window
            )
        } else {
            "no history to compare with yet".into()
        };
        (Rule::volume(w), limit, why)
    };
    // Gamma-Poisson tail of the count per window (own history, population prior).
    let (pop_sum, pop_n) = sum_of(base.pop);
    let prior = if pop_n > 0.0 { pop_sum / pop_n } else { 1.0 };
    let (own_sum, own_n) = if obs.learning() {
        (0.0, 0.0)
    } else {
        sum_of(base.own_hist)
    };
    let probability = count_tail(u64::from(n), own_sum, own_n, 1.0, prior, h.prior_windows);
    let expected = expected_count(own_sum, own_n, 1.0, prior, h.prior_windows);
    if probability > h.max_probability && rule.by_volume() {
        return None;
    }
    Some(Verdict {
        rule,
        limit,
        why,
        probability,
        expected,
    })
}

/// Whether a principal still learning reads what an application booting reads: its
/// own subset of a vault whose inventory is known, without listing it first.
fn booting(
    s: &Settings,
    obs: &Observation<'_>,
    a: &Active,
    n: u32,
    w: Win,
    base: &Baseline<'_>,
) -> bool {
    let Some(np) = &s.new_principal else {
        return false;
    };
    obs.learning()
        && base.inventory >= np.min_inventory
        && share(n, base.inventory) < np.min_share
        && !list_then_get(a, secs(s.window(w).window))
}

/// Mean of a histogram (bucket midpoints), for the per-window rate.
fn sum_of(h: &LogHist) -> (f64, f64) {
    let n = f64::from(h.total());
    if n == 0.0 {
        return (0.0, 0.0);
    }
    // Σ over quantiles approximates Σ counts without storing it.
    let mut sum = 0.0;
    let steps = 20;
    for i in 0..steps {
        sum += f64::from(h.quantile((f64::from(i) + 0.5) / f64::from(steps)));
    }
    (sum / f64::from(steps) * n, n)
}

/// Severity steps above the rule's base, and the aggravating facts in words: a List
/// before the reads, throttling, a new place, a count far above the limit.
fn aggravation(
    s: &Settings,
    obs: &Observation<'_>,
    a: &Active,
    n: u32,
    w: Win,
    v: &Verdict,
) -> (u32, Vec<String>) {
    let sev = &s.severity;
    let window_secs = secs(s.window(w).window);
    let since = obs.now.saturating_sub(window_secs);
    let mut steps = 0;
    let mut boosters = Vec::new();
    if list_then_get(a, window_secs) {
        steps += sev.list_then_get;
        boosters.push("List then Get".to_owned());
    }
    let throttled = a.throttled.count_since(since) as u32;
    if throttled > 0 {
        steps += sev.throttled;
        boosters.push(format!(
            "{} throttled (429)",
            plural(throttled as usize, "request", "requests")
        ));
    }
    if a.new_place && !obs.learning() {
        steps += sev.new_place;
        boosters.push(format!("from {}, a place it never used", obs.geo.label()));
    }
    if f64::from(n) >= f64::from(v.limit) * sev.raise_ratio {
        steps += 1;
    }
    (steps, boosters)
}

/// Whether a List preceded the episode's reads (within a window of its start).
fn list_then_get(a: &Active, window_secs: u32) -> bool {
    a.last_list > 0 && a.last_list >= a.first.saturating_sub(window_secs)
}

#[allow(clippy::too_many_arguments)]
fn evidence(
    s: &Settings,
    obs: &Observation<'_>,
    a: &Active,
    win: &Window,
    w: Win,
    base: &Baseline<'_>,
    v: &Verdict,
    episode: &Episode,
) -> Evidence {
    let h = &s.history;
    let window_secs = secs(win.window);
    let since = obs.now.saturating_sub(window_secs);
    let known = a
        .objects
        .flagged_since(if w == Win::Short { since } else { 0 });
    let kind = obs.event.principal.kind;
    let countries: Vec<String> = obs
        .profile
        .map(|p| p.countries.iter().map(|s| c_str(&s.item)).collect())
        .unwrap_or_default();
    let (own_hist, pop) = (base.own_hist, base.pop);
    let mut evidence = Evidence::new()
        .with("observed", json!({ "distinct_objects": episode.n, "window": episode.window, "span": episode.span, "reads_in_episode": a.reads,
            "previously_read": known, "list_then_get": list_then_get(a, window_secs), "throttled": a.throttled.count_since(since) as u32,
            "place": obs.geo.label(), "hour_utc": base.hour }))
        .with("baseline", json!({ "learning": obs.learning(), "history_days": (episode.history_days * 10.0).round() / 10.0,
            "own": { "windows": own_hist.total(), "quantile": own_hist.quantile(h.quantile), "max": own_hist.max(), "scheduled_hours": base.own.hours(), "countries": countries },
            "population": { "kind": kind.as_str(), "windows": pop.total(), "principals": base.pop_principals, "largest_window_quantile": base.pop_q } }))
        .with("expected", json!({ "limit": v.limit, "min_distinct": win.min_distinct, "expected_per_window": (v.expected * 100.0).round() / 100.0,
            "probability": v.probability, "odds": odds(v.probability), "max_probability": h.max_probability, "reason": v.why,
            "vault_known_objects": base.inventory, "inventory_share": (share(episode.n, base.inventory) * 1000.0).round() / 1000.0 }))
        .with_list("objects", a.samples.iter().cloned())
        .with_list("addresses", episode.addresses.iter().cloned())
        .with_list("operations", [obs.event.operation.to_string()]);
    if episode.n as usize > a.samples.len() {
        evidence.insert("objects_total", episode.n);
    }
    let since = if w == Win::Short { since } else { 0 };
    let runs = runs_judge::view(s.runs.as_ref(), base.runs, &a.objects, since, episode.n);
    if let (Some(v), Some(rs)) = (runs, &s.runs) {
        evidence.insert("runs", v.evidence(rs));
    }
    evidence
}
