//! What kvwatch learns about one principal, and about one principal on one vault.
//!
//! A [`PrincipalProfile`] is the compact memory of an identity: how often it does
//! each class of operation and at which hours, where it calls from (countries,
//! networks, address classes, its last geolocated position), which vaults, user
//! agents and client apps it uses, and whether it ever changes vault access. It is
//! all inline, fixed-size data (no heap), so an idle principal costs well under a
//! kibibyte; see [`super::Baselines::memory`].

use serde::{Deserialize, Serialize};

use super::day::DayProfile;
use super::keys::hash64;
use super::recent::{Recent, Seen};
use super::stats::{exposure_hours, Decayed, COUNTERS, DENIALS};
use crate::detect::enrichment::{class_bit, Geo};
use crate::event::{AuditEvent, OperationClass, PrincipalKind};

/// The decay time constant of operation-class rates (seven days).
pub const RATE_TAU_SECS: f32 = 7.0 * 86_400.0;

/// A geolocated position and when it was seen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Fix {
    /// Latitude (degrees).
    pub lat: f32,
    /// Longitude (degrees).
    pub lon: f32,
    /// When (seconds; 0 = never).
    pub at: u32,
    /// The country there.
    pub country: [u8; 2],
    /// The caller address's network (hashed prefix).
    pub network: u64,
}

/// The learned behaviour of one principal.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PrincipalProfile {
    /// [`PrincipalKind`] index.
    pub kind: u8,
    /// First event (seconds).
    pub first_seen: u32,
    /// Latest event (seconds).
    pub last_seen: u32,
    /// Events seen (saturating).
    pub events: u32,
    /// Decayed counts per operation class, then denials.
    pub counts: Decayed,
    /// Hour-of-day / day-of-week activity.
    pub day: DayProfile,
    /// Countries called from.
    pub countries: Recent<[u8; 2], 6>,
    /// Public network prefixes called from (hashed prefixes folded to 32 bits, as
    /// for vaults; see [`fold32`]).
    #[serde(deserialize_with = "networks_from_snapshot")]
    pub networks: Recent<u32, 6>,
    /// Address classes called from (bit set, see `class_bit`).
    pub address_classes: u16,
    /// The last geolocated position.
    pub last_fix: Fix,
    /// Vaults touched (hashed names, folded to 32 bits: a false match among a
    /// handful of members is a one-in-a-billion event).
    pub vaults: Recent<u32, 6>,
    /// User agents (hashed `clientInfo`, 32 bits).
    pub agents: Recent<u32, 3>,
    /// Client applications (hashed `appid`, 32 bits).
    pub apps: Recent<u32, 3>,
    /// Successful access changes made (VaultPut/VaultPatch), saturating.
    pub access_changes: u16,
}

impl PrincipalProfile {
    /// The principal's kind.
    pub fn kind(&self) -> PrincipalKind {
        PrincipalKind::ALL
            .get(usize::from(self.kind))
            .copied()
            .unwrap_or(PrincipalKind::Anonymous)
    }

    /// Seconds of history at `now`.
    pub fn age(&self, now: u32) -> u32 {
        now.saturating_sub(self.first_seen)
    }

    /// Days of history at `now`.
    pub fn history_days(&self, now: u32) -> f64 {
        f64::from(self.age(now)) / 86_400.0
    }

    /// The decayed count of `counter` and the matching exposure (hours) at `now`.
    pub fn counter(&self, counter: usize, now: u32) -> (f64, f64) {
        (
            f64::from(self.counts.count(counter, now, RATE_TAU_SECS)),
            exposure_hours(self.age(now), RATE_TAU_SECS),
        )
    }

    /// Whether the principal was seen calling from this place before: the country
    /// when located, else the network prefix for public addresses, else the address
    /// class (Azure, private …). `None` when the event had no address.
    pub fn knows_place(&self, geo: &Geo<'_>) -> Option<bool> {
        let class = geo.class?;
        Some(match (geo.country, geo.network) {
            (Some(c), _) => self.countries.contains(c_bytes(c)),
            (None, Some(n)) if !geo.has_database => self.networks.contains(fold32(n)),
            _ => self.address_classes & class_bit(class) != 0,
        })
    }

    /// Learns from one event (after the detectors have seen it).
    pub fn learn(&mut self, e: &AuditEvent<'_>, geo: &Geo<'_>, now: u32) -> Learned {
        let mut learned = Learned::default();
        if self.events == 0 {
            self.first_seen = now;
            self.kind = e.principal.kind.index() as u8;
        }
        self.events = self.events.saturating_add(1);
        self.last_seen = self.last_seen.max(now);
        self.counts.add(e.class.index(), now, RATE_TAU_SECS);
        if e.outcome.is_denial() {
            self.counts.add(DENIALS, now, RATE_TAU_SECS);
        }
        self.day.add(now);
        // Places are learned from requests that worked: a denied request from a new
        // network is evidence against the caller, not a place it uses.
        if e.outcome == crate::event::Outcome::Ok {
            if let Some(class) = geo.class {
                self.address_classes |= class_bit(class);
            }
            if let Some(c) = geo.country {
                learned.new_country = self.countries.touch(c_bytes(c), now);
            }
            if let Some(n) = geo.network {
                learned.new_network = self.networks.touch(fold32(n), now);
            }
            if let (Some((lat, lon)), Some(c)) = (geo.coords, geo.country) {
                self.last_fix = Fix {
                    lat,
                    lon,
                    at: now,
                    country: c_bytes(c),
                    network: geo.network.unwrap_or(0),
                };
            }
        }
        learned.new_vault = self.vaults.touch(hash32(e.vault.as_bytes()), now);
        if let Some(agent) = e.client_info.as_deref() {
            self.agents.touch(hash32(agent.as_bytes()), now);
        }
        if let Some(app) = e.principal.appid.as_deref() {
            self.apps.touch(hash32(app.as_bytes()), now);
        }
        if e.class == OperationClass::AccessChange && e.outcome == crate::event::Outcome::Ok {
            self.access_changes = self.access_changes.saturating_add(1);
        }
        learned
    }
}

/// A 32-bit hash for small per-principal sets.
pub fn hash32(b: &[u8]) -> u32 {
    fold32(hash64(b))
}

/// A 64-bit hash folded to 32 bits; a value that fits in 32 bits stays itself.
pub fn fold32(h: u64) -> u32 {
    (h ^ (h >> 32)) as u32
}

/// Reads the networks of a snapshot: folded to 32 bits now, full 64-bit prefix
/// hashes in snapshots written before; folding is the same either way.
fn networks_from_snapshot<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Recent<u32, 6>, D::Error> {
    let wide: Vec<Seen<u64>> = Vec::deserialize(d)?;
    Ok(Recent::from_members(wide.into_iter().map(|s| Seen {
        item: fold32(s.item),
        last: s.last,
    })))
}

/// What an event taught a profile that the population counts.
#[derive(Debug, Clone, Copy, Default)]
pub struct Learned {
    /// A country new for the principal.
    pub new_country: bool,
    /// A network new for the principal.
    pub new_network: bool,
    /// A vault new for the principal.
    pub new_vault: bool,
}

/// A country code as stored.
pub fn c_bytes(c: crate::enrich::CountryCode) -> [u8; 2] {
    let b = c.as_str().as_bytes();
    [
        b.first().copied().unwrap_or(b'?'),
        b.get(1).copied().unwrap_or(b'?'),
    ]
}

/// A stored country code as text.
pub fn c_str(c: &[u8; 2]) -> String {
    String::from_utf8_lossy(c).into_owned()
}

/// The learned behaviour of one principal on one vault.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct PairProfile {
    /// First event (seconds).
    pub first_seen: u32,
    /// Latest event (seconds).
    pub last_seen: u32,
    /// Events (saturating).
    pub events: u32,
    /// Successful events (saturating).
    pub ok: u32,
    /// Denied events (saturating).
    pub denied: u32,
    /// Successful value reads (saturating).
    pub reads: u32,
}

impl PairProfile {
    /// Learns from one event.
    pub fn learn(&mut self, e: &AuditEvent<'_>, now: u32) {
        if self.events == 0 {
            self.first_seen = now;
        }
        self.events = self.events.saturating_add(1);
        self.last_seen = self.last_seen.max(now);
        if e.outcome == crate::event::Outcome::Ok {
            self.ok = self.ok.saturating_add(1);
            if e.class == OperationClass::ReadValue {
                self.reads = self.reads.saturating_add(1);
            }
        } else if e.outcome.is_denial() {
            self.denied = self.denied.saturating_add(1);
        }
    }
}

/// Counters a profile keeps (for sizing arrays elsewhere).
pub const PROFILE_COUNTERS: usize = COUNTERS;
