//! `audit_log_stopped`: whether a blinding worked. After `monitoring_disabled` on a
//! vault, kvwatch watches that vault's own AuditEvent records for `[silence] after`
//! (event time). If none came, and the vault's usual rate makes such a silence
//! unlikely by chance, the vault is named in a follow-up finding: it joins the
//! deleter's incident as a new revision ("its log has stopped"), so the SOC knows
//! the vault is now unwatched, not only that someone tried.
//!
//! The usual rate is the vault's own pulse (`pulse.rs`: records per ten minutes
//! over the day before the change, kept for every vault because any vault's setting
//! can be deleted), the lower of the whole day's rate and the last three hours' (so
//! a night-time deletion does not call the night's calm a stop).
//! A vault too quiet to tell (a silence quite likely anyway) is not named: the
//! report's `monitoring.audit_log_stopped` finding still lists it.

use serde_json::json;

use super::pulse::{silence, Pulse, Watch, Who, SLOTS, SLOT_SECS};
use super::rule::{Rule, NAME};
use super::settings::Settings;
use super::state::{State, MAX_PLACES};
use super::wording;
use crate::alert::{Evidence, PrincipalSummary};
use crate::detect::baseline::keys::time_of;
use crate::detect::definition;
use crate::detect::finding::Finding;
use crate::detect::observation::Observation;

/// The most vaults watched at once.
pub const MAX_WATCHES: usize = 1_000;

/// Starts watching a vault whose monitoring `obs`'s change disabled.
pub fn watch(s: &Settings, state: &mut State, obs: &Observation<'_>, setting: &str, deleted: bool) {
    if state.watches.len() >= MAX_WATCHES || state.watches.contains_key(&obs.vault) {
        return;
    }
    let e = obs.event;
    let p = PrincipalSummary::of(&e.principal);
    // The ordered lane may already be past the change (a record that arrived
    // late): the vault's records since are in its pulse.
    let after = if state.released > obs.now {
        state.pulses.get(&obs.vault).map_or(0, |p| {
            let (n, _) = p.sum(obs.now / SLOT_SECS + 1, u32::MAX);
            u32::try_from(n).unwrap_or(u32::MAX)
        })
    } else {
        0
    };
    let due = obs.now.saturating_add(definition::secs(s.silence.after));
    state.watches.insert(
        obs.vault,
        Watch {
            vault: e.vault.to_string(),
            at: obs.now,
            due,
            setting: setting.to_owned(),
            deleted,
            who: Who {
                identity: e.identity().into_owned(),
                words: crate::detect::text::who(e),
                upn: p.upn,
                appid: p.appid,
                oid: p.oid,
                kind: p.kind,
            },
            after,
        },
    );
    state.next_due = state.next_due.min(due);
}

/// Reads one released event (any log): counts a vault's record, and judges the
/// watches whose time has come.
pub fn observe(
    s: &Settings,
    state: &mut State,
    obs: &Observation<'_>,
    findings: &mut Vec<Finding>,
) {
    state.released = state.released.max(obs.now);
    if obs.now >= state.next_due {
        judge_due(s, state, obs.now, findings);
    }
    let e = obs.event;
    if e.control_plane().is_some() || e.vault.is_empty() {
        return;
    }
    if let Some(p) = state.pulses.get_mut(&obs.vault) {
        p.add(obs.now);
    } else if state.pulses.len() < MAX_PLACES {
        let mut p = Pulse::new(obs.now);
        p.add(obs.now);
        state.pulses.insert(obs.vault, p);
    }
    if !state.watches.is_empty() {
        if let Some(w) = state.watches.get_mut(&obs.vault) {
            if obs.now > w.at {
                w.after = w.after.saturating_add(1);
            }
        }
    }
    // Daily: forget vaults silent for two days.
    if obs.now >= state.last_pulse_prune.saturating_add(86_400) {
        state.last_pulse_prune = obs.now;
        let old = (obs.now / SLOT_SECS).saturating_sub(2 * SLOTS);
        state.pulses.retain(|_, p| p.newest >= old);
    }
}

/// Judges every watch due at `now` (event time: a released record or the watermark).
pub fn judge_due(s: &Settings, state: &mut State, now: u32, findings: &mut Vec<Finding>) {
    let due: Vec<u64> = state
        .watches
        .iter()
        .filter(|(_, w)| w.due <= now)
        .map(|(k, _)| *k)
        .collect();
    for key in due {
        if let Some(w) = state.watches.remove(&key) {
            if let Some(f) = judge(s, state.pulses.get(&key), &w) {
                findings.push(f);
            }
        }
    }
    state.next_due = state
        .watches
        .values()
        .map(|w| w.due)
        .min()
        .unwrap_or(u32::MAX);
}

fn judge(s: &Settings, pulse: Option<&Pulse>, w: &Watch) -> Option<Finding> {
    if w.after > 0 {
        return None;
    }
    let secs = w.due.saturating_sub(w.at);
    let q = silence(pulse?, w.at, secs)?;
    if q.chance >= s.silence.max_chance {
        return None;
    }
    let evidence = Evidence::new()
        .with(
            "silence",
            json!({
                "vault": w.vault,
                "since": time_of(w.at),
                "silent_for": crate::detect::text::duration(secs),
                "records_since": 0,
                "usual_per_hour_last_day": round2(q.day_per_hour),
                "usual_per_hour_last_3h": round2(q.recent_per_hour),
                "expected_in_silence": round2(q.expected),
                "chance_of_silence": q.chance,
            }),
        )
        .with(
            "change",
            json!({ "setting": w.setting, "deleted": w.deleted, "by": w.who.words }),
        )
        .with_list("vaults", [w.vault.clone()]);
    Some(Finding {
        detector: NAME,
        rule: Rule::AuditLogStopped.as_str().to_owned(),
        severity: s.severity.audit_log_stopped,
        identity: w.who.identity.clone(),
        principal: PrincipalSummary {
            upn: w.who.upn.clone(),
            appid: w.who.appid.clone(),
            oid: w.who.oid.clone(),
            kind: w.who.kind.clone(),
        },
        vault: w.vault.clone(),
        group: String::new(),
        first_seen: time_of(w.at),
        last_seen: time_of(w.due),
        summary: wording::audit_log_stopped(&w.who.words, &w.vault, &w.setting, secs, &q),
        evidence,
    })
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}
