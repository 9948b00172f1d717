//! Human access without multi-factor authentication.
//!
//! User tokens carry the `amr` claim (authentication methods: `pwd`, `mfa`, `rsa` …).
//! A user request whose `amr` lacks `mfa` was made with a token from a sign-in that
//! did not use MFA. Requests without an `amr` claim (ARM relays, some older tokens)
//! are counted but not judged: the log does not say how that user signed in.

use serde::Serialize;

use super::{Check, Finding, Practice, Subject};
use crate::alert::Severity;
use crate::event::{OperationClass, PrincipalKind};
use crate::report::collect::Collected;
use crate::report::stats::Seen;

/// `identity.no_mfa`.
pub const NO_MFA: Check = Check {
    id: "identity.no_mfa",
    title: "Human access without MFA",
    practice: Practice::Mfa,
    method: "User requests (a UPN, delegated scopes or idtyp user) whose amr claim lacks mfa. Requests without an amr claim are counted, not judged.",
};

/// The evidence of [`NO_MFA`].
#[derive(Debug, Clone, Serialize)]
pub struct NoMfaEvidence {
    /// Requests whose token lacked MFA.
    pub requests_without_mfa: u64,
    /// Requests whose token showed MFA.
    pub requests_with_mfa: u64,
    /// Requests without an `amr` claim (not judged).
    pub requests_without_amr: u64,
    /// The first request without MFA.
    pub first_without_mfa: chrono::DateTime<chrono::Utc>,
    /// The last request without MFA.
    pub last_without_mfa: chrono::DateTime<chrono::Utc>,
    /// The `amr` values seen without MFA (most frequent first).
    pub methods: Vec<String>,
    /// The operations made without MFA (most frequent first).
    pub operations: Vec<String>,
    /// Of those, requests that read values, destroyed or changed access.
    pub sensitive_requests: u64,
}

/// One finding per user who made requests without MFA. High when those requests
/// read secret values, destroyed objects or changed access; medium otherwise.
pub fn no_mfa(c: &Collected) -> Vec<Finding> {
    let mut out = Vec::new();
    for p in c.principals.map.values() {
        if p.kind != PrincipalKind::User || p.mfa.without == 0 {
            continue;
        }
        let m = &p.mfa;
        let Some(seen) = m.without_seen else { continue };
        let sensitive = [
            OperationClass::ReadValue,
            OperationClass::Destroy,
            OperationClass::AccessChange,
        ]
        .iter()
        .map(|c| m.by_class[c.index()])
        .sum::<u64>();
        let severity = if sensitive > 0 {
            Severity::High
        } else {
            Severity::Medium
        };
        let evidence = NoMfaEvidence {
            requests_without_mfa: m.without,
            requests_with_mfa: m.with,
            requests_without_amr: m.unknown,
            first_without_mfa: seen.first,
            last_without_mfa: seen.last,
            methods: m
                .methods
                .top(10)
                .into_iter()
                .map(|(k, _)| k.to_owned())
                .collect(),
            operations: names(m.operations.top(10)),
            sensitive_requests: sensitive,
        };
        let summary = format!(
            "{} made {} request{} with a token that did not use MFA (amr {}){}, between {} and {}.",
            p.display_name(),
            m.without,
            if m.without == 1 { "" } else { "s" },
            evidence.methods.join(", "),
            if sensitive > 0 {
                format!(", {sensitive} of them reading values, destroying or changing access")
            } else {
                String::new()
            },
            seen.first.format("%Y-%m-%d %H:%M"),
            seen.last.format("%Y-%m-%d %H:%M"),
        );
        out.push(Finding::new(
            NO_MFA,
            severity,
            Subject::principal(&p.identity, p.upn.as_deref()),
            summary,
            &evidence,
        ));
    }
    out
}

fn names(items: Vec<(&str, Seen)>) -> Vec<String> {
    items
        .into_iter()
        .map(|(k, s)| format!("{k} ×{}", s.count))
        .collect()
}
