//! Azure RBAC hygiene, from the role assignments the Activity Log shows
//! ([`crate::report::assignments`]) and the use AuditEvent shows: privileged roles
//! that reach vaults, and role assignments whose grantee never used what they were
//! given (guests with data access are [`super::guests`]'s, on the same helpers).
//!
//! What a role gives comes from the roles file (`detectors/roles/azure_roles.toml`,
//! the detectors' own knowledge): a role is privileged here when Microsoft lists it
//! as privileged (Owner, Contributor, User Access Administrator, Role Based Access
//! Control Administrator), when it can give access (it could grant itself any data
//! role), or when it reads every kind of Key Vault data (Key Vault Administrator).
//! A role definition the file does not list is not judged privileged (nothing is
//! known of it) but is assumed, as the detectors assume, to possibly read data.
//! Each finding is one principal's, listing the assignments behind it, so its id
//! (`check/principal:<object id>`) stays the same from one report to the next.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{days, Check, Context, Finding, Practice, Subject};
use crate::alert::Severity;
use crate::event::roles::{DataKind, RoleAccess, RoleCatalog};
use crate::event::ScopeLevel;
use crate::report::assignments::Assignment;
use crate::report::collect::Collected;
use crate::report::stats::PrincipalStats;

/// `rbac.privileged_role`.
pub const PRIVILEGED_ROLE: Check = Check {
    id: "rbac.privileged_role",
    title: "Privileged role reaching vaults",
    practice: Practice::AccessReview,
    method: "Role assignments (Activity Log, created or re-applied in the period and not removed) of a privileged role (Owner, Contributor, User Access Administrator, Role Based Access Control Administrator, Key Vault Administrator, Key Vault Data Access Administrator … per the roles file) at a vault or a scope above vaults, per grantee.",
};

/// `rbac.unused_assignment`.
pub const UNUSED_ASSIGNMENT: Check = Check {
    id: "rbac.unused_assignment",
    title: "Role assignment never used",
    practice: Practice::AccessReview,
    method: "Role assignments (Activity Log) of a role reading Key Vault data or giving access, at a vault or above, whose grantee made no successful request on the vaults it reaches after it was granted (any vault when none under a broad scope is located); groups are not judged (their members' use shows under their own ids).",
};

/// One assignment, as a finding lists it.
#[derive(Debug, Clone, Serialize)]
pub struct AssignmentView {
    /// The role's name (or `role <guid>`).
    pub role: String,
    /// The role definition's GUID.
    pub role_id: String,
    /// The roles file knows the role.
    pub known_role: bool,
    /// Key Vault data the role reads (or may read, when unknown).
    pub reads: Vec<DataKind>,
    /// It can give access.
    pub gives_access: bool,
    /// The scope.
    pub scope: String,
    /// How high the scope sits.
    pub level: ScopeLevel,
    /// Located vaults it reaches.
    pub vaults: Vec<String>,
    /// It may reach vaults the Activity Log did not name.
    pub may_reach_unlocated: bool,
    /// Since when it is known to exist (its first write in the period).
    pub since: DateTime<Utc>,
    /// That write created it (`false`: re-applied, so it existed before).
    pub created_in_period: bool,
    /// Who wrote it.
    pub granted_by: String,
}

/// The evidence of [`PRIVILEGED_ROLE`] and [`UNUSED_ASSIGNMENT`].
#[derive(Debug, Clone, Serialize)]
pub struct AssignmentsEvidence {
    /// The grantee's type (`User`, `Group`, `ServicePrincipal` …).
    pub grantee_type: Option<String>,
    /// The assignments.
    pub assignments: Vec<AssignmentView>,
    /// Successful requests by the grantee in the period (AuditEvent).
    pub requests_served: u64,
}

/// What a role gives, by the roles file.
pub(super) struct RoleView {
    pub(super) name: String,
    pub(super) known: bool,
    pub(super) reads: Vec<DataKind>,
    pub(super) gives_access: bool,
    pub(super) privileged: bool,
}

pub(super) fn role(roles: &RoleCatalog, a: &Assignment) -> RoleView {
    match roles.access(&a.role) {
        RoleAccess::Known(r) => RoleView {
            name: r.name.clone(),
            known: true,
            reads: r.reads.clone(),
            gives_access: r.manages_access(),
            privileged: r.privileged || r.manages_access() || r.reads.len() >= 3,
        },
        RoleAccess::Unknown(u) => RoleView {
            name: a
                .role_name
                .clone()
                .unwrap_or_else(|| format!("role {}", a.role)),
            known: false,
            reads: u.reads.clone(),
            gives_access: !u.grants.is_empty(),
            privileged: false,
        },
    }
}

/// A scope at a vault or above (not another resource, not an unknown path).
pub(super) fn reaches_vaults(a: &Assignment) -> bool {
    !matches!(a.level, ScopeLevel::Resource | ScopeLevel::Unknown)
}

pub(super) fn view(c: &Collected, a: &Assignment, r: &RoleView) -> AssignmentView {
    let reach = c.rbac.reach(a);
    AssignmentView {
        role: r.name.clone(),
        role_id: a.role.clone(),
        known_role: r.known,
        reads: r.reads.clone(),
        gives_access: r.gives_access,
        scope: a.scope.clone(),
        level: a.level,
        vaults: reach.vaults,
        may_reach_unlocated: reach.may_reach_unlocated,
        since: a.since,
        created_in_period: a.created,
        granted_by: a
            .granted_by_upn
            .clone()
            .unwrap_or_else(|| super::display(c, &a.granted_by)),
    }
}

/// The report's principals by lower-case identity (assignments name grantees by
/// object id, lower-cased; records spell them as they come).
fn principals(c: &Collected) -> HashMap<String, &PrincipalStats> {
    c.principals
        .map
        .values()
        .map(|p| (p.identity.to_ascii_lowercase(), p))
        .collect()
}

/// Assignments grouped by grantee, in first-seen order of the grantee.
fn by_grantee<'c>(
    c: &'c Collected,
    roles: &RoleCatalog,
    keep: impl Fn(&Assignment, &RoleView) -> bool,
) -> Vec<(&'c str, Vec<(&'c Assignment, RoleView)>)> {
    let mut out: Vec<(&str, Vec<(&Assignment, RoleView)>)> = Vec::new();
    for a in c.rbac.existing().filter(|a| reaches_vaults(a)) {
        let r = role(roles, a);
        if !keep(a, &r) {
            continue;
        }
        match out.iter_mut().find(|(g, _)| *g == a.grantee) {
            Some((_, list)) => list.push((a, r)),
            None => out.push((a.grantee.as_str(), vec![(a, r)])),
        }
    }
    out
}

pub(super) fn scope_words(v: &AssignmentView) -> String {
    match (v.level, v.vaults.as_slice()) {
        (ScopeLevel::Vault, [vault, ..]) => format!("on vault {vault}"),
        (level, []) => format!(
            "at {} {} (no vault under it located)",
            level.as_str().replace('_', " "),
            v.scope
        ),
        (level, vaults) => format!(
            "at {} {} (reaching {})",
            level.as_str().replace('_', " "),
            v.scope,
            vaults.join(", ")
        ),
    }
}

/// One finding per grantee holding a privileged role at a vault or above: high at a
/// subscription or above, medium at a resource group or for a role that gives
/// access on a vault, low for Key Vault Administrator on one vault.
pub fn privileged_roles(c: &Collected, ctx: &Context<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    let known = principals(c);
    for (grantee, list) in by_grantee(c, ctx.roles, |_, r| r.privileged) {
        let severity = list
            .iter()
            .map(|(a, r)| match a.level {
                ScopeLevel::Root | ScopeLevel::ManagementGroup | ScopeLevel::Subscription => {
                    Severity::High
                }
                ScopeLevel::Vault if !r.gives_access => Severity::Low,
                _ => Severity::Medium,
            })
            .max()
            .unwrap_or(Severity::Low);
        let views: Vec<AssignmentView> = list.iter().map(|(a, r)| view(c, a, r)).collect();
        let p = known.get(grantee).copied();
        let name = p.and_then(|p| p.upn.as_deref());
        let summary = format!(
            "{} holds {}: review whether it still needs a privileged role this broad (a narrower data role on one vault, or Privileged Identity Management for just-in-time use).",
            name.unwrap_or(grantee),
            views
                .iter()
                .map(|v| format!("{} {}", v.role, scope_words(v)))
                .collect::<Vec<_>>()
                .join("; "),
        );
        let evidence = AssignmentsEvidence {
            grantee_type: list[0].0.grantee_type.clone(),
            assignments: views,
            requests_served: p.map_or(0, served),
        };
        out.push(Finding::new(
            PRIVILEGED_ROLE,
            severity,
            Subject::principal(grantee, name),
            summary,
            &evidence,
        ));
    }
    out
}

fn served(p: &PrincipalStats) -> u64 {
    p.vaults.map.values().map(|v| v.ok).sum()
}

/// One finding per grantee (not a group) none of whose assignments reaching Key
/// Vault data or access was used after it was granted: medium when one reads
/// secrets, low otherwise, info when every grant is less than a day old.
pub fn unused(c: &Collected, ctx: &Context<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    let known = principals(c);
    let gives = |_: &Assignment, r: &RoleView| !r.reads.is_empty() || r.gives_access;
    for (grantee, list) in by_grantee(c, ctx.roles, gives) {
        if list.iter().any(|(a, _)| {
            a.grantee_type
                .as_deref()
                .is_some_and(|t| t.eq_ignore_ascii_case("Group"))
        }) {
            continue;
        }
        let p = known.get(grantee).copied();
        let used = |a: &Assignment| {
            let Some(p) = p else { return false };
            let reach = c.rbac.reach(a);
            p.vaults.map.iter().any(|(vault, u)| {
                (reach.vaults.is_empty() || reach.vaults.contains(vault))
                    && u.last_ok.is_some_and(|t| t >= a.since)
            })
        };
        let unused: Vec<&(&Assignment, RoleView)> = list.iter().filter(|(a, _)| !used(a)).collect();
        if unused.is_empty() {
            continue;
        }
        let severity = if unused
            .iter()
            .all(|(a, _)| ctx.end - a.since < chrono::Duration::days(1))
        {
            Severity::Info
        } else if unused
            .iter()
            .any(|(_, r)| r.reads.contains(&DataKind::Secrets))
        {
            Severity::Medium
        } else {
            Severity::Low
        };
        let views: Vec<AssignmentView> = unused.iter().map(|(a, r)| view(c, a, r)).collect();
        let name = p.and_then(|p| p.upn.as_deref());
        let oldest = views.iter().map(|v| v.since).min().unwrap_or(ctx.end);
        let summary = format!(
            "{} holds {} and made no successful request on the vaults it reaches in the {} days after: remove the assignment if it is not needed.",
            name.unwrap_or(grantee),
            views
                .iter()
                .map(|v| format!("{} {}", v.role, scope_words(v)))
                .collect::<Vec<_>>()
                .join("; "),
            days(ctx.end - oldest),
        );
        let evidence = AssignmentsEvidence {
            grantee_type: list[0].0.grantee_type.clone(),
            assignments: views,
            requests_served: p.map_or(0, served),
        };
        out.push(Finding::new(
            UNUSED_ASSIGNMENT,
            severity,
            Subject::principal(grantee, name),
            summary,
            &evidence,
        ));
    }
    out
}
