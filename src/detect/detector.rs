//! The contract between the engine and a detection algorithm: the [`Detector`]
//! trait, what a detector reports about its memory, and why detectors cannot be
//! built or restored.
//!
//! A detector is a small state machine over [`Observation`]s. It never emits an
//! alert itself: it reports [`Finding`]s and the engine decides what becomes an
//! alert. Detectors see time only through events and [`Detector::advance`], so
//! replay and live give the same results. Most detectors do not implement this trait
//! by hand: they write their rules and state and let [`super::stateful::Stateful`]
//! do the rest (naming, suppressions, snapshots, memory accounting).

use chrono::{DateTime, Utc};

use super::finding::Finding;
use super::observation::Observation;
use super::snapshot::Reader;
use super::suppress::Suppressor;
use crate::alert::Alert;
use crate::event::AuditEvent;

/// A detection algorithm.
pub trait Detector: Send {
    /// The detector's name (`failed_auth` …), as alerts carry it.
    fn name(&self) -> &'static str;

    /// Reads one event (in event-time order, late events excepted).
    fn observe(&mut self, obs: &Observation<'_>, findings: &mut Vec<Finding>);

    /// Whether this detector reads `event` the moment it arrives, before the
    /// watermark orders it (see [`Detector::arrive`]). A pure function of the event,
    /// so every mode sends the same events down the same lane.
    fn on_arrival(&self, _event: &AuditEvent<'_>) -> bool {
        false
    }

    /// Reads an event [`Detector::on_arrival`] claimed, when it arrives. Such
    /// events still reach [`Detector::observe`] when the watermark releases them;
    /// a detector reads each in one of the two places, never both. Rules read here
    /// need only the record and what earlier arrivals of the same kind taught the
    /// detector (a vault's last configuration, a scope's vaults), so they alert in
    /// seconds instead of after the allowed lateness.
    fn arrive(&mut self, _obs: &Observation<'_>, _findings: &mut Vec<Finding>) {}

    /// Event time moved to `now` without an event for this detector (windows close).
    fn advance(&mut self, _now: DateTime<Utc>, _findings: &mut Vec<Finding>) {}

    /// The suppressions that apply to this detector's findings.
    fn suppressor(&self) -> Option<&Suppressor> {
        None
    }

    /// The detector's learned and transient state, serialised (opaque bytes; see
    /// [`super::snapshot`] for the format).
    fn save(&self) -> Vec<u8> {
        b"null".to_vec()
    }

    /// Restores a [`Detector::save`] snapshot.
    fn restore(&mut self, _state: &[u8]) -> Result<(), DetectorError> {
        Ok(())
    }

    /// Restores this detector's part of an engine snapshot from the stream. By
    /// default the part's bytes are read, then [`Detector::restore`]d; a detector
    /// with a large state reads it straight from the stream instead.
    fn restore_from(&mut self, input: &mut Reader<'_>) -> Result<(), DetectorError> {
        let part = input.bytes().map_err(|e| DetectorError::Restore {
            detector: self.name().to_owned(),
            message: e.to_string(),
        })?;
        self.restore(&part)
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
    /// The roles file (`[detectors] roles`) could not be read or is invalid.
    #[error("[detectors] roles: {0}")]
    Roles(#[from] crate::event::roles::RolesError),
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
