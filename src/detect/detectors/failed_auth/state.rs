//! What `failed_auth` remembers: per principal and per caller address, the failures
//! of the current episode. An episode starts with the first failure after a quiet
//! window; its counts slide with the window, and each rule keeps the count it last
//! reported, so a long attack is reported again only when it doubles.

use std::collections::HashMap;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use super::rule::{AddressRule, PrincipalRule};
use crate::detect::baseline::keys::FastMap;
use crate::detect::detector::DetectorMemory;
use crate::detect::stateful::DetectorState;
use crate::detect::windows::{CountWindow, DistinctWindow};
use crate::event::Outcome;

/// Names, objects and addresses kept per window, for summaries and evidence.
const SAMPLES: usize = 8;

/// Why a request failed, as the outcome counts of a window group them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DenialKind {
    /// 401 carrying a token.
    TokenRejected,
    /// 403 by RBAC.
    Rbac,
    /// 403 by an access policy.
    Policy,
    /// 403 by the firewall (and anything else denied).
    Firewall,
}

impl DenialKind {
    /// Every kind, in the order of a window's outcome counts.
    pub const ALL: [DenialKind; 4] = [
        Self::TokenRejected,
        Self::Rbac,
        Self::Policy,
        Self::Firewall,
    ];

    /// The kind of a denied outcome.
    pub fn of(o: Outcome) -> DenialKind {
        match o {
            Outcome::AuthnFailed => Self::TokenRejected,
            Outcome::DeniedRbac => Self::Rbac,
            Outcome::DeniedPolicy => Self::Policy,
            _ => Self::Firewall,
        }
    }

    fn slot(self) -> usize {
        self as usize
    }
}

/// Failures of one principal in the current episode.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PrincipalWindow {
    pub(super) denials: CountWindow,
    pub(super) objects: DistinctWindow,
    pub(super) vaults: DistinctWindow,
    pub(super) authn: CountWindow,
    pub(super) foreign: CountWindow,
    pub(super) firewall: CountWindow,
    pub(super) new_place: bool,
    outcomes: [u32; 4],
    pub(super) first: u32,
    pub(super) last: u32,
    reported: [u32; PrincipalRule::COUNT],
    pub(super) samples: Vec<String>,
    pub(super) vault_names: Vec<String>,
    pub(super) addresses: Vec<IpAddr>,
}

impl PrincipalWindow {
    /// A new episode starting at `now`.
    pub fn starting(now: u32) -> Self {
        PrincipalWindow {
            first: now,
            ..Default::default()
        }
    }

    /// Counts a failure of this kind.
    pub fn count_outcome(&mut self, kind: DenialKind) {
        self.outcomes[kind.slot()] += 1;
    }

    /// The failures of each kind so far.
    pub fn outcomes(&self) -> impl Iterator<Item = (DenialKind, u32)> + '_ {
        DenialKind::ALL.into_iter().zip(self.outcomes)
    }

    /// Whether `rule` should report `n` now (its first report, or `n` doubled since).
    pub fn report(&mut self, rule: PrincipalRule, n: u32) -> bool {
        report(&mut self.reported[rule.slot()], n)
    }
}

/// Failures from one address in the current episode.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AddressWindow {
    pub(super) denials: CountWindow,
    pub(super) identities: DistinctWindow,
    pub(super) vaults: DistinctWindow,
    pub(super) anonymous: CountWindow,
    pub(super) first: u32,
    pub(super) last: u32,
    reported: [u32; AddressRule::COUNT],
    pub(super) identity_names: Vec<String>,
    pub(super) vault_names: Vec<String>,
}

impl AddressWindow {
    /// A new episode starting at `now`.
    pub fn starting(now: u32) -> Self {
        AddressWindow {
            first: now,
            ..Default::default()
        }
    }

    /// Whether `rule` should report `n` now (its first report, or `n` doubled since).
    pub fn report(&mut self, rule: AddressRule, n: u32) -> bool {
        report(&mut self.reported[rule.slot()], n)
    }

    /// Whether `rule` reported in this episode.
    pub fn reported(&self, rule: AddressRule) -> bool {
        self.reported[rule.slot()] > 0
    }
}

fn report(prev: &mut u32, n: u32) -> bool {
    if *prev == 0 || n >= prev.saturating_mul(2) {
        *prev = n;
        true
    } else {
        false
    }
}

/// Adds `item` to a sample list unless it is full or holds it already.
pub fn push_capped<T: PartialEq>(v: &mut Vec<T>, item: T) {
    if v.len() < SAMPLES && !v.contains(&item) {
        v.push(item);
    }
}

/// Everything `failed_auth` holds.
#[derive(Debug, Default)]
pub struct State {
    pub(super) principals: FastMap<u128, PrincipalWindow>,
    pub(super) addresses: HashMap<IpAddr, AddressWindow>,
    pub(super) last_prune: u32,
}

/// The saved form of [`State`].
#[derive(Serialize, Deserialize)]
pub struct Snapshot {
    principals: Vec<(u128, PrincipalWindow)>,
    addresses: Vec<(IpAddr, AddressWindow)>,
    last_prune: u32,
}

impl State {
    /// Forgets episodes quiet for longer than their window (every ten minutes).
    pub fn prune(&mut self, now: u32, principal_window: u32, address_window: u32) {
        if now < self.last_prune.saturating_add(600) {
            return;
        }
        let (pb, ab) = (
            now.saturating_sub(principal_window),
            now.saturating_sub(address_window),
        );
        self.principals.retain(|_, w| w.last >= pb);
        self.addresses.retain(|_, w| w.last >= ab);
        self.last_prune = now;
    }
}

impl DetectorState for State {
    type Saved<'a> = Snapshot;
    type Restored = Snapshot;

    fn saved(&self) -> Snapshot {
        Snapshot {
            principals: self
                .principals
                .iter()
                .map(|(k, v)| (*k, v.clone()))
                .collect(),
            addresses: self
                .addresses
                .iter()
                .map(|(k, v)| (*k, v.clone()))
                .collect(),
            last_prune: self.last_prune,
        }
    }

    fn restored(s: Snapshot) -> State {
        State {
            principals: s.principals.into_iter().collect(),
            addresses: s.addresses.into_iter().collect(),
            last_prune: s.last_prune,
        }
    }

    fn memory(&self) -> DetectorMemory {
        let p: usize = self
            .principals
            .values()
            .map(|w| std::mem::size_of_val(w) + w.denials.heap_bytes() + w.objects.heap_bytes())
            .sum();
        let a: usize = self
            .addresses
            .values()
            .map(|w| std::mem::size_of_val(w) + w.denials.heap_bytes() + w.identities.heap_bytes())
            .sum();
        DetectorMemory {
            transient_entries: self.principals.len() + self.addresses.len(),
            transient_bytes: p + a,
            ..Default::default()
        }
    }
}
