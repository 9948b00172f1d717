//! What `unusual_geo` remembers itself (the rest is in the shared baselines): the
//! last geolocated address of each principal, for the impossible-travel evidence,
//! forgotten after the travel window.

use std::net::IpAddr;

use crate::detect::baseline::keys::FastMap;
use crate::detect::detector::DetectorMemory;
use crate::detect::stateful::DetectorState;

/// Everything `unusual_geo` holds.
#[derive(Debug, Default)]
pub struct State {
    /// The last geolocated address per principal, and when.
    pub(super) last: FastMap<u128, (IpAddr, u32)>,
    last_prune: u32,
}

impl State {
    /// Forgets addresses older than `within` seconds (every hour).
    pub fn prune(&mut self, now: u32, within: u32) {
        if now >= self.last_prune.saturating_add(3600) {
            let before = now.saturating_sub(within);
            self.last.retain(|_, (_, at)| *at >= before);
            self.last_prune = now;
        }
    }
}

impl DetectorState for State {
    type Saved<'a> = Vec<(u128, IpAddr, u32)>;
    type Restored = Vec<(u128, IpAddr, u32)>;

    fn saved(&self) -> Self::Saved<'_> {
        self.last
            .iter()
            .map(|(k, (ip, at))| (*k, *ip, *at))
            .collect()
    }

    fn restored(saved: Self::Restored) -> State {
        State {
            last: saved.into_iter().map(|(k, ip, at)| (k, (ip, at))).collect(),
            last_prune: 0,
        }
    }

    fn memory(&self) -> DetectorMemory {
        DetectorMemory {
            learned_entries: self.last.len(),
            learned_bytes: self.last.capacity()
                * (std::mem::size_of::<(u128, (IpAddr, u32))>() + 1),
            ..Default::default()
        }
    }
}
