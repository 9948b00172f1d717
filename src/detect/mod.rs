//! Detection: detectors read events in event-time order and report findings; the
//! incident tracker turns findings into alerts (one per incident, plus escalations).
//!
//! A [`Detector`] is a small state machine over [`Observation`]s. It never emits an
//! [`Alert`] itself: it reports a [`Finding`] (what, who, where, why) and the
//! [`Engine`] decides whether that opens an incident, extends one silently, or
//! escalates one. Detectors see time only through events and [`Detector::advance`],
//! so replay and live give the same results.
//!
//! Per event the engine computes the enrichment once ([`enrichment::Geo`]), hands
//! every detector the event with the principal's baselines *as they were before the
//! event*, then lets the baselines learn from it, then drops findings that a
//! suppression covers ([`suppress`]).

pub mod access_change;
mod access_diff;
mod access_state;
pub mod baseline;
pub mod bulk_retrieval;
mod bulk_rules;
mod bulk_state;
pub mod defs;
pub mod engine;
pub mod enrichment;
pub mod examples;
pub mod failed_auth;
mod failed_auth_rules;
pub mod incident;
pub mod suppress;
pub mod text;
pub mod unusual_geo;
pub mod windows;

use chrono::{DateTime, Utc};

use crate::alert::{Alert, Evidence, PrincipalSummary, Severity};
use crate::event::AuditEvent;
use baseline::{Baselines, PairProfile, PrincipalProfile};
pub use defs::build_detectors;
pub use engine::Engine;
use enrichment::Geo;
pub use incident::{IncidentPolicy, Incidents};

/// What a detector sees for each event.
#[derive(Debug, Clone, Copy)]
pub struct Observation<'a> {
    /// The event.
    pub event: &'a AuditEvent<'a>,
    /// Where the caller is (computed once per event).
    pub geo: &'a Geo<'a>,
    /// The principal key as a number (`None` for anonymous callers).
    pub principal: Option<u128>,
    /// The vault's key.
    pub vault: u64,
    /// Event time in seconds.
    pub now: u32,
    /// The principal's profile before this event (`None`: never seen).
    pub profile: Option<&'a PrincipalProfile>,
    /// The principal's profile on this vault before this event.
    pub pair: Option<&'a PairProfile>,
    /// All baselines (population, other principals).
    pub baselines: &'a Baselines,
}

impl Observation<'_> {
    /// Whether the principal is still learning (its own history is not yet trusted).
    pub fn learning(&self) -> bool {
        self.baselines.is_learning(self.profile, self.now)
    }
}

/// A detector's report: something worth an analyst's attention.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// The detector's name.
    pub detector: &'static str,
    /// The specific rule that fired.
    pub rule: String,
    /// How urgent.
    pub severity: Severity,
    /// The principal key or `ip:<address>`.
    pub identity: String,
    /// What the records said about the principal.
    pub principal: PrincipalSummary,
    /// The vault (or `*` when the finding spans vaults).
    pub vault: String,
    /// Incident grouping beyond detector, identity and vault (often empty).
    pub group: String,
    /// The first event the finding covers.
    pub first_seen: DateTime<Utc>,
    /// The event that triggered the finding.
    pub last_seen: DateTime<Utc>,
    /// One sentence an analyst can act on.
    pub summary: String,
    /// The evidence.
    pub evidence: Evidence,
}

impl Finding {
    /// A finding about the observed event's caller on its vault.
    pub fn about(
        obs: &Observation<'_>,
        detector: &'static str,
        rule: &str,
        severity: Severity,
    ) -> Finding {
        let e = obs.event;
        Finding {
            detector,
            rule: rule.to_owned(),
            severity,
            identity: e.identity().into_owned(),
            principal: PrincipalSummary::of(&e.principal),
            vault: e.vault.to_string(),
            group: String::new(),
            first_seen: e.time,
            last_seen: e.time,
            summary: String::new(),
            evidence: Evidence::new(),
        }
    }
}

/// A detection algorithm.
pub trait Detector: Send {
    /// The detector's name (`failed_auth` …), as alerts carry it.
    fn name(&self) -> &'static str;

    /// Reads one event (in event-time order, late events excepted).
    fn observe(&mut self, obs: &Observation<'_>, findings: &mut Vec<Finding>);

    /// Event time moved to `now` without an event for this detector (windows close).
    fn advance(&mut self, _now: DateTime<Utc>, _findings: &mut Vec<Finding>) {}

    /// The suppressions that apply to this detector's findings.
    fn suppressor(&self) -> Option<&suppress::Suppressor> {
        None
    }

    /// The detector's learned and transient state, serialised (JSON, so a snapshot
    /// can be read by a person; the outbox stores it as opaque bytes).
    fn save(&self) -> Vec<u8> {
        b"null".to_vec()
    }

    /// Restores a [`Detector::save`] snapshot.
    fn restore(&mut self, _state: &[u8]) -> Result<(), DetectorError> {
        Ok(())
    }

    /// Per-principal entries and bytes this detector holds (for memory reports).
    fn memory(&self) -> DetectorMemory {
        DetectorMemory::default()
    }
}

/// Memory a detector holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct DetectorMemory {
    /// Principals (or addresses) with learned, long-lived state.
    pub learned_entries: usize,
    /// Bytes of that learned state.
    pub learned_bytes: usize,
    /// Entries with transient state (open windows).
    pub transient_entries: usize,
    /// Bytes of transient state.
    pub transient_bytes: usize,
}

/// Why the detectors could not be built or restored.
#[derive(Debug, thiserror::Error)]
pub enum DetectorError {
    /// A detector definition is invalid.
    #[error("{0}")]
    Definition(String),
    /// A detector file's example did not give the expected result.
    #[error("{file}: example {example:?}: {message}")]
    Example {
        /// The detector file.
        file: String,
        /// The example's name.
        example: String,
        /// What went wrong.
        message: String,
    },
    /// The GeoIP database could not be opened.
    #[error(transparent)]
    GeoIp(#[from] crate::enrich::GeoIpError),
    /// A saved state could not be restored.
    #[error("cannot restore the state of {detector}: {message}")]
    Restore {
        /// The detector (or `baselines`).
        detector: String,
        /// Why.
        message: String,
    },
}

/// Alerts the engine emitted, handed to the caller.
pub type AlertOut<'a> = &'a mut dyn FnMut(Alert);

/// A severity raised `n` steps.
pub fn raise(s: Severity, n: u32) -> Severity {
    (0..n).fold(s, |s, _| s.raised())
}
