//! What the report remembers per principal, vault and object, each list capped.
//!
//! A replay can cover months of a large tenant; the report must still fit in memory.
//! Every set here is a [`Capped`] map: it keeps at most its cap of distinct keys and
//! counts the rest as `more`, so the report can say "and 1,204 more" instead of
//! silently dropping them or growing without bound.

use chrono::{DateTime, Utc};

pub use super::capped::{table, Capped, Seen, Table};
use super::series::Series;
use crate::event::{OperationClass, Outcome, PolicyChange, PrincipalKind, VaultConfig};

/// A principal's use of one vault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VaultUse {
    /// Requests, any outcome.
    pub seen: Seen,
    /// Requests served.
    pub ok: u64,
    /// Requests denied.
    pub denied: u64,
    /// The last request served, if any.
    pub last_ok: Option<DateTime<Utc>>,
}

/// Everything the report keeps about one principal.
#[derive(Debug, Clone)]
pub struct PrincipalStats {
    /// The identity alerts use (principal key, `ip:<address>`, `anonymous`).
    pub identity: String,
    /// What kind of principal.
    pub kind: PrincipalKind,
    /// The UPN, when any record carried one.
    pub upn: Option<String>,
    /// The object id, when known.
    pub oid: Option<String>,
    /// Requests, any outcome.
    pub seen: Seen,
    /// The last request served.
    pub last_ok: Option<DateTime<Utc>>,
    /// Requests served that returned a secret value, key material or a backup.
    pub values_read: u64,
    /// Requests by operation class.
    pub by_class: [u64; 8],
    /// Requests by outcome.
    pub by_outcome: [u64; 9],
    /// Activity over time.
    pub series: Series,
    /// Vaults used.
    pub vaults: Capped<String, VaultUse>,
    /// Objects touched (`vault/kind/name`).
    pub objects: Capped<String, Seen>,
    /// Countries (or address classes) the requests came from.
    pub places: Capped<String, Seen>,
    /// Networks (/24, /48, or address classes).
    pub networks: Capped<String, Seen>,
    /// Client applications (`appid`).
    pub apps: Capped<String, Seen>,
    /// User agents (`clientInfo`).
    pub user_agents: Capped<String, Seen>,
    /// Multi-factor authentication, as the `amr` claim tells.
    pub mfa: MfaStats,
    /// Denied requests.
    pub denials: DenialStats,
    /// Alerts raised about the principal: (time, severity label, detector), capped.
    pub alerts: Vec<AlertMark>,
}

/// An alert on a principal's or vault's timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertMark {
    /// When (the alert's `last_seen`).
    pub time: DateTime<Utc>,
    /// Its severity.
    pub severity: crate::alert::Severity,
    /// Its detector.
    pub detector: String,
    /// Its incident.
    pub incident_id: String,
}

/// The `amr` claims a user's requests carried.
#[derive(Debug, Clone)]
pub struct MfaStats {
    /// Requests whose token shows MFA.
    pub with: u64,
    /// Requests whose token has an `amr` claim without `mfa`.
    pub without: u64,
    /// Requests without an `amr` claim (ARM relays, older tokens): not judged.
    pub unknown: u64,
    /// When requests without MFA were made.
    pub without_seen: Option<Seen>,
    /// The `amr` values seen without MFA.
    pub methods: Capped<String, Seen>,
    /// Operations made without MFA.
    pub operations: Capped<String, Seen>,
    /// Requests without MFA by operation class.
    pub by_class: [u64; 8],
}

/// A principal's denied requests.
#[derive(Debug, Clone)]
pub struct DenialStats {
    /// Denials by outcome.
    pub by_outcome: [u64; 9],
    /// When.
    pub seen: Option<Seen>,
    /// The vaults.
    pub vaults: Capped<String, Seen>,
    /// The operations.
    pub operations: Capped<String, Seen>,
    /// The first error text the service gave.
    pub sample: Option<String>,
}

impl PrincipalStats {
    /// A principal first seen at `t`, lists capped at `cap` items.
    pub fn new(identity: &str, kind: PrincipalKind, t: DateTime<Utc>, cap: usize) -> Self {
        PrincipalStats {
            identity: identity.to_owned(),
            kind,
            upn: None,
            oid: None,
            seen: Seen {
                count: 0,
                first: t,
                last: t,
            },
            last_ok: None,
            values_read: 0,
            by_class: [0; 8],
            by_outcome: [0; 9],
            series: Series::default(),
            vaults: Capped::new(cap),
            objects: Capped::new(cap * 4),
            places: Capped::new(cap),
            networks: Capped::new(cap),
            apps: Capped::new(cap),
            user_agents: Capped::new(cap),
            mfa: MfaStats {
                with: 0,
                without: 0,
                unknown: 0,
                without_seen: None,
                methods: Capped::new(cap),
                operations: Capped::new(cap),
                by_class: [0; 8],
            },
            denials: DenialStats {
                by_outcome: [0; 9],
                seen: None,
                vaults: Capped::new(cap),
                operations: Capped::new(cap),
                sample: None,
            },
            alerts: Vec::new(),
        }
    }

    /// The most readable name: UPN, else the identity.
    pub fn display_name(&self) -> &str {
        self.upn.as_deref().unwrap_or(&self.identity)
    }
}

/// One secret, key or certificate of a vault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectStats {
    /// Any request naming it, any outcome.
    pub seen: Seen,
    /// Successful writes (set, update, import, restore, rotate …).
    pub writes: u64,
    /// The last successful write, and who made it.
    pub last_write: Option<(DateTime<Utc>, String)>,
    /// Successful uses (reads of the value, cryptographic operations).
    pub uses: u64,
    /// The last successful use.
    pub last_use: Option<DateTime<Utc>>,
    /// The last `…NearExpiry…` notification.
    pub near_expiry: Option<DateTime<Utc>>,
    /// The last `…Expired…` notification.
    pub expired: Option<DateTime<Utc>>,
    /// The last successful delete or purge.
    pub deleted: Option<DateTime<Utc>>,
    /// Whether an operation showed it exists (a success or a notification).
    pub exists: bool,
}

/// A configuration or access change on a vault, with before and after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeRecord {
    /// When.
    pub time: DateTime<Utc>,
    /// Who (identity).
    pub identity: String,
    /// The operation (`VaultPatch` …).
    pub operation: String,
    /// The configuration before (`None`: first sight).
    pub before: Option<VaultConfig>,
    /// The configuration after, when the record carried it.
    pub after: Option<VaultConfig>,
    /// The access-policy change, when the record carried one.
    pub policy: Option<PolicyChange>,
    /// A control-plane change from the Activity Log (a role assignment, a diagnostic
    /// setting): what it is, before, after.
    pub control: Option<(String, String, String)>,
}

/// A principal's successful destructive operations on one vault.
#[derive(Debug, Clone)]
pub struct DestructiveUse {
    /// When.
    pub seen: Seen,
    /// Operations.
    pub operations: Capped<String, Seen>,
    /// Objects.
    pub objects: Capped<String, Seen>,
}

/// Everything the report keeps about one vault.
#[derive(Debug, Clone)]
pub struct VaultStats {
    /// Requests, any outcome.
    pub seen: Seen,
    /// Requests by class and outcome.
    pub matrix: [[u64; 9]; 8],
    /// Activity over time.
    pub series: Series,
    /// Requests per principal (identity).
    pub principals: Capped<String, PrincipalOnVault>,
    /// The configuration first seen in the period.
    pub first_config: Option<(DateTime<Utc>, VaultConfig)>,
    /// The configuration last seen in the period.
    pub last_config: Option<(DateTime<Utc>, VaultConfig)>,
    /// Configuration and access changes, in event order (capped).
    pub changes: Vec<ChangeRecord>,
    /// Changes left out past the cap.
    pub changes_more: u64,
    /// Vault writes that changed nothing visible (identical settings re-applied,
    /// tag-only edits): counted, not listed.
    pub unchanged_writes: u64,
    /// Objects (`kind/name`).
    pub objects: Capped<String, ObjectStats>,
    /// Successful destructive operations (delete, purge, backup) per identity.
    pub destructive: Capped<String, DestructiveUse>,
    /// Successful requests from public addresses.
    pub public_ok: u64,
    /// Alerts about the vault.
    pub alerts: Vec<AlertMark>,
}

/// A principal's requests on one vault.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PrincipalOnVault {
    /// Requests.
    pub count: u64,
    /// Denied requests.
    pub denied: u64,
}

impl VaultStats {
    /// A vault first seen at `t`.
    pub fn new(t: DateTime<Utc>, max_objects: usize, cap: usize) -> Self {
        VaultStats {
            seen: Seen {
                count: 0,
                first: t,
                last: t,
            },
            matrix: [[0; 9]; 8],
            series: Series::default(),
            principals: Capped::new(cap * 100),
            first_config: None,
            last_config: None,
            changes: Vec::new(),
            changes_more: 0,
            unchanged_writes: 0,
            objects: Capped::new(max_objects),
            destructive: Capped::new(cap * 4),
            public_ok: 0,
            alerts: Vec::new(),
        }
    }

    /// Counts a request in the class × outcome matrix.
    pub fn count(&mut self, class: OperationClass, outcome: Outcome) {
        self.matrix[class.index()][outcome.index()] += 1;
    }
}
