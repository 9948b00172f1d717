//! `access_policy_change`: every access-policy grant or removal, and every vault
//! configuration change that weakens access control, from Key Vault's own log.
//!
//! `VaultPut`/`VaultPatch` records carry the vault configuration *after* the call and
//! never a diff, so the detector keeps the last known configuration of every vault
//! (learned from `VaultGet` too, which Azure Resource Graph issues for every vault)
//! and diffs against it (see `diff.rs`). Rules apply from the first event; a
//! grant is raised in severity for a self-grant, a grantee never seen, a caller at an
//! unusual place, or a caller that never changed a vault before, and it stays open
//! for a while so that reads by the grantee are linked to it as a chain.
//!
//! Files: `settings.rs` (the TOML file), `state.rs` (vault configurations and open
//! grants), `grants.rs`, `vault_config.rs`, `diff.rs` and `caller.rs` (the rules),
//! `wording.rs` (summaries and next steps), `rule.rs` (the names alerts carry).

mod caller;
mod diff;
mod grants;
pub mod rule;
pub mod settings;
pub mod state;
mod vault_config;
pub mod wording;

use rule::NAME;
use settings::{File, Settings};
use state::State;

use crate::config::SuppressConfig;
use crate::detect::definition::{self, Registration, Source};
use crate::detect::detector::{Detector, DetectorError};
use crate::detect::finding::Finding;
use crate::detect::loader;
use crate::detect::observation::Observation;
use crate::detect::stateful::Rules;
use crate::event::{AuditEvent, OperationClass, Outcome};

/// `access_policy_change` in the registry.
pub const REGISTRATION: Registration = Registration {
    name: NAME,
    file: "detectors/access_policy_change.toml",
    text: include_str!("../../../../detectors/access_policy_change.toml"),
    load,
    next_steps: wording::NEXT_STEPS,
};

/// Loads, validates and checks the examples of an `access_policy_change` file.
pub fn load(src: &Source, suppress: &SuppressConfig) -> Result<Box<dyn Detector>, DetectorError> {
    loader::load(src, suppress, |f: &File| AccessChange {
        s: Settings::of(f),
    })
}

/// The rules of `access_policy_change`.
#[derive(Debug, Clone)]
pub struct AccessChange {
    s: Settings,
}

impl Rules for AccessChange {
    const NAME: &'static str = NAME;
    type State = State;

    /// Vault configurations and access-policy edits alert on arrival: their rules
    /// need the record and the vault's previous configuration, which only earlier
    /// arrivals of this kind (the same vault's log, in order) change.
    fn on_arrival(&self, e: &AuditEvent<'_>) -> bool {
        e.outcome == Outcome::Ok
            && matches!(
                e.class,
                OperationClass::AccessChange | OperationClass::Enumerate
            )
            && (e.vault_config.is_some() || e.policy_change.is_some())
    }

    fn arrive(&self, state: &mut State, obs: &Observation<'_>, findings: &mut Vec<Finding>) {
        grants::policy_change(&self.s, state, obs, findings);
        vault_config::config_change(&self.s, state, obs, findings);
    }

    /// Reads by a recent grantee, in event-time order: the chain to a grant
    /// (configuration changes were read on arrival).
    fn observe(&self, state: &mut State, obs: &Observation<'_>, findings: &mut Vec<Finding>) {
        let e = obs.event;
        if e.outcome != Outcome::Ok
            || e.class != OperationClass::ReadValue
            || !state.has_open_grants()
        {
            return;
        }
        let chain = &self.s.chain;
        let open = definition::secs(chain.read_window).max(definition::secs(chain.revoke_window));
        state.expire(obs.now.saturating_sub(open));
        grants::grantee_reads(&self.s, state, obs, findings);
    }
}
