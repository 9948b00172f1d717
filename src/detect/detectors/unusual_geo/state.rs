//! What `unusual_geo` remembers itself (the rest is in the shared baselines): the
//! last geolocated address of each principal, for the impossible-travel evidence,
//! forgotten after the travel window; and the pairs of places each principal
//! routinely alternates between (`pairs.rs`), forgotten when unused.
//!
//! It also holds what `borrowed_identity` learns of workloads (`borrowed.rs`).
//!
//! Snapshots: the addresses, then the pairs, then the workloads. Builds before the
//! pairs saved the addresses alone, builds before the workloads the first two; such
//! snapshots still load, with nothing of the later parts learned (postcard reads
//! fields in order, so the older bytes are the newer ones cut short; their JSON form,
//! from format 1 snapshots, is a bare list, and this build writes no JSON).

use std::fmt;
use std::net::IpAddr;

use serde::de::{self, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};

use super::borrowed::{Workload, Workloads};
use super::pairs::PlacePair;
use crate::detect::baseline::cap::{self, Rank};
use crate::detect::baseline::keys::FastMap;
use crate::detect::detector::DetectorMemory;
use crate::detect::stateful::DetectorState;

/// Everything `unusual_geo` holds.
#[derive(Debug, Default)]
pub struct State {
    /// The last geolocated address per principal, and when.
    pub(super) last: FastMap<u128, (IpAddr, u32)>,
    /// The place pairs each principal hopped between.
    pub(super) pairs: FastMap<u128, Vec<PlacePair>>,
    last_prune: u32,
    /// What `borrowed_identity` learned of workloads.
    pub(super) borrowed: Workloads,
}

impl State {
    /// Forgets addresses older than `within` seconds and pairs not seen for
    /// `forget_pairs` seconds (every hour).
    pub fn prune(&mut self, now: u32, within: u32, forget_pairs: u32) {
        if now >= self.last_prune.saturating_add(3600) {
            let before = now.saturating_sub(within);
            self.last.retain(|_, (_, at)| *at >= before);
            let before = now.saturating_sub(forget_pairs);
            self.pairs.retain(|_, pairs| {
                pairs.retain(|p| p.last >= before);
                !pairs.is_empty()
            });
            self.last_prune = now;
        }
    }
}

/// The addresses, as saved.
type SavedLast = Vec<(u128, IpAddr, u32)>;
/// The pairs, as saved.
type SavedPairs = Vec<(u128, Vec<PlacePair>)>;

/// A snapshot read back: this build's, or an older one with addresses alone, or
/// without the workloads.
#[derive(Debug, Default)]
pub struct Restored {
    last: SavedLast,
    pairs: SavedPairs,
    borrowed: Workloads,
}

impl<'de> Deserialize<'de> for Restored {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if d.is_human_readable() {
            // JSON parts come from format 1 snapshots only, which older builds
            // wrote: a bare list of addresses (this build writes postcard).
            return Ok(Restored {
                last: SavedLast::deserialize(d)?,
                pairs: Vec::new(),
                borrowed: Workloads::default(),
            });
        }
        struct Fields;
        impl<'de> Visitor<'de> for Fields {
            type Value = Restored;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("unusual_geo's addresses, its place pairs, then its workloads")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Restored, A::Error> {
                let last: SavedLast = seq
                    .next_element()?
                    .ok_or_else(|| de::Error::invalid_length(0, &self))?;
                // Older snapshots end after the addresses.
                let pairs: SavedPairs = seq.next_element().ok().flatten().unwrap_or_default();
                // Builds before borrowed_identity end after the pairs.
                let borrowed: Workloads = seq.next_element().ok().flatten().unwrap_or_default();
                Ok(Restored {
                    last,
                    pairs,
                    borrowed,
                })
            }
        }
        d.deserialize_tuple(3, Fields)
    }
}

impl DetectorState for State {
    type Saved<'a> = (SavedLast, SavedPairs, &'a Workloads);
    type Restored = Restored;

    fn saved(&self) -> Self::Saved<'_> {
        let last = self
            .last
            .iter()
            .map(|(k, (ip, at))| (*k, *ip, *at))
            .collect();
        let pairs = self.pairs.iter().map(|(k, p)| (*k, p.clone())).collect();
        (last, pairs, &self.borrowed)
    }

    fn restored(saved: Restored) -> State {
        State {
            last: saved
                .last
                .into_iter()
                .map(|(k, ip, at)| (k, (ip, at)))
                .collect(),
            pairs: saved.pairs.into_iter().collect(),
            last_prune: 0,
            borrowed: saved.borrowed,
        }
    }

    fn enforce_cap(&mut self, cap: usize, now: u32) {
        if self.last.len() > cap {
            cap::make_room(&mut self.last, cap, |&(_, at)| Rank::of(at, 1, now));
        }
        if self.pairs.len() > cap {
            cap::make_room(&mut self.pairs, cap, |pairs| {
                Rank::of(pairs.iter().map(|p| p.last).max().unwrap_or(0), 1, now)
            });
        }
        if self.borrowed.by_principal.len() > cap {
            cap::make_room(&mut self.borrowed.by_principal, cap, |w| {
                Rank::of(w.last, 1 + w.windows.min(1), now)
            });
        }
    }

    fn memory(&self) -> DetectorMemory {
        let pair_bytes: usize = self
            .pairs
            .values()
            .map(|p| {
                std::mem::size_of::<(u128, Vec<PlacePair>)>()
                    + p.capacity() * std::mem::size_of::<PlacePair>()
            })
            .sum();
        let workload_bytes: usize = self
            .borrowed
            .by_principal
            .values()
            .map(|w| std::mem::size_of::<(u128, Workload)>() + 1 + w.heap_bytes())
            .sum();
        DetectorMemory {
            learned_entries: self
                .last
                .len()
                .max(self.pairs.len())
                .max(self.borrowed.by_principal.len()),
            learned_bytes: self.last.capacity()
                * (std::mem::size_of::<(u128, (IpAddr, u32))>() + 1)
                + pair_bytes
                + workload_bytes,
            ..Default::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::stateful::{decode, encode};

    fn sample() -> State {
        let mut s = State::default();
        s.last.insert(7, ("81.2.69.160".parse().unwrap(), 1_000));
        s.pairs.insert(
            7,
            vec![PlacePair {
                a: (51.5, -0.12),
                b: (50.11, 8.68),
                hops: 9,
                days: 3,
                last_day: 2,
                first: 10,
                last: 200_000,
            }],
        );
        let w = s.borrowed.by_principal.entry(7).or_default();
        w.call_from("20.50.7.9".parse().unwrap(), Some(8075), 1_000, 1_800);
        w.learn(42);
        s.borrowed.population[2].windows = 30;
        s
    }

    #[test]
    fn snapshots_keep_the_pairs_and_workloads_and_older_ones_still_load() {
        let s = sample();
        // This build writes postcard.
        let back = State::restored(decode("unusual_geo", &encode(&s.saved())).unwrap());
        assert_eq!(back.last, s.last);
        assert_eq!(back.pairs, s.pairs);
        assert_eq!(back.borrowed, s.borrowed);
        assert!(back.borrowed.by_principal[&7].knows(42));
        // Builds before borrowed_identity saved the addresses and the pairs.
        let (last, pairs, _) = s.saved();
        let back = State::restored(decode("unusual_geo", &encode(&(last, pairs))).unwrap());
        assert_eq!(back.pairs, s.pairs);
        assert_eq!(back.borrowed, Workloads::default());
        // Older builds saved the addresses alone, binary and JSON.
        let old: SavedLast = vec![(7, "81.2.69.160".parse().unwrap(), 1_000)];
        for bytes in [encode(&old), serde_json::to_vec(&old).unwrap()] {
            let back = State::restored(decode("unusual_geo", &bytes).unwrap());
            assert_eq!(back.last, s.last);
            assert!(back.pairs.is_empty());
            assert!(back.borrowed.by_principal.is_empty());
        }
    }
}
