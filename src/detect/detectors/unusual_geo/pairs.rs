//! The pairs of places a principal routinely alternates between (a split-tunnel VPN
//! user whose traffic leaves by the office and by a VPN egress 500 km away many times
//! a day), learned so that impossible travel between them becomes part of the
//! principal's baseline.
//!
//! A place is a geolocated position; two positions within `place_radius_km` are the
//! same place (GeoIP puts a city's or a provider's addresses a few kilometres apart).
//! Every impossible hop between the two places of a pair, in either direction,
//! counts, and so does each UTC day it happens on. A pair is learned once it has
//! been seen `learn_after_alternations` times on at least `learn_after_days` days:
//! asking for several days as well keeps an attacker replaying a token in parallel
//! with its owner for an afternoon from becoming "usual". A pair not seen for
//! `forget_pair_after` is forgotten, and a principal keeps at most [`MAX_PAIRS`].

use serde::{Deserialize, Serialize};

use crate::enrich::haversine_km;

/// The most place pairs kept per principal (the least recently seen goes first).
pub const MAX_PAIRS: usize = 8;

/// A geolocated place: latitude and longitude in degrees.
pub type Place = (f32, f32);

/// Two places a principal hopped between faster than anyone travels.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PlacePair {
    /// One place.
    pub a: Place,
    /// The other.
    pub b: Place,
    /// Impossible hops seen between them, either way.
    pub hops: u32,
    /// Distinct UTC days with a hop.
    pub days: u16,
    /// The UTC day (seconds / 86 400) of the latest hop.
    pub last_day: u32,
    /// The first hop (seconds).
    pub first: u32,
    /// The latest hop (seconds).
    pub last: u32,
}

/// What a hop found out about its pair: how often it was seen before this hop, and
/// whether, with this hop, it is part of the baseline.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PairHistory {
    /// Hops seen before this one.
    pub hops: u32,
    /// Days seen before this one.
    pub days: u16,
    /// The first hop (seconds; this hop's time when new).
    pub first: u32,
    /// Whether the pair, this hop counted, is part of the baseline.
    pub learned: bool,
}

/// When a pair is part of the baseline.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Learning {
    /// Hops needed.
    pub alternations: u32,
    /// Distinct days needed.
    pub days: u16,
    /// Places closer than this (km) are one place.
    pub radius_km: f64,
}

impl PlacePair {
    fn learned(&self, l: &Learning) -> bool {
        self.hops >= l.alternations && self.days >= l.days
    }

    fn joins(&self, x: Place, y: Place, radius_km: f64) -> bool {
        let near = |p: Place, q: Place| {
            haversine_km(
                (f64::from(p.0), f64::from(p.1)),
                (f64::from(q.0), f64::from(q.1)),
            ) <= radius_km
        };
        (near(self.a, x) && near(self.b, y)) || (near(self.a, y) && near(self.b, x))
    }
}

/// Counts a hop from `from` to `to` at `now` among a principal's pairs, and says
/// what was known of the pair before it.
pub fn hop(
    pairs: &mut Vec<PlacePair>,
    from: Place,
    to: Place,
    now: u32,
    l: &Learning,
) -> PairHistory {
    let day = now / 86_400;
    if let Some(p) = pairs.iter_mut().find(|p| p.joins(from, to, l.radius_km)) {
        let (hops, days) = (p.hops, p.days);
        p.hops = p.hops.saturating_add(1);
        if day != p.last_day {
            p.days = p.days.saturating_add(1);
            p.last_day = day;
        }
        p.last = p.last.max(now);
        // The hop that completes the pair's history is already usual.
        return PairHistory {
            hops,
            days,
            first: p.first,
            learned: p.learned(l),
        };
    }
    if pairs.len() >= MAX_PAIRS {
        if let Some(oldest) = pairs
            .iter()
            .enumerate()
            .min_by_key(|(_, p)| p.last)
            .map(|(i, _)| i)
        {
            pairs.swap_remove(oldest);
        }
    }
    pairs.push(PlacePair {
        a: from,
        b: to,
        hops: 1,
        days: 1,
        last_day: day,
        first: now,
        last: now,
    });
    PairHistory {
        hops: 0,
        days: 0,
        first: now,
        learned: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LONDON: Place = (51.5, -0.12);
    const LONDON_EAST: Place = (51.52, 0.05);
    const FRANKFURT: Place = (50.11, 8.68);
    const SINGAPORE: Place = (1.35, 103.82);
    const DAY: u32 = 86_400;

    fn learning() -> Learning {
        Learning {
            alternations: 4,
            days: 2,
            radius_km: 100.0,
        }
    }

    /// A pair is learned after enough hops on enough days, in either direction and
    /// whatever the exact addresses within a place; a third place is a new pair.
    #[test]
    fn pairs_are_learned_by_hops_and_days() {
        let mut pairs = Vec::new();
        let l = learning();
        // (from, to, time, hops before, days before, learned with this hop)
        let table: [(Place, Place, u32, u32, u16, bool); 8] = [
            (LONDON, FRANKFURT, 9 * 3600, 0, 0, false),
            (FRANKFURT, LONDON, 10 * 3600, 1, 1, false),
            (LONDON_EAST, FRANKFURT, 11 * 3600, 2, 1, false),
            (FRANKFURT, LONDON, 12 * 3600, 3, 1, false),
            // Five hops, but all on one day: not yet usual.
            (LONDON, FRANKFURT, 13 * 3600, 4, 1, false),
            // The next day: six hops on two days, usual from this hop on.
            (FRANKFURT, LONDON, DAY + 9 * 3600, 5, 1, true),
            (LONDON, FRANKFURT, DAY + 10 * 3600, 6, 2, true),
            (FRANKFURT, SINGAPORE, DAY + 11 * 3600, 0, 0, false),
        ];
        for (i, (from, to, now, hops, days, learned)) in table.into_iter().enumerate() {
            let h = hop(&mut pairs, from, to, now, &l);
            assert_eq!(
                (h.hops, h.days, h.learned),
                (hops, days, learned),
                "row {i}"
            );
        }
        assert_eq!(pairs.len(), 2);
    }

    #[test]
    fn a_principal_keeps_at_most_max_pairs_the_oldest_going_first() {
        let mut pairs = Vec::new();
        let l = learning();
        for i in 0..=MAX_PAIRS as u32 {
            let far = (f32::from(i as u8) * 5.0 - 40.0, 100.0);
            hop(&mut pairs, LONDON, far, i * 60, &l);
        }
        assert_eq!(pairs.len(), MAX_PAIRS);
        assert!(pairs.iter().all(|p| p.first > 0), "the first pair went");
    }
}
