//! How `access_policy_change` speaks to an analyst: the summary of each rule and the
//! next steps shown with its alerts.

use super::state::Grant;
use crate::detect::text::{duration, list};

/// What an analyst should do about an `access_policy_change` alert.
pub const NEXT_STEPS: &[&str] = &[
    "Confirm the change with a change ticket or its author.",
    "If unexplained: revert the access policy or role assignment and review who holds Key Vault Contributor.",
];

/// `access_policy_added`: who granted what to whom, and why it matters.
pub fn policy_added(
    who: &str,
    vault: &str,
    grantee: &str,
    permissions: &[String],
    can_read_secrets: bool,
    reasons: &[String],
) -> String {
    format!(
        "{who} added an access policy on vault {vault} for {grantee} granting {}{}{}",
        list(permissions, permissions.len(), 6),
        if can_read_secrets {
            " (it can read secret values)"
        } else {
            ""
        },
        if reasons.is_empty() {
            String::new()
        } else {
            format!("; {}", reasons.join("; "))
        }
    )
}

/// `grant_then_revoke`: a grant removed again soon after it was made.
pub fn grant_then_revoke(
    who: &str,
    vault: &str,
    grantee: &str,
    since_grant: u32,
    reads: u32,
    suffix: &str,
) -> String {
    format!("{who} removed the access policy of {grantee} on vault {vault} {} after it was granted, with {reads} reads in between: the add-dump-remove pattern{suffix}",
        duration(since_grant))
}

/// `access_policy_removed`.
pub fn policy_removed(who: &str, vault: &str, grantee: &str, suffix: &str) -> String {
    format!("{who} removed the access policy of {grantee} on vault {vault}{suffix}")
}

/// `grant_then_read`: the grantee used its new access.
pub fn grant_then_read(g: &Grant) -> String {
    format!(
        "{} read {} on vault {} {} after {} granted it access ({}): a grant followed by use",
        if g.self_grant {
            "the same caller".to_owned()
        } else {
            format!("grantee {}", g.grantee_id)
        },
        list(&g.objects, g.reads as usize, 4),
        g.vault_name,
        duration(g.first_read.saturating_sub(g.at)),
        g.caller_who,
        list(&g.permissions, g.permissions.len(), 4)
    )
}

/// A weakening change (`network_opened`, `rbac_disabled` …).
pub fn weakened(who: &str, vault: &str, changes: &[String], suffix: &str) -> String {
    format!(
        "{who} weakened vault {vault}: {}{suffix}",
        changes.join("; ")
    )
}

/// `weakened_config_observed`: a read shows a weaker configuration, no change seen.
pub fn weakened_observed(
    operation: &str,
    vault: &str,
    since_known: u32,
    changes: &[String],
) -> String {
    format!("a {operation} of vault {vault} shows a weaker configuration than {} ago with no change record in between: {}",
        duration(since_known), changes.join("; "))
}

/// `vault_changed`: a visible change that weakens nothing (a write that changes
/// nothing visible raises no alert at all).
pub fn vault_changed(
    who: &str,
    vault: &str,
    operation: &str,
    place: &str,
    changes: &[String],
) -> String {
    format!(
        "{who} changed vault {vault} ({operation}) from {place}; nothing that weakens access: {}",
        changes.join("; ")
    )
}
