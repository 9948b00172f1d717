//! `destructive_operations`: a principal deleting or purging secrets, keys,
//! certificates or a vault, against who normally does that.
//!
//! Deleting is how an attacker holds a company to ransom or covers its tracks, and a
//! purge makes it final; it is also routine for a pipeline that rotates certificates
//! and cleans up the old ones every night. So the detector counts the distinct
//! objects one principal deleted or purged successfully on one vault in a sliding
//! window and compares the count with the principal's own history of deleting (after
//! its learning period, once it has some), else with its kind's population, and the
//! count must also be improbable under its learned rate (`bulk_delete`). A principal
//! that never purged, purging (`first_purge`), and a vault deleted by a principal
//! that does not routinely delete vaults (`vault_delete`), are reported too. Denied
//! attempts are `failed_auth`'s.
//!
//! Files: `settings.rs` (the TOML file), `state.rs` (episodes and histories),
//! `count.rs` (counting), `judge.rs` and `vault.rs` (the rules), `wording.rs`
//! (summaries and next steps), `rule.rs` (the names alerts carry).

mod count;
mod judge;
pub mod rule;
pub mod settings;
pub mod state;
mod vault;
pub mod wording;

use rule::NAME;
use settings::{File, Settings};
use state::State;

use crate::config::SuppressConfig;
use crate::detect::definition::{Registration, Source};
use crate::detect::detector::{Detector, DetectorError};
use crate::detect::finding::Finding;
use crate::detect::loader;
use crate::detect::observation::Observation;
use crate::detect::stateful::Rules;

/// `destructive_operations` in the registry.
pub const REGISTRATION: Registration = Registration {
    name: NAME,
    file: "detectors/destructive_operations.toml",
    text: include_str!("../../../../detectors/destructive_operations.toml"),
    load,
    next_steps: wording::NEXT_STEPS,
};

/// Loads, validates and checks the examples of a `destructive_operations` file.
pub fn load(src: &Source, suppress: &SuppressConfig) -> Result<Box<dyn Detector>, DetectorError> {
    loader::load(src, suppress, |f: &File| DestructiveOperations {
        s: Settings::of(f),
    })
}

/// The rules of `destructive_operations`.
#[derive(Debug, Clone)]
pub struct DestructiveOperations {
    s: Settings,
}

impl Rules for DestructiveOperations {
    const NAME: &'static str = NAME;
    type State = State;

    fn observe(&self, state: &mut State, obs: &Observation<'_>, findings: &mut Vec<Finding>) {
        count::observe(&self.s, state, obs, findings);
    }
}
