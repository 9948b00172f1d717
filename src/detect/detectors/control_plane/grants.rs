//! `role_grant` and `role_removed`: role assignments on scopes that reach vaults.
//!
//! Only a finished change counts: the `Start` (and `Accept`) record of an operation
//! shares its correlation id with the `Success` that follows, so the rules read the
//! `Success` alone, and a refused write (`Failure`: `RoleAssignmentExists`, or
//! `AuthorizationFailed`, which `failed_auth` counts) changed nothing. A write that
//! re-applies an assignment already in place (`Succeeded.OK` rather than
//! `Succeeded.Created`, or one this detector has seen before) is an
//! infrastructure-as-code pipeline doing its daily run: it is remembered, never
//! reported.

use serde_json::json;

use super::coverage::{self, Coverage};
use super::rule::{Rule, NAME};
use super::settings::Settings;
use super::state::{Pending, State};
use super::wording;
use crate::alert::{Evidence, Severity};
use crate::detect::baseline::keys::{hash64, principal_key};
use crate::detect::finding::{raise, Finding};
use crate::detect::observation::Observation;
use crate::detect::text::who;
use crate::event::{
    ActivityStatus, ControlPlane, RoleAccess, RoleAssignment, RoleCatalog, ScopeLevel,
};

/// What a role gives, as the alert says it.
pub struct RoleFacts {
    /// Its name.
    pub name: String,
    /// It reads some Key Vault data (or may: an unknown role).
    pub reads: bool,
    /// It can give access.
    pub grants: bool,
    /// Privileged: gives access, or Microsoft lists it as privileged.
    pub privileged: bool,
    /// The roles file does not list it.
    pub unknown: bool,
    /// Evidence about it.
    pub evidence: serde_json::Value,
}

/// Looks a role up in the roles file.
pub fn role_facts(roles: &RoleCatalog, ra: &RoleAssignment<'_>) -> RoleFacts {
    let id = ra.role_definition_id.as_deref().unwrap_or("");
    match roles.access(id) {
        RoleAccess::Known(r) => RoleFacts {
            name: r.name.clone(),
            reads: !r.reads.is_empty(),
            grants: r.manages_access(),
            privileged: r.privileged || r.manages_access(),
            unknown: false,
            evidence: json!({ "name": r.name, "id": id, "reads": r.reads, "grants": r.grants, "privileged": r.privileged, "what_it_does": r.summary }),
        },
        RoleAccess::Unknown(u) => RoleFacts {
            name: ra
                .role_name
                .as_deref()
                .map_or_else(|| format!("role {id}"), str::to_owned),
            reads: !u.reads.is_empty(),
            grants: !u.grants.is_empty(),
            privileged: !u.grants.is_empty(),
            unknown: true,
            evidence: json!({ "name": ra.role_name, "id": id, "known": false, "reads": u.reads, "grants": u.grants, "what_it_does": u.summary }),
        },
    }
}

/// The keys an assignment is remembered under: its id, and grantee + role + scope
/// (a re-apply under another name is the same access).
fn keys(ra: &RoleAssignment<'_>, scope: &str) -> [u64; 2] {
    let by_id = ra.id.as_deref().map_or(0, |id| hash64(id.as_bytes()));
    let what = format!(
        "{}|{}|{}",
        ra.principal_id.as_deref().unwrap_or(""),
        ra.role_definition_id
            .as_deref()
            .and_then(crate::event::roles::role_guid)
            .unwrap_or(""),
        scope
    );
    [by_id, hash64(what.as_bytes())]
}

/// Whether the write created the assignment (rather than re-applying it).
fn is_new(obs: &Observation<'_>, c: &ControlPlane<'_>, known: bool) -> bool {
    let sub = c.substatus.as_deref().unwrap_or("");
    if sub.eq_ignore_ascii_case("Created") || obs.event.status == 201 {
        true
    } else if sub.eq_ignore_ascii_case("OK") || obs.event.status == 200 {
        false
    } else {
        !known
    }
}

/// The vault a finding about `scope` names: the vault itself, else `*`.
pub fn finding_vault(obs: &Observation<'_>, level: ScopeLevel) -> String {
    if level == ScopeLevel::Vault && !obs.event.vault.is_empty() {
        obs.event.vault.to_string()
    } else {
        "*".to_owned()
    }
}

/// A role assignment written.
pub fn created(
    s: &Settings,
    state: &mut State,
    obs: &Observation<'_>,
    c: &ControlPlane<'_>,
    findings: &mut Vec<Finding>,
) {
    let (Some(ra), Some(scope)) = (c.role_assignment.as_ref(), c.scope.as_deref()) else {
        return;
    };
    if c.status != ActivityStatus::Success {
        return;
    }
    let level = c.scope_level;
    if matches!(level, ScopeLevel::Resource | ScopeLevel::Unknown) {
        return;
    }
    let now = obs.now;
    let keys = keys(ra, scope);
    let known = keys.iter().any(|k| *k != 0 && state.known.contains_key(k));
    for k in keys.into_iter().filter(|k| *k != 0) {
        state.known.insert(k, now);
    }
    if !is_new(obs, c, known) {
        return;
    }
    let role = role_facts(&s.roles, ra);
    let cov = coverage::of(state, scope, level);
    let grantee = ra.principal_id.as_deref().map(principal_key);
    let e = obs.event;
    let self_grant = grantee.is_some() && grantee == obs.principal;
    let never_seen = grantee.is_some_and(|g| obs.baselines.principal(g).is_none()) && !self_grant;
    let guest = e
        .principal
        .upn
        .as_deref()
        .is_some_and(|u| u.contains("#EXT#"));
    let data = role.reads || role.grants;
    let broad = matches!(
        level,
        ScopeLevel::Subscription | ScopeLevel::ManagementGroup | ScopeLevel::Root
    );
    let history = obs
        .principal
        .and_then(|k| state.granters.get(&k).copied())
        .unwrap_or_default();
    let hours = obs
        .principal
        .and_then(|k| state.hours.get(&k).copied())
        .unwrap_or_default();
    let judged = hours.total() >= s.grant.usual_hours_after;
    let near = hours.share_near(now);
    let off_hours = judged && near < s.grant.off_hours_share;
    let routine = history.grants >= s.grant.routine_after
        && !off_hours
        && !role.privileged
        && !broad
        && !self_grant
        && !guest;
    let sev = &s.severity;
    let mut raises: Vec<&str> = Vec::new();
    let severity = if !data {
        sev.control_plane_role
    } else {
        let mut steps = 0;
        let mut add = |on: bool, n: u32, why: &'static str| {
            if on && n > 0 {
                steps += n;
                raises.push(why);
            }
        };
        add(role.privileged, sev.privileged, "privileged role");
        add(broad, sev.broad_scope, "broad scope");
        add(
            never_seen && !routine,
            sev.new_grantee,
            "grantee never seen",
        );
        add(self_grant, sev.self_grant, "self-grant");
        add(
            off_hours,
            sev.off_hours,
            "outside the granter's usual hours",
        );
        add(guest, sev.guest, "guest granter");
        let base = if routine {
            sev.routine_grant
        } else {
            sev.role_grant
        };
        raise(base, steps)
    };
    if data {
        if let Some(k) = obs.principal {
            let g = state.granters.entry(k).or_default();
            g.grants = g.grants.saturating_add(1);
            g.last = now;
        }
    }
    let mut f = Finding::about(obs, NAME, Rule::RoleGrant.as_str(), severity);
    f.vault = finding_vault(obs, level);
    let grant = wording::Grant {
        granter: &who(e),
        role: &role.name,
        unknown_role: role.unknown,
        grantee: ra.principal_id.as_deref().unwrap_or("?"),
        grantee_type: ra.principal_type.as_deref().unwrap_or("principal"),
        scope,
        level,
        coverage: &cov,
        self_grant,
        never_seen,
    };
    f.summary = wording::role_grant(&grant, &raises, routine);
    f.evidence = evidence(obs, c, ra, &role, &cov)
        .with("before", json!({ "assignment": "none known: the write answered Created, a new assignment" }))
        .with("grantee", json!({ "principal_id": ra.principal_id, "principal_type": ra.principal_type, "never_seen": never_seen, "self_grant": self_grant }))
        .with("granter", json!({ "who": who(e), "grants_before": history.grants, "routine": routine, "guest": guest, "authorized_by": c.authorization }))
        .with("granter_hours", json!({ "usual_hours": judged.then(|| hours.words()), "changes_learned": hours.total(), "share_within_an_hour_of_this_one": judged.then_some((near * 1000.0).round() / 1000.0), "outside": off_hours }))
        .with_list("raised_by", raises.iter().map(ToString::to_string));
    if role.reads && severity >= s.grant.chain_min_severity {
        if let Some(g) = grantee {
            state.pending.insert(
                g,
                Pending {
                    at: now,
                    granter: f.identity.clone(),
                    granter_words: who(e),
                    vault: f.vault.clone(),
                    scope: scope.to_owned(),
                    role: role.name.clone(),
                    severity,
                },
            );
        }
    }
    findings.push(f);
}

/// The evidence every role-assignment finding carries.
fn evidence(
    obs: &Observation<'_>,
    c: &ControlPlane<'_>,
    ra: &RoleAssignment<'_>,
    role: &RoleFacts,
    cov: &Coverage,
) -> Evidence {
    let e = obs.event;
    Evidence::new()
        .with("change", json!({ "operation": c.operation, "status": c.status, "substatus": c.substatus, "correlation_id": e.correlation_id, "assignment_id": ra.id }))
        .with("after", json!({ "role": role.evidence, "scope": c.scope, "scope_level": c.scope_level }))
        .with("vaults_covered", json!({ "known": cov.vaults, "known_total": cov.total, "may_reach_vaults_not_located_yet": cov.may_reach_unknown }))
        .with_list("addresses", e.caller_ip.map(|ip| ip.to_string()))
}

/// A role assignment deleted: access taken away, reported low at most.
pub fn removed(
    s: &Settings,
    state: &mut State,
    obs: &Observation<'_>,
    c: &ControlPlane<'_>,
    findings: &mut Vec<Finding>,
) {
    let (Some(ra), Some(scope)) = (c.role_assignment.as_ref(), c.scope.as_deref()) else {
        return;
    };
    if c.status != ActivityStatus::Success
        || matches!(c.scope_level, ScopeLevel::Resource | ScopeLevel::Unknown)
    {
        return;
    }
    for k in keys(ra, scope) {
        state.known.remove(&k);
    }
    let role = role_facts(&s.roles, ra);
    if !(role.reads || role.grants) {
        return;
    }
    let revoked_after = ra
        .principal_id
        .as_deref()
        .map(principal_key)
        .and_then(|g| state.pending.remove(&g))
        .map(|p| obs.now.saturating_sub(p.at));
    let cov = coverage::of(state, scope, c.scope_level);
    let severity: Severity = s.severity.role_removed;
    let mut f = Finding::about(obs, NAME, Rule::RoleRemoved.as_str(), severity);
    f.vault = finding_vault(obs, c.scope_level);
    f.summary = wording::role_removed(
        &who(obs.event),
        &role.name,
        ra.principal_id.as_deref().unwrap_or("?"),
        scope,
        revoked_after,
    );
    f.evidence = evidence(obs, c, ra, &role, &cov)
        .with(
            "before",
            json!({ "role": role.name, "grantee": ra.principal_id, "scope": scope }),
        )
        .with("after", json!({ "assignment": "removed" }))
        .with("granted_seconds_before", json!(revoked_after));
    findings.push(f);
}
