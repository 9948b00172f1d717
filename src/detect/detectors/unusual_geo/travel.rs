//! Impossible travel: two consecutive geolocated calls of one principal further
//! apart than anyone could travel in the time between them. Both places go in the
//! evidence; places in one network, or too close to tell from GeoIP noise, never
//! count.
//!
//! Each hop is counted against the pair of places it joins (`pairs.rs`): the first
//! hop between two places is `impossible_travel` at its severity; hops between a
//! pair already seen are at `impossible_travel_known_pair` (low) until the pair is
//! learned, then quiet (a split-tunnel VPN user alternating between the office and
//! the VPN egress). A third place far away is a new pair and alerts again. The
//! evidence says whether the pair was known and how often it was seen.

use std::net::IpAddr;

use serde_json::json;

use super::country::finding;
use super::pairs::{self, Learning, PairHistory};
use super::rule::Rule;
use super::settings::Settings;
use super::state::State;
use super::wording::{self, Call, Trip};
use crate::alert::Evidence;
use crate::detect::baseline::c_str;
use crate::detect::baseline::keys::time_of;
use crate::detect::finding::Finding;
use crate::detect::observation::Observation;
use crate::enrich::haversine_km;

/// Remembers where the principal is and reports a trip no one could make.
pub fn observe(
    s: &Settings,
    state: &mut State,
    obs: &Observation<'_>,
    key: u128,
    call: &Call<'_>,
    findings: &mut Vec<Finding>,
) {
    let e = obs.event;
    let Some((lat, lon)) = obs.geo.coords else {
        return;
    };
    let ip: IpAddr = call.ip;
    let previous = state.last.insert(key, (ip, obs.now));
    let t = &s.travel;
    if !t.kinds.contains(&e.principal.kind) {
        return;
    }
    let Some(fix) = obs.profile.map(|p| p.last_fix).filter(|f| f.at > 0) else {
        return;
    };
    let dt = obs.now.saturating_sub(fix.at);
    if u64::from(dt) > t.within.as_std().as_secs() || obs.geo.network == Some(fix.network) {
        return;
    }
    let km = haversine_km(
        (f64::from(fix.lat), f64::from(fix.lon)),
        (f64::from(lat), f64::from(lon)),
    );
    let hours = f64::from(dt.max(60)) / 3600.0;
    let speed = km / hours;
    if km < t.min_distance_km || speed <= t.max_speed_kmh {
        return;
    }
    let learning = Learning {
        alternations: t.learn_after_alternations,
        days: t.learn_after_days,
        radius_km: t.place_radius_km,
    };
    let history = pairs::hop(
        state.pairs.entry(key).or_default(),
        (fix.lat, fix.lon),
        (lat, lon),
        obs.now,
        &learning,
    );
    if history.learned {
        return;
    }
    let prev_ip = previous
        .map(|(ip, _)| ip.to_string())
        .unwrap_or_else(|| "?".into());
    let trip = Trip {
        from_country: &c_str(&fix.country),
        from_ip: &prev_ip,
        elapsed: dt,
        km,
        speed_kmh: speed,
        max_speed_kmh: t.max_speed_kmh,
    };
    let rule = Rule::ImpossibleTravel;
    let severity = if history.hops > 0 {
        s.severity.impossible_travel_known_pair
    } else {
        s.severity.of(rule)
    };
    let mut f = finding(
        obs,
        rule,
        severity,
        wording::impossible_travel(call, &trip, &history, &learning),
    );
    f.first_seen = time_of(fix.at);
    let places = json!([
        { "address": prev_ip, "country": c_str(&fix.country), "lat": fix.lat, "lon": fix.lon, "time": time_of(fix.at).to_rfc3339() },
        { "address": ip.to_string(), "country": obs.geo.country.map(|c| c.to_string()), "city": obs.geo.city, "lat": lat, "lon": lon, "time": e.time.to_rfc3339() },
    ]);
    f.evidence = Evidence::new()
        .with("observed", json!({ "distance_km": km.round(), "elapsed": crate::detect::text::duration(dt), "speed_kmh": speed.round() }))
        .with("expected", json!({ "max_speed_kmh": t.max_speed_kmh, "min_distance_km": t.min_distance_km }))
        .with("places", places)
        .with("pair", pair_evidence(&history, &learning))
        .with_list("addresses", [prev_ip, ip.to_string()])
        .with_list("vaults", [e.vault.to_string()]);
    findings.push(f);
}

/// Whether the two places were a known pair, how often they were seen, and when the
/// pair becomes part of the baseline.
fn pair_evidence(h: &PairHistory, l: &Learning) -> serde_json::Value {
    json!({
        "known": h.hops > 0,
        "hops_before": h.hops,
        "days_before": h.days,
        "first_seen": time_of(h.first).to_rfc3339(),
        "learned_after": { "alternations": l.alternations, "days": l.days },
    })
}
