//! Detection: detectors read events in event-time order and report findings; the
//! incident tracker turns findings into alerts (one per incident, plus escalations).
//!
//! A [`Detector`] is a small state machine over [`Observation`]s. It never emits an
//! [`Alert`] itself: it reports a [`Finding`] (what, who, where, why) and the
//! [`Engine`] decides whether that opens an incident, extends one silently, or
//! escalates one. Detectors see time only through events and [`Detector::advance`],
//! so replay and live give the same results.

pub mod incident;

use chrono::{DateTime, Utc};

use crate::alert::{Alert, Evidence, PrincipalSummary, Severity};
use crate::event::AuditEvent;
pub use incident::{IncidentPolicy, Incidents};

/// What a detector sees for each event.
#[derive(Debug, Clone, Copy)]
pub struct Observation<'a> {
    /// The event.
    pub event: &'a AuditEvent<'a>,
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

/// A detection algorithm.
pub trait Detector: Send {
    /// The detector's name (`failed_auth` …), as alerts carry it.
    fn name(&self) -> &'static str;

    /// Reads one event (in event-time order, late events excepted).
    fn observe(&mut self, obs: &Observation<'_>, findings: &mut Vec<Finding>);

    /// Event time moved to `now` without an event for this detector (windows close).
    fn advance(&mut self, _now: DateTime<Utc>, _findings: &mut Vec<Finding>) {}
}

/// The detectors plus the incident tracker.
pub struct Engine {
    detectors: Vec<Box<dyn Detector>>,
    incidents: Incidents,
    scratch: Vec<Finding>,
}

impl Engine {
    /// An engine running `detectors` with the given incident policy.
    pub fn new(detectors: Vec<Box<dyn Detector>>, policy: IncidentPolicy) -> Self {
        Engine { detectors, incidents: Incidents::new(policy), scratch: Vec::new() }
    }

    /// The detectors' names.
    pub fn detector_names(&self) -> Vec<&'static str> {
        self.detectors.iter().map(|d| d.name()).collect()
    }

    /// Runs every detector over one event; alerts go to `out`.
    pub fn process(&mut self, event: &AuditEvent<'_>, out: &mut dyn FnMut(Alert)) {
        let obs = Observation { event };
        for d in &mut self.detectors {
            d.observe(&obs, &mut self.scratch);
        }
        self.drain(out);
        self.incidents.expire(event.time);
    }

    /// Moves event time forward (watermark, end of input).
    pub fn advance(&mut self, now: DateTime<Utc>, out: &mut dyn FnMut(Alert)) {
        for d in &mut self.detectors {
            d.advance(now, &mut self.scratch);
        }
        self.drain(out);
        self.incidents.expire(now);
    }

    fn drain(&mut self, out: &mut dyn FnMut(Alert)) {
        for finding in self.scratch.drain(..) {
            if let Some(alert) = self.incidents.record(finding) {
                out(alert);
            }
        }
    }
}

/// Why the detectors could not be built.
#[derive(Debug, thiserror::Error)]
pub enum DetectorError {
    /// A detector definition is invalid.
    #[error("{0}")]
    Definition(String),
}

/// Builds the configured detectors.
pub fn build_detectors(_config: &crate::config::Config) -> Result<Vec<Box<dyn Detector>>, DetectorError> {
    Ok(Vec::new())
}
