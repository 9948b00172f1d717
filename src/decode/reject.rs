//! Why a record was not turned into an event: rejected (bad input) or skipped (valid
//! input that is not a Key Vault audit event).
//!
//! Every reason has a stable snake_case label used in metrics, the replay summary and
//! logs, so an operator can count and find what went wrong.

use std::fmt;

use serde::Serialize;

/// Bad input: the record cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectReason {
    /// Not valid JSON (or a truncated line).
    InvalidJson,
    /// Not valid UTF-8.
    InvalidUtf8,
    /// Larger than the configured maximum record size.
    TooLarge,
    /// Nested deeper than the parser allows.
    TooDeep,
    /// Valid JSON, but not an object of any known shape.
    UnknownShape,
    /// A CSV row that cannot be read.
    InvalidCsv,
    /// No event time.
    MissingTime,
    /// An event time in no known format.
    BadTime,
    /// No operation name.
    MissingOperation,
    /// No vault could be found (resource id, resource column or object URL).
    MissingVault,
    /// No HTTP status and no reason phrase to derive it from.
    MissingStatus,
    /// An Activity Log request or response body (JSON text) that kvwatch reads, for
    /// a role assignment or a diagnostic setting, is not a JSON object of the
    /// expected form.
    InvalidBody,
}

impl RejectReason {
    /// Every reason, in a stable order.
    pub const ALL: [RejectReason; 12] = [
        Self::InvalidJson,
        Self::InvalidUtf8,
        Self::TooLarge,
        Self::TooDeep,
        Self::UnknownShape,
        Self::InvalidCsv,
        Self::MissingTime,
        Self::BadTime,
        Self::MissingOperation,
        Self::MissingVault,
        Self::MissingStatus,
        Self::InvalidBody,
    ];

    /// The stable label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidJson => "invalid_json",
            Self::InvalidUtf8 => "invalid_utf8",
            Self::TooLarge => "too_large",
            Self::TooDeep => "too_deep",
            Self::UnknownShape => "unknown_shape",
            Self::InvalidCsv => "invalid_csv",
            Self::MissingTime => "missing_time",
            Self::BadTime => "bad_time",
            Self::MissingOperation => "missing_operation",
            Self::MissingVault => "missing_vault",
            Self::MissingStatus => "missing_status",
            Self::InvalidBody => "invalid_body",
        }
    }
}

/// Valid input that kvwatch does not analyse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// Another log category (Activity Log, policy evaluation …).
    OtherCategory,
    /// An `AuditEvent` of a resource that is not a vault or managed HSM.
    NotKeyVault,
    /// An Activity Log operation that cannot change who reaches a vault or what it
    /// logs (a virtual machine started, a storage account written …).
    UnrelatedOperation,
}

impl SkipReason {
    /// Every reason, in a stable order.
    pub const ALL: [SkipReason; 3] = [
        Self::OtherCategory,
        Self::NotKeyVault,
        Self::UnrelatedOperation,
    ];

    /// The stable label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OtherCategory => "other_category",
            Self::NotKeyVault => "not_key_vault",
            Self::UnrelatedOperation => "unrelated_operation",
        }
    }
}

/// What happened to a record that produced no event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Refusal {
    /// Bad input.
    Rejected(RejectReason),
    /// Not for us.
    Skipped(SkipReason),
}

impl Refusal {
    /// The stable label of the reason.
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::Rejected(r) => r.as_str(),
            Refusal::Skipped(s) => s.as_str(),
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Rejected(r) => write!(f, "rejected ({})", r.as_str()),
            Refusal::Skipped(s) => write!(f, "skipped ({})", s.as_str()),
        }
    }
}

impl From<RejectReason> for Refusal {
    fn from(r: RejectReason) -> Self {
        Refusal::Rejected(r)
    }
}

impl From<SkipReason> for Refusal {
    fn from(s: SkipReason) -> Self {
        Refusal::Skipped(s)
    }
}

/// Classifies a serde_json error into a reject reason.
pub fn reason_for_json_error(err: &serde_json::Error, input: &[u8]) -> RejectReason {
    if err.to_string().contains("recursion limit") {
        RejectReason::TooDeep
    } else if std::str::from_utf8(input).is_err() {
        RejectReason::InvalidUtf8
    } else if err.classify() == serde_json::error::Category::Data {
        // The wrong type (an array or a string, not an object): unknown shape if the
        // text is well-formed JSON. The type error is raised at the first token, so a
        // truncated or broken value (`[[[[…` never closed) is checked to the end; the
        // check skips values without recursing, however deep they nest.
        match serde_json::from_slice::<serde::de::IgnoredAny>(input) {
            Ok(_) => RejectReason::UnknownShape,
            Err(_) => RejectReason::InvalidJson,
        }
    } else {
        RejectReason::InvalidJson
    }
}
