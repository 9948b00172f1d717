//! Access-review candidates: objects nobody used, principals that went quiet, and
//! access granted but never used.
//!
//! "Unused" needs a long enough period to mean anything, so objects are judged only
//! when the period covers `[report] review_min_period`, and principals only when it
//! is longer than `dormant_after`. An object is known to exist when a request on it
//! succeeded (a write, a backup, a metadata read) or Key Vault sent a notification
//! about it; backups do not count as use. A grant is an `addedAccessPolicy` in a
//! VaultPut or VaultPatch; RBAC role assignments, from the Activity Log, are judged
//! by [`super::rbac`].

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{days, display, Check, Context, Finding, Practice, Subject};
use crate::alert::Severity;
use crate::event::{AccessPolicyEntry, PolicyChange, PrincipalKind};
use crate::report::collect::Collected;

/// `review.unused_object`.
pub const UNUSED_OBJECT: Check = Check {
    id: "review.unused_object",
    title: "Secret, key or certificate unused in the period",
    practice: Practice::AccessReview,
    method: "Objects shown to exist (a successful request or a notification) that no request read or used in the period (backups excluded), when the period covers [report] review_min_period.",
};

/// `review.dormant_principal`.
pub const DORMANT_PRINCIPAL: Check = Check {
    id: "review.dormant_principal",
    title: "Principal unused for the end of the period",
    practice: Practice::AccessReview,
    method: "Principals whose last successful request is at least [report] dormant_after before the end of the period.",
};

/// `review.unused_grant`.
pub const UNUSED_GRANT: Check = Check {
    id: "review.unused_grant",
    title: "Access granted but never used",
    practice: Practice::AccessReview,
    method: "An addedAccessPolicy (VaultPut/VaultPatch) whose object id made no successful request on that vault after the grant, and was not removed again.",
};

/// The evidence of [`UNUSED_OBJECT`].
#[derive(Debug, Clone, Serialize)]
pub struct UnusedObjectEvidence {
    /// Requests naming the object, any outcome.
    pub requests: u64,
    /// Successful writes in the period.
    pub writes: u64,
    /// The first request naming it.
    pub first_seen: DateTime<Utc>,
    /// The last request naming it.
    pub last_seen: DateTime<Utc>,
    /// The period's length, in days.
    pub period_days: i64,
}

/// The evidence of [`DORMANT_PRINCIPAL`].
#[derive(Debug, Clone, Serialize)]
pub struct DormantEvidence {
    /// The principal's kind.
    pub kind: PrincipalKind,
    /// The first request in the period.
    pub first_seen: DateTime<Utc>,
    /// The last successful request.
    pub last_success: DateTime<Utc>,
    /// Days from it to the end of the period.
    pub idle_days: i64,
    /// Requests in the period.
    pub requests: u64,
    /// The vaults it used.
    pub vaults: Vec<String>,
}

/// The evidence of [`UNUSED_GRANT`].
#[derive(Debug, Clone, Serialize)]
pub struct UnusedGrantEvidence {
    /// When the policy was added.
    pub granted: DateTime<Utc>,
    /// Who added it.
    pub granted_by: String,
    /// The operation that carried it.
    pub operation: String,
    /// The permissions granted (`secrets:get` …).
    pub permissions: Vec<String>,
    /// Days from the grant to the end of the period.
    pub days_since_grant: i64,
    /// Requests by the grantee on the vault after the grant that were not served.
    pub failed_requests_after: u64,
}

/// One finding per existing object nobody used.
pub fn unused_objects(c: &Collected, ctx: &Context<'_>) -> Vec<Finding> {
    if ctx.span() < ctx.config.review_min_period.as_chrono() {
        return Vec::new();
    }
    let mut out = Vec::new();
    for (vault, v) in &c.vaults.map {
        for (name, o) in &v.objects.map {
            let gone = o
                .deleted
                .is_some_and(|d| o.last_write.as_ref().is_none_or(|(w, _)| d >= *w));
            if !o.exists || o.uses > 0 || gone {
                continue;
            }
            let evidence = UnusedObjectEvidence {
                requests: o.seen.count,
                writes: o.writes,
                first_seen: o.seen.first,
                last_seen: o.seen.last,
                period_days: days(ctx.span()),
            };
            let summary = format!(
                "{name} in {vault} exists but nobody read or used it in {} days ({} requests named it, none a use): a candidate for removal or for narrowing who can read it.",
                evidence.period_days, o.seen.count
            );
            out.push(Finding::new(
                UNUSED_OBJECT,
                Severity::Low,
                Subject::object(vault, name),
                summary,
                &evidence,
            ));
        }
    }
    out
}

/// One finding per principal quiet for at least `dormant_after` at the end.
pub fn dormant_principals(c: &Collected, ctx: &Context<'_>) -> Vec<Finding> {
    let after = ctx.config.dormant_after.as_chrono();
    if ctx.span() <= after {
        return Vec::new();
    }
    let mut out = Vec::new();
    for p in c.principals.map.values() {
        let Some(last_ok) = p.last_ok else { continue };
        if p.kind == PrincipalKind::Anonymous || ctx.end - last_ok < after {
            continue;
        }
        let mut vaults: Vec<String> = p
            .vaults
            .map
            .iter()
            .filter(|(_, u)| u.ok > 0)
            .map(|(k, _)| k.clone())
            .collect();
        vaults.sort();
        let evidence = DormantEvidence {
            kind: p.kind,
            first_seen: p.seen.first,
            last_success: last_ok,
            idle_days: days(ctx.end - last_ok),
            requests: p.seen.count,
            vaults,
        };
        let summary = format!(
            "{} ({}) last used its access on {} and was idle for the last {} days of the period: review whether it still needs access to {}.",
            p.display_name(),
            p.kind,
            last_ok.format("%Y-%m-%d"),
            evidence.idle_days,
            evidence.vaults.join(", ")
        );
        out.push(Finding::new(
            DORMANT_PRINCIPAL,
            Severity::Low,
            Subject::principal(&p.identity, p.upn.as_deref()),
            summary,
            &evidence,
        ));
    }
    out
}

/// One finding per access-policy grant the grantee never used.
pub fn unused_grants(c: &Collected, ctx: &Context<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    for (vault, v) in &c.vaults.map {
        for (i, change) in v.changes.iter().enumerate() {
            let Some(added) = change.policy.as_ref().and_then(|p| p.added.as_ref()) else {
                continue;
            };
            let Some(grantee) = added.object_id.as_deref() else {
                continue;
            };
            let later = &v.changes[i + 1..];
            let names = |pick: fn(&PolicyChange) -> Option<&AccessPolicyEntry>| {
                later.iter().any(|l| {
                    l.policy
                        .as_ref()
                        .and_then(pick)
                        .and_then(|e| e.object_id.as_deref())
                        == Some(grantee)
                })
            };
            // A later grant to the same principal is judged instead (one finding each).
            let removed_later = names(|p| p.removed.as_ref()) || names(|p| p.added.as_ref());
            let principal = c.principals.map.get(grantee);
            let use_after = principal.and_then(|p| p.vaults.map.get(vault.as_str()));
            if removed_later
                || use_after
                    .and_then(|u| u.last_ok)
                    .is_some_and(|t| t >= change.time)
            {
                continue;
            }
            let failed_after = use_after
                .filter(|u| u.seen.last >= change.time)
                .map_or(0, |u| u.seen.count - u.ok);
            let evidence = UnusedGrantEvidence {
                granted: change.time,
                granted_by: display(c, &change.identity),
                operation: change.operation.clone(),
                permissions: added.permissions.flat(),
                days_since_grant: days(ctx.end - change.time),
                failed_requests_after: failed_after,
            };
            let severity = if ctx.end - change.time < chrono::Duration::days(1) {
                Severity::Info
            } else if added.permissions.can_read_secrets() {
                Severity::Medium
            } else {
                Severity::Low
            };
            let name = principal.and_then(|p| p.upn.as_deref());
            let summary = format!(
                "{} was granted {} on {vault} on {} by {}, and made no successful request there in the {} days after: remove the grant if it is not needed (if the object id is a group, its members' use shows under their own ids).",
                name.unwrap_or(grantee),
                if evidence.permissions.is_empty() { "an access policy".to_owned() } else { evidence.permissions.join(", ") },
                change.time.format("%Y-%m-%d %H:%M"),
                evidence.granted_by,
                evidence.days_since_grant,
            );
            out.push(Finding::new(
                UNUSED_GRANT,
                severity,
                Subject::principal_on_vault(grantee, name, vault),
                summary,
                &evidence,
            ));
        }
    }
    out
}
