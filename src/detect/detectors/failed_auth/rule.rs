//! The name of `failed_auth` and of its rules, as alerts carry them.

/// The detector's name.
pub const NAME: &str = "failed_auth";

/// The rules about one principal's failures. Each remembers the count it last
/// reported in its own slot of the principal's window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrincipalRule {
    /// Denied on many distinct objects or vaults (enumeration with a token that
    /// lacks the grant).
    DeniedEnumeration,
    /// Far more denials than the principal's own (or its kind's) rate allows.
    DenialBurst,
    /// Requests whose token was rejected (401 carrying an identity).
    TokenRejected,
    /// A token from a tenant no successful request ever carried.
    ForeignTenantToken,
    /// Blocked by the firewall of a vault it normally reaches, from a new place.
    FirewallNewNetwork,
}

impl PrincipalRule {
    /// How many there are (the size of a window's reported counts).
    pub const COUNT: usize = 5;

    /// The stable rule name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::DeniedEnumeration => "denied_enumeration",
            Self::DenialBurst => "denial_burst",
            Self::TokenRejected => "token_rejected",
            Self::ForeignTenantToken => "foreign_tenant_token",
            Self::FirewallNewNetwork => "firewall_new_network",
        }
    }

    /// Its slot in a principal window's reported counts.
    pub fn slot(self) -> usize {
        match self {
            Self::DeniedEnumeration => 0,
            Self::DenialBurst => 1,
            Self::TokenRejected => 2,
            Self::ForeignTenantToken => 3,
            Self::FirewallNewNetwork => 4,
        }
    }
}

/// The rules about one caller address's failures, across identities and vaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressRule {
    /// Denied for many different identities (spraying stolen or guessed tokens).
    AddressSpray,
    /// Denied on many vaults, for several identities or none.
    AddressVaultSweep,
    /// Failing requests without any identity (SDK challenges excluded).
    AnonymousFailures,
}

impl AddressRule {
    /// How many there are (the size of a window's reported counts).
    pub const COUNT: usize = 3;

    /// The stable rule name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AddressSpray => "address_spray",
            Self::AddressVaultSweep => "address_vault_sweep",
            Self::AnonymousFailures => "anonymous_failures",
        }
    }

    /// Its slot in an address window's reported counts.
    pub fn slot(self) -> usize {
        match self {
            Self::AddressSpray => 0,
            Self::AddressVaultSweep => 1,
            Self::AnonymousFailures => 2,
        }
    }
}
