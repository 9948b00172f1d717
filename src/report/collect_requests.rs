//! The report's fold of one data-plane request (an AuditEvent) into the vault's and
//! the principal's aggregates: counts and series, configuration changes, objects,
//! destructive uses, and what the principal did from where with what.
//!
//! Split from [`super::collect`], which owns the state and watches the pipeline. This
//! is the per-event hot path: a sighting of a known key hashes it once and allocates
//! nothing (composite keys are written into the collector's reused buffer).

use std::borrow::Cow;
use std::fmt::Write as _;

use super::collect::{is_backup, Collected, Place, MAX_CHANGES};
use super::series::Grid;
use super::stats::{
    Capped, ChangeRecord, DestructiveUse, ObjectStats, PrincipalStats, Seen, VaultStats, VaultUse,
};
use crate::event::{AuditEvent, ObjectKind, OperationClass, Outcome, PrincipalKind};

/// The longest user agent or error text kept, in characters.
const MAX_TEXT: usize = 300;

/// `text` cut to [`MAX_TEXT`] characters (borrowed when it is short enough).
fn clip(text: &str) -> Cow<'_, str> {
    // A text of at most MAX_TEXT bytes has at most MAX_TEXT characters.
    if text.len() <= MAX_TEXT {
        return Cow::Borrowed(text);
    }
    match text.char_indices().nth(MAX_TEXT) {
        Some((cut, _)) => Cow::Owned(format!("{}…", &text[..cut])),
        None => Cow::Borrowed(text),
    }
}

/// Folds one request into `state`; `place` is where it came from, `scratch` a buffer
/// for composite keys.
pub(super) fn record(
    state: &mut Collected,
    e: &AuditEvent<'_>,
    place: Option<&Place>,
    scratch: &mut String,
) {
    let t = e.time;
    state.events += 1;
    state.first = Some(state.first.map_or(t, |f| f.min(t)));
    state.last = Some(state.last.map_or(t, |l| l.max(t)));
    let grid = state.grid.get_or_insert_with(|| Grid::starting_at(t));
    let index = grid.place(t);
    let grid = *grid;
    state.overall.add(&grid, index, e.class, e.outcome);
    let (max_objects, cap) = (state.max_objects, state.cap);
    let identity = e.identity();
    let ok = e.outcome == Outcome::Ok;
    let op = e.operation.as_str();

    if let Some(vault) = state
        .vaults
        .entry_with(e.vault.as_str(), str::to_owned, || {
            VaultStats::new(t, max_objects, cap)
        })
    {
        vault.seen.again(t);
        vault.count(e.class, e.outcome);
        vault.series.add(&grid, index, e.class, e.outcome);
        if ok && place.is_some_and(|p| p.public) {
            vault.public_ok += 1;
        }
        if e.is_challenge() {
            state.challenges += 1;
            return;
        }
        if let Some(pv) =
            vault
                .principals
                .entry_with(identity.as_ref(), str::to_owned, Default::default)
        {
            pv.count += 1;
            pv.denied += u64::from(e.outcome.is_denial());
        }
        if ok {
            vault_change(vault, e, &identity);
        }
        object(vault, e, &identity, scratch);
        if ok && (e.class == OperationClass::Destroy || is_backup(op)) {
            let object = e
                .object
                .as_ref()
                .map(std::string::ToString::to_string)
                .unwrap_or_else(|| "vault".into());
            let init = || DestructiveUse {
                seen: Seen {
                    count: 0,
                    first: t,
                    last: t,
                },
                operations: Capped::new(cap),
                objects: Capped::new(cap),
            };
            if let Some(d) = vault
                .destructive
                .entry_with(identity.as_ref(), str::to_owned, init)
            {
                d.seen.again(t);
                d.operations.see(op, t);
                d.objects.see(&object, t);
            }
        }
    } else if e.is_challenge() {
        state.challenges += 1;
        return;
    }
    principal(state, e, &identity, (&grid, index), place, scratch);
}

/// Records configuration changes (before/after) and access-policy edits, and counts
/// the writes that changed nothing visible.
fn vault_change(vault: &mut VaultStats, e: &AuditEvent<'_>, identity: &str) {
    let before = vault.last_config.as_ref().map(|(_, c)| c);
    if e.write_changes_nothing(before) {
        vault.unchanged_writes += 1;
    }
    let policy = e.policy_change.as_deref().filter(|p| !p.is_empty());
    let after = e.vault_config.as_deref();
    let changed = match (before, after) {
        (Some(b), Some(a)) => b != a,
        _ => false,
    };
    // Most events carry neither a configuration nor a policy: nothing is copied then.
    if changed || policy.is_some() {
        if vault.changes.len() < MAX_CHANGES {
            vault.changes.push(ChangeRecord {
                time: e.time,
                identity: identity.to_owned(),
                operation: e.operation.as_str().to_owned(),
                before: before.cloned(),
                after: after.cloned(),
                policy: policy.cloned(),
                control: None,
            });
        } else {
            vault.changes_more += 1;
        }
    }
    if let Some(config) = after {
        if vault.first_config.is_none() {
            vault.first_config = Some((e.time, config.clone()));
        }
        if vault
            .last_config
            .as_ref()
            .is_none_or(|(at, _)| *at <= e.time)
        {
            vault.last_config = Some((e.time, config.clone()));
        }
    }
}

fn object(vault: &mut VaultStats, e: &AuditEvent<'_>, identity: &str, scratch: &mut String) {
    let Some(obj) = &e.object else { return };
    let Some(name) = obj.name.as_deref() else {
        return;
    };
    if !matches!(
        obj.kind,
        ObjectKind::Secret | ObjectKind::Key | ObjectKind::Certificate
    ) || obj.deleted
    {
        return;
    }
    let t = e.time;
    scratch.clear();
    let _ = write!(scratch, "{}/{}", obj.kind, name);
    let init = || ObjectStats {
        seen: Seen {
            count: 0,
            first: t,
            last: t,
        },
        writes: 0,
        last_write: None,
        uses: 0,
        last_use: None,
        near_expiry: None,
        expired: None,
        deleted: None,
        exists: false,
    };
    let Some(o) = vault
        .objects
        .entry_with(scratch.as_str(), str::to_owned, init)
    else {
        return;
    };
    o.seen.again(t);
    let op = e.operation.as_str();
    if op.contains("NearExpiry") {
        o.near_expiry = o.near_expiry.max(Some(t));
        o.exists = true;
        return;
    }
    if op.contains("Expired") && op.ends_with("Notification") {
        o.expired = o.expired.max(Some(t));
        o.exists = true;
        return;
    }
    if e.outcome != Outcome::Ok {
        return;
    }
    o.exists = true;
    match e.class {
        OperationClass::Write => {
            o.writes += 1;
            if o.last_write.as_ref().is_none_or(|(at, _)| *at <= t) {
                o.last_write = Some((t, identity.to_owned()));
            }
        }
        OperationClass::ReadValue | OperationClass::CryptoUse if !is_backup(op) => {
            o.uses += 1;
            o.last_use = o.last_use.max(Some(t));
        }
        OperationClass::Destroy => o.deleted = o.deleted.max(Some(t)),
        _ => {}
    }
}

fn principal(
    state: &mut Collected,
    e: &AuditEvent<'_>,
    identity: &str,
    (grid, index): (&Grid, u32),
    place: Option<&Place>,
    scratch: &mut String,
) {
    let t = e.time;
    let cap = state.cap;
    let kind = e.principal.kind;
    let Some(p) = state.principals.entry_with(identity, str::to_owned, || {
        PrincipalStats::new(identity, kind, t, cap)
    }) else {
        return;
    };
    if p.upn.is_none() {
        p.upn = e.principal.upn.as_deref().map(|u| clip(u).into_owned());
    }
    if p.oid.is_none() {
        p.oid = e.principal.oid.as_deref().map(str::to_owned);
    }
    if p.kind == PrincipalKind::ServicePrincipal
        && kind != PrincipalKind::ServicePrincipal
        && kind != PrincipalKind::Anonymous
    {
        p.kind = kind;
    }
    p.seen.again(t);
    p.by_class[e.class.index()] += 1;
    p.by_outcome[e.outcome.index()] += 1;
    p.series.add(grid, index, e.class, e.outcome);
    let ok = e.outcome == Outcome::Ok;
    let denied = e.outcome.is_denial();
    if ok {
        p.last_ok = p.last_ok.max(Some(t));
        p.values_read += u64::from(e.class == OperationClass::ReadValue);
    }
    let vault_use = || VaultUse {
        seen: Seen {
            count: 0,
            first: t,
            last: t,
        },
        ok: 0,
        denied: 0,
        last_ok: None,
    };
    if let Some(v) = p
        .vaults
        .entry_with(e.vault.as_str(), str::to_owned, vault_use)
    {
        v.seen.again(t);
        v.ok += u64::from(ok);
        v.denied += u64::from(denied);
        if ok {
            v.last_ok = v.last_ok.max(Some(t));
        }
    }
    if let Some(name) = e
        .object
        .as_ref()
        .and_then(|o| o.name.as_ref().map(|n| (o.kind, n)))
    {
        scratch.clear();
        let _ = write!(scratch, "{}/{}/{}", e.vault, name.0, name.1);
        p.objects.see(scratch, t);
    }
    if let Some(place) = place {
        p.places.see(&place.country, t);
        p.networks.see(&place.network, t);
    }
    if let Some(app) = e.principal.appid.as_deref() {
        p.apps.see(app, t);
    }
    if let Some(ua) = e.client_info.as_deref().filter(|u| !u.trim().is_empty()) {
        p.user_agents.see(&clip(ua), t);
    }
    if kind == PrincipalKind::User {
        match e.principal.used_mfa() {
            Some(true) => p.mfa.with += 1,
            Some(false) => {
                p.mfa.without += 1;
                p.mfa.by_class[e.class.index()] += 1;
                match &mut p.mfa.without_seen {
                    Some(seen) => seen.again(t),
                    None => p.mfa.without_seen = Some(Seen::at(t)),
                }
                p.mfa
                    .methods
                    .see(&clip(e.principal.amr.as_deref().unwrap_or("")), t);
                p.mfa.operations.see(e.operation.as_str(), t);
            }
            None => p.mfa.unknown += 1,
        }
    }
    if denied {
        let d = &mut p.denials;
        d.by_outcome[e.outcome.index()] += 1;
        match &mut d.seen {
            Some(seen) => seen.again(t),
            None => d.seen = Some(Seen::at(t)),
        }
        d.vaults.see(e.vault.as_str(), t);
        d.operations.see(e.operation.as_str(), t);
        if d.sample.is_none() {
            d.sample = e
                .result_description
                .as_deref()
                .map(|r| clip(r).into_owned());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_borrows_what_fits_and_cuts_the_rest_between_characters() {
        assert!(matches!(
            clip("azsdk-net/4.6"),
            Cow::Borrowed("azsdk-net/4.6")
        ));
        // 300 characters in 600 bytes fit.
        let fits = "é".repeat(MAX_TEXT);
        assert!(matches!(clip(&fits), Cow::Borrowed(_)));
        let long = "é".repeat(MAX_TEXT + 1);
        assert_eq!(clip(&long), format!("{fits}…"));
    }
}
