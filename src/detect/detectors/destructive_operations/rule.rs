//! The name of `destructive_operations`, its rules, and what it counts.

/// The detector's name.
pub const NAME: &str = "destructive_operations";

/// The rules of `destructive_operations`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// Many distinct objects deleted or purged, beyond the principal's own history
    /// (or its kind's, while it has none) and improbable under its rate.
    BulkDelete,
    /// A principal that never purged, purging (after its learning period).
    FirstPurge,
    /// A vault deleted or purged by a principal that does not routinely do so.
    VaultDelete,
}

impl Rule {
    /// How many there are (the size of an episode's reported counts).
    pub const COUNT: usize = 3;

    /// The stable rule name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BulkDelete => "bulk_delete",
            Self::FirstPurge => "first_purge",
            Self::VaultDelete => "vault_delete",
        }
    }

    /// Its slot in an episode's reported counts.
    pub fn slot(self) -> usize {
        match self {
            Self::BulkDelete => 0,
            Self::FirstPurge => 1,
            Self::VaultDelete => 2,
        }
    }
}

/// What a successful destructive operation did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Destroy {
    /// Deleted an object (recoverable while soft delete lasts).
    Delete,
    /// Purged a deleted object for good.
    Purge,
    /// Deleted or purged a whole vault.
    Vault,
}
