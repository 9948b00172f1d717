//! `failed_auth`: bursts of authentication failures and authorisation denials.
//!
//! Key Vault logs every failure as `resultType: Success`; the outcome comes from the
//! HTTP status (see `event::outcome`). This detector watches three things the peers
//! do not: a principal denied on many objects or vaults (enumeration with a token
//! that lacks the grant), tokens rejected outright (401 with a token: expired, forged
//! or from a foreign tenant), and one address failing for many identities or vaults
//! (spraying stolen tokens). The SDK challenge (`Authentication` 401 with no identity)
//! is never counted, and a single permission slip never reaches the minimum counts.
//! Rates are compared with the principal's own denial rate once it has learned, and
//! with its kind's population rate before: a chronic misconfigured app stays quiet,
//! a new principal failing on ten objects does not.
//!
//! Files: `settings.rs` (the TOML file), `state.rs` (the episodes), `principal.rs`
//! and `address.rs` (the rules), `wording.rs` (summaries and next steps), `rule.rs`
//! (the names alerts carry).

mod address;
mod principal;
pub mod rule;
pub mod settings;
pub mod state;
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

/// `failed_auth` in the registry.
pub const REGISTRATION: Registration = Registration {
    name: NAME,
    file: "detectors/failed_auth.toml",
    text: include_str!("../../../../detectors/failed_auth.toml"),
    load,
    next_steps: wording::NEXT_STEPS,
};

/// Loads, validates and checks the examples of a `failed_auth` file.
pub fn load(src: &Source, suppress: &SuppressConfig) -> Result<Box<dyn Detector>, DetectorError> {
    loader::load(src, suppress, |f: &File| FailedAuth { s: Settings::of(f) })
}

/// The rules of `failed_auth`.
#[derive(Debug, Clone)]
pub struct FailedAuth {
    s: Settings,
}

impl Rules for FailedAuth {
    const NAME: &'static str = NAME;
    type State = State;

    fn observe(&self, state: &mut State, obs: &Observation<'_>, findings: &mut Vec<Finding>) {
        let e = obs.event;
        if !e.outcome.is_denial() {
            return;
        }
        let principal_window = definition::secs(self.s.principal.window);
        let address_window = definition::secs(self.s.address.window);
        state.prune(obs.now, principal_window, address_window);
        let address_flagged = match e.caller_ip {
            Some(ip) => address::observe(&self.s, state, obs, ip, address_window, findings),
            None => false,
        };
        if let Some(key) = obs.principal {
            // Once an address is reported for spraying several identities, their own
            // failures from it are that incident's evidence, not incidents of their own.
            let before = findings.len();
            principal::observe(&self.s, state, obs, key, principal_window, findings);
            if address_flagged {
                findings.truncate(before);
            }
        }
    }
}
