//! Access-policy grants and removals, and what follows a grant: reads by the grantee
//! (`grant_then_read`) or its removal soon after (`grant_then_revoke`, the
//! add-dump-remove pattern). A grant is raised in severity for a self-grant, a
//! grantee never seen, and the caller's context.

use serde_json::json;

use super::caller::{self, CallerContext};
use super::rule::{Rule, NAME};
use super::settings::Settings;
use super::state::{Grant, State};
use super::wording;
use crate::alert::{Evidence, PrincipalSummary};
use crate::detect::baseline::keys::{principal_key, time_of};
use crate::detect::definition::secs;
use crate::detect::finding::{raise, Finding};
use crate::detect::observation::Observation;
use crate::detect::text::who;
use crate::event::AccessPolicyEntry;

/// Reports the access policy added and removed by this event, if any.
pub fn policy_change(
    s: &Settings,
    state: &mut State,
    obs: &Observation<'_>,
    findings: &mut Vec<Finding>,
) {
    let Some(change) = obs.event.policy_change.as_deref() else {
        return;
    };
    let ctx = caller::context(&s.raise, obs);
    if let Some(added) = &change.added {
        policy_added(s, state, obs, added, &ctx, findings);
    }
    if let Some(removed) = &change.removed {
        policy_removed(s, state, obs, removed, &ctx, findings);
    }
}

fn policy_added(
    s: &Settings,
    state: &mut State,
    obs: &Observation<'_>,
    added: &AccessPolicyEntry,
    ctx: &CallerContext,
    findings: &mut Vec<Finding>,
) {
    let e = obs.event;
    let grantee_id = added.object_id.clone().unwrap_or_else(|| "?".into());
    let grantee = principal_key(&grantee_id);
    let self_grant = e.principal.oid.as_deref() == Some(grantee_id.as_str());
    let never_seen = obs.baselines.principal(grantee).is_none();
    let mut steps = ctx.steps;
    let mut why = ctx.reasons.clone();
    if self_grant && s.raise.self_grant > 0 {
        steps += s.raise.self_grant;
        why.insert(0, "the caller granted itself".into());
    }
    if never_seen && !self_grant && s.raise.new_grantee > 0 {
        steps += s.raise.new_grantee;
        why.push(format!(
            "grantee {grantee_id} never made a request kvwatch saw"
        ));
    }
    let perms = added.permissions.flat();
    let can_read_secrets = added.permissions.can_read_secrets();
    let rule = Rule::AccessPolicyAdded;
    let mut f = Finding::about(obs, NAME, rule.as_str(), raise(s.severity.of(rule), steps));
    f.summary = wording::policy_added(
        &who(e),
        &e.vault,
        if self_grant { "itself" } else { &grantee_id },
        &perms,
        can_read_secrets,
        &why,
    );
    f.evidence = Evidence::new()
        .with("observed", json!({ "operation": e.operation.to_string(), "grantee": grantee_id, "permissions": perms,
            "self_grant": self_grant, "grantee_never_seen": never_seen, "place": obs.geo.label(), "can_read_secrets": can_read_secrets }))
        .with("baseline", json!({ "caller_learning": obs.learning(), "caller_access_changes": obs.profile.map_or(0, |p| p.access_changes) }))
        .with_list("reasons", why)
        .with_list("addresses", e.caller_ip.map(|ip| ip.to_string()));
    findings.push(f);
    state.open_grant(
        Grant {
            vault: obs.vault,
            vault_name: e.vault.to_string(),
            grantee,
            grantee_id,
            at: obs.now,
            caller_identity: e.identity().into_owned(),
            caller: PrincipalSummary::of(&e.principal),
            caller_who: who(e),
            self_grant,
            permissions: perms,
            reads: 0,
            objects: Vec::new(),
            reported: 0,
            first_read: 0,
            revoked: false,
        },
        s.chain.max_open_grants,
    );
}

fn policy_removed(
    s: &Settings,
    state: &mut State,
    obs: &Observation<'_>,
    removed: &AccessPolicyEntry,
    ctx: &CallerContext,
    findings: &mut Vec<Finding>,
) {
    let e = obs.event;
    let grantee_id = removed.object_id.clone().unwrap_or_else(|| "?".into());
    let grantee = principal_key(&grantee_id);
    let revoke_secs = secs(s.chain.revoke_window);
    let recent = state.recent_grant(obs.vault, grantee, obs.now.saturating_sub(revoke_secs));
    let rule = match recent {
        Some(_) => Rule::GrantThenRevoke,
        None => Rule::AccessPolicyRemoved,
    };
    let mut f = Finding::about(
        obs,
        NAME,
        rule.as_str(),
        raise(s.severity.of(rule), ctx.steps),
    );
    let who = who(e);
    let suffix = ctx.suffix();
    f.summary = match &recent {
        Some(g) => wording::grant_then_revoke(
            &who,
            &e.vault,
            &grantee_id,
            obs.now.saturating_sub(g.at),
            g.reads,
            &suffix,
        ),
        None => wording::policy_removed(&who, &e.vault, &grantee_id, &suffix),
    };
    let chain = recent.map(|g| {
        g.revoked = true;
        json!({ "granted_at": time_of(g.at).to_rfc3339(), "granted_by": g.caller_identity, "reads_between": g.reads, "objects": g.objects })
    });
    f.evidence = Evidence::new()
        .with("observed", json!({ "operation": e.operation.to_string(), "grantee": grantee_id, "permissions": removed.permissions.flat(), "place": obs.geo.label() }))
        .with_list("reasons", ctx.reasons.clone())
        .with_list("addresses", e.caller_ip.map(|ip| ip.to_string()));
    if let Some(c) = chain {
        f.evidence.insert("chain", c);
    }
    findings.push(f);
}

/// Links a read by a recent grantee to its grant (`grant_then_read`), reported at
/// the first read and again each time the reads double.
pub fn grantee_reads(
    s: &Settings,
    state: &mut State,
    obs: &Observation<'_>,
    findings: &mut Vec<Finding>,
) {
    let e = obs.event;
    let Some(key) = obs.principal else { return };
    let since = obs.now.saturating_sub(secs(s.chain.read_window));
    let object = e
        .object
        .as_ref()
        .map(std::string::ToString::to_string)
        .unwrap_or_else(|| e.operation.to_string());
    let Some(g) = state.grant_for_read(obs.vault, key, since, obs.now) else {
        return;
    };
    g.reads += 1;
    if g.first_read == 0 {
        g.first_read = obs.now;
    }
    if g.objects.len() < 10 && !g.objects.contains(&object) {
        g.objects.push(object);
    }
    if !(g.reported == 0 || g.reads >= g.reported * 2) {
        return;
    }
    g.reported = g.reads;
    let rule = Rule::GrantThenRead;
    let severity = raise(s.severity.of(rule), u32::from(g.self_grant));
    let mut f = Finding::about(obs, NAME, rule.as_str(), severity);
    f.identity = g.caller_identity.clone();
    f.principal = g.caller.clone();
    f.vault = g.vault_name.clone();
    f.first_seen = time_of(g.at);
    f.summary = wording::grant_then_read(g);
    f.evidence = Evidence::new()
        .with("chain", json!({ "granted_at": time_of(g.at).to_rfc3339(), "granted_by": g.caller_identity, "grantee": g.grantee_id,
            "permissions": g.permissions, "first_read": time_of(g.first_read).to_rfc3339(), "reads": g.reads, "reader": who(e) }))
        .with_list("objects", g.objects.clone())
        .with_list("addresses", e.caller_ip.map(|ip| ip.to_string()));
    findings.push(f);
}
