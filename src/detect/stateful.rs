//! What every detector with state would otherwise write again: its name, its
//! suppressions, saving and restoring its state, and reporting its memory. A
//! detector supplies its [`Rules`] and a [`DetectorState`]; [`Stateful`] makes the
//! pair a [`Detector`].
//!
//! The byte format of detector snapshots lives here alone ([`encode`] and
//! [`decode`], JSON today): a detector says *what* it saves, never *how*.

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::detector::{Detector, DetectorError, DetectorMemory};
use super::finding::Finding;
use super::observation::Observation;
use super::suppress::Suppressor;

/// A detector's mutable memory: what it saves, how it comes back, what it costs.
pub trait DetectorState: Default + Send {
    /// What a snapshot holds (often a view of the state, borrowed or copied).
    type Saved<'a>: Serialize
    where
        Self: 'a;
    /// What a snapshot is read back into.
    type Restored: DeserializeOwned;

    /// The state as saved.
    fn saved(&self) -> Self::Saved<'_>;

    /// The state from a restored snapshot.
    fn restored(saved: Self::Restored) -> Self;

    /// Entries and bytes held, learned and transient.
    fn memory(&self) -> DetectorMemory;
}

/// A detector's rules: its settings, reading events into its state.
pub trait Rules: Send {
    /// The name alerts carry.
    const NAME: &'static str;
    /// What the rules remember between events.
    type State: DetectorState;

    /// Reads one event (in event-time order, late events excepted).
    fn observe(&self, state: &mut Self::State, obs: &Observation<'_>, findings: &mut Vec<Finding>);
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
    }

    fn suppressor(&self) -> Option<&Suppressor> {
        Some(&self.suppressor)
    }

    fn save(&self) -> Vec<u8> {
        encode(&self.state.saved())
    }

    fn restore(&mut self, state: &[u8]) -> Result<(), DetectorError> {
        self.state = R::State::restored(decode(R::NAME, state)?);
        Ok(())
    }

    fn memory(&self) -> DetectorMemory {
        self.state.memory()
    }
}

/// A detector snapshot as bytes.
pub fn encode<T: Serialize>(snapshot: &T) -> Vec<u8> {
    serde_json::to_vec(snapshot).unwrap_or_default()
}

/// A detector snapshot from bytes; the error names the detector.
pub fn decode<T: DeserializeOwned>(detector: &str, bytes: &[u8]) -> Result<T, DetectorError> {
    serde_json::from_slice(bytes).map_err(|e| DetectorError::Restore {
        detector: detector.to_owned(),
        message: e.to_string(),
    })
}
