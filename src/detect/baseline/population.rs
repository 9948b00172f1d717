//! The population baseline: what is normal for the tenant, per principal kind and
//! per vault, so that principals with no history yet can still be judged.
//!
//! A new employee signing in from the country everyone works in, or a new app in the
//! region every app runs in, must not look anomalous just because kvwatch has never
//! seen *them*. The population answers "how many principals of this kind call from
//! this country?", "how often does a service principal read a secret per hour?" and
//! "which token tenants does this tenant's traffic carry?".

use serde::{Deserialize, Serialize};

use super::keys::FastMap;
use super::recent::Recent;
use super::stats::COUNTERS;
use crate::event::PrincipalKind;

/// Per principal kind.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KindStats {
    /// Principals of this kind tracked.
    pub principals: u32,
    /// Mean hourly rate per principal, per counter (operation classes, denials).
    pub rates: [f32; COUNTERS],
}

/// Per country.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct CountryStat {
    /// Principals seen calling from it.
    pub principals: u32,
    /// Last seen (seconds).
    pub last: u32,
}

/// Per vault.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VaultStats {
    /// Principals seen on the vault.
    pub principals: u32,
    /// Countries its callers came from.
    pub countries: Recent<[u8; 2], 8>,
}

/// The most public network prefixes the population remembers.
pub const MAX_NETWORKS: usize = 100_000;

/// The tenant-wide baseline.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Population {
    /// The first event seen (seconds).
    pub first_seen: u32,
    /// Per kind, indexed by [`PrincipalKind::index`].
    pub kinds: [KindStats; 4],
    /// Principals with at least one geolocated event.
    pub located_principals: u32,
    countries: FastMap<u16, CountryStat>,
    networks: FastMap<u64, CountryStat>,
    vaults: FastMap<u64, VaultStats>,
    tenants: Recent<u128, 8>,
}

fn ckey(c: [u8; 2]) -> u16 {
    u16::from_be_bytes(c)
}

impl Population {
    /// The kind's statistics.
    pub fn kind(&self, kind: PrincipalKind) -> &KindStats {
        &self.kinds[kind.index()]
    }

    /// Seconds of tenant history at `now`.
    pub fn age(&self, now: u32) -> u32 {
        if self.first_seen == 0 {
            0
        } else {
            now.saturating_sub(self.first_seen)
        }
    }

    /// Principals seen calling from country `c`.
    pub fn country_principals(&self, c: [u8; 2]) -> u32 {
        self.countries.get(&ckey(c)).map_or(0, |s| s.principals)
    }

    /// The countries the tenant's principals call from, most common first.
    pub fn top_countries(&self, n: usize) -> Vec<([u8; 2], u32)> {
        let mut v: Vec<([u8; 2], u32)> = self
            .countries
            .iter()
            .map(|(k, s)| (k.to_be_bytes(), s.principals))
            .collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        v.truncate(n);
        v
    }

    /// Principals seen calling from network `n` (hashed prefix).
    pub fn network_principals(&self, n: u64) -> u32 {
        self.networks.get(&n).map_or(0, |s| s.principals)
    }

    /// The vault's statistics, if seen.
    pub fn vault(&self, v: u64) -> Option<&VaultStats> {
        self.vaults.get(&v)
    }

    /// Whether tokens from tenant `t` were seen on successful requests.
    pub fn knows_tenant(&self, t: u128) -> bool {
        self.tenants.contains(t)
    }

    /// Whether any token tenant was learned yet.
    pub fn has_tenants(&self) -> bool {
        !self.tenants.is_empty()
    }

    /// Notes the clock.
    pub fn tick(&mut self, now: u32) {
        if self.first_seen == 0 {
            self.first_seen = now;
        }
    }

    /// A principal was seen for the first time.
    pub fn add_principal(&mut self, kind: PrincipalKind) {
        self.kinds[kind.index()].principals += 1;
    }

    /// A principal was forgotten, with the countries it had.
    pub fn remove_principal(
        &mut self,
        kind: PrincipalKind,
        countries: impl Iterator<Item = [u8; 2]>,
        located: bool,
    ) {
        let k = &mut self.kinds[kind.index()];
        k.principals = k.principals.saturating_sub(1);
        for c in countries {
            if let Some(s) = self.countries.get_mut(&ckey(c)) {
                s.principals = s.principals.saturating_sub(1);
            }
        }
        if located {
            self.located_principals = self.located_principals.saturating_sub(1);
        }
    }

    /// A principal called from a country new for it (`first`: its first country).
    pub fn add_country(&mut self, c: [u8; 2], now: u32, first: bool) {
        let s = self.countries.entry(ckey(c)).or_default();
        s.principals += 1;
        s.last = now;
        if first {
            self.located_principals += 1;
        }
    }

    /// A principal called from a network new for it.
    pub fn add_network(&mut self, n: u64, now: u32) {
        if self.networks.len() >= MAX_NETWORKS && !self.networks.contains_key(&n) {
            return;
        }
        let s = self.networks.entry(n).or_default();
        s.principals += 1;
        s.last = now;
    }

    /// A principal touched a vault for the first time (`country`: where from).
    pub fn add_vault_principal(&mut self, v: u64, country: Option<[u8; 2]>, now: u32) {
        let s = self.vaults.entry(v).or_default();
        s.principals += 1;
        if let Some(c) = country {
            s.countries.touch(c, now);
        }
    }

    /// A token tenant was seen on a successful request.
    pub fn learn_tenant(&mut self, t: u128, now: u32) {
        self.tenants.touch(t, now);
    }

    /// Forgets networks not seen since `before` (keeps the map bounded).
    pub fn forget_networks_before(&mut self, before: u32) {
        self.networks.retain(|_, s| s.last >= before);
    }

    /// Bytes held (approximate: entries times capacity).
    pub fn memory_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.countries.capacity() * (std::mem::size_of::<(u16, CountryStat)>() + 1)
            + self.networks.capacity() * (std::mem::size_of::<(u64, CountryStat)>() + 1)
            + self.vaults.capacity() * (std::mem::size_of::<(u64, VaultStats)>() + 1)
    }
}
