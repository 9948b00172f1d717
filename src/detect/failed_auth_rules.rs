//! The windows and rules of `failed_auth` (settings and loading are in
//! `failed_auth.rs`). Windows are per principal and per caller address; an episode
//! starts with the first failure after a quiet window and its findings are reported
//! when a rule first holds and again each time the count doubles, so a long attack
//! extends one incident instead of raising one alert per request.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use super::baseline::keys::{principal_key, time_of};
use super::defs::secs;
use super::failed_auth::{object_key, AddrMap, FailedAuth, PrincipalMap, NAME};
use super::text::{duration, list, who};
use super::windows::{CountWindow, DistinctWindow};
use super::{raise, DetectorMemory, Finding, Observation};
use crate::alert::{Evidence, PrincipalSummary, Severity};
use crate::event::Outcome;

const SAMPLES: usize = 8;

/// Failures of one principal in the current episode.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PrincipalWindow {
    denials: CountWindow,
    objects: DistinctWindow,
    vaults: DistinctWindow,
    authn: CountWindow,
    foreign: CountWindow,
    firewall: CountWindow,
    new_place: bool,
    outcomes: [u32; 4],
    first: u32,
    last: u32,
    reported: [u32; 5],
    samples: Vec<String>,
    vault_names: Vec<String>,
    addresses: Vec<IpAddr>,
}

/// Failures from one address in the current episode.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AddressWindow {
    denials: CountWindow,
    identities: DistinctWindow,
    vaults: DistinctWindow,
    anonymous: CountWindow,
    first: u32,
    last: u32,
    reported: [u32; 3],
    identity_names: Vec<String>,
    vault_names: Vec<String>,
}

/// Everything `failed_auth` holds.
#[derive(Debug, Default)]
pub struct State {
    principals: PrincipalMap<PrincipalWindow>,
    addresses: AddrMap<AddressWindow>,
    last_prune: u32,
}

#[derive(Serialize, Deserialize)]
struct Snapshot {
    principals: Vec<(u128, PrincipalWindow)>,
    addresses: Vec<(IpAddr, AddressWindow)>,
    last_prune: u32,
}

impl State {
    pub(crate) fn snapshot(&self) -> impl Serialize {
        Snapshot {
            principals: self
                .principals
                .iter()
                .map(|(k, v)| (*k, v.clone()))
                .collect(),
            addresses: self
                .addresses
                .iter()
                .map(|(k, v)| (*k, v.clone()))
                .collect(),
            last_prune: self.last_prune,
        }
    }

    pub(crate) fn from_snapshot(bytes: &[u8]) -> Result<State, serde_json::Error> {
        let s: Snapshot = serde_json::from_slice(bytes)?;
        Ok(State {
            principals: s.principals.into_iter().collect(),
            addresses: s.addresses.into_iter().collect(),
            last_prune: s.last_prune,
        })
    }

    pub(crate) fn memory(&self) -> DetectorMemory {
        let p: usize = self
            .principals
            .values()
            .map(|w| std::mem::size_of_val(w) + w.denials.heap_bytes() + w.objects.heap_bytes())
            .sum();
        let a: usize = self
            .addresses
            .values()
            .map(|w| std::mem::size_of_val(w) + w.denials.heap_bytes() + w.identities.heap_bytes())
            .sum();
        DetectorMemory {
            transient_entries: self.principals.len() + self.addresses.len(),
            transient_bytes: p + a,
            ..Default::default()
        }
    }
}

fn report(prev: &mut u32, n: u32) -> bool {
    if *prev == 0 || n >= prev.saturating_mul(2) {
        *prev = n;
        true
    } else {
        false
    }
}

fn push_capped<T: PartialEq>(v: &mut Vec<T>, item: T) {
    if v.len() < SAMPLES && !v.contains(&item) {
        v.push(item);
    }
}

fn outcome_index(o: Outcome) -> usize {
    match o {
        Outcome::AuthnFailed => 0,
        Outcome::DeniedRbac => 1,
        Outcome::DeniedPolicy => 2,
        _ => 3,
    }
}

fn outcome_words(o: &[u32; 4]) -> String {
    let names = [
        "token rejected (401)",
        "RBAC denied",
        "access policy denied",
        "firewall blocked",
    ];
    let parts: Vec<String> = names
        .iter()
        .zip(o)
        .filter(|(_, n)| **n > 0)
        .map(|(name, n)| format!("{name} {n}"))
        .collect();
    parts.join(", ")
}

/// Reads one event.
pub(crate) fn observe(d: &mut FailedAuth, obs: &Observation<'_>, findings: &mut Vec<Finding>) {
    let e = obs.event;
    if !e.outcome.is_denial() {
        return;
    }
    let now = obs.now;
    let pw_secs = secs(d.s.principal.window);
    let aw_secs = secs(d.s.address.window);
    if now >= d.state.last_prune.saturating_add(600) {
        let (pb, ab) = (now.saturating_sub(pw_secs), now.saturating_sub(aw_secs));
        d.state.principals.retain(|_, w| w.last >= pb);
        d.state.addresses.retain(|_, w| w.last >= ab);
        d.state.last_prune = now;
    }
    let mut address_flagged = false;
    if let Some(ip) = e.caller_ip {
        address_flagged = address_rules(d, obs, ip, aw_secs, findings);
    }
    if let Some(key) = obs.principal {
        // Once an address is reported for spraying several identities, their own
        // failures from it are that incident's evidence, not incidents of their own.
        let before = findings.len();
        principal_rules(d, obs, key, pw_secs, findings);
        if address_flagged {
            findings.truncate(before);
        }
    }
}

/// Returns whether the address is reported (in its current episode) for failures
/// across several identities.
fn address_rules(
    d: &mut FailedAuth,
    obs: &Observation<'_>,
    ip: IpAddr,
    window: u32,
    findings: &mut Vec<Finding>,
) -> bool {
    let (e, now, a) = (obs.event, obs.now, &d.s.address);
    let w = d.state.addresses.entry(ip).or_default();
    if w.last < now.saturating_sub(window) {
        *w = AddressWindow {
            first: now,
            ..Default::default()
        };
    }
    w.last = now;
    w.denials.add(now, window, 4096);
    match obs.principal {
        Some(k) => {
            if w.identities
                .touch(k as u64 ^ (k >> 64) as u64, now, false, 1024)
            {
                push_capped(&mut w.identity_names, e.identity().into_owned());
            }
        }
        None => w.anonymous.add(now, window, 4096),
    }
    if w.vaults.touch(obs.vault, now, false, 256) {
        push_capped(&mut w.vault_names, e.vault.to_string());
    }
    let since = now.saturating_sub(window);
    let (ids, vaults, denials, anon) = (
        w.identities.count_since(since) as u32,
        w.vaults.count_since(since) as u32,
        w.denials.count_since(since) as u32,
        w.anonymous.count_since(since) as u32,
    );
    let sev = &d.s.severity;
    let mut fire = |rule: &str, severity: Severity, summary: String, w: &AddressWindow| {
        let mut f = Finding::about(obs, NAME, rule, severity);
        f.identity = format!("ip:{ip}");
        f.principal = PrincipalSummary::anonymous();
        f.vault = if vaults > 1 {
            "*".into()
        } else {
            e.vault.to_string()
        };
        f.first_seen = time_of(w.first);
        f.summary = summary;
        f.evidence = Evidence::new()
            .with("observed", serde_json::json!({ "denials": denials, "distinct_identities": ids, "distinct_vaults": vaults,
                "anonymous_failures": anon, "window": d.s.address.window.to_string(), "place": obs.geo.label() }))
            .with("expected", serde_json::json!({ "min_identities": a.min_identities, "min_vaults": a.min_vaults, "min_anonymous": a.min_anonymous }))
            .with_list("identities", w.identity_names.iter().cloned())
            .with_list("vaults", w.vault_names.iter().cloned())
            .with_list("addresses", [ip.to_string()]);
        findings.push(f);
    };
    let span = duration(now.saturating_sub(w.first));
    if ids >= a.min_identities && report(&mut w.reported[0], ids) {
        let s = format!("address {ip} ({}) was denied for {ids} different identities in {span} ({} denials on {}): one caller trying many stolen or guessed tokens; identities: {}",
            obs.geo.label(), denials, list(&w.vault_names, vaults as usize, 3), list(&w.identity_names, ids as usize, 4));
        let snapshot = w.clone();
        fire("address_spray", sev.address_spray, s, &snapshot);
    }
    let w = d.state.addresses.entry(ip).or_default();
    // One identity failing across vaults is the principal rules' case; here it takes
    // several identities, or callers without any.
    let several = ids >= 2 || anon > 0;
    if several
        && vaults >= a.min_vaults
        && denials >= a.min_vault_denials
        && report(&mut w.reported[1], vaults)
    {
        let s = format!("address {ip} ({}) was denied {denials} times on {vaults} vaults in {span} ({}): a sweep across vaults",
            obs.geo.label(), list(&w.vault_names, vaults as usize, 4));
        let snapshot = w.clone();
        fire("address_vault_sweep", sev.address_vault_sweep, s, &snapshot);
    }
    let w = d.state.addresses.entry(ip).or_default();
    if anon >= a.min_anonymous && report(&mut w.reported[2], anon) {
        let s = format!("address {ip} ({}) sent {anon} failing requests without any identity in {span} (SDK challenge requests excluded) to {}",
            obs.geo.label(), list(&w.vault_names, vaults as usize, 4));
        let snapshot = w.clone();
        fire("anonymous_failures", sev.anonymous_failures, s, &snapshot);
    }
    let w = d.state.addresses.entry(ip).or_default();
    w.identities.len() >= 2 && (w.reported[0] > 0 || w.reported[1] > 0)
}

struct Counts {
    n: u32,
    objects: u32,
    vaults: u32,
    authn: u32,
    foreign: u32,
    firewall: u32,
}

fn principal_rules(
    d: &mut FailedAuth,
    obs: &Observation<'_>,
    key: u128,
    window: u32,
    findings: &mut Vec<Finding>,
) {
    let (e, now) = (obs.event, obs.now);
    let pop = obs.baselines.population();
    let foreign = e.outcome == Outcome::AuthnFailed
        && pop.has_tenants()
        && e.principal
            .tenant_id
            .as_deref()
            .is_some_and(|t| !pop.knows_tenant(principal_key(t)));
    let blocked_from_new_place = e.outcome == Outcome::DeniedNetwork
        && obs.pair.is_some_and(|p| p.ok > 0)
        && obs.profile.and_then(|p| p.knows_place(obs.geo)) == Some(false);
    let c = {
        let w = d.state.principals.entry(key).or_default();
        if w.last < now.saturating_sub(window) {
            *w = PrincipalWindow {
                first: now,
                ..Default::default()
            };
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
        w.outcomes[outcome_index(e.outcome)] += 1;
        if e.outcome == Outcome::AuthnFailed {
            w.authn.add(now, window, 4096);
        }
        if foreign {
            w.foreign.add(now, window, 4096);
        }
        // Sticky for the episode: once a firewall denial came from a place the
        // principal never used, the following ones are the same story.
        w.new_place |= blocked_from_new_place;
        if e.outcome == Outcome::DeniedNetwork && w.new_place && obs.pair.is_some_and(|p| p.ok > 0)
        {
            w.firewall.add(now, window, 4096);
        }
        let since = now.saturating_sub(window);
        Counts {
            n: w.denials.count_since(since) as u32,
            objects: w.objects.count_since(since) as u32,
            vaults: w.vaults.count_since(since) as u32,
            authn: w.authn.count_since(since) as u32,
            foreign: w.foreign.count_since(since) as u32,
            firewall: w.firewall.count_since(since) as u32,
        }
    };
    let p = &d.s.principal;
    let enumeration =
        c.n >= p.min_denials && (c.objects >= p.min_objects || c.vaults >= p.min_vaults);
    let persistent = !obs.learning() && c.n >= p.persistent_min_denials;
    let stats = (enumeration || persistent).then(|| d.improbability(obs, c.n));
    let (s, sev) = (&d.s, &d.s.severity);
    let Some(w) = d.state.principals.get_mut(&key) else {
        return;
    };
    let span = duration(now.saturating_sub(w.first));
    let mut boost = 0;
    if c.objects >= sev.raise_at_objects {
        boost += 1;
    }
    if c.vaults >= sev.raise_at_vaults {
        boost += 1;
    }
    let place = format!(
        "{} ({})",
        list(
            &w.addresses
                .iter()
                .map(|a| a.to_string())
                .collect::<Vec<_>>(),
            w.addresses.len(),
            2
        ),
        obs.geo.label()
    );
    let mut emit = |rule: &str,
                    severity: Severity,
                    summary: String,
                    w: &PrincipalWindow,
                    prob: Option<(f64, f64)>| {
        let mut f = Finding::about(obs, NAME, rule, severity);
        f.vault = if c.vaults > 1 {
            "*".into()
        } else {
            e.vault.to_string()
        };
        f.first_seen = time_of(w.first);
        f.summary = summary;
        let (own_rate, days) = match obs.profile {
            Some(pr) => {
                let (n, t) = pr.counter(super::baseline::stats::DENIALS, now);
                (n / t.max(1.0), pr.history_days(now))
            }
            None => (0.0, 0.0),
        };
        let pop_rate = f64::from(
            obs.baselines.population().kind(e.principal.kind).rates
                [super::baseline::stats::DENIALS],
        );
        f.evidence = Evidence::new()
            .with("observed", serde_json::json!({ "denials": c.n, "distinct_objects": c.objects, "distinct_vaults": c.vaults,
                "rejected_tokens": c.authn, "foreign_tenant_tokens": c.foreign, "firewall_blocks_from_new_place": c.firewall,
                "window": s.principal.window.to_string(), "outcomes": outcome_words(&w.outcomes) }))
            .with("baseline", serde_json::json!({ "learning": obs.learning(), "history_days": (days * 10.0).round() / 10.0,
                "usual_denials_per_hour": (own_rate * 1000.0).round() / 1000.0,
                "population_denials_per_hour": (pop_rate * 1000.0).round() / 1000.0, "kind": e.principal.kind.as_str() }))
            .with("expected", serde_json::json!({ "min_denials": s.principal.min_denials, "min_objects": s.principal.min_objects,
                "expected_denials_in_window": prob.map(|p| (p.1 * 100.0).round() / 100.0), "probability": prob.map(|p| p.0),
                "max_probability": s.principal.max_probability }))
            .with_list("objects", w.samples.iter().cloned())
            .with_list("vaults", w.vault_names.iter().cloned())
            .with_list("addresses", w.addresses.iter().map(|a| a.to_string()))
            .with_list("operations", [e.operation.to_string()]);
        findings.push(f);
    };
    if let Some((prob, expected)) = stats.filter(|(prob, _)| *prob <= p.max_probability) {
        let (rule, severity, idx) = if enumeration {
            (
                "denied_enumeration",
                raise(sev.denied_enumeration, boost),
                0,
            )
        } else {
            ("denial_burst", raise(sev.denial_burst, boost), 1)
        };
        if report(&mut w.reported[idx], c.n) {
            let s = format!("{} was denied {} times in {span} on {} across {} from {place}: {}; {} (expected {:.1} in {}, probability {})",
                who(e), c.n, super::text::plural(c.objects as usize, "object", "distinct objects"), list(&w.vault_names, c.vaults as usize, 3),
                outcome_words(&w.outcomes), list(&w.samples, c.objects as usize, 4), expected, s.principal.window, super::text::odds(prob));
            let snap = w.clone();
            emit(rule, severity, s, &snap, Some((prob, expected)));
        }
    }
    let Some(w) = d.state.principals.get_mut(&key) else {
        return;
    };
    if c.foreign >= s.token.foreign_tenant_min && report(&mut w.reported[3], c.foreign) {
        let tenant = e.principal.tenant_id.as_deref().unwrap_or("?");
        let s = format!("{} presented {} token(s) issued by tenant {tenant}, which no successful request has ever carried, from {place}: a forged or foreign-tenant token",
            who(e), c.foreign);
        let snap = w.clone();
        emit(
            "foreign_tenant_token",
            sev.foreign_tenant_token,
            s,
            &snap,
            None,
        );
    } else if c.authn >= s.token.min_failures && report(&mut w.reported[2], c.authn) {
        let s = format!("{} had {} requests rejected for a bad token (401: expired, forged or wrong audience) in {span} from {place}; objects: {}",
            who(e), c.authn, list(&w.samples, c.objects as usize, 4));
        let snap = w.clone();
        emit("token_rejected", sev.token_rejected, s, &snap, None);
    }
    let Some(w) = d.state.principals.get_mut(&key) else {
        return;
    };
    if c.firewall >= s.firewall.min_denials && report(&mut w.reported[4], c.firewall) {
        let s = format!("{}, which normally reaches vault {}, was blocked by the vault firewall {} times in {span} from {place}, a place it never called from: its token may be in use elsewhere",
            who(e), e.vault, c.firewall);
        let snap = w.clone();
        emit(
            "firewall_new_network",
            sev.firewall_new_network,
            s,
            &snap,
            None,
        );
    }
}
