//! What a detector is shown for each event: the event, where its caller is, and the
//! baselines as they were *before* the event (the engine lets them learn only after
//! every detector has looked).

use super::baseline::keys::{principal_key, secs, vault_key};
use super::baseline::{Baselines, PairProfile, PrincipalProfile};
use super::enrichment::Geo;
use crate::event::AuditEvent;

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

impl<'a> Observation<'a> {
    /// What detectors see of `event`, whose caller is at `geo`, against `baselines`
    /// as they stand (the keys are derived here, once for every detector).
    pub fn new(event: &'a AuditEvent<'a>, geo: &'a Geo<'a>, baselines: &'a Baselines) -> Self {
        let principal = event.principal.key.as_deref().map(principal_key);
        let vault = vault_key(&event.vault);
        Observation {
            event,
            geo,
            principal,
            vault,
            now: secs(event.time),
            profile: principal.and_then(|k| baselines.principal(k)),
            pair: principal.and_then(|k| baselines.pair(k, vault)),
            baselines,
        }
    }

    /// Whether the principal is still learning (its own history is not yet trusted).
    pub fn learning(&self) -> bool {
        self.baselines.is_learning(self.profile, self.now)
    }
}
