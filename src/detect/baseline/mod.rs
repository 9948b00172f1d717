//! Baselines learned from the stream: per principal, per principal and vault, and for
//! the population (per principal kind, per vault, tenant-wide), in bounded memory.
//!
//! The [`super::Engine`] updates the baselines *after* every detector has seen an
//! event, so detectors always compare an event with the history before it. Memory is
//! bounded three ways: every per-principal structure is fixed-size ([`Recent`] sets,
//! fixed arrays), principals quiet for `forget_after` are forgotten, and past
//! `max_principals` the longest-idle ones go first. Detectors keep their own
//! per-principal state on the same terms.

pub mod cap;
pub mod day;
pub mod keys;
pub mod population;
pub mod profile;
pub mod recent;
pub mod slab;
pub mod stats;

use serde::{Deserialize, Serialize};

use self::cap::{EvictionLog, Rank};
use self::keys::{hash64, FastMap};
pub use self::population::Population;
pub use self::profile::{c_bytes, c_str, PairProfile, PrincipalProfile};
pub use self::recent::{Recent, Seen};
pub use self::slab::KeyedSlab;
use super::enrichment::Geo;
use super::snapshot::{self, SnapshotError};
use crate::event::{AuditEvent, Outcome, PrincipalKind};

/// How baselines learn and forget.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BaselineSettings {
    /// Seconds during which a principal is compared only with the population.
    pub learning_secs: u32,
    /// The most principals tracked.
    pub max_principals: usize,
    /// Seconds of quiet after which detectors drop a principal's transient state.
    pub idle_secs: u32,
    /// Seconds of quiet after which a principal is forgotten.
    pub forget_secs: u32,
}

impl Default for BaselineSettings {
    fn default() -> Self {
        BaselineSettings {
            learning_secs: 72 * 3600,
            max_principals: 200_000,
            idle_secs: 6 * 3600,
            forget_secs: 90 * 86_400,
        }
    }
}

impl BaselineSettings {
    /// From the `[detectors]` config section.
    pub fn from_config(c: &crate::config::DetectorsConfig) -> Self {
        let s =
            |d: crate::config::ConfigDuration| d.as_std().as_secs().min(u64::from(u32::MAX)) as u32;
        BaselineSettings {
            learning_secs: s(c.learning_period),
            max_principals: c.max_principals,
            idle_secs: s(c.idle_after),
            forget_secs: s(c.forget_after),
        }
    }
}

/// Memory held by baselines, for the README's per-principal figure.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct MemoryReport {
    /// Principals tracked.
    pub principals: usize,
    /// (principal, vault) pairs tracked.
    pub pairs: usize,
    /// Bytes for principals (table slots included).
    pub principal_bytes: usize,
    /// Bytes for pairs (table slots included).
    pub pair_bytes: usize,
    /// Bytes for the population.
    pub population_bytes: usize,
    /// Principals forgotten so far after `forget_after` of quiet.
    pub evicted_idle: u64,
    /// Principals evicted so far, longest-idle first, to stay under `max_principals`.
    pub evicted_capacity: u64,
}

/// All baselines.
#[derive(Debug, Clone, Default)]
pub struct Baselines {
    settings: BaselineSettings,
    principals: KeyedSlab<PrincipalProfile>,
    pairs: FastMap<(u128, u64), PairProfile>,
    population: Population,
    last_maintenance: u32,
    /// Principals forgotten since start after `forget_after` of quiet.
    forgotten: u64,
    /// Principals evicted over the cap since start, and when that was last logged.
    evictions: EvictionLog,
}

/// The baselines as a snapshot writes them (borrowed: nothing is copied).
#[derive(Serialize)]
struct SnapshotRef<'a> {
    principals: &'a KeyedSlab<PrincipalProfile>,
    pairs: PairsRef<'a>,
    population: &'a Population,
    last_maintenance: u32,
}

/// The baselines as a snapshot reads them back (the same fields, in order).
#[derive(Deserialize)]
struct Snapshot {
    principals: KeyedSlab<PrincipalProfile>,
    pairs: Pairs,
    population: Population,
    last_maintenance: u32,
}

/// The pairs, saved as `(principal, vault, profile)` triples.
struct PairsRef<'a>(&'a FastMap<(u128, u64), PairProfile>);

impl Serialize for PairsRef<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(|((k, v), p)| (k, v, p)))
    }
}

/// The pairs, read from triples straight into their table.
struct Pairs(FastMap<(u128, u64), PairProfile>);

impl<'de> Deserialize<'de> for Pairs {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Triples;
        impl<'de> serde::de::Visitor<'de> for Triples {
            type Value = Pairs;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a sequence of (principal, vault, profile) triples")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Pairs, A::Error> {
                let mut map = FastMap::default();
                while let Some((k, v, p)) = seq.next_element::<(u128, u64, PairProfile)>()? {
                    map.insert((k, v), p);
                }
                Ok(Pairs(map))
            }
        }
        d.deserialize_seq(Triples)
    }
}

impl Baselines {
    /// Empty baselines.
    pub fn new(settings: BaselineSettings) -> Self {
        Baselines {
            settings,
            ..Default::default()
        }
    }

    /// The settings.
    pub fn settings(&self) -> &BaselineSettings {
        &self.settings
    }

    /// A principal's profile.
    pub fn principal(&self, key: u128) -> Option<&PrincipalProfile> {
        self.principals.get(key)
    }

    /// A principal's profile on one vault.
    pub fn pair(&self, key: u128, vault: u64) -> Option<&PairProfile> {
        self.pairs.get(&(key, vault))
    }

    /// The population.
    pub fn population(&self) -> &Population {
        &self.population
    }

    /// Whether a principal is still in its learning period at `now` (unknown ones are).
    pub fn is_learning(&self, profile: Option<&PrincipalProfile>, now: u32) -> bool {
        profile.is_none_or(|p| p.age(now) < self.settings.learning_secs)
    }

    /// Learns from one event.
    pub fn learn(
        &mut self,
        e: &AuditEvent<'_>,
        geo: &Geo<'_>,
        key: Option<u128>,
        vault: u64,
        now: u32,
    ) {
        self.population.tick(now);
        if now >= self.last_maintenance.saturating_add(3600) {
            self.maintain(now);
        }
        let Some(key) = key else { return };
        let kind = e.principal.kind;
        if e.outcome == Outcome::Ok {
            if let Some(t) = e.principal.tenant_id.as_deref() {
                self.population.learn_tenant(keys::principal_key(t), now);
            }
        }
        // The length first: below the cap (nearly always) that is the whole cost.
        if self.principals.len() >= self.settings.max_principals
            && !self.principals.contains_key(key)
        {
            let cap = self.settings.max_principals;
            let gone = self
                .principals
                .make_room(cap, |p| Rank::of(p.last_seen, p.events, now));
            self.evictions.count("baselines", gone.len(), cap, now);
            self.drop_principals(gone.into_iter().map(|(_, p)| p));
        }
        let profile = self
            .principals
            .get_or_insert_with(key, PrincipalProfile::default);
        let is_new = profile.events == 0;
        let had_country = !profile.countries.is_empty();
        let learned = profile.learn(e, geo, now);
        if is_new {
            self.population.add_principal(kind);
        }
        if learned.new_country {
            if let Some(c) = geo.country {
                self.population.add_country(c_bytes(c), now, !had_country);
            }
        }
        if learned.new_network {
            if let Some(n) = geo.network {
                self.population.add_network(n, now);
            }
        }
        let pair = self.pairs.entry((key, vault)).or_default();
        if pair.events == 0 {
            self.population
                .add_vault_principal(vault, geo.country.map(c_bytes), now);
        }
        pair.learn(e, now);
    }

    /// Hourly upkeep: population means per kind, forgetting idle principals, caps
    /// (the cap is kept on insertion too: this only catches a lowered cap after a
    /// restore).
    pub fn maintain(&mut self, now: u32) {
        self.last_maintenance = now;
        let forget_before = now.saturating_sub(self.settings.forget_secs);
        let mut gone = Vec::new();
        self.principals.retain(|_, p| {
            let keep = p.last_seen >= forget_before;
            if !keep {
                gone.push(p.clone());
            }
            keep
        });
        self.forgotten += gone.len() as u64;
        self.drop_principals(gone);
        let cap = self.settings.max_principals;
        if self.principals.len() > cap {
            let evicted = self
                .principals
                .make_room(cap, |p| Rank::of(p.last_seen, p.events, now));
            self.evictions.count("baselines", evicted.len(), cap, now);
            self.drop_principals(evicted.into_iter().map(|(_, p)| p));
        }
        self.principals.shrink_to_fit();
        self.pairs.shrink_to_fit();
        self.population.forget_networks_before(forget_before);
        let mut sums = [[0f64; stats::COUNTERS]; 4];
        let mut ns = [0u32; 4];
        for p in self.principals.values() {
            let k = usize::from(p.kind).min(3);
            let exposure = stats::exposure_hours(p.age(now), profile::RATE_TAU_SECS).max(1.0);
            for (c, sum) in sums[k].iter_mut().enumerate() {
                *sum += f64::from(p.counts.count(c, now, profile::RATE_TAU_SECS)) / exposure;
            }
            ns[k] += 1;
        }
        for (k, stats) in self.population.kinds.iter_mut().enumerate() {
            if ns[k] > 0 {
                for (c, r) in stats.rates.iter_mut().enumerate() {
                    *r = (sums[k][c] / f64::from(ns[k])) as f32;
                }
            }
        }
    }

    /// Takes evicted or forgotten principals out of the population and drops their
    /// pairs.
    fn drop_principals(&mut self, gone: impl IntoIterator<Item = PrincipalProfile>) {
        let mut any = false;
        for p in gone {
            any = true;
            let located = !p.countries.is_empty();
            self.population
                .remove_principal(p.kind(), p.countries.iter().map(|s| s.item), located);
        }
        if any {
            self.pairs
                .retain(|(k, _), _| self.principals.contains_key(*k));
        }
    }

    /// Memory held now.
    pub fn memory(&self) -> MemoryReport {
        MemoryReport {
            principals: self.principals.len(),
            pairs: self.pairs.len(),
            principal_bytes: self.principals.memory_bytes(),
            pair_bytes: self.pairs.capacity()
                * (std::mem::size_of::<((u128, u64), PairProfile)>() + 1),
            population_bytes: self.population.memory_bytes(),
            evicted_idle: self.forgotten,
            evicted_capacity: self.evictions.total,
        }
    }

    /// Writes every baseline into a snapshot (see [`super::snapshot`]).
    pub fn save_into(&self, out: &mut snapshot::Writer) -> Result<(), SnapshotError> {
        out.value(&SnapshotRef {
            principals: &self.principals,
            pairs: PairsRef(&self.pairs),
            population: &self.population,
            last_maintenance: self.last_maintenance,
        })
    }

    /// Reads the baselines back from a snapshot (settings stay as configured).
    pub fn restore_from(&mut self, input: &mut snapshot::Reader<'_>) -> Result<(), SnapshotError> {
        self.install(input.value()?);
        Ok(())
    }

    /// Restores baselines saved as JSON by older builds (snapshot format 1).
    pub fn restore_json(&mut self, bytes: &[u8]) -> Result<(), serde_json::Error> {
        self.install(serde_json::from_slice(bytes)?);
        Ok(())
    }

    fn install(&mut self, snap: Snapshot) {
        self.principals = snap.principals;
        self.pairs = snap.pairs.0;
        self.population = snap.population;
        self.last_maintenance = snap.last_maintenance;
    }

    /// Hash of a name, as baselines key it.
    pub fn name_key(name: &str) -> u64 {
        hash64(name.as_bytes())
    }

    /// The kind of a tracked principal.
    pub fn kind_of(&self, key: u128) -> Option<PrincipalKind> {
        self.principals.get(key).map(PrincipalProfile::kind)
    }
}

#[cfg(test)]
mod tests;
