//! What `control_plane` remembers: who grants roles routinely, the role assignments
//! already in place (so a daily re-apply is not a grant), the grants waiting for
//! their grantee's first read, the last diagnostic setting seen per vault (the
//! "before" of a change), and where each vault sits in the hierarchy (which vaults
//! a scope covers), and the hours of the day each principal makes its changes in
//! (a grant outside them is raised). Everything is bounded and forgotten when idle.
//!
//! It also keeps each vault's pulse (its AuditEvent records per ten minutes over the
//! last day) and the vaults watched after their monitoring was disabled (see
//! `silence.rs`).
//!
//! Snapshots: the five tables, then the hours, the pulses and the watches. Builds
//! before the hours saved the five alone, builds before the pulses six; such a
//! snapshot still loads, with nothing learned for what it lacks (postcard reads
//! fields in order, so the older bytes are the newer ones cut short).

use std::fmt;

use serde::de::{self, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

pub use super::hours::Hours;
use super::pulse::{Pulse, Watch};

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
    /// When in the day each principal makes its changes, by principal key.
    pub(super) hours: FastMap<u128, Hours>,
    /// The new diagnostic setting a `Start` record carried (whether AuditEvent
    /// still flows, and what it enables), by correlation id hash, until its
    /// `Success` (which often carries no body); transient, not saved.
    pub(super) started: FastMap<u64, (u32, Option<bool>, Vec<String>)>,
    /// Each vault's AuditEvent records per ten minutes over the last day, by vault
    /// key (what its silence is judged against).
    pub(super) pulses: FastMap<u64, Pulse>,
    /// Vaults whose monitoring was disabled, watched for their records, by vault key.
    pub(super) watches: FastMap<u64, Watch>,
    /// The newest event time the ordered lane released.
    pub(super) released: u32,
    /// The earliest watch due (`u32::MAX`: none).
    pub(super) next_due: u32,
    pub(super) last_pulse_prune: u32,
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
        self.hours.retain(|_, h| h.last >= old);
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
#[derive(Debug, Serialize, Default)]
pub struct Saved {
    granters: Vec<(u128, Granter)>,
    known: Vec<(u64, u32)>,
    pending: Vec<(u128, Pending)>,
    places: Vec<(String, Place)>,
    settings: Vec<(u64, Vec<String>)>,
    hours: Vec<(u128, Hours)>,
    pulses: Vec<(u64, Pulse)>,
    watches: Vec<(u64, Watch)>,
}

/// [`Saved`] as JSON (format 1 snapshots) wrote it: named fields, the hours
/// possibly absent.
#[derive(Deserialize)]
struct SavedJson {
    granters: Vec<(u128, Granter)>,
    known: Vec<(u64, u32)>,
    pending: Vec<(u128, Pending)>,
    places: Vec<(String, Place)>,
    settings: Vec<(u64, Vec<String>)>,
    #[serde(default)]
    hours: Vec<(u128, Hours)>,
    #[serde(default)]
    pulses: Vec<(u64, Pulse)>,
    #[serde(default)]
    watches: Vec<(u64, Watch)>,
}

impl<'de> Deserialize<'de> for Saved {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if d.is_human_readable() {
            let j = SavedJson::deserialize(d)?;
            return Ok(Saved {
                granters: j.granters,
                known: j.known,
                pending: j.pending,
                places: j.places,
                settings: j.settings,
                hours: j.hours,
                pulses: j.pulses,
                watches: j.watches,
            });
        }
        struct Fields;
        impl<'de> Visitor<'de> for Fields {
            type Value = Saved;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("control_plane's five tables, then its hours, pulses and watches")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Saved, A::Error> {
                let granters = seq
                    .next_element()?
                    .ok_or_else(|| de::Error::invalid_length(0, &self))?;
                let known = seq
                    .next_element()?
                    .ok_or_else(|| de::Error::invalid_length(1, &self))?;
                let pending = seq
                    .next_element()?
                    .ok_or_else(|| de::Error::invalid_length(2, &self))?;
                let places = seq
                    .next_element()?
                    .ok_or_else(|| de::Error::invalid_length(3, &self))?;
                let settings = seq
                    .next_element()?
                    .ok_or_else(|| de::Error::invalid_length(4, &self))?;
                // Older snapshots end after the settings, or after the hours.
                let hours = seq.next_element().ok().flatten().unwrap_or_default();
                let pulses = seq.next_element().ok().flatten().unwrap_or_default();
                let watches = seq.next_element().ok().flatten().unwrap_or_default();
                Ok(Saved {
                    granters,
                    known,
                    pending,
                    places,
                    settings,
                    hours,
                    pulses,
                    watches,
                })
            }
        }
        d.deserialize_tuple(8, Fields)
    }
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
            hours: self.hours.iter().map(|(k, v)| (*k, *v)).collect(),
            pulses: self.pulses.iter().map(|(k, v)| (*k, v.clone())).collect(),
            watches: self.watches.iter().map(|(k, v)| (*k, v.clone())).collect(),
        };
        // Same state, same bytes.
        s.granters.sort_unstable_by_key(|(k, _)| *k);
        s.known.sort_unstable();
        s.pending.sort_unstable_by_key(|(k, _)| *k);
        s.places.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        s.settings.sort_unstable_by_key(|(k, _)| *k);
        s.hours.sort_unstable_by_key(|(k, _)| *k);
        s.pulses.sort_unstable_by_key(|(k, _)| *k);
        s.watches.sort_unstable_by_key(|(k, _)| *k);
        s
    }

    fn restored(saved: Saved) -> State {
        State {
            granters: saved.granters.into_iter().collect(),
            known: saved.known.into_iter().collect(),
            pending: saved.pending.into_iter().collect(),
            places: saved.places.into_iter().collect(),
            settings: saved.settings.into_iter().collect(),
            hours: saved.hours.into_iter().collect(),
            started: FastMap::default(),
            next_due: saved
                .watches
                .iter()
                .map(|(_, w)| w.due)
                .min()
                .unwrap_or(u32::MAX),
            pulses: saved.pulses.into_iter().collect(),
            watches: saved.watches.into_iter().collect(),
            released: 0,
            last_pulse_prune: 0,
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
            learned_entries: self.granters.len()
                + self.known.len()
                + self.places.len()
                + self.hours.len()
                + self.pulses.len(),
            learned_bytes: self.granters.capacity() * (std::mem::size_of::<(u128, Granter)>() + 1)
                + self.known.capacity() * (std::mem::size_of::<(u64, u32)>() + 1)
                + self.places.capacity() * (std::mem::size_of::<(String, Place)>() + 1)
                + self.hours.capacity() * (std::mem::size_of::<(u128, Hours)>() + 1)
                + self.pulses.capacity() * (std::mem::size_of::<(u64, Pulse)>() + 1)
                + self.pulses.len() * super::pulse::SLOTS as usize * 2
                + places,
            transient_entries: self.pending.len() + self.started.len() + self.watches.len(),
            transient_bytes: self.pending.capacity() * (std::mem::size_of::<(u128, Pending)>() + 1)
                + pending,
        }
    }
}

#[cfg(test)]
#[path = "state_tests.rs"]
mod tests;
