//! `unusual_geo`: a principal calling from somewhere it never called from, or from
//! two places no one could travel between in the time.
//!
//! A country is "new" only when both are true: the principal never called from it
//! (after its learning period) and few of the tenant's principals ever did (so a
//! colleague's business trip to the company's other office is normal). Principals
//! still learning are judged against the tenant alone: a country no principal ever
//! called from. Impossible travel compares consecutive geolocated events of one
//! principal and needs both places in the evidence. Azure-internal, private,
//! documentation and unlocatable addresses are never new geography. Without a GeoIP
//! database the detector falls back to network prefixes never seen in the tenant.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use super::baseline::keys::{time_of, FastMap};
use super::baseline::{c_bytes, c_str};
use super::defs::{self, require, Header, Source};
use super::examples::{Example, ExampleGeo};
use super::suppress::Suppressor;
use super::text::{duration, who};
use super::{Detector, DetectorError, DetectorMemory, Finding, Observation};
use crate::alert::{Evidence, Severity};
use crate::config::{Config, ConfigDuration, SuppressConfig};
use crate::enrich::haversine_km;
use crate::event::{Outcome, PrincipalKind};

/// The detector's name.
pub const NAME: &str = "unusual_geo";

/// `[new_country]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NewCountry {
    /// Principal kinds judged (`user`, `service_principal`, `managed_identity`).
    #[serde(deserialize_with = "defs::kinds")]
    pub kinds: Vec<PrincipalKind>,
    /// A country is rare for the tenant when at most this share of located principals call from it …
    pub rare_share: f64,
    /// … or at most this many principals (whichever is larger).
    pub rare_max_principals: u32,
    /// The tenant must have this much history before "never seen in the tenant" means anything.
    pub min_tenant_age: ConfigDuration,
    /// … and this many principals with a located event.
    pub min_located_principals: u32,
}

/// `[impossible_travel]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Travel {
    /// Principal kinds judged (apps legitimately run in several regions at once).
    #[serde(deserialize_with = "defs::kinds")]
    pub kinds: Vec<PrincipalKind>,
    /// Implied speeds above this (km/h) are impossible.
    pub max_speed_kmh: f64,
    /// Places closer than this (km) are GeoIP noise, never travel.
    pub min_distance_km: f64,
    /// Only compare with a previous place seen within this long.
    pub within: ConfigDuration,
}

/// `[severity]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Severities {
    /// `new_country`: new for the principal and rare for the tenant.
    pub new_country: Severity,
    /// `new_country` when no principal of the tenant ever called from it.
    pub never_seen_in_tenant: Severity,
    /// `rare_country_new_principal`: a principal still learning, from a country the tenant never saw.
    pub rare_country_new_principal: Severity,
    /// `impossible_travel`.
    pub impossible_travel: Severity,
    /// `new_network` (fallback without a GeoIP database).
    pub new_network: Severity,
}

/// The whole `detectors/unusual_geo.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct File {
    /// `[detector]`.
    pub detector: Header,
    /// `[new_country]`.
    pub new_country: NewCountry,
    /// `[impossible_travel]`.
    pub impossible_travel: Travel,
    /// `[severity]`.
    pub severity: Severities,
    /// `[suppress]`.
    #[serde(default)]
    pub suppress: SuppressConfig,
    /// `[[example]]`.
    #[serde(default)]
    pub example: Vec<Example>,
    /// `[[example_geo]]`: the networks of the examples' own GeoIP database.
    #[serde(default)]
    pub example_geo: Vec<ExampleGeo>,
}

fn validate(f: &File, src: &Source) -> Result<(), DetectorError> {
    let n = &f.new_country;
    require(
        (0.0..=0.5).contains(&n.rare_share),
        src,
        "new_country.rare_share",
        "must be between 0 and 0.5",
    )?;
    require(
        !n.kinds.contains(&PrincipalKind::Anonymous),
        src,
        "new_country.kinds",
        "anonymous callers have no history to compare with",
    )?;
    let t = &f.impossible_travel;
    require(
        t.max_speed_kmh >= 100.0,
        src,
        "impossible_travel.max_speed_kmh",
        "must be at least 100 (km/h)",
    )?;
    require(
        t.min_distance_km >= 0.0,
        src,
        "impossible_travel.min_distance_km",
        "must not be negative",
    )?;
    require(
        t.within.as_std().as_secs() >= 3600,
        src,
        "impossible_travel.within",
        "must be at least 1h",
    )
}

/// Loads, validates and checks the examples of an `unusual_geo` file.
pub fn load(src: &Source, config: &Config) -> Result<Box<dyn Detector>, DetectorError> {
    let f: File = defs::parse(src)?;
    validate(&f, src)?;
    let suppressor = defs::suppressor(src, config, &f.suppress)?;
    let make = || -> Box<dyn Detector> {
        Box::new(UnusualGeo {
            new_country: f.new_country.clone(),
            travel: f.impossible_travel.clone(),
            severity: f.severity.clone(),
            suppressor: suppressor.clone(),
            last: FastMap::default(),
            last_prune: 0,
        })
    };
    super::examples::check(&src.file, &f.example, &f.example_geo, &make)?;
    Ok(make())
}

/// The detector.
pub struct UnusualGeo {
    new_country: NewCountry,
    travel: Travel,
    severity: Severities,
    suppressor: Suppressor,
    /// The last geolocated address per principal (for the travel evidence).
    last: FastMap<u128, (IpAddr, u32)>,
    last_prune: u32,
}

impl UnusualGeo {
    fn country_is_rare(&self, obs: &Observation<'_>, c: [u8; 2]) -> (bool, u32) {
        let pop = obs.baselines.population();
        let principals = pop.country_principals(c);
        let limit =
            (self.new_country.rare_share * f64::from(pop.located_principals)).floor() as u32;
        (
            principals <= limit.max(self.new_country.rare_max_principals),
            principals,
        )
    }

    fn tenant_ready(&self, obs: &Observation<'_>) -> bool {
        let pop = obs.baselines.population();
        u64::from(pop.age(obs.now)) >= self.new_country.min_tenant_age.as_std().as_secs()
            && pop.located_principals >= self.new_country.min_located_principals
    }

    /// Geography is a property of the principal, not of a vault: one incident per
    /// principal (vault `*`), the vault named in the summary and the evidence.
    fn base(
        &self,
        obs: &Observation<'_>,
        rule: &str,
        severity: Severity,
        summary: String,
    ) -> Finding {
        let mut f = Finding::about(obs, NAME, rule, severity);
        f.vault = "*".into();
        f.summary = summary;
        f
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
}

impl Detector for UnusualGeo {
    fn name(&self) -> &'static str {
        NAME
    }

    fn observe(&mut self, obs: &Observation<'_>, findings: &mut Vec<Finding>) {
        let e = obs.event;
        let (Some(key), Some(ip)) = (obs.principal, e.caller_ip) else {
            return;
        };
        // Only requests whose token was accepted say where the principal is: a rejected
        // (401) or forged token names an identity it does not prove, and denied
        // requests belong to failed_auth.
        if !obs.geo.is_public()
            || !matches!(
                e.outcome,
                Outcome::Ok | Outcome::NotFound | Outcome::Throttled
            )
        {
            return;
        }
        if obs.now >= self.last_prune.saturating_add(3600) {
            let before = obs.now.saturating_sub(defs::secs(self.travel.within));
            self.last.retain(|_, (_, at)| *at >= before);
            self.last_prune = obs.now;
        }
        let kind = e.principal.kind;
        let learning = obs.learning();
        let here = obs.geo.label();
        if let Some(c) = obs.geo.country.map(c_bytes) {
            let known = obs.profile.is_some_and(|p| p.countries.contains(c));
            let (rare, principals) = self.country_is_rare(obs, c);
            if !known && rare && self.new_country.kinds.contains(&kind) {
                let history = obs.profile.map_or(0.0, |p| p.history_days(obs.now));
                let seen = Self::countries_of(obs);
                let evidence = Evidence::new()
                    .with("observed", serde_json::json!({ "country": c_str(&c), "place": here, "address": ip.to_string(),
                        "operation": e.operation.to_string(), "outcome": e.outcome.as_str() }))
                    .with("baseline", serde_json::json!({ "countries": seen, "history_days": (history * 10.0).round() / 10.0, "learning": learning,
                        "tenant_principals_from_country": principals, "tenant_located_principals": obs.baselines.population().located_principals,
                        "tenant_countries": Self::tenant_countries(obs) }))
                    .with("expected", serde_json::json!({ "rare_share": self.new_country.rare_share, "rare_max_principals": self.new_country.rare_max_principals }))
                    .with_list("countries", [c_str(&c)])
                    .with_list("addresses", [ip.to_string()]);
                if !learning {
                    let severity = if principals == 0 {
                        self.severity.never_seen_in_tenant
                    } else {
                        self.severity.new_country
                    };
                    let usual = if seen.is_empty() {
                        "only Azure or private addresses".to_owned()
                    } else {
                        seen.join(", ")
                    };
                    let s = format!("{} called vault {} ({}) from {here} ({ip}), a country it never used in {:.0} days (usual: {usual}); {} of the tenant's principals ever called from there",
                        who(e), e.vault, e.operation, history, principals);
                    let mut f = self.base(obs, "new_country", severity, s);
                    f.evidence = evidence;
                    f.evidence.insert("vaults", vec![e.vault.to_string()]);
                    findings.push(f);
                } else if principals == 0 && self.tenant_ready(obs) {
                    let s = format!("{} (new, still learning) called vault {} ({}) from {here} ({ip}), a country no principal of the tenant has called from (tenant: {})",
                        who(e), e.vault, e.operation, Self::tenant_countries(obs).join(", "));
                    let mut f = self.base(
                        obs,
                        "rare_country_new_principal",
                        self.severity.rare_country_new_principal,
                        s,
                    );
                    f.evidence = evidence;
                    f.evidence.insert("vaults", vec![e.vault.to_string()]);
                    findings.push(f);
                }
            }
        } else if !obs.geo.has_database && !learning {
            if let (Some(n), Some(prefix), Some(p)) = (obs.geo.network, obs.geo.prefix, obs.profile)
            {
                if !p.networks.contains(super::baseline::profile::fold32(n))
                    && obs.baselines.population().network_principals(n) == 0
                    && self.new_country.kinds.contains(&kind)
                {
                    let s = format!("{} called vault {} ({}) from network {prefix} ({ip}), which neither it nor any other principal used before (no GeoIP database: networks stand in for countries)",
                        who(e), e.vault, e.operation);
                    let mut f = self.base(obs, "new_network", self.severity.new_network, s);
                    f.evidence = Evidence::new()
                        .with("observed", serde_json::json!({ "network": prefix.to_string(), "address": ip.to_string() }))
                        .with("baseline", serde_json::json!({ "networks_known": p.networks.len(), "history_days": (p.history_days(obs.now) * 10.0).round() / 10.0 }))
                        .with_list("addresses", [ip.to_string()])
                        .with_list("vaults", [e.vault.to_string()]);
                    findings.push(f);
                }
            }
        }
        self.travel_rule(obs, key, ip, findings);
    }

    fn suppressor(&self) -> Option<&Suppressor> {
        Some(&self.suppressor)
    }

    fn save(&self) -> Vec<u8> {
        let v: Vec<(u128, IpAddr, u32)> = self
            .last
            .iter()
            .map(|(k, (ip, at))| (*k, *ip, *at))
            .collect();
        serde_json::to_vec(&v).unwrap_or_default()
    }

    fn restore(&mut self, state: &[u8]) -> Result<(), DetectorError> {
        let v: Vec<(u128, IpAddr, u32)> =
            serde_json::from_slice(state).map_err(|e| DetectorError::Restore {
                detector: NAME.into(),
                message: e.to_string(),
            })?;
        self.last = v.into_iter().map(|(k, ip, at)| (k, (ip, at))).collect();
        Ok(())
    }

    fn memory(&self) -> DetectorMemory {
        DetectorMemory {
            learned_entries: self.last.len(),
            learned_bytes: self.last.capacity()
                * (std::mem::size_of::<(u128, (IpAddr, u32))>() + 1),
            ..Default::default()
        }
    }
}

impl UnusualGeo {
    fn travel_rule(
        &mut self,
        obs: &Observation<'_>,
        key: u128,
        ip: IpAddr,
        findings: &mut Vec<Finding>,
    ) {
        let e = obs.event;
        let Some((lat, lon)) = obs.geo.coords else {
            return;
        };
        let previous = self.last.insert(key, (ip, obs.now));
        if !self.travel.kinds.contains(&e.principal.kind) {
            return;
        }
        let Some(fix) = obs.profile.map(|p| p.last_fix).filter(|f| f.at > 0) else {
            return;
        };
        let dt = obs.now.saturating_sub(fix.at);
        if u64::from(dt) > self.travel.within.as_std().as_secs()
            || obs.geo.network == Some(fix.network)
        {
            return;
        }
        let km = haversine_km(
            (f64::from(fix.lat), f64::from(fix.lon)),
            (f64::from(lat), f64::from(lon)),
        );
        let hours = f64::from(dt.max(60)) / 3600.0;
        let speed = km / hours;
        if km < self.travel.min_distance_km || speed <= self.travel.max_speed_kmh {
            return;
        }
        let prev_ip = previous
            .map(|(ip, _)| ip.to_string())
            .unwrap_or_else(|| "?".into());
        let s = format!("{} called from {} ({prev_ip}) and then {} later from {} ({ip}, vault {}), {:.0} km apart: {:.0} km/h, faster than the {:.0} km/h anyone can travel",
            who(e), c_str(&fix.country), duration(dt), obs.geo.label(), e.vault, km, speed, self.travel.max_speed_kmh);
        let mut f = self.base(obs, "impossible_travel", self.severity.impossible_travel, s);
        f.first_seen = time_of(fix.at);
        let places = serde_json::json!([
            { "address": prev_ip, "country": c_str(&fix.country), "lat": fix.lat, "lon": fix.lon, "time": time_of(fix.at).to_rfc3339() },
            { "address": ip.to_string(), "country": obs.geo.country.map(|c| c.to_string()), "city": obs.geo.city, "lat": lat, "lon": lon, "time": e.time.to_rfc3339() },
        ]);
        f.evidence = Evidence::new()
            .with("observed", serde_json::json!({ "distance_km": km.round(), "elapsed": duration(dt), "speed_kmh": speed.round() }))
            .with("expected", serde_json::json!({ "max_speed_kmh": self.travel.max_speed_kmh, "min_distance_km": self.travel.min_distance_km }))
            .with("places", places)
            .with_list("addresses", [prev_ip, ip.to_string()])
            .with_list("vaults", [e.vault.to_string()]);
        findings.push(f);
    }
}
