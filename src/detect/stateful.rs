//! What every detector with state would otherwise write again: its name, its
//! suppressions, saving and restoring its state, and reporting its memory. A
//! detector supplies its [`Rules`] and a [`DetectorState`]; [`Stateful`] makes the
//! pair a [`Detector`].
//!
//! The byte format of detector snapshots is [`super::snapshot`]'s ([`encode`] and
//! [`decode`] call it): a detector says *what* it saves, never *how*.

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::detector::{Detector, DetectorError, DetectorMemory};
use super::finding::Finding;
use super::observation::Observation;
use super::suppress::Suppressor;
use crate::event::AuditEvent;

/// A detector's mutable memory: what it saves, how it comes back, what it costs.
pub trait DetectorState: Default + Send {
    /// What a snapshot holds (often a view of the state, borrowed or copied).
    type Saved<'a>: Serialize
    where
        Self: 'a;
    /// What a snapshot is read back into.
    type Restored: DeserializeOwned;
    /// Whether the saved types suit the compact binary format. `false` for types
    /// shaped for JSON (fields skipped when empty, deserializers that look at the
    /// input's shape): such a state is saved as JSON inside the compressed snapshot.
    const BINARY: bool = true;

    /// The state as saved.
    fn saved(&self) -> Self::Saved<'_>;

    /// The state from a restored snapshot.
    fn restored(saved: Self::Restored) -> Self;

    /// Entries and bytes held, learned and transient.
    fn memory(&self) -> DetectorMemory;

    /// Keeps every per-principal table within `cap` entries at event time `now`
    /// (see [`crate::detect::baseline::cap`]); called after every event, so it must
    /// cost two length checks unless a table is full.
    fn enforce_cap(&mut self, _cap: usize, _now: u32) {}
}

/// A detector's rules: its settings, reading events into its state.
pub trait Rules: Send {
    /// The name alerts carry.
    const NAME: &'static str;
    /// What the rules remember between events.
    type State: DetectorState;

    /// Reads one event (in event-time order, late events excepted).
    fn observe(&self, state: &mut Self::State, obs: &Observation<'_>, findings: &mut Vec<Finding>);

    /// Whether the rules read `event` on arrival ([`Detector::on_arrival`]).
    fn on_arrival(&self, _event: &AuditEvent<'_>) -> bool {
        false
    }

    /// Reads an event claimed by [`Rules::on_arrival`] when it arrives
    /// ([`Detector::arrive`]).
    fn arrive(
        &self,
        _state: &mut Self::State,
        _obs: &Observation<'_>,
        _findings: &mut Vec<Finding>,
    ) {
    }

    /// Event time moved to `now` (seconds) without an event ([`Detector::advance`]).
    fn advance(&self, _state: &mut Self::State, _now: u32, _findings: &mut Vec<Finding>) {}
}

/// Rules, their state and their suppressions: a [`Detector`].
pub struct Stateful<R: Rules> {
    rules: R,
    suppressor: Suppressor,
    state: R::State,
}

impl<R: Rules> Stateful<R> {
    /// A detector with these rules and suppressions and an empty state.
    pub fn new(rules: R, suppressor: Suppressor) -> Self {
        Stateful {
            rules,
            suppressor,
            state: R::State::default(),
        }
    }
}

impl<R: Rules> Detector for Stateful<R> {
    fn name(&self) -> &'static str {
        R::NAME
    }

    fn observe(&mut self, obs: &Observation<'_>, findings: &mut Vec<Finding>) {
        self.rules.observe(&mut self.state, obs, findings);
        self.state
            .enforce_cap(obs.baselines.settings().max_principals, obs.now);
    }

    fn on_arrival(&self, event: &AuditEvent<'_>) -> bool {
        self.rules.on_arrival(event)
    }

    fn arrive(&mut self, obs: &Observation<'_>, findings: &mut Vec<Finding>) {
        self.rules.arrive(&mut self.state, obs, findings);
        self.state
            .enforce_cap(obs.baselines.settings().max_principals, obs.now);
    }

    fn advance(&mut self, now: DateTime<Utc>, findings: &mut Vec<Finding>) {
        self.rules
            .advance(&mut self.state, super::baseline::keys::secs(now), findings);
    }

    fn suppressor(&self) -> Option<&Suppressor> {
        Some(&self.suppressor)
    }

    fn save(&self) -> Vec<u8> {
        if R::State::BINARY {
            encode(&self.state.saved())
        } else {
            serde_json::to_vec(&self.state.saved()).unwrap_or_default()
        }
    }

    fn restore(&mut self, state: &[u8]) -> Result<(), DetectorError> {
        self.state = R::State::restored(decode(R::NAME, state)?);
        Ok(())
    }

    fn restore_from(
        &mut self,
        input: &mut super::snapshot::Reader<'_>,
    ) -> Result<(), DetectorError> {
        let saved = input.part().map_err(|e| DetectorError::Restore {
            detector: R::NAME.to_owned(),
            message: e.to_string(),
        })?;
        self.state = R::State::restored(saved);
        Ok(())
    }

    fn memory(&self) -> DetectorMemory {
        self.state.memory()
    }
}

/// A detector snapshot as bytes (see [`super::snapshot`]).
pub fn encode<T: Serialize>(snapshot: &T) -> Vec<u8> {
    super::snapshot::encode_part(snapshot)
}

/// A detector snapshot from bytes, binary or (written by older builds) JSON; the
/// error names the detector.
pub fn decode<T: DeserializeOwned>(detector: &str, bytes: &[u8]) -> Result<T, DetectorError> {
    super::snapshot::decode_part(bytes).map_err(|e| DetectorError::Restore {
        detector: detector.to_owned(),
        message: e.to_string(),
    })
}
