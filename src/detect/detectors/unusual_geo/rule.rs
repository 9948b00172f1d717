//! The name of `unusual_geo` and of its rules, as alerts carry them.

/// The detector's name.
pub const NAME: &str = "unusual_geo";

/// The rules of `unusual_geo`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// A country the principal never used (after learning), rare for the tenant.
    NewCountry,
    /// A principal still learning, from a country no principal of the tenant used.
    RareCountryNewPrincipal,
    /// Two places no one could travel between in the time.
    ImpossibleTravel,
    /// Without a GeoIP database: a network prefix no principal used before.
    NewNetwork,
    /// A workload principal reading several objects it never read from a network it
    /// never used, in a short window (its token replayed elsewhere).
    BorrowedIdentity,
}

impl Rule {
    /// The stable rule name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NewCountry => "new_country",
            Self::RareCountryNewPrincipal => "rare_country_new_principal",
            Self::ImpossibleTravel => "impossible_travel",
            Self::NewNetwork => "new_network",
            Self::BorrowedIdentity => "borrowed_identity",
        }
    }
}
