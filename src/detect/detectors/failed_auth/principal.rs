//! The principal rules of `failed_auth`: one principal denied on many objects or
//! vaults, or far more often than its own (or its kind's) denial rate allows; its
//! tokens rejected or issued by a foreign tenant; the firewall of a vault it normally
//! reaches blocking it from a new place.
//!
//! In four steps: count the failure into the principal's episode, decide which rules
//! hold (the verdicts, each with its severity), then word each one and gather its
//! evidence.

use serde_json::json;

use super::rule::{PrincipalRule, NAME};
use super::settings::Settings;
use super::state::{push_capped, DenialKind, PrincipalWindow, State};
use super::wording::{self, PrincipalFacts};
use crate::alert::{Evidence, Severity};
use crate::detect::baseline::keys::{hash64, principal_key, time_of};
use crate::detect::baseline::stats::{count_tail, expected_count, DENIALS};
use crate::detect::definition::secs;
use crate::detect::finding::{raise, Finding};
use crate::detect::observation::Observation;
use crate::detect::text::{duration, list, who};
use crate::event::Outcome;

/// The principal's failures in the window, by what they say.
struct Counts {
    denials: u32,
    objects: u32,
    vaults: u32,
    rejected_tokens: u32,
    foreign_tokens: u32,
    firewall_blocks: u32,
}

/// A rule that holds, at its severity, with the statistics it rests on.
struct Verdict {
    rule: PrincipalRule,
    severity: Severity,
    /// The probability of the count and the expected count (the rate rules only).
    stats: Option<(f64, f64)>,
}

/// Counts the failure against its principal and reports the rules that hold.
pub fn observe(
    s: &Settings,
    state: &mut State,
    obs: &Observation<'_>,
    key: u128,
    window: u32,
    findings: &mut Vec<Finding>,
) {
    let w = state.principals.entry(key).or_default();
    let c = count(w, obs, window);
    for v in verdicts(s, obs, &c, w) {
        findings.push(finding(s, obs, &c, w, v));
    }
}

/// Adds the failure to the principal's episode (a new one after a quiet window) and
/// returns the counts in the window.
fn count(w: &mut PrincipalWindow, obs: &Observation<'_>, window: u32) -> Counts {
    let (e, now) = (obs.event, obs.now);
    let pop = obs.baselines.population();
    let foreign = e.outcome == Outcome::AuthnFailed
        && pop.has_tenants()
        && e.principal
            .tenant_id
            .as_deref()
            .is_some_and(|t| !pop.knows_tenant(principal_key(t)));
    let reaches_vault = obs.pair.is_some_and(|p| p.ok > 0);
    let blocked_from_new_place = e.outcome == Outcome::DeniedNetwork
        && reaches_vault
        && obs.profile.and_then(|p| p.knows_place(obs.geo)) == Some(false);
    if w.last < now.saturating_sub(window) {
        *w = PrincipalWindow::starting(now);
    }
    w.last = now;
    w.denials.add(now, window, 4096);
    if w.objects.touch(object_key(obs), now, false, 1024) {
        let label = match &e.object {
            Some(o) => format!("{}/{}", e.vault, o),
            None => format!("{}/{}", e.vault, e.operation),
        };
        push_capped(&mut w.samples, label);
    }
    if w.vaults.touch(obs.vault, now, false, 256) {
        push_capped(&mut w.vault_names, e.vault.to_string());
    }
    if let Some(ip) = e.caller_ip {
        push_capped(&mut w.addresses, ip);
    }
    w.count_outcome(DenialKind::of(e.outcome));
    if e.outcome == Outcome::AuthnFailed {
        w.authn.add(now, window, 4096);
    }
    if foreign {
        w.foreign.add(now, window, 4096);
    }
    // Sticky for the episode: once a firewall denial came from a place the
    // principal never used, the following ones are the same story.
    w.new_place |= blocked_from_new_place;
    if e.outcome == Outcome::DeniedNetwork && w.new_place && reaches_vault {
        w.firewall.add(now, window, 4096);
    }
    let since = now.saturating_sub(window);
    Counts {
        denials: w.denials.count_since(since) as u32,
        objects: w.objects.count_since(since) as u32,
        vaults: w.vaults.count_since(since) as u32,
        rejected_tokens: w.authn.count_since(since) as u32,
        foreign_tokens: w.foreign.count_since(since) as u32,
        firewall_blocks: w.firewall.count_since(since) as u32,
    }
}

/// The rules that hold and report now (each remembers the count it reported).
fn verdicts(
    s: &Settings,
    obs: &Observation<'_>,
    c: &Counts,
    w: &mut PrincipalWindow,
) -> Vec<Verdict> {
    let (p, sev) = (&s.principal, &s.severity);
    let mut out = Vec::new();
    let enumeration =
        c.denials >= p.min_denials && (c.objects >= p.min_objects || c.vaults >= p.min_vaults);
    let persistent = !obs.learning() && c.denials >= p.persistent_min_denials;
    let stats = (enumeration || persistent).then(|| improbability(s, obs, c.denials));
    if let Some(stats) = stats.filter(|(prob, _)| *prob <= p.max_probability) {
        let rule = if enumeration {
            PrincipalRule::DeniedEnumeration
        } else {
            PrincipalRule::DenialBurst
        };
        // Breadth makes a denial count worse: many objects, many vaults.
        let breadth = u32::from(c.objects >= sev.raise_at_objects)
            + u32::from(c.vaults >= sev.raise_at_vaults);
        if w.report(rule, c.denials) {
            out.push(Verdict {
                rule,
                severity: raise(sev.principal(rule), breadth),
                stats: Some(stats),
            });
        }
    }
    let tokens = if c.foreign_tokens >= s.token.foreign_tenant_min
        && w.report(PrincipalRule::ForeignTenantToken, c.foreign_tokens)
    {
        Some(PrincipalRule::ForeignTenantToken)
    } else if c.rejected_tokens >= s.token.min_failures
        && w.report(PrincipalRule::TokenRejected, c.rejected_tokens)
    {
        Some(PrincipalRule::TokenRejected)
    } else {
        None
    };
    let firewall = (c.firewall_blocks >= s.firewall.min_denials
        && w.report(PrincipalRule::FirewallNewNetwork, c.firewall_blocks))
    .then_some(PrincipalRule::FirewallNewNetwork);
    for rule in tokens.into_iter().chain(firewall) {
        out.push(Verdict {
            rule,
            severity: sev.principal(rule),
            stats: None,
        });
    }
    out
}

/// The probability of `n` denials in the window, and the expected count, for this
/// principal: its own decayed denial rate once it has learned, its kind's before.
fn improbability(s: &Settings, obs: &Observation<'_>, n: u32) -> (f64, f64) {
    let p = &s.principal;
    let window_h = f64::from(secs(p.window)) / 3600.0;
    let kind = obs.event.principal.kind;
    let prior = f64::from(obs.baselines.population().kind(kind).rates[DENIALS]);
    let (events, exposure, factor) = match obs.profile {
        Some(prof) if !obs.learning() => {
            let (n, t) = prof.counter(DENIALS, obs.now);
            (n, t, prof.day.factor(obs.now))
        }
        _ => (0.0, 0.0, 1.0),
    };
    (
        count_tail(
            u64::from(n),
            events,
            exposure,
            window_h * factor,
            prior,
            p.prior_hours,
        ),
        expected_count(events, exposure, window_h * factor, prior, p.prior_hours),
    )
}

/// The finding of one verdict: its summary and evidence.
fn finding(
    s: &Settings,
    obs: &Observation<'_>,
    c: &Counts,
    w: &PrincipalWindow,
    v: Verdict,
) -> Finding {
    let e = obs.event;
    let (who, span) = (who(e), duration(obs.now.saturating_sub(w.first)));
    let addresses: Vec<String> = w.addresses.iter().map(|a| a.to_string()).collect();
    let place = format!(
        "{} ({})",
        list(&addresses, addresses.len(), 2),
        obs.geo.label()
    );
    let facts = PrincipalFacts {
        who: &who,
        place: &place,
        span: &span,
        denials: c.denials,
        objects: c.objects,
        vaults: c.vaults,
    };
    let summary = match (v.rule, v.stats) {
        (PrincipalRule::DeniedEnumeration | PrincipalRule::DenialBurst, Some((prob, expected))) => {
            wording::denials(&facts, w, expected, &s.principal.window.to_string(), prob)
        }
        (PrincipalRule::ForeignTenantToken, _) => {
            let tenant = e.principal.tenant_id.as_deref().unwrap_or("?");
            wording::foreign_tenant_token(&facts, c.foreign_tokens, tenant)
        }
        (PrincipalRule::FirewallNewNetwork, _) => {
            wording::firewall_new_network(&facts, &e.vault, c.firewall_blocks)
        }
        _ => wording::token_rejected(&facts, w, c.rejected_tokens),
    };
    let mut f = Finding::about(obs, NAME, v.rule.as_str(), v.severity);
    f.vault = if c.vaults > 1 {
        "*".into()
    } else {
        e.vault.to_string()
    };
    f.first_seen = time_of(w.first);
    f.summary = summary;
    f.evidence = evidence(s, obs, c, w, v.stats);
    f
}

fn evidence(
    s: &Settings,
    obs: &Observation<'_>,
    c: &Counts,
    w: &PrincipalWindow,
    stats: Option<(f64, f64)>,
) -> Evidence {
    let (e, now) = (obs.event, obs.now);
    let (own_rate, days) = match obs.profile {
        Some(pr) => {
            let (n, t) = pr.counter(DENIALS, now);
            (n / t.max(1.0), pr.history_days(now))
        }
        None => (0.0, 0.0),
    };
    let pop_rate = f64::from(obs.baselines.population().kind(e.principal.kind).rates[DENIALS]);
    let p = &s.principal;
    Evidence::new()
        .with("observed", json!({ "denials": c.denials, "distinct_objects": c.objects, "distinct_vaults": c.vaults,
            "rejected_tokens": c.rejected_tokens, "foreign_tenant_tokens": c.foreign_tokens, "firewall_blocks_from_new_place": c.firewall_blocks,
            "window": p.window.to_string(), "outcomes": wording::outcome_words(w) }))
        .with("baseline", json!({ "learning": obs.learning(), "history_days": (days * 10.0).round() / 10.0,
            "usual_denials_per_hour": (own_rate * 1000.0).round() / 1000.0,
            "population_denials_per_hour": (pop_rate * 1000.0).round() / 1000.0, "kind": e.principal.kind.as_str() }))
        .with("expected", json!({ "min_denials": p.min_denials, "min_objects": p.min_objects,
            "expected_denials_in_window": stats.map(|p| (p.1 * 100.0).round() / 100.0), "probability": stats.map(|p| p.0),
            "max_probability": p.max_probability }))
        .with_list("objects", w.samples.iter().cloned())
        .with_list("vaults", w.vault_names.iter().cloned())
        .with_list("addresses", w.addresses.iter().map(|a| a.to_string()))
        .with_list("operations", [e.operation.to_string()])
}

/// The key denied objects are counted by: vault, object kind and name (or operation).
fn object_key(obs: &Observation<'_>) -> u64 {
    let e = obs.event;
    let name = e
        .object
        .as_ref()
        .and_then(|o| o.name.as_deref())
        .unwrap_or_else(|| e.operation.as_str());
    let kind = e.object.as_ref().map_or("", |o| o.kind.as_str());
    obs.vault ^ hash64(kind.as_bytes()).rotate_left(17) ^ hash64(name.as_bytes()).rotate_left(31)
}
