//! `failed_auth`: bursts of authentication failures and authorisation denials.
//!
//! Key Vault logs every failure as `resultType: Success`; the outcome comes from the
//! HTTP status (see `event::outcome`). This detector watches three things the peers
//! do not: a principal denied on many objects or vaults (enumeration with a token
//! that lacks the grant), tokens rejected outright (401 with a token: expired, forged
//! or from a foreign tenant), and one address failing for many identities or vaults
//! (spraying stolen tokens). The SDK challenge (`Authentication` 401 with no identity)
//! is never counted, and a single permission slip never reaches the minimum counts.
//! Rates are compared with the principal's own denial rate once it has learned, and
//! with its kind's population rate before: a chronic misconfigured app stays quiet,
//! a new principal failing on ten objects does not.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use super::baseline::keys::{hash64, FastMap};
use super::baseline::stats::{count_tail, expected_count, DENIALS};
use super::defs::{self, require, Header, Source};
use super::examples::{Example, ExampleGeo};
use super::failed_auth_rules::State;
use super::suppress::Suppressor;
use super::{Detector, DetectorError, DetectorMemory, Finding, Observation};
use crate::alert::Severity;
use crate::config::{Config, ConfigDuration, SuppressConfig};

/// The detector's name.
pub const NAME: &str = "failed_auth";

/// `[principal]`: denials by one principal.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PrincipalRules {
    /// Sliding window the counts are taken over.
    pub window: ConfigDuration,
    /// Fewest denials in the window before anything is said.
    pub min_denials: u32,
    /// …of which at least this many distinct objects (enumeration) …
    pub min_objects: u32,
    /// …or at least this many distinct vaults.
    pub min_vaults: u32,
    /// Denials (any objects) that alert when the principal's own history makes them
    /// improbable (after learning only).
    pub persistent_min_denials: u32,
    /// The count must be at most this probable under the learned denial rate.
    pub max_probability: f64,
    /// How many hours of evidence the population rate is worth as a prior.
    pub prior_hours: f64,
}

/// `[token]`: requests whose token was rejected (401 carrying an identity).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TokenRules {
    /// Rejected-token requests in the principal window that alert.
    pub min_failures: u32,
    /// Rejected requests carrying a token from a tenant never seen on a success.
    pub foreign_tenant_min: u32,
}

/// `[address]`: failures from one caller address.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AddressRules {
    /// Sliding window.
    pub window: ConfigDuration,
    /// Distinct identities denied from the address that alert (token spraying).
    pub min_identities: u32,
    /// Distinct vaults denied from the address …
    pub min_vaults: u32,
    /// … with at least this many denials.
    pub min_vault_denials: u32,
    /// Failures with no identity at all (not the SDK challenge) that alert.
    pub min_anonymous: u32,
}

/// `[firewall]`: a principal that normally reaches a vault, blocked by its firewall.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FirewallRules {
    /// Firewall denials in the principal window, from a place the principal never used.
    pub min_denials: u32,
}

/// `[severity]`: per rule, and when to raise one step.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Severities {
    /// `denied_enumeration`.
    pub denied_enumeration: Severity,
    /// `denial_burst`.
    pub denial_burst: Severity,
    /// `token_rejected`.
    pub token_rejected: Severity,
    /// `foreign_tenant_token`.
    pub foreign_tenant_token: Severity,
    /// `address_spray`.
    pub address_spray: Severity,
    /// `address_vault_sweep`.
    pub address_vault_sweep: Severity,
    /// `anonymous_failures`.
    pub anonymous_failures: Severity,
    /// `firewall_new_network`.
    pub firewall_new_network: Severity,
    /// Distinct objects denied that raise the severity one step.
    pub raise_at_objects: u32,
    /// Distinct vaults denied that raise the severity one step.
    pub raise_at_vaults: u32,
}

/// The whole `detectors/failed_auth.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct File {
    /// `[detector]`.
    pub detector: Header,
    /// `[principal]`.
    pub principal: PrincipalRules,
    /// `[token]`.
    pub token: TokenRules,
    /// `[address]`.
    pub address: AddressRules,
    /// `[firewall]`.
    pub firewall: FirewallRules,
    /// `[severity]`.
    pub severity: Severities,
    /// `[suppress]`.
    #[serde(default)]
    pub suppress: SuppressConfig,
    /// `[[example]]`.
    #[serde(default)]
    pub example: Vec<Example>,
    /// `[[example_geo]]`.
    #[serde(default)]
    pub example_geo: Vec<ExampleGeo>,
}

/// Validated settings.
#[derive(Debug, Clone, Serialize)]
pub struct Settings {
    /// `[principal]`.
    pub principal: PrincipalRules,
    /// `[token]`.
    pub token: TokenRules,
    /// `[address]`.
    pub address: AddressRules,
    /// `[firewall]`.
    pub firewall: FirewallRules,
    /// `[severity]`.
    pub severity: Severities,
}

fn validate(f: &File, src: &Source) -> Result<(), DetectorError> {
    let p = &f.principal;
    let minute = std::time::Duration::from_secs(60);
    require(
        p.window.as_std() >= minute && p.window.as_std() <= minute * 24 * 60,
        src,
        "principal.window",
        "must be between 1m and 24h",
    )?;
    require(
        p.min_denials >= 2,
        src,
        "principal.min_denials",
        "must be at least 2 (one denial is a permission slip)",
    )?;
    require(
        p.min_objects >= 1 && p.min_objects <= p.min_denials,
        src,
        "principal.min_objects",
        "must be between 1 and min_denials",
    )?;
    require(
        p.min_vaults >= 2,
        src,
        "principal.min_vaults",
        "must be at least 2",
    )?;
    require(
        p.persistent_min_denials >= p.min_denials,
        src,
        "principal.persistent_min_denials",
        "must be at least min_denials",
    )?;
    require(
        p.max_probability > 0.0 && p.max_probability < 0.5,
        src,
        "principal.max_probability",
        "must be in (0, 0.5)",
    )?;
    require(
        p.prior_hours >= 0.0,
        src,
        "principal.prior_hours",
        "must not be negative",
    )?;
    require(
        f.token.min_failures >= 1,
        src,
        "token.min_failures",
        "must be at least 1",
    )?;
    require(
        f.token.foreign_tenant_min >= 1,
        src,
        "token.foreign_tenant_min",
        "must be at least 1",
    )?;
    let a = &f.address;
    require(
        a.window.as_std() >= minute && a.window.as_std() <= minute * 24 * 60,
        src,
        "address.window",
        "must be between 1m and 24h",
    )?;
    require(
        a.min_identities >= 2,
        src,
        "address.min_identities",
        "must be at least 2",
    )?;
    require(
        a.min_vaults >= 2,
        src,
        "address.min_vaults",
        "must be at least 2",
    )?;
    require(
        a.min_vault_denials >= a.min_vaults,
        src,
        "address.min_vault_denials",
        "must be at least address.min_vaults",
    )?;
    require(
        a.min_anonymous >= 2,
        src,
        "address.min_anonymous",
        "must be at least 2",
    )?;
    require(
        f.firewall.min_denials >= 1,
        src,
        "firewall.min_denials",
        "must be at least 1",
    )?;
    require(
        f.severity.raise_at_objects >= p.min_objects,
        src,
        "severity.raise_at_objects",
        "must be at least principal.min_objects",
    )?;
    require(
        f.severity.raise_at_vaults >= 2,
        src,
        "severity.raise_at_vaults",
        "must be at least 2",
    )
}

/// Loads, validates and checks the examples of a `failed_auth` file.
pub fn load(src: &Source, config: &Config) -> Result<Box<dyn Detector>, DetectorError> {
    let f: File = defs::parse(src)?;
    validate(&f, src)?;
    let suppressor = defs::suppressor(src, config, &f.suppress)?;
    let settings = Settings {
        principal: f.principal.clone(),
        token: f.token.clone(),
        address: f.address.clone(),
        firewall: f.firewall.clone(),
        severity: f.severity.clone(),
    };
    let make =
        || -> Box<dyn Detector> { Box::new(FailedAuth::new(settings.clone(), suppressor.clone())) };
    super::examples::check(&src.file, &f.example, &f.example_geo, &make)?;
    Ok(make())
}

/// The detector.
pub struct FailedAuth {
    pub(crate) s: Settings,
    suppressor: Suppressor,
    pub(crate) state: State,
}

impl FailedAuth {
    /// A detector with these settings and suppressions.
    pub fn new(s: Settings, suppressor: Suppressor) -> Self {
        FailedAuth {
            s,
            suppressor,
            state: State::default(),
        }
    }

    /// The probability of `n` denials in the window, and the expected count, for this principal.
    pub(crate) fn improbability(&self, obs: &Observation<'_>, n: u32) -> (f64, f64) {
        let p = &self.s.principal;
        let window_h = f64::from(defs::secs(p.window)) / 3600.0;
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
}

impl Detector for FailedAuth {
    fn name(&self) -> &'static str {
        NAME
    }

    fn observe(&mut self, obs: &Observation<'_>, findings: &mut Vec<Finding>) {
        super::failed_auth_rules::observe(self, obs, findings);
    }

    fn suppressor(&self) -> Option<&Suppressor> {
        Some(&self.suppressor)
    }

    fn save(&self) -> Vec<u8> {
        serde_json::to_vec(&self.state.snapshot()).unwrap_or_default()
    }

    fn restore(&mut self, state: &[u8]) -> Result<(), DetectorError> {
        self.state = State::from_snapshot(state).map_err(|e| DetectorError::Restore {
            detector: NAME.into(),
            message: e.to_string(),
        })?;
        Ok(())
    }

    fn memory(&self) -> DetectorMemory {
        self.state.memory()
    }
}

/// The key denied objects are counted by: vault, object kind and name (or operation).
pub(crate) fn object_key(obs: &Observation<'_>) -> u64 {
    let e = obs.event;
    let name = e
        .object
        .as_ref()
        .and_then(|o| o.name.as_deref())
        .unwrap_or_else(|| e.operation.as_str());
    let kind = e.object.as_ref().map_or("", |o| o.kind.as_str());
    obs.vault ^ hash64(kind.as_bytes()).rotate_left(17) ^ hash64(name.as_bytes()).rotate_left(31)
}

/// An address as a window key.
pub(crate) type AddrMap<V> = std::collections::HashMap<IpAddr, V>;
/// Principals as window keys.
pub(crate) type PrincipalMap<V> = FastMap<u128, V>;
