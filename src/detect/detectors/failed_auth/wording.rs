//! How `failed_auth` speaks to an analyst: the summary of each rule and the next
//! steps shown with its alerts.

use std::net::IpAddr;

use super::state::{AddressWindow, DenialKind, PrincipalWindow};
use crate::detect::text::{list, odds, plural};

/// What an analyst should do about a `failed_auth` alert.
pub const NEXT_STEPS: &[&str] = &[
    "Check whether the caller's address and client are known; block the address at the vault firewall if not.",
    "If the principal is a workload, look for a rotated or expired credential before assuming an attack.",
];

/// The failures of a window by kind: `token rejected (401) 3, RBAC denied 9`.
pub fn outcome_words(w: &PrincipalWindow) -> String {
    let parts: Vec<String> = w
        .outcomes()
        .filter(|(_, n)| *n > 0)
        .map(|(kind, n)| format!("{} {n}", label(kind)))
        .collect();
    parts.join(", ")
}

fn label(kind: DenialKind) -> &'static str {
    match kind {
        DenialKind::TokenRejected => "token rejected (401)",
        DenialKind::Rbac => "RBAC denied",
        DenialKind::Policy => "access policy denied",
        DenialKind::Firewall => "firewall blocked",
    }
}

/// What an address did, in the words every address summary uses.
pub struct AddressFacts<'a> {
    /// The address.
    pub ip: IpAddr,
    /// Where it is.
    pub place: &'a str,
    /// How long the episode has lasted, in words.
    pub span: &'a str,
    /// Distinct identities denied.
    pub identities: u32,
    /// Distinct vaults denied.
    pub vaults: u32,
    /// Denials.
    pub denials: u32,
    /// Failures without an identity.
    pub anonymous: u32,
}

/// `address_spray`.
pub fn address_spray(f: &AddressFacts<'_>, w: &AddressWindow) -> String {
    format!("address {} ({}) was denied for {} different identities in {} ({} denials on {}): one caller trying many stolen or guessed tokens; identities: {}",
        f.ip, f.place, f.identities, f.span, f.denials, list(&w.vault_names, f.vaults as usize, 3), list(&w.identity_names, f.identities as usize, 4))
}

/// `address_vault_sweep`.
pub fn address_vault_sweep(f: &AddressFacts<'_>, w: &AddressWindow) -> String {
    format!(
        "address {} ({}) was denied {} times on {} vaults in {} ({}): a sweep across vaults",
        f.ip,
        f.place,
        f.denials,
        f.vaults,
        f.span,
        list(&w.vault_names, f.vaults as usize, 4)
    )
}

/// `anonymous_failures`.
pub fn anonymous_failures(f: &AddressFacts<'_>, w: &AddressWindow) -> String {
    format!("address {} ({}) sent {} failing requests without any identity in {} (SDK challenge requests excluded) to {}",
        f.ip, f.place, f.anonymous, f.span, list(&w.vault_names, f.vaults as usize, 4))
}

/// What a principal did, in the words every principal summary uses.
pub struct PrincipalFacts<'a> {
    /// Who (`user alice@contoso.com (oid …)`).
    pub who: &'a str,
    /// The addresses and place it failed from.
    pub place: &'a str,
    /// How long the episode has lasted, in words.
    pub span: &'a str,
    /// Denials in the window.
    pub denials: u32,
    /// Distinct objects denied.
    pub objects: u32,
    /// Distinct vaults denied.
    pub vaults: u32,
}

/// `denied_enumeration` and `denial_burst`.
pub fn denials(
    f: &PrincipalFacts<'_>,
    w: &PrincipalWindow,
    expected: f64,
    window: &str,
    probability: f64,
) -> String {
    format!("{} was denied {} times in {} on {} across {} from {}: {}; {} (expected {:.1} in {}, probability {})",
        f.who, f.denials, f.span, plural(f.objects as usize, "object", "distinct objects"), list(&w.vault_names, f.vaults as usize, 3),
        f.place, outcome_words(w), list(&w.samples, f.objects as usize, 4), expected, window, odds(probability))
}

/// `foreign_tenant_token`.
pub fn foreign_tenant_token(f: &PrincipalFacts<'_>, tokens: u32, tenant: &str) -> String {
    format!("{} presented {} token(s) issued by tenant {tenant}, which no successful request has ever carried, from {}: a forged or foreign-tenant token",
        f.who, tokens, f.place)
}

/// `token_rejected`.
pub fn token_rejected(f: &PrincipalFacts<'_>, w: &PrincipalWindow, rejected: u32) -> String {
    format!("{} had {} requests rejected for a bad token (401: expired, forged or wrong audience) in {} from {}; objects: {}",
        f.who, rejected, f.span, f.place, list(&w.samples, f.objects as usize, 4))
}

/// `firewall_new_network`.
pub fn firewall_new_network(f: &PrincipalFacts<'_>, vault: &str, blocks: u32) -> String {
    format!("{}, which normally reaches vault {vault}, was blocked by the vault firewall {} times in {} from {}, a place it never called from: its token may be in use elsewhere",
        f.who, blocks, f.span, f.place)
}
