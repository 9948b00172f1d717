//! How `unusual_geo` speaks to an analyst: the summary of each rule and the next
//! steps shown with its alerts.
//!
//! A call places its caller whichever log it came from: a Key Vault request
//! (AuditEvent) names its vault and operation, an Azure Resource Manager call (the
//! Activity Log: a role assignment, a diagnostic setting) names its operation and
//! the vault or scope it acted on, which may be a subscription with no vault at all.

use std::net::IpAddr;

use super::pairs::{Learning, PairHistory};
use crate::detect::text::{duration, who};
use crate::event::{AuditEvent, ScopeLevel};

/// What an analyst should do about an `unusual_geo` alert.
pub const NEXT_STEPS: &[&str] = &[
    "Ask the principal's owner whether the access from this location was theirs.",
    "If not: revoke the principal's sessions and credentials, then review what it read.",
];

/// The request that placed the principal somewhere.
pub struct Call<'a> {
    /// The request.
    pub event: &'a AuditEvent<'a>,
    /// Where the caller is.
    pub place: &'a str,
    /// The caller's address.
    pub ip: IpAddr,
}

/// What the call reached: `vault kv-app (SecretGet)`, or for an Activity Log
/// change `subscription /subscriptions/… through Azure Resource Manager
/// (microsoft.authorization/roleassignments/write)`.
pub fn target(e: &AuditEvent<'_>) -> String {
    let Some(c) = e.control_plane() else {
        return format!("vault {} ({})", e.vault, e.operation);
    };
    let on = match c.scope.as_deref().filter(|s| !s.is_empty()) {
        _ if !e.vault.is_empty() => format!("vault {}", e.vault),
        Some(scope) => format!("{} {scope}", level_words(c.scope_level)),
        None => "Azure".to_owned(),
    };
    format!("{on} through Azure Resource Manager ({})", e.operation)
}

/// Where the call went, as impossible travel adds it after the address.
fn reached(e: &AuditEvent<'_>) -> String {
    match e.control_plane() {
        None => format!("vault {}", e.vault),
        Some(_) => target(e),
    }
}

fn level_words(level: ScopeLevel) -> &'static str {
    match level {
        ScopeLevel::Root => "the root scope",
        ScopeLevel::ManagementGroup => "management group",
        ScopeLevel::Subscription => "subscription",
        ScopeLevel::ResourceGroup => "resource group",
        ScopeLevel::Vault => "vault",
        ScopeLevel::Resource => "resource",
        ScopeLevel::Unknown => "scope",
    }
}

/// `new_country`.
pub fn new_country(c: &Call<'_>, history_days: f64, usual: &[String], principals: u32) -> String {
    let usual = if usual.is_empty() {
        "only Azure or private addresses".to_owned()
    } else {
        usual.join(", ")
    };
    format!("{} called {} from {} ({}), a country it never used in {:.0} days (usual: {usual}); {} of the tenant's principals ever called from there",
        who(c.event), target(c.event), c.place, c.ip, history_days, principals)
}

/// `rare_country_new_principal`.
pub fn rare_country_new_principal(c: &Call<'_>, tenant_countries: &[String]) -> String {
    format!("{} (new, still learning) called {} from {} ({}), a country no principal of the tenant has called from (tenant: {})",
        who(c.event), target(c.event), c.place, c.ip, tenant_countries.join(", "))
}

/// `new_network`.
pub fn new_network(c: &Call<'_>, prefix: &str) -> String {
    format!("{} called {} from network {prefix} ({}), which neither it nor any other principal used before (no GeoIP database: networks stand in for countries)",
        who(c.event), target(c.event), c.ip)
}

/// Two fixes of one principal, as `impossible_travel` words them.
pub struct Trip<'a> {
    /// The earlier country.
    pub from_country: &'a str,
    /// The earlier address (`?` when not remembered).
    pub from_ip: &'a str,
    /// Seconds between the two.
    pub elapsed: u32,
    /// The distance.
    pub km: f64,
    /// The implied speed.
    pub speed_kmh: f64,
    /// The fastest anyone travels.
    pub max_speed_kmh: f64,
}

/// `impossible_travel`, and whether the principal hopped between these places before.
pub fn impossible_travel(c: &Call<'_>, t: &Trip<'_>, pair: &PairHistory, l: &Learning) -> String {
    let history = if pair.hops == 0 {
        "; the first hop between these two places".to_owned()
    } else {
        format!(
            "; it hopped between these two places {} times on {} days before (a pair becomes usual after {} on {} days)",
            pair.hops, pair.days, l.alternations, l.days
        )
    };
    format!("{} called from {} ({}) and then {} later from {} ({}, {}), {:.0} km apart: {:.0} km/h, faster than the {:.0} km/h anyone can travel{history}",
        who(c.event), t.from_country, t.from_ip, duration(t.elapsed), c.place, c.ip, reached(c.event), t.km, t.speed_kmh, t.max_speed_kmh)
}
