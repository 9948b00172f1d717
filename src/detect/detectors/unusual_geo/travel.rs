//! Impossible travel: two consecutive geolocated calls of one principal further
//! apart than anyone could travel in the time between them. Both places go in the
//! evidence; places in one network, or too close to tell from GeoIP noise, never
//! count.

use std::net::IpAddr;

use serde_json::json;

use super::country::finding;
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
    let mut f = finding(
        obs,
        rule,
        s.severity.of(rule),
        wording::impossible_travel(call, &trip),
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
        .with_list("addresses", [prev_ip, ip.to_string()])
        .with_list("vaults", [e.vault.to_string()]);
    findings.push(f);
}
