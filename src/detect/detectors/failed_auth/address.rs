//! The address rules of `failed_auth`: one caller address failing for many
//! identities (token spraying), across many vaults (a sweep), or without any
//! identity at all. Their findings are about the address (`ip:<address>`), not about
//! any principal.

use std::net::IpAddr;

use serde_json::json;

use super::rule::{AddressRule, NAME};
use super::settings::Settings;
use super::state::{push_capped, AddressWindow, State};
use super::wording::{self, AddressFacts};
use crate::alert::{Evidence, PrincipalSummary};
use crate::detect::baseline::keys::time_of;
use crate::detect::finding::Finding;
use crate::detect::observation::Observation;
use crate::detect::text::duration;

/// Counts the failure against its address and reports the rules that hold. Returns
/// whether the address is reported (in its current episode) for failures across
/// several identities: their own failures are then that incident's evidence.
pub fn observe(
    s: &Settings,
    state: &mut State,
    obs: &Observation<'_>,
    ip: IpAddr,
    window: u32,
    findings: &mut Vec<Finding>,
) -> bool {
    let (e, now, a) = (obs.event, obs.now, &s.address);
    let w = state.addresses.entry(ip).or_default();
    count(w, obs, window);
    let since = now.saturating_sub(window);
    let (identities, vaults, denials, anonymous) = (
        w.identities.count_since(since) as u32,
        w.vaults.count_since(since) as u32,
        w.denials.count_since(since) as u32,
        w.anonymous.count_since(since) as u32,
    );
    let place = obs.geo.label();
    let span = duration(now.saturating_sub(w.first));
    let facts = AddressFacts {
        ip,
        place: &place,
        span: &span,
        identities,
        vaults,
        denials,
        anonymous,
    };
    // One identity failing across vaults is the principal rules' case; a sweep
    // takes several identities, or callers without any.
    let several = identities >= 2 || anonymous > 0;
    let verdicts = [
        (
            AddressRule::AddressSpray,
            identities >= a.min_identities,
            identities,
        ),
        (
            AddressRule::AddressVaultSweep,
            several && vaults >= a.min_vaults && denials >= a.min_vault_denials,
            vaults,
        ),
        (
            AddressRule::AnonymousFailures,
            anonymous >= a.min_anonymous,
            anonymous,
        ),
    ];
    for (rule, holds, n) in verdicts {
        if holds && w.report(rule, n) {
            let summary = match rule {
                AddressRule::AddressSpray => wording::address_spray(&facts, w),
                AddressRule::AddressVaultSweep => wording::address_vault_sweep(&facts, w),
                AddressRule::AnonymousFailures => wording::anonymous_failures(&facts, w),
            };
            let mut f = Finding::about(obs, NAME, rule.as_str(), s.severity.address(rule));
            f.identity = format!("ip:{ip}");
            f.principal = PrincipalSummary::anonymous();
            f.vault = if vaults > 1 {
                "*".into()
            } else {
                e.vault.to_string()
            };
            f.first_seen = time_of(w.first);
            f.summary = summary;
            f.evidence = evidence(s, &facts, w);
            findings.push(f);
        }
    }
    w.identities.len() >= 2
        && (w.reported(AddressRule::AddressSpray) || w.reported(AddressRule::AddressVaultSweep))
}

/// Adds the failure to the address's episode (a new one after a quiet window).
fn count(w: &mut AddressWindow, obs: &Observation<'_>, window: u32) {
    let (e, now) = (obs.event, obs.now);
    if w.last < now.saturating_sub(window) {
        *w = AddressWindow::starting(now);
    }
    w.last = now;
    w.denials.add(now, window, 4096);
    match obs.principal {
        Some(k) => {
            if w.identities
                .touch(k as u64 ^ (k >> 64) as u64, now, false, 1024)
            {
                push_capped(&mut w.identity_names, e.identity().into_owned());
            }
        }
        None => w.anonymous.add(now, window, 4096),
    }
    if w.vaults.touch(obs.vault, now, false, 256) {
        push_capped(&mut w.vault_names, e.vault.to_string());
    }
}

fn evidence(s: &Settings, f: &AddressFacts<'_>, w: &AddressWindow) -> Evidence {
    let a = &s.address;
    Evidence::new()
        .with("observed", json!({ "denials": f.denials, "distinct_identities": f.identities, "distinct_vaults": f.vaults,
            "anonymous_failures": f.anonymous, "window": a.window.to_string(), "place": f.place }))
        .with("expected", json!({ "min_identities": a.min_identities, "min_vaults": a.min_vaults, "min_anonymous": a.min_anonymous }))
        .with_list("identities", w.identity_names.iter().cloned())
        .with_list("vaults", w.vault_names.iter().cloned())
        .with_list("addresses", [f.ip.to_string()])
}
