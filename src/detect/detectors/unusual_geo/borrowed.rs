//! What the borrowed workload identity leaves: a managed identity's (or service
//! principal's) token replayed from another machine in the same Azure region. The
//! country, the address class (Azure) and the client are the identity's own, so
//! geography sees nothing; the source network (finer than the country) and the
//! objects read are new.
//!
//! Per workload principal a [`Workload`] keeps, bounded (about a hundred bytes, and
//! sixteen a network: a third of an idle tenant's principals are workloads): its
//! source networks (IPv4 /24, IPv6 /48, with the autonomous system when the GeoIP
//! database gives one; at most [`MAX_NETWORKS`], the least recently used forgotten
//! first), its clients (the product of the user agent: its first, and the latest
//! other), a 256-bit Bloom filter of the objects it read (name, kind and vault; a
//! workload reads a handful), the newest network while it is new (what was read
//! from it), and per tumbling window (`window`,
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
/// Object names kept for evidence about a new network.
pub const SAMPLES: usize = 10;

/// One source network of a principal (16 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Network {
    /// Its prefix: the first three bytes of an IPv4 /24, the six of an IPv6 /48.
    pub net: Prefix,
    /// The autonomous system, when the database gave one (0: none).
    pub asn: u32,
    /// Last call from it (seconds).
    pub last: u32,
}

/// A network prefix: (bytes, IPv6).
pub type Prefix = ([u8; 6], bool);

/// The network the principal was first seen on most recently, while it is new
/// (within `window` of its first call): what was read from it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Suspect {
    /// Its prefix.
    pub net: Prefix,
    /// Its first call (seconds).
    pub first: u32,
    /// Objects new to the principal read from it since.
    pub new_objects: u32,
    /// The count at the last finding about it (0: none).
    pub reported: u32,
    /// The first of those objects (`secret/name in vault`), for evidence.
    pub samples: Vec<String>,
}

/// One workload principal's networks, clients, objects and usual novelty: about a
/// hundred bytes, and sixteen a network.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Workload {
    /// Its source networks, at most [`MAX_NETWORKS`].
    pub networks: Box<[Network]>,
    /// Its clients: (hash of the user agent's product, first seen); the first seen of
    /// its first client is 0 (always its own); hash 0 is no client.
    pub clients: [(u32, u32); 2],
    bloom: [u64; 4],
    /// First call (seconds).
    pub first: u32,
    /// Last call (seconds).
    pub last: u32,
    /// Settled windows with calls.
    pub windows: u32,
    /// New objects over them.
    pub new_sum: u32,
    /// How many of them saw a new network.
    pub net_windows: u32,
    /// New objects over those.
    pub net_new_sum: u32,
    /// The most new objects in one of them.
    pub new_max: u16,
    /// New objects read in the current window.
    pub tumble_new: u16,
    /// Whether a new network appeared in the current window.
    pub tumble_net: bool,
    /// The principal's kind index.
    pub kind: u8,
    /// The newest network while it is new.
    pub suspect: Option<Box<Suspect>>,
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

impl Workload {
    fn bits(h: u64) -> [usize; 3] {
        [
            (h & 255) as usize,
            ((h >> 8) & 255) as usize,
            ((h >> 16) & 255) as usize,
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

    /// Moves to the window of `now` (`window` seconds long), closing the window of
    /// the previous call into the statistics once the principal has settled
    /// (`settle` seconds after its first call); returns the closed window's (new
    /// objects, new network). Call it before [`Workload::call_from`], so that a
    /// call's new network counts in its own window.
    pub fn roll(&mut self, now: u32, window: u32, settle: u32) -> Option<(u32, bool)> {
        let window = window.max(1);
        if self.first == 0 {
            self.first = now;
        }
        let previous = self.last / window;
        if self.last == 0 || now / window == previous {
            return None;
        }
        let settled = previous.saturating_mul(window) >= self.first.saturating_add(settle);
        let closed = settled.then_some((u32::from(self.tumble_new), self.tumble_net));
        if let Some((new, net)) = closed {
            self.windows = self.windows.saturating_add(1);
            self.new_sum = self.new_sum.saturating_add(new);
            self.new_max = self.new_max.max(self.tumble_new);
            if net {
                self.net_windows = self.net_windows.saturating_add(1);
                self.net_new_sum = self.net_new_sum.saturating_add(new);
            }
        }
        self.tumble_new = 0;
        self.tumble_net = false;
        closed
    }

    /// Records a call from `ip` (its autonomous system `asn`) at `now`; returns
    /// whether its network is new (first seen within `window`, and not the
    /// principal's first).
    pub fn call_from(&mut self, ip: IpAddr, asn: Option<u32>, now: u32, window: u32) -> bool {
        let net = prefix_of(ip);
        if self.first == 0 {
            self.first = now;
        }
        self.last = self.last.max(now);
        if let Some(n) = self.networks.iter_mut().find(|n| n.net == net) {
            n.last = now;
            return self
                .suspect
                .as_ref()
                .is_some_and(|s| s.net == net && now.saturating_sub(s.first) <= window);
        }
        let had_others = !self.networks.is_empty();
        let mut networks = std::mem::take(&mut self.networks).into_vec();
        if networks.len() >= MAX_NETWORKS {
            // Forget the least recently used.
            if let Some(old) = (0..networks.len()).min_by_key(|&i| networks[i].last) {
                networks.remove(old);
            }
        }
        networks.reserve_exact(1);
        networks.push(Network {
            net,
            asn: asn.unwrap_or(0),
            last: now,
        });
        self.networks = networks.into_boxed_slice();
        if had_others {
            self.tumble_net = true;
            self.suspect = Some(Box::new(Suspect {
                net,
                first: now,
                new_objects: 0,
                reported: 0,
                samples: Vec::new(),
            }));
        }
        had_others
    }

    /// Records the client `agent`; returns when the principal first used it (0 for
    /// its first client: always its own). It keeps its first client and the latest
    /// other one.
    pub fn client(&mut self, agent: &str, now: u32) -> u32 {
        let h = client_key(agent);
        if let Some(c) = self.clients.iter().find(|c| c.0 == h) {
            return c.1;
        }
        let first = if self.clients[0].0 == 0 { 0 } else { now };
        let slot = usize::from(self.clients[0].0 != 0);
        self.clients[slot] = (h, first);
        first
    }

    /// Whether a network with this autonomous system other than `net` was seen
    /// before; `None` when the database gave none.
    pub fn knows_asn(&self, asn: u32, net: Prefix) -> Option<bool> {
        (asn != 0).then(|| self.networks.iter().any(|n| n.net != net && n.asn == asn))
    }

    /// The autonomous system of `net` (0: none or unknown).
    pub fn asn_of(&self, net: Prefix) -> u32 {
        self.networks
            .iter()
            .find(|n| n.net == net)
            .map_or(0, |n| n.asn)
    }

    /// Its share of settled windows with a new network.
    pub fn new_network_share(&self) -> f64 {
        f64::from(self.net_windows) / f64::from(self.windows.max(1))
    }

    /// Heap bytes held.
    pub fn heap_bytes(&self) -> usize {
        self.networks.len() * std::mem::size_of::<Network>()
            + self.suspect.as_ref().map_or(0, |s| {
                std::mem::size_of::<Suspect>()
                    + s.samples.iter().map(|n| n.len() + 24).sum::<usize>()
            })
    }

    /// Drops the suspect network once it is no longer new (upkeep).
    pub fn settle_networks(&mut self, before: u32) {
        if self.suspect.as_ref().is_some_and(|s| s.first < before) {
            self.suspect = None;
        }
    }
}

/// A network's prefix for words: `20.50.7.0/24`, `2001:db8:1::/48`.
pub fn prefix_text(net: Prefix) -> String {
    let (b, v6) = net;
    if v6 {
        let mut o = [0u8; 16];
        o[..6].copy_from_slice(&b);
        format!("{}/48", std::net::Ipv6Addr::from(o))
    } else {
        format!("{}.{}.{}.0/24", b[0], b[1], b[2])
    }
}

/// The prefix of a call's network: /24 for IPv4 (and IPv4-mapped IPv6), /48 for IPv6.
pub fn prefix_of(ip: IpAddr) -> Prefix {
    match crate::enrich::networks::canonical(ip) {
        IpAddr::V4(a) => {
            let o = a.octets();
            ([o[0], o[1], o[2], 0, 0, 0], false)
        }
        IpAddr::V6(a) => {
            let o = a.octets();
            ([o[0], o[1], o[2], o[3], o[4], o[5]], true)
        }
    }
}

/// The key of an object: its kind, name and vault (the same name in two vaults is
/// two objects).
pub fn object_key(kind: &str, name: &str, vault: u64) -> u64 {
    hash64(name.as_bytes()) ^ hash64(kind.as_bytes()).rotate_left(7) ^ mix(vault)
}

/// The splitmix64 finaliser: every bit of `v` moves every bit of the result.
fn mix(v: u64) -> u64 {
    let v = (v ^ (v >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    let v = (v ^ (v >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    v ^ (v >> 31)
}

/// The key of a client: the product of its user agent, without its version
/// (`azsdk-net-Security.KeyVault.Secrets/4.7.0 (...)` is
/// `azsdk-net-security.keyvault.secrets`), so an SDK upgrade is not a new client.
pub fn client_key(agent: &str) -> u32 {
    // One pass over the bytes of the product (no UTF-8 decoding, no allocation): a
    // workload's every call comes here.
    let bytes = agent.as_bytes();
    let end = bytes
        .iter()
        .position(|&b| b == b' ' || b == b'/')
        .unwrap_or(bytes.len());
    let product = bytes[..end].trim_ascii();
    let mut lowered = [0u8; 64];
    let n = product.len().min(lowered.len());
    lowered[..n].copy_from_slice(&product[..n]);
    lowered[..n].make_ascii_lowercase();
    let h = hash64(&lowered[..n]);
    // Never 0 (no client).
    ((h >> 32) as u32 ^ h as u32).max(1)
}

#[cfg(test)]
#[path = "borrowed_tests.rs"]
mod tests;
