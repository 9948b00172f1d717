//! `rbac.guest_data_access`: guests (`#EXT#` in the UPN, an account from another
//! tenant) with access to vault data, shown by requests a vault served them
//! (AuditEvent) or by a role assignment that reads data or gives access (Activity
//! Log). A guest's home tenant decides how it signs in (MFA, device rules), so its
//! access to secrets deserves a periodic "still needed?". A guest whose UPN no
//! record carried (a grantee seen only in an assignment) cannot be told apart.

use serde::Serialize;

use super::rbac::{reaches_vaults, role, scope_words, view, AssignmentView};
use super::{Check, Context, Finding, Practice, Subject};
use crate::alert::Severity;
use crate::event::roles::DataKind;
use crate::report::collect::Collected;
use crate::report::stats::PrincipalStats;

/// `rbac.guest_data_access`.
pub const GUEST_DATA_ACCESS: Check = Check {
    id: "rbac.guest_data_access",
    title: "Guest with data access",
    practice: Practice::AccessReview,
    method: "Guests (a UPN with #EXT#) that were served requests on a vault (AuditEvent) or hold a role assignment reading Key Vault data or giving access; a guest whose UPN no record carried cannot be told apart.",
};

/// The evidence of [`GUEST_DATA_ACCESS`].
#[derive(Debug, Clone, Serialize)]
pub struct GuestEvidence {
    /// The guest's UPN.
    pub upn: String,
    /// Vaults that served its requests, with how many.
    pub vaults_used: Vec<String>,
    /// Secret values, key material or backups it read.
    pub values_read: u64,
    /// Its role assignments that read data or give access.
    pub assignments: Vec<AssignmentView>,
}

/// One finding per guest (`#EXT#`) with data access: high when it read values or
/// holds a role reading secrets, medium otherwise.
pub fn guests(c: &Collected, ctx: &Context<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut guests: Vec<&PrincipalStats> = c
        .principals
        .map
        .values()
        .filter(|p| {
            p.upn
                .as_deref()
                .is_some_and(|u| u.to_ascii_uppercase().contains("#EXT#"))
        })
        .collect();
    guests.sort_by(|a, b| a.identity.cmp(&b.identity));
    for p in guests {
        let mut vaults: Vec<(&String, u64)> = p
            .vaults
            .map
            .iter()
            .filter(|(_, v)| v.ok > 0)
            .map(|(k, v)| (k, v.ok))
            .collect();
        vaults.sort();
        let roles: Vec<AssignmentView> = c
            .rbac
            .existing()
            .filter(|a| reaches_vaults(a) && a.grantee.eq_ignore_ascii_case(&p.identity))
            .filter_map(|a| {
                let r = role(ctx.roles, a);
                (!r.reads.is_empty() || r.gives_access).then(|| view(c, a, &r))
            })
            .collect();
        if vaults.is_empty() && roles.is_empty() {
            continue;
        }
        let reads_secrets = roles.iter().any(|v| v.reads.contains(&DataKind::Secrets));
        let severity = if p.values_read > 0 || reads_secrets {
            Severity::High
        } else {
            Severity::Medium
        };
        let upn = p.upn.clone().unwrap_or_default();
        let mut parts = Vec::new();
        if !vaults.is_empty() {
            parts.push(format!(
                "was served {} requests on {} ({} returning secret values or key material)",
                vaults.iter().map(|(_, n)| n).sum::<u64>(),
                vaults
                    .iter()
                    .map(|(v, _)| v.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                p.values_read
            ));
        }
        if !roles.is_empty() {
            parts.push(format!(
                "holds {}",
                roles
                    .iter()
                    .map(|v| format!("{} {}", v.role, scope_words(v)))
                    .collect::<Vec<_>>()
                    .join("; ")
            ));
        }
        let summary = format!(
            "Guest {upn} {}: confirm the external account still needs vault data, and that its home tenant enforces MFA.",
            parts.join(" and ")
        );
        let evidence = GuestEvidence {
            upn,
            vaults_used: vaults.iter().map(|(v, n)| format!("{v} ×{n}")).collect(),
            values_read: p.values_read,
            assignments: roles,
        };
        out.push(Finding::new(
            GUEST_DATA_ACCESS,
            severity,
            Subject::principal(&p.identity, p.upn.as_deref()),
            summary,
            &evidence,
        ));
    }
    out
}
