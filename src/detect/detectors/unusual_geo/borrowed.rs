//! What the borrowed workload identity leaves: a managed identity's (or service
//! principal's) token replayed from another machine in the same Azure region. The
//! country, the address class (Azure) and the client are the identity's own, so
//! geography sees nothing; the source network (finer than the country) and the
//! objects read are new.
//!
//! Per workload principal a [`Workload`] keeps, bounded: its source networks (IPv4
//! /24, IPv6 /48, with the autonomous system when the GeoIP database gives one; at
//! most [`MAX_NETWORKS`], the least recently used forgotten first), its clients (the
//! product of the user agent, at most [`MAX_CLIENTS`]), a 1024-bit Bloom filter of
//! the objects it read (name, kind and vault), and per tumbling window (`window`,
//! half an hour by default) how many objects new to it it read and whether a new
//! network appeared: how often it shows a new network, and how many new objects it
//! reads when it does, are what `borrowed_judge.rs` weighs a new network's new
//! objects against. A principal's first day is not its usual (everything is new
//! then), so windows count only once it has settled.
//!
//! On the hot path a call costs one map lookup, a scan of a few networks, one hash
//! of the object's name and three bit tests; nothing is allocated except when a
//! network or principal is first seen, or a new object is read from a new network.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::detect::baseline::keys::{hash64, FastMap};

/// The most networks remembered per principal.
pub const MAX_NETWORKS: usize = 12;
/// The most clients remembered per principal.
pub const MAX_CLIENTS: usize = 4;
/// Object names kept for evidence per new network.
pub const SAMPLES: usize = 10;

/// One source network of a principal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Network {
    /// The network address (/24 for IPv4, /48 for IPv6).
    pub net: IpAddr,
    /// The autonomous system, when the database gave one (0: none).
    pub asn: u32,
    /// First call from it (seconds).
    pub first: u32,
    /// Last call from it (seconds).
    pub last: u32,
    /// Objects new to the principal read from it within `window` of `first`.
    pub new_objects: u32,
    /// The count at the last finding about it (0: none).
    pub reported: u32,
    /// The first of those objects (`secret/name in vault`), for evidence.
    pub samples: Vec<String>,
}

/// One workload principal's networks, clients, objects and usual novelty.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Workload {
    /// Its source networks, most recently used last.
    pub networks: Vec<Network>,
    /// Its clients: (hash of the user agent's product, first seen, last seen); the
    /// first seen of its first client is 0 (always its own).
    pub clients: Vec<(u64, u32, u32)>,
    bloom: [u64; 16],
    /// First call (seconds).
    pub first: u32,
    /// Last call (seconds).
    pub last: u32,
    /// The current tumbling window (index).
    pub tumble: u32,
    /// New objects read in it.
    pub tumble_new: u32,
    /// Whether a new network appeared in it.
    pub tumble_net: bool,
    /// Settled windows with calls.
    pub windows: u32,
    /// New objects over them.
    pub new_sum: u64,
    /// The most new objects in one of them.
    pub new_max: u32,
    /// How many of them saw a new network.
    pub net_windows: u32,
    /// New objects over those.
    pub net_new_sum: u64,
    /// The principal's kind index.
    pub kind: u8,
}

/// Per kind: settled windows, their new objects and their new networks, over all
/// principals of the kind (the prior of a principal with little history).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Population {
    /// Settled windows with calls.
    pub windows: u64,
    /// New objects over them.
    pub new_sum: u64,
    /// How many of them saw a new network.
    pub net_windows: u64,
    /// New objects over those.
    pub net_new_sum: u64,
}

/// Everything the rule holds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Workloads {
    /// Per principal.
    pub by_principal: FastMap<u128, Workload>,
    /// Per principal kind.
    pub population: [Population; 4],
    /// Last upkeep (seconds).
    pub last_prune: u32,
}

/// What one call did to a principal's networks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seen {
    /// The index of the call's network in [`Workload::networks`].
    pub index: usize,
    /// The network was first seen by this call, and the principal had others.
    pub fresh: bool,
}

impl Workload {
    fn bits(h: u64) -> [usize; 3] {
        [
            (h & 1023) as usize,
            ((h >> 10) & 1023) as usize,
            ((h >> 20) & 1023) as usize,
        ]
    }

    /// Whether the principal (probably) read the object before.
    pub fn knows(&self, object: u64) -> bool {
        Self::bits(object)
            .iter()
            .all(|&b| self.bloom[b / 64] & (1 << (b % 64)) != 0)
    }

    /// Remembers an object; returns whether it was new.
    pub fn learn(&mut self, object: u64) -> bool {
        let fresh = !self.knows(object);
        for b in Self::bits(object) {
            self.bloom[b / 64] |= 1 << (b % 64);
        }
        fresh
    }

    /// Moves to the window of `now` (`window` seconds long), closing the previous
    /// one into the statistics once the principal has settled (`settle` seconds
    /// after its first call); returns the closed window's (new objects, new network).
    /// Call it before [`Workload::call_from`], so that a call's new network counts
    /// in its own window.
    pub fn roll(&mut self, now: u32, window: u32, settle: u32) -> Option<(u32, bool)> {
        if self.first == 0 {
            self.first = now;
        }
        let tumble = now / window.max(1);
        if tumble == self.tumble {
            return None;
        }
        let settled = self.tumble.saturating_mul(window) >= self.first.saturating_add(settle);
        let closed = (self.last > 0 && settled).then_some((self.tumble_new, self.tumble_net));
        if let Some((new, net)) = closed {
            self.windows = self.windows.saturating_add(1);
            self.new_sum = self.new_sum.saturating_add(u64::from(new));
            self.new_max = self.new_max.max(new);
            self.net_windows = self.net_windows.saturating_add(u32::from(net));
            if net {
                self.net_new_sum = self.net_new_sum.saturating_add(u64::from(new));
            }
        }
        self.tumble = tumble;
        self.tumble_new = 0;
        self.tumble_net = false;
        closed
    }

    /// Records a call from `ip` (its autonomous system `asn`) at `now`.
    pub fn call_from(&mut self, ip: IpAddr, asn: Option<u32>, now: u32) -> Seen {
        let net = network_of(ip);
        if self.first == 0 {
            self.first = now;
        }
        self.last = self.last.max(now);
        if let Some(index) = self.networks.iter().position(|n| n.net == net) {
            let n = &mut self.networks[index];
            n.last = now;
            return Seen {
                index,
                fresh: false,
            };
        }
        let had_others = !self.networks.is_empty();
        if self.networks.len() >= MAX_NETWORKS {
            // Forget the least recently used.
            if let Some(old) = (0..self.networks.len()).min_by_key(|&i| self.networks[i].last) {
                self.networks.remove(old);
            }
        }
        self.networks.push(Network {
            net,
            asn: asn.unwrap_or(0),
            first: now,
            last: now,
            new_objects: 0,
            reported: 0,
            samples: Vec::new(),
        });
        if had_others {
            self.tumble_net = true;
        }
        Seen {
            index: self.networks.len() - 1,
            fresh: had_others,
        }
    }

    /// Records the client `agent`; returns when the principal first used it (0 for
    /// its first client: always its own).
    pub fn client(&mut self, agent: &str, now: u32) -> u32 {
        let h = client_key(agent);
        if let Some(c) = self.clients.iter_mut().find(|c| c.0 == h) {
            c.2 = now;
            return c.1;
        }
        let first = if self.clients.is_empty() { 0 } else { now };
        if self.clients.len() >= MAX_CLIENTS {
            if let Some(old) = (0..self.clients.len()).min_by_key(|&i| self.clients[i].2) {
                self.clients.remove(old);
            }
        }
        self.clients.push((h, first, now));
        first
    }

    /// Whether a network with this autonomous system was seen before (other than
    /// the one at `except`); `None` when the database gave none.
    pub fn knows_asn(&self, asn: u32, except: usize) -> Option<bool> {
        (asn != 0).then(|| {
            self.networks
                .iter()
                .enumerate()
                .any(|(i, n)| i != except && n.asn == asn)
        })
    }

    /// Its share of settled windows with a new network.
    pub fn new_network_share(&self) -> f64 {
        f64::from(self.net_windows) / f64::from(self.windows.max(1))
    }

    /// Heap bytes held.
    pub fn heap_bytes(&self) -> usize {
        self.networks.capacity() * std::mem::size_of::<Network>()
            + self
                .networks
                .iter()
                .flat_map(|n| n.samples.iter())
                .map(|s| s.len() + 24)
                .sum::<usize>()
            + self.clients.capacity() * std::mem::size_of::<(u64, u32, u32)>()
    }

    /// Releases the sample names of networks no longer new (upkeep).
    pub fn settle_networks(&mut self, before: u32) {
        for n in &mut self.networks {
            if n.first < before && !n.samples.is_empty() {
                n.samples = Vec::new();
            }
        }
    }
}

/// The network a call came from: /24 for IPv4 (and IPv4-mapped IPv6), /48 for IPv6.
pub fn network_of(ip: IpAddr) -> IpAddr {
    crate::enrich::network_prefix(ip).network()
}

/// The key of an object: its kind, name and vault (the same name in two vaults is
/// two objects).
pub fn object_key(kind: &str, name: &str, vault: u64) -> u64 {
    hash64(name.as_bytes()) ^ hash64(kind.as_bytes()).rotate_left(7) ^ vault.rotate_left(29)
}

/// The key of a client: the product of its user agent, without its version
/// (`azsdk-net-Security.KeyVault.Secrets/4.7.0 (...)` is
/// `azsdk-net-security.keyvault.secrets`), so an SDK upgrade is not a new client.
pub fn client_key(agent: &str) -> u64 {
    let product = agent
        .split([' ', '/'])
        .next()
        .unwrap_or(agent)
        .trim()
        .as_bytes();
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for b in product {
        h = (h ^ u64::from(b.to_ascii_lowercase())).wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn networks_are_slash_24_and_slash_48_and_bounded() {
        assert_eq!(network_of(ip("20.50.7.9")), ip("20.50.7.0"));
        assert_eq!(network_of(ip("::ffff:20.50.7.9")), ip("20.50.7.0"));
        assert_eq!(network_of(ip("2001:db8:1:2::5")), ip("2001:db8:1::"));
        let mut w = Workload::default();
        let first = w.call_from(ip("20.50.7.9"), None, 100);
        assert_eq!(
            first,
            Seen {
                index: 0,
                fresh: false
            }
        );
        assert!(!w.call_from(ip("20.50.7.200"), None, 200).fresh);
        assert!(w.call_from(ip("20.50.8.1"), Some(8075), 300).fresh);
        assert!(w.tumble_net);
        for i in 0..20u32 {
            w.call_from(IpAddr::from([10, 0, i as u8, 1]), None, 400 + i);
        }
        assert_eq!(w.networks.len(), MAX_NETWORKS);
        // The least recently used went first.
        assert!(!w.networks.iter().any(|n| n.net == ip("20.50.7.0")));
    }

    #[test]
    fn windows_count_once_settled() {
        let mut w = Workload::default();
        w.roll(10, 1800, 3600);
        w.call_from(ip("20.50.7.9"), None, 10);
        w.tumble_new = 5;
        // The first window closes before the principal settled: not counted.
        assert_eq!(w.roll(1800, 1800, 3600), None);
        w.roll(5400, 1800, 3600);
        w.tumble_new = 2;
        w.tumble_net = true;
        assert_eq!(w.roll(9000, 1800, 3600), Some((2, true)));
        assert_eq!(
            (w.windows, w.new_sum, w.new_max, w.net_windows),
            (1, 2, 2, 1)
        );
        assert_eq!(w.net_new_sum, 2);
        assert!((w.new_network_share() - 1.0).abs() < 1e-9);
    }

    #[test]
    fn the_object_filter_rarely_mistakes_a_new_object_for_a_known_one() {
        let mut w = Workload::default();
        for i in 0..60 {
            w.learn(object_key("secret", &format!("build-{i}"), 7));
        }
        let mistaken = (0..1000)
            .filter(|i| w.knows(object_key("secret", &format!("other-{i}"), 7)))
            .count();
        assert!(mistaken <= 20, "{mistaken} of 1000");
    }

    #[test]
    fn objects_are_per_vault_and_clients_ignore_versions() {
        let mut w = Workload::default();
        let a = object_key("secret", "db-password", 1);
        assert!(w.learn(a));
        assert!(!w.learn(a));
        assert!(!w.knows(object_key("secret", "db-password", 2)));
        assert!(!w.knows(object_key("certificate", "db-password", 1)));
        assert_eq!(
            client_key("azsdk-net-Security.KeyVault.Secrets/4.7.0 (.NET 8.0.20)"),
            client_key("azsdk-net-security.keyvault.secrets/4.8.1 (.NET 9.0.1)")
        );
        assert_eq!(w.client("azsdk-net-Security.KeyVault.Secrets/4.7.0", 1), 0);
        assert_eq!(w.client("azsdk-net-Security.KeyVault.Secrets/4.8.0", 2), 0);
        assert_eq!(w.client("python-requests/2.32.3", 3), 3);
        assert_eq!(w.client("python-requests/2.32.3", 4), 3);
    }
}
