//! The settings of `failed_auth`: the file `detectors/failed_auth.toml` as typed
//! sections, and the checks that refuse impossible values (naming the file and key).

use serde::{Deserialize, Serialize};

use super::rule::{AddressRule, PrincipalRule};
use crate::alert::Severity;
use crate::config::{ConfigDuration, SuppressConfig};
use crate::detect::definition::{require, Header, Source};
use crate::detect::detector::DetectorError;
use crate::detect::examples::{Example, ExampleGeo};
use crate::detect::loader::DetectorFile;

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

impl Severities {
    /// The base severity of a principal rule.
    pub fn principal(&self, rule: PrincipalRule) -> Severity {
        match rule {
            PrincipalRule::DeniedEnumeration => self.denied_enumeration,
            PrincipalRule::DenialBurst => self.denial_burst,
            PrincipalRule::TokenRejected => self.token_rejected,
            PrincipalRule::ForeignTenantToken => self.foreign_tenant_token,
            PrincipalRule::FirewallNewNetwork => self.firewall_new_network,
        }
    }

    /// The severity of an address rule.
    pub fn address(&self, rule: AddressRule) -> Severity {
        match rule {
            AddressRule::AddressSpray => self.address_spray,
            AddressRule::AddressVaultSweep => self.address_vault_sweep,
            AddressRule::AnonymousFailures => self.anonymous_failures,
        }
    }
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

/// Refuses impossible values, naming the file and the key.
pub fn validate(f: &File, src: &Source) -> Result<(), DetectorError> {
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

impl Settings {
    /// The validated settings of a file.
    pub fn of(f: &File) -> Settings {
        Settings {
            principal: f.principal.clone(),
            token: f.token.clone(),
            address: f.address.clone(),
            firewall: f.firewall.clone(),
            severity: f.severity.clone(),
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
