//! What `control_plane` remembers: who grants roles routinely, the role assignments
//! already in place (so a daily re-apply is not a grant), the grants waiting for
//! their grantee's first read, the last diagnostic setting seen per vault (the
//! "before" of a change), and where each vault sits in the hierarchy (which vaults
//! a scope covers). Everything is bounded and forgotten when idle.

use serde::{Deserialize, Serialize};

use crate::detect::baseline::keys::FastMap;
use crate::detect::detector::DetectorMemory;
use crate::detect::stateful::DetectorState;

/// A principal that grants roles.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct Granter {
    /// New grants it made on scopes covering vaults.
    pub grants: u32,
    /// Its last grant (seconds).
    pub last: u32,
}

/// A grant waiting for its grantee to read.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Pending {
    /// When it was granted (seconds).
    pub at: u32,
    /// The granter's identity (the incident the read joins).
    pub granter: String,
    /// The granter, in words.
    pub granter_words: String,
    /// The vault the grant's finding named (`*` for a broad scope).
    pub vault: String,
    /// The scope, lower case.
    pub scope: String,
    /// The role's name.
    pub role: String,
    /// The grant's severity, so the chain never reports less.
    pub severity: crate::alert::Severity,
}

/// A vault's place in the hierarchy.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Place {
    /// Its resource id, lower case.
    pub resource_id: String,
    /// `properties.hierarchy` of its subscription (management groups), when seen.
    pub hierarchy: String,
    /// Last seen (seconds).
    pub last: u32,
}

/// Everything `control_plane` holds.
#[derive(Debug, Default)]
pub struct State {
    /// Granters by principal key.
    pub(super) granters: FastMap<u128, Granter>,
    /// Role assignments in place (hash of assignment id, or grantee, role and
    /// scope) and when last seen.
    pub(super) known: FastMap<u64, u32>,
    /// Grants waiting for a read, by grantee key.
    pub(super) pending: FastMap<u128, Pending>,
    /// Vaults by name.
    pub(super) places: FastMap<String, Place>,
    /// The categories enabled by the last diagnostic setting seen, by (vault,
    /// setting name) hash.
    pub(super) settings: FastMap<u64, Vec<String>>,
    /// The new diagnostic setting a `Start` record carried (whether AuditEvent
    /// still flows, and what it enables), by correlation id hash, until its
    /// `Success` (which often carries no body); transient, not saved.
    pub(super) started: FastMap<u64, (u32, Option<bool>, Vec<String>)>,
    pub(super) last_prune: u32,
    pub(super) last_pending_prune: u32,
}

/// The most vaults and diagnostic settings remembered.
pub const MAX_PLACES: usize = 50_000;

impl State {
    /// Hourly, on arrival: forgets granters, vaults and assignments idle for
    /// `forget` seconds; keeps at most `max_known` assignments (the oldest go
    /// first). Waiting grants are not touched here: reads that may follow them are
    /// still in the reorder buffer (see [`State::prune_pending`]).
    pub fn prune(&mut self, now: u32, forget: u32, max_known: usize) {
        if now < self.last_prune.saturating_add(3600) {
            return;
        }
        self.last_prune = now;
        let old = now.saturating_sub(forget);
        self.started
            .retain(|_, (at, _, _)| *at >= now.saturating_sub(3600));
        self.granters.retain(|_, g| g.last >= old);
        self.places.retain(|_, p| p.last >= old);
        self.known.retain(|_, t| *t >= old);
        if self.known.len() > max_known {
            let mut times: Vec<u32> = self.known.values().copied().collect();
            times.sort_unstable();
            let cut = times[self.known.len() - max_known];
            self.known.retain(|_, t| *t > cut);
        }
    }
}

impl State {
    /// Hourly, in event-time order (`now` is the time of a released event):
    /// forgets grants waiting for a read for longer than `chain` seconds.
    pub fn prune_pending(&mut self, now: u32, chain: u32) {
        if now < self.last_pending_prune.saturating_add(3600) {
            return;
        }
        self.last_pending_prune = now;
        self.pending
            .retain(|_, p| p.at >= now.saturating_sub(chain));
    }
}

/// What a snapshot holds.
#[derive(Debug, Serialize, Deserialize, Default)]
pub struct Saved {
    granters: Vec<(u128, Granter)>,
    known: Vec<(u64, u32)>,
    pending: Vec<(u128, Pending)>,
    places: Vec<(String, Place)>,
    settings: Vec<(u64, Vec<String>)>,
}

impl DetectorState for State {
    type Saved<'a> = Saved;
    type Restored = Saved;

    fn saved(&self) -> Saved {
        let mut s = Saved {
            granters: self.granters.iter().map(|(k, v)| (*k, *v)).collect(),
            known: self.known.iter().map(|(k, v)| (*k, *v)).collect(),
            pending: self.pending.iter().map(|(k, v)| (*k, v.clone())).collect(),
            places: self
                .places
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            settings: self.settings.iter().map(|(k, v)| (*k, v.clone())).collect(),
        };
        // Same state, same bytes.
        s.granters.sort_unstable_by_key(|(k, _)| *k);
        s.known.sort_unstable();
        s.pending.sort_unstable_by_key(|(k, _)| *k);
        s.places.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        s.settings.sort_unstable_by_key(|(k, _)| *k);
        s
    }

    fn restored(saved: Saved) -> State {
        State {
            granters: saved.granters.into_iter().collect(),
            known: saved.known.into_iter().collect(),
            pending: saved.pending.into_iter().collect(),
            places: saved.places.into_iter().collect(),
            settings: saved.settings.into_iter().collect(),
            started: FastMap::default(),
            last_prune: 0,
            last_pending_prune: 0,
        }
    }

    fn memory(&self) -> DetectorMemory {
        let text = |s: &str| s.len();
        let pending: usize = self
            .pending
            .values()
            .map(|p| {
                text(&p.granter)
                    + text(&p.granter_words)
                    + text(&p.scope)
                    + text(&p.role)
                    + text(&p.vault)
            })
            .sum();
        let places: usize = self
            .places
            .iter()
            .map(|(k, p)| k.len() + p.resource_id.len() + p.hierarchy.len())
            .sum();
        DetectorMemory {
            learned_entries: self.granters.len() + self.known.len() + self.places.len(),
            learned_bytes: self.granters.capacity() * (std::mem::size_of::<(u128, Granter)>() + 1)
                + self.known.capacity() * (std::mem::size_of::<(u64, u32)>() + 1)
                + self.places.capacity() * (std::mem::size_of::<(String, Place)>() + 1)
                + places,
            transient_entries: self.pending.len() + self.started.len(),
            transient_bytes: self.pending.capacity() * (std::mem::size_of::<(u128, Pending)>() + 1)
                + pending,
        }
    }
}
