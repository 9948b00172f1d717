//! `unusual_geo`: a principal calling from somewhere it never called from, or from
//! two places no one could travel between in the time.
//!
//! A country is "new" only when both are true: the principal never called from it
//! (after its learning period) and few of the tenant's principals ever did (so a
//! colleague's business trip to the company's other office is normal). Principals
//! still learning are judged against the tenant alone: a country no principal ever
//! called from. Impossible travel compares consecutive geolocated events of one
//! principal and needs both places in the evidence. Azure-internal, private,
//! documentation and unlocatable addresses are never new geography. Without a GeoIP
//! database the detector falls back to network prefixes never seen in the tenant.
//!
//! Impossible travel between two places the principal routinely alternates between
//! (a split-tunnel VPN) is learned: the pair becomes part of its baseline.
//!
//! A workload identity's token replayed from another VM in the same Azure region
//! shows no new geography at all; `borrowed_identity` looks finer: several objects
//! the workload never read, in half an hour, from a source network (/24, /48) it
//! never used, weighed against how often it shows either.
//!
//! Files: `settings.rs` (the TOML file), `state.rs` (last addresses and place
//! pairs), `country.rs` and `travel.rs` (the rules), `pairs.rs` (learning place
//! pairs), `borrowed.rs` and `borrowed_judge.rs` (a workload's networks, clients and
//! objects, and the rule), `wording.rs` (summaries and next steps), `rule.rs` (the
//! names alerts carry).

pub mod borrowed;
mod borrowed_judge;
mod country;
pub mod pairs;
pub mod rule;
pub mod settings;
pub mod state;
mod travel;
pub mod wording;

use rule::NAME;
use settings::{File, Settings};
use state::State;
use wording::Call;

use crate::config::SuppressConfig;
use crate::detect::definition::{self, Registration, Source};
use crate::detect::detector::{Detector, DetectorError};
use crate::detect::finding::Finding;
use crate::detect::loader;
use crate::detect::observation::Observation;
use crate::detect::stateful::Rules;
use crate::event::Outcome;

/// `unusual_geo` in the registry.
pub const REGISTRATION: Registration = Registration {
    name: NAME,
    file: "detectors/unusual_geo.toml",
    text: include_str!("../../../../detectors/unusual_geo.toml"),
    load,
    next_steps: wording::NEXT_STEPS,
};

/// Loads, validates and checks the examples of an `unusual_geo` file.
pub fn load(src: &Source, suppress: &SuppressConfig) -> Result<Box<dyn Detector>, DetectorError> {
    loader::load(src, suppress, |f: &File| UnusualGeo { s: Settings::of(f) })
}

/// The rules of `unusual_geo`.
#[derive(Debug, Clone)]
pub struct UnusualGeo {
    s: Settings,
}

impl Rules for UnusualGeo {
    const NAME: &'static str = NAME;
    type State = State;

    fn observe(&self, state: &mut State, obs: &Observation<'_>, findings: &mut Vec<Finding>) {
        let e = obs.event;
        if let Some(b) = &self.s.borrowed {
            // Workloads call from Azure and private addresses too: before the
            // public-address filter of geography.
            borrowed_judge::observe(b, &mut state.borrowed, obs, findings);
        }
        let (Some(key), Some(ip)) = (obs.principal, e.caller_ip) else {
            return;
        };
        // Only requests whose token was accepted say where the principal is: a rejected
        // (401) or forged token names an identity it does not prove, and denied
        // requests belong to failed_auth.
        if !obs.geo.is_public()
            || !matches!(
                e.outcome,
                Outcome::Ok | Outcome::NotFound | Outcome::Throttled
            )
        {
            return;
        }
        let t = &self.s.travel;
        state.prune(
            obs.now,
            definition::secs(t.within),
            definition::secs(t.forget_pair_after),
        );
        let place = obs.geo.label();
        let call = Call {
            event: e,
            place: &place,
            ip,
        };
        country::observe(&self.s, obs, &call, findings);
        travel::observe(&self.s, state, obs, key, &call, findings);
    }
}
