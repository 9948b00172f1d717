//! The judgement of `bulk_secret_retrieval`: is this many distinct objects, in this
//! window, at this hour, from this place, usual for this principal (or, while it is
//! learning, for its kind)? Counting lives in `bulk_state.rs`.

use serde_json::json;

use super::baseline::keys::{hash64, time_of};
use super::baseline::stats::{count_tail, expected_count};
use super::baseline::{c_str, PrincipalProfile};
use super::bulk_retrieval::{BulkRetrieval, NAME};
use super::bulk_state::{Active, History};
use super::defs::secs;
use super::text::{duration, list, odds, plural, who};
use super::{raise, Finding, Observation};
use crate::alert::Evidence;
use crate::event::{ObjectKind, Outcome};

const SAMPLES: usize = 10;

/// Reads one event.
pub(crate) fn observe(d: &mut BulkRetrieval, obs: &Observation<'_>, findings: &mut Vec<Finding>) {
    let e = obs.event;
    let Some(key) = obs.principal else { return };
    let op = e.operation.as_str();
    let (short_w, long_w) = (secs(d.s.short.window), secs(d.s.long.window));
    let now = obs.now;
    if now >= d.state.last_prune.saturating_add(600) {
        prune(d, obs);
    }
    let throttled = e.outcome == Outcome::Throttled;
    let listing = e.outcome == Outcome::Ok && d.s.is_list(op);
    let reading = e.outcome == Outcome::Ok && d.s.is_read(op);
    if !(throttled || listing || reading) {
        return;
    }
    let kind = e.principal.kind.index();
    let large_at = (d.s.short.min_distinct / 2).max(4);
    let mut a = d.state.active.remove(&(key, obs.vault)).unwrap_or_default();
    // Close tumbles that ended before this event (learning), then start a new episode if quiet.
    if a.last > 0 && now / short_w != a.short_tumble {
        d.state
            .record(key, obs.vault, kind, &mut a, short_w, large_at);
    }
    if a.last > 0 && now / long_w != a.long_tumble {
        d.state.record_long(key, kind, &mut a);
    }
    a.short_tumble = now / short_w;
    a.long_tumble = now / long_w;
    if a.last < now.saturating_sub(long_w) {
        a = Active {
            short_tumble: a.short_tumble,
            long_tumble: a.long_tumble,
            first: now,
            kind: kind as u8,
            ..Default::default()
        };
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
        let history = d.state.history.get_or_insert_with(key, History::default);
        let known = history.knows(h);
        history.learn_object(h);
        history.last = now;
        if history.first == 0 {
            history.first = now;
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
        judge(d, obs, &mut a, short, Win::Short, findings);
        if a.reported[0] == 0 {
            judge(d, obs, &mut a, long, Win::Long, findings);
        }
    }
    d.state.active.insert((key, obs.vault), a);
}

fn prune(d: &mut BulkRetrieval, obs: &Observation<'_>) {
    let now = obs.now;
    d.state.last_prune = now;
    let (short_w, long_w) = (secs(d.s.short.window), secs(d.s.long.window));
    let large_at = (d.s.short.min_distinct / 2).max(4);
    let idle: Vec<(u128, u64)> = d
        .state
        .active
        .iter()
        .filter(|(_, a)| a.last < now.saturating_sub(long_w))
        .map(|(k, _)| *k)
        .collect();
    for (key, vault) in idle {
        if let Some(mut a) = d.state.active.remove(&(key, vault)) {
            let kind = usize::from(a.kind);
            d.state.record(key, vault, kind, &mut a, short_w, large_at);
            d.state.record_long(key, kind, &mut a);
        }
    }
    if now >= d.state.last_population.saturating_add(3600) {
        d.state
            .refresh_population(d.s.history.population_quantile, now);
    }
    let forget = now.saturating_sub(obs.baselines.settings().forget_secs);
    d.state
        .history
        .retain(|k, h| h.last >= forget && obs.baselines.principal(k).is_some());
    if d.state.history.capacity() > 2 * d.state.history.len().max(64) {
        d.state.history.shrink_to_fit();
        d.state.active.shrink_to_fit();
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Win {
    Short,
    Long,
}

/// Mean of a histogram (bucket midpoints), for the per-window rate.
fn sum_of(h: &super::baseline::stats::LogHist) -> (f64, f64) {
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

struct Verdict {
    rule: &'static str,
    limit: u32,
    why: String,
}

fn judge(
    d: &mut BulkRetrieval,
    obs: &Observation<'_>,
    a: &mut Active,
    n: u32,
    w: Win,
    findings: &mut Vec<Finding>,
) {
    let (win, idx) = match w {
        Win::Short => (&d.s.short, 0),
        Win::Long => (&d.s.long, 1),
    };
    if n < win.min_distinct {
        return;
    }
    let h = &d.s.history;
    let kind = obs.event.principal.kind;
    let hist_default = History::default();
    let own = d
        .state
        .history
        .get(obs.principal.unwrap_or(0))
        .unwrap_or(&hist_default);
    let own_hist = if w == Win::Short {
        &own.short
    } else {
        &own.long
    };
    let pop = if w == Win::Short {
        &d.state.pop_short[kind.index()]
    } else {
        &d.state.pop_long[kind.index()]
    };
    let learned = !obs.learning() && own_hist.total() >= win.min_history_windows;
    let place_known = !a.new_place;
    let hour = (obs.now % 86_400) / 3600;
    let scheduled = own.scheduled(h.scheduled_max_hours, h.scheduled_min_windows);
    // The schedule is an hour of the day: it says something about a ten-minute
    // window, nothing about a six-hour one.
    let on_schedule = w == Win::Long || !scheduled || own.on_schedule(hour, h.schedule_slack_hours);
    let k = kind.index();
    let pop_q = if d.state.pop_principals[k] >= h.min_population_principals {
        d.state.pop_principal[k][idx]
    } else {
        0
    };
    let verdict = if learned {
        let own_max = own_hist.max();
        let within = f64::from(n) <= f64::from(own_max) * h.own_ratio;
        // Objects it never read before, in this window: a volume it knows, made of
        // secrets it never touches, is someone else using its credentials.
        let since = match w {
            Win::Short => obs.now.saturating_sub(secs(win.window)),
            Win::Long => 0,
        };
        let unfamiliar = n.saturating_sub(a.objects.flagged_since(since) as u32);
        if within && place_known && on_schedule && unfamiliar < win.min_distinct {
            return;
        }
        if within && unfamiliar >= win.min_distinct {
            Verdict {
                rule: "unfamiliar_objects",
                limit: win.min_distinct,
                why: format!(
                    "{unfamiliar} of them it never read before: its usual volume, not its usual objects"
                ),
            }
        } else if within {
            // A volume this principal knows, but not at this hour or from this place:
            // the context, not the count, is the anomaly, so the floor is the limit.
            let mut why = Vec::new();
            if !on_schedule {
                why.push(format!(
                    "it reads this much only around {} UTC, and now it is {hour:02}:00",
                    own.hours().join(", ")
                ));
            }
            if !place_known {
                why.push(format!("it never called from {} before", obs.geo.label()));
            }
            Verdict {
                rule: "unusual_context",
                limit: win.min_distinct,
                why: why.join("; "),
            }
        } else {
            let limit =
                ((f64::from(own_max) * h.own_ratio).floor() as u32 + 1).max(win.min_distinct);
            Verdict {
                rule: if w == Win::Short {
                    "burst"
                } else {
                    "low_and_slow"
                },
                limit,
                why: format!("more than it ever read (max {own_max})"),
            }
        }
    } else {
        let limit = (pop_q + 1).max(win.min_distinct);
        if n < limit {
            return;
        }
        let why = if pop_q > 0 {
            format!(
                "{:.0}% of {}s never read more than {pop_q} per {}",
                h.population_quantile * 100.0,
                kind.as_str().replace('_', " "),
                win.window
            )
        } else {
            "no history to compare with yet".into()
        };
        Verdict {
            rule: if w == Win::Short {
                "burst"
            } else {
                "low_and_slow"
            },
            limit,
            why,
        }
    };
    // Gamma-Poisson tail of the count per window (own history, population prior).
    let (pop_sum, pop_n) = sum_of(pop);
    let prior = if pop_n > 0.0 { pop_sum / pop_n } else { 1.0 };
    let (own_sum, own_n) = if obs.learning() {
        (0.0, 0.0)
    } else {
        sum_of(own_hist)
    };
    let p = count_tail(u64::from(n), own_sum, own_n, 1.0, prior, h.prior_windows);
    let expected = expected_count(own_sum, own_n, 1.0, prior, h.prior_windows);
    // The volume rules must also be improbable; unusual_context and
    // unfamiliar_objects are about when, where and what, not how many.
    let by_volume = !matches!(verdict.rule, "unusual_context" | "unfamiliar_objects");
    if p > h.max_probability && by_volume {
        return;
    }
    let ridx = if verdict.rule == "unusual_context" {
        2
    } else {
        idx
    };
    if !(a.reported[ridx] == 0 || n >= a.reported[ridx] * 2) {
        return;
    }
    a.reported[ridx] = n;
    let sev = &d.s.severity;
    let base = match (verdict.rule, w) {
        ("burst", _) | ("unfamiliar_objects", Win::Short) => sev.burst,
        ("low_and_slow", _) | ("unfamiliar_objects", Win::Long) => sev.low_and_slow,
        _ => sev.unusual_context,
    };
    let window_secs = secs(win.window);
    let since = obs.now.saturating_sub(window_secs);
    let list_then_get = a.last_list > 0 && a.last_list >= a.first.saturating_sub(window_secs);
    let throttled = a.throttled.count_since(since) as u32;
    let mut steps = 0;
    let mut boosters = Vec::new();
    if list_then_get {
        steps += sev.list_then_get;
        boosters.push("List then Get".to_owned());
    }
    if throttled > 0 {
        steps += sev.throttled;
        boosters.push(format!(
            "{} throttled (429)",
            plural(throttled as usize, "request", "requests")
        ));
    }
    if !place_known && !obs.learning() {
        steps += sev.new_place;
        boosters.push(format!("from {}, a place it never used", obs.geo.label()));
    }
    if f64::from(n) >= f64::from(verdict.limit) * sev.raise_ratio {
        steps += 1;
    }
    let known = a
        .objects
        .flagged_since(if w == Win::Short { since } else { 0 });
    let first_in_window = time_of(a.first.max(since));
    let span = duration(obs.now.saturating_sub(a.first.max(since)));
    let e = obs.event;
    let noun = match e.object.as_ref().map(|o| o.kind) {
        Some(ObjectKind::Key) => "keys",
        Some(ObjectKind::Certificate) => "certificates",
        _ => "secrets",
    };
    let addresses: Vec<String> = a.addresses.iter().map(|ip| ip.to_string()).collect();
    let days = obs
        .profile
        .map_or(0.0, |p: &PrincipalProfile| p.history_days(obs.now));
    let usual = if learned || (!obs.learning() && own_hist.total() > 0) {
        format!(
            "its usual is ≤ {} per {} (p{:.0} over {:.0} days)",
            own_hist.quantile(h.quantile),
            win.window,
            h.quantile * 100.0,
            days
        )
    } else {
        format!(
            "it is new ({}); {}",
            if obs.learning() {
                "still learning"
            } else {
                "little history"
            },
            verdict.why
        )
    };
    let mut summary = format!(
        "{} read {n} distinct {noun} of vault {} in {span} from {} ({}); {usual}",
        who(e),
        e.vault,
        list(&addresses, addresses.len(), 2),
        obs.geo.label()
    );
    if learned {
        summary.push_str(&format!("; {}", verdict.why));
    }
    for b in &boosters {
        summary.push_str(&format!("; {b}"));
    }
    summary.push_str(&format!("; objects: {}", list(&a.samples, n as usize, 4)));
    let mut f = Finding::about(obs, NAME, verdict.rule, raise(base, steps));
    f.first_seen = first_in_window;
    f.summary = summary;
    let countries: Vec<String> = obs
        .profile
        .map(|p| p.countries.iter().map(|s| c_str(&s.item)).collect())
        .unwrap_or_default();
    f.evidence = Evidence::new()
        .with("observed", json!({ "distinct_objects": n, "window": win.window.to_string(), "span": span, "reads_in_episode": a.reads,
            "previously_read": known, "list_then_get": list_then_get, "throttled": throttled, "place": obs.geo.label(), "hour_utc": hour }))
        .with("baseline", json!({ "learning": obs.learning(), "history_days": (days * 10.0).round() / 10.0,
            "own": { "windows": own_hist.total(), "quantile": own_hist.quantile(h.quantile), "max": own_hist.max(), "scheduled_hours": own.hours(), "countries": countries },
            "population": { "kind": kind.as_str(), "windows": pop.total(), "principals": d.state.pop_principals[k], "largest_window_quantile": pop_q } }))
        .with("expected", json!({ "limit": verdict.limit, "min_distinct": win.min_distinct, "expected_per_window": (expected * 100.0).round() / 100.0,
            "probability": p, "odds": odds(p), "max_probability": h.max_probability, "reason": verdict.why }))
        .with_list("objects", a.samples.iter().cloned())
        .with_list("addresses", addresses)
        .with_list("operations", [e.operation.to_string()]);
    if n as usize > a.samples.len() {
        f.evidence.insert("objects_total", n);
    }
    findings.push(f);
}
