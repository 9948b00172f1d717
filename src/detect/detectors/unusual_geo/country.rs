//! The country rules of `unusual_geo`: a country the principal never used (after
//! learning) that few of the tenant's principals use; a principal still learning
//! calling from a country the tenant never saw; and, without a GeoIP database, a
//! network prefix no principal used before.

use serde_json::json;

use super::rule::{Rule, NAME};
use super::settings::Settings;
use super::wording::{self, Call};
use crate::alert::{Evidence, Severity};
use crate::detect::baseline::profile::fold32;
use crate::detect::baseline::{c_bytes, c_str};
use crate::detect::finding::Finding;
use crate::detect::observation::Observation;

/// Reports a new country (or, without a database, a new network) for this call.
pub fn observe(s: &Settings, obs: &Observation<'_>, call: &Call<'_>, findings: &mut Vec<Finding>) {
    let e = obs.event;
    let kind = e.principal.kind;
    let learning = obs.learning();
    if let Some(c) = obs.geo.country.map(c_bytes) {
        let known = obs.profile.is_some_and(|p| p.countries.contains(c));
        let (rare, principals) = country_is_rare(s, obs, c);
        if known || !rare || !s.new_country.kinds.contains(&kind) {
            return;
        }
        let (rule, severity) = if !learning {
            let severity = if principals == 0 {
                s.severity.never_seen_in_tenant
            } else {
                s.severity.of(Rule::NewCountry)
            };
            (Rule::NewCountry, severity)
        } else if principals == 0 && tenant_ready(s, obs) {
            let rule = Rule::RareCountryNewPrincipal;
            (rule, s.severity.of(rule))
        } else {
            return;
        };
        let history = obs.profile.map_or(0.0, |p| p.history_days(obs.now));
        let seen = countries_of(obs);
        let summary = match rule {
            Rule::NewCountry => wording::new_country(call, history, &seen, principals),
            _ => wording::rare_country_new_principal(call, &tenant_countries(obs)),
        };
        let mut f = finding(obs, rule, severity, summary);
        f.evidence = Evidence::new()
            .with("observed", json!({ "country": c_str(&c), "place": call.place, "address": call.ip.to_string(),
                "operation": e.operation.to_string(), "outcome": e.outcome.as_str() }))
            .with("baseline", json!({ "countries": seen, "history_days": (history * 10.0).round() / 10.0, "learning": learning,
                "tenant_principals_from_country": principals, "tenant_located_principals": obs.baselines.population().located_principals,
                "tenant_countries": tenant_countries(obs) }))
            .with("expected", json!({ "rare_share": s.new_country.rare_share, "rare_max_principals": s.new_country.rare_max_principals }))
            .with_list("countries", [c_str(&c)])
            .with_list("addresses", [call.ip.to_string()]);
        f.evidence.insert("vaults", vec![e.vault.to_string()]);
        findings.push(f);
    } else if !obs.geo.has_database && !learning {
        new_network(s, obs, call, findings);
    }
}

/// Without a GeoIP database, networks stand in for countries.
fn new_network(s: &Settings, obs: &Observation<'_>, call: &Call<'_>, findings: &mut Vec<Finding>) {
    let (Some(n), Some(prefix), Some(p)) = (obs.geo.network, obs.geo.prefix, obs.profile) else {
        return;
    };
    if p.networks.contains(fold32(n))
        || obs.baselines.population().network_principals(n) != 0
        || !s.new_country.kinds.contains(&obs.event.principal.kind)
    {
        return;
    }
    let rule = Rule::NewNetwork;
    let summary = wording::new_network(call, &prefix.to_string());
    let mut f = finding(obs, rule, s.severity.of(rule), summary);
    f.evidence = Evidence::new()
        .with("observed", json!({ "network": prefix.to_string(), "address": call.ip.to_string() }))
        .with("baseline", json!({ "networks_known": p.networks.len(), "history_days": (p.history_days(obs.now) * 10.0).round() / 10.0 }))
        .with_list("addresses", [call.ip.to_string()])
        .with_list("vaults", [obs.event.vault.to_string()]);
    findings.push(f);
}

/// Geography is a property of the principal, not of a vault: one incident per
/// principal (vault `*`), the vault named in the summary and the evidence.
pub fn finding(obs: &Observation<'_>, rule: Rule, severity: Severity, summary: String) -> Finding {
    let mut f = Finding::about(obs, NAME, rule.as_str(), severity);
    f.vault = "*".into();
    f.summary = summary;
    f
}

/// Whether few enough of the tenant's located principals call from `c`, and how many do.
fn country_is_rare(s: &Settings, obs: &Observation<'_>, c: [u8; 2]) -> (bool, u32) {
    let pop = obs.baselines.population();
    let principals = pop.country_principals(c);
    let limit = (s.new_country.rare_share * f64::from(pop.located_principals)).floor() as u32;
    (
        principals <= limit.max(s.new_country.rare_max_principals),
        principals,
    )
}

/// Whether the tenant is old and large enough for "never seen in the tenant".
fn tenant_ready(s: &Settings, obs: &Observation<'_>) -> bool {
    let pop = obs.baselines.population();
    u64::from(pop.age(obs.now)) >= s.new_country.min_tenant_age.as_std().as_secs()
        && pop.located_principals >= s.new_country.min_located_principals
}

fn countries_of(obs: &Observation<'_>) -> Vec<String> {
    obs.profile
        .map(|p| p.countries.iter().map(|s| c_str(&s.item)).collect())
        .unwrap_or_default()
}

fn tenant_countries(obs: &Observation<'_>) -> Vec<String> {
    obs.baselines
        .population()
        .top_countries(5)
        .iter()
        .map(|(c, n)| format!("{} ({n} principals)", c_str(c)))
        .collect()
}
