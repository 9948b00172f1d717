//! How `control_plane` speaks to an analyst: the summary of each rule and the next
//! steps shown with its alerts.

use super::coverage::Coverage;
use super::state::Pending;
use crate::detect::text::duration;
use crate::event::ScopeLevel;

/// What an analyst should do about a `control_plane` alert.
pub const NEXT_STEPS: &[&str] = &[
    "Ask the caller's owner (and the change ticket) whether this change was planned.",
    "If not: undo it (remove the role assignment, restore the diagnostic setting or lock), revoke the caller's sessions, and review what the grantee read in the vaults' AuditEvent log.",
];

/// A grant, for its summary.
pub struct Grant<'a> {
    /// The granter, in words.
    pub granter: &'a str,
    /// The role's name.
    pub role: &'a str,
    /// The roles file does not list it.
    pub unknown_role: bool,
    /// The grantee's object id.
    pub grantee: &'a str,
    /// The grantee's type.
    pub grantee_type: &'a str,
    /// The scope.
    pub scope: &'a str,
    /// Its level.
    pub level: ScopeLevel,
    /// The vaults it reaches.
    pub coverage: &'a Coverage,
    /// The granter grants to itself.
    pub self_grant: bool,
    /// kvwatch never saw the grantee.
    pub never_seen: bool,
}

/// Which vaults a scope reaches, in words.
pub fn reach(level: ScopeLevel, cov: &Coverage) -> String {
    let known = if cov.vaults.is_empty() {
        "no vault kvwatch has located yet".to_owned()
    } else if cov.total > cov.vaults.len() {
        format!(
            "{} and {} more",
            cov.vaults.join(", "),
            cov.total - cov.vaults.len()
        )
    } else {
        cov.vaults.join(", ")
    };
    match level {
        ScopeLevel::Vault => format!("vault {known}"),
        _ if cov.may_reach_unknown => format!(
            "the {} (vaults: {known}, and any vault not located yet)",
            level.as_str().replace('_', " ")
        ),
        _ => format!("the {} (vaults: {known})", level.as_str().replace('_', " ")),
    }
}

/// `role_grant`.
pub fn role_grant(g: &Grant<'_>, raises: &[&str], routine: bool) -> String {
    let grantee = if g.self_grant {
        "itself".to_owned()
    } else {
        format!(
            "{} {}{}",
            g.grantee_type,
            g.grantee,
            if g.never_seen {
                " (never seen by kvwatch)"
            } else {
                ""
            }
        )
    };
    let role = if g.unknown_role {
        format!(
            "{} (a role kvwatch does not know: possibly reading secrets, keys and certificates)",
            g.role
        )
    } else {
        g.role.to_owned()
    };
    let why = if raises.is_empty() {
        if routine {
            " (a routine granter)".to_owned()
        } else {
            String::new()
        }
    } else {
        format!(" [{}]", raises.join(", "))
    };
    format!(
        "{} granted {grantee} the role {role} on {} (scope {}){why}",
        g.granter,
        reach(g.level, g.coverage),
        g.scope
    )
}

/// `role_removed`.
pub fn role_removed(
    remover: &str,
    role: &str,
    grantee: &str,
    scope: &str,
    revoked_after: Option<u32>,
) -> String {
    let soon = revoked_after
        .map(|s| format!(", {} after it was granted", duration(s)))
        .unwrap_or_default();
    format!("{remover} removed {grantee}'s role {role} at {scope}{soon}")
}

/// `grant_then_read`.
pub fn grant_then_read(p: &Pending, reader: &str, vault: &str, op: &str, elapsed: u32) -> String {
    format!(
        "{reader} read vault {vault} ({op}) {} after {} granted it {} at {}: access granted, then used",
        duration(elapsed),
        p.granter_words,
        p.role,
        p.scope
    )
}

/// `monitoring_disabled`.
pub fn monitoring_disabled(
    caller: &str,
    vault: &str,
    setting: &str,
    deleted: bool,
    on_vault: bool,
) -> String {
    match (on_vault, deleted) {
        (true, true) => format!("{caller} deleted the diagnostic setting '{setting}' of vault {vault}: its AuditEvent records stop reaching that destination (monitoring is being blinded)"),
        (true, false) => format!("{caller} rewrote the diagnostic setting '{setting}' of vault {vault} so it no longer sends AuditEvent (monitoring is being blinded)"),
        _ => format!("{caller} deleted the subscription's diagnostic setting '{setting}': its Activity Log stops reaching that destination (monitoring is being blinded)"),
    }
}

/// `audit_log_stopped`.
pub fn audit_log_stopped(
    caller: &str,
    vault: &str,
    setting: &str,
    secs: u32,
    q: &super::pulse::Silence,
) -> String {
    format!(
        "vault {vault} has sent no AuditEvent record in the {} since {caller} disabled its diagnostic setting '{setting}': at its usual rate about {:.0} were expected (chance of such a silence {:.1e}); its audit log has stopped and the vault is unwatched",
        duration(secs),
        q.expected,
        q.chance
    )
}

/// `lock_removed`.
pub fn lock_removed(caller: &str, scope: &str, vaults: &[String], total: usize) -> String {
    format!(
        "{caller} removed a lock at {scope}, which protected {total} known vault(s) ({}) from deletion or change",
        vaults.join(", ")
    )
}

/// `elevate_access`.
pub fn elevate_access(caller: &str) -> String {
    format!("{caller} elevated access: User Access Administrator at the root scope, so it can grant itself any role on every subscription and vault")
}
