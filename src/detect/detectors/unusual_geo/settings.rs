//! The settings of `unusual_geo`: the file `detectors/unusual_geo.toml` as typed
//! sections, and the checks that refuse impossible values (naming the file and key).

use serde::{Deserialize, Serialize};

use super::rule::Rule;
use crate::alert::Severity;
use crate::config::{ConfigDuration, SuppressConfig};
use crate::detect::definition::{require, Header, Source};
use crate::detect::detector::DetectorError;
use crate::detect::examples::{Example, ExampleGeo};
use crate::detect::loader::DetectorFile;
use crate::event::PrincipalKind;

/// `[new_country]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NewCountry {
    /// Principal kinds judged (`user`, `service_principal`, `managed_identity`).
    #[serde(deserialize_with = "crate::detect::definition::kinds")]
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
    #[serde(deserialize_with = "crate::detect::definition::kinds")]
    pub kinds: Vec<PrincipalKind>,
    /// Implied speeds above this (km/h) are impossible.
    pub max_speed_kmh: f64,
    /// Places closer than this (km) are GeoIP noise, never travel.
    pub min_distance_km: f64,
    /// Only compare with a previous place seen within this long.
    pub within: ConfigDuration,
    /// Impossible hops (either way) between two places before the pair is part of
    /// the principal's baseline and stays quiet …
    #[serde(default = "default_learn_after_alternations")]
    pub learn_after_alternations: u32,
    /// … seen on at least this many distinct UTC days.
    #[serde(default = "default_learn_after_days")]
    pub learn_after_days: u16,
    /// Two positions closer than this (km) are one place when pairs are matched.
    #[serde(default = "default_place_radius_km")]
    pub place_radius_km: f64,
    /// A pair of places not hopped between for this long is forgotten.
    #[serde(default = "default_forget_pair_after")]
    pub forget_pair_after: ConfigDuration,
}

fn default_learn_after_alternations() -> u32 {
    6
}

fn default_learn_after_days() -> u16 {
    2
}

fn default_place_radius_km() -> f64 {
    100.0
}

fn default_forget_pair_after() -> ConfigDuration {
    ConfigDuration::hours(30 * 24)
}

fn default_known_pair() -> Severity {
    Severity::Low
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
    /// `impossible_travel` between two places the principal already hopped between,
    /// before the pair is learned (then it is quiet).
    #[serde(default = "default_known_pair")]
    pub impossible_travel_known_pair: Severity,
    /// `new_network` (fallback without a GeoIP database).
    pub new_network: Severity,
}

impl Severities {
    /// The severity of a rule (`new_country` from a country the tenant knows).
    pub fn of(&self, rule: Rule) -> Severity {
        match rule {
            Rule::NewCountry => self.new_country,
            Rule::RareCountryNewPrincipal => self.rare_country_new_principal,
            Rule::ImpossibleTravel => self.impossible_travel,
            Rule::NewNetwork => self.new_network,
            // Its own severity is `[borrowed_identity] severity`; this is the fallback.
            Rule::BorrowedIdentity => self.new_country,
        }
    }
}

/// `[borrowed_identity]`: a workload principal's token replayed from another machine
/// (`borrowed_judge.rs`): several objects it never read, within a short window, from
/// a source network (/24, /48) it never used.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Borrowed {
    /// Principal kinds judged (workloads: `service_principal`, `managed_identity`).
    #[serde(deserialize_with = "crate::detect::definition::kinds")]
    pub kinds: Vec<PrincipalKind>,
    /// Operations whose success hands out an object (a secret value, a certificate,
    /// a backup).
    pub operations: Vec<String>,
    /// How long a network stays new after its first call, and the tumbling window
    /// the principal's usual novelty is counted in.
    pub window: ConfigDuration,
    /// Fewest objects new to the principal, read from the new network, that can alert.
    pub min_new_objects: u32,
    /// The count must be more than this many times the principal's largest window of
    /// new objects.
    pub own_ratio: f64,
    /// The count and the new network together must be at most this probable under
    /// the principal's learned windows (its kind's as the prior).
    pub max_probability: f64,
    /// How many windows of evidence the kind's means are worth as a prior.
    pub prior_windows: f64,
    /// A principal's first calls are not its usual (everything is new then): its
    /// windows count only from this long after its first call.
    pub settle: ConfigDuration,
    /// Settled windows a principal needs (after its learning period) before it is judged.
    pub min_history_windows: u32,
    /// The severity of `borrowed_identity`.
    pub severity: Severity,
    /// Steps added when the client (user agent product) is new to the principal.
    pub new_client: u32,
    /// Steps added when the network's autonomous system is new to the principal
    /// (only with a GeoIP database that has autonomous systems).
    pub new_provider: u32,
}

impl Borrowed {
    /// Whether a successful `op` hands out an object.
    pub fn is_read(&self, op: &str) -> bool {
        self.operations.iter().any(|o| o.eq_ignore_ascii_case(op))
    }
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
    /// `[borrowed_identity]` (absent in copies older than the rule: the rule is then off).
    #[serde(default)]
    pub borrowed_identity: Option<Borrowed>,
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

/// Refuses impossible values, naming the file and the key.
pub fn validate(f: &File, src: &Source) -> Result<(), DetectorError> {
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
    )?;
    require(
        t.learn_after_alternations >= 1,
        src,
        "impossible_travel.learn_after_alternations",
        "must be at least 1",
    )?;
    require(
        t.learn_after_days >= 1,
        src,
        "impossible_travel.learn_after_days",
        "must be at least 1",
    )?;
    require(
        t.place_radius_km >= 0.0 && t.place_radius_km * 2.0 < t.min_distance_km.max(1.0),
        src,
        "impossible_travel.place_radius_km",
        "must be between 0 and half of min_distance_km (else the two places of a trip could be one)",
    )?;
    require(
        t.forget_pair_after.as_std().as_secs() >= 86_400,
        src,
        "impossible_travel.forget_pair_after",
        "must be at least 1d",
    )?;
    match &f.borrowed_identity {
        Some(b) => validate_borrowed(b, src),
        None => Ok(()),
    }
}

fn validate_borrowed(b: &Borrowed, src: &Source) -> Result<(), DetectorError> {
    require(
        !b.kinds.is_empty() && !b.kinds.contains(&PrincipalKind::Anonymous),
        src,
        "borrowed_identity.kinds",
        "must name principal kinds (anonymous callers have no history)",
    )?;
    require(
        !b.operations.is_empty(),
        src,
        "borrowed_identity.operations",
        "must name at least one operation",
    )?;
    let w = b.window.as_std().as_secs();
    require(
        (60..=86_400).contains(&w),
        src,
        "borrowed_identity.window",
        "must be between 1m and 24h",
    )?;
    require(
        b.min_new_objects >= 2,
        src,
        "borrowed_identity.min_new_objects",
        "must be at least 2",
    )?;
    require(
        b.own_ratio >= 1.0,
        src,
        "borrowed_identity.own_ratio",
        "must be at least 1",
    )?;
    require(
        b.max_probability > 0.0 && b.max_probability < 0.5,
        src,
        "borrowed_identity.max_probability",
        "must be in (0, 0.5)",
    )?;
    require(
        b.prior_windows > 0.0,
        src,
        "borrowed_identity.prior_windows",
        "must be more than 0",
    )?;
    require(
        b.settle.as_std().as_secs() <= 7 * 86_400,
        src,
        "borrowed_identity.settle",
        "must be at most 7d",
    )?;
    for (key, v) in [
        ("borrowed_identity.new_client", b.new_client),
        ("borrowed_identity.new_provider", b.new_provider),
    ] {
        require(v <= 4, src, key, "must be between 0 and 4 steps")?;
    }
    Ok(())
}

/// Validated settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `[new_country]`.
    pub new_country: NewCountry,
    /// `[impossible_travel]`.
    pub travel: Travel,
    /// `[severity]`.
    pub severity: Severities,
    /// `[borrowed_identity]`, when the file has it.
    pub borrowed: Option<Borrowed>,
}

impl Settings {
    /// The validated settings of a file.
    pub fn of(f: &File) -> Settings {
        Settings {
            new_country: f.new_country.clone(),
            travel: f.impossible_travel.clone(),
            severity: f.severity.clone(),
            borrowed: f.borrowed_identity.clone(),
        }
    }
}

impl DetectorFile for File {
    fn validate(&self, src: &Source) -> Result<(), DetectorError> {
        validate(self, src)
    }

    fn shared(&self) -> (&SuppressConfig, &[Example], &[ExampleGeo]) {
        (&self.suppress, &self.example, &self.example_geo)
    }
}
