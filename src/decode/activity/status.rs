//! What an Activity Log record's status fields mean, in every spelling.
//!
//! The resource-log shape says `resultType: "Success"` and `resultSignature:
//! "Succeeded.Created"` (or `"Started."`, `"Failed.Conflict"`, or a bare `"200"` in
//! some exports); the REST shape says `status.value: "Succeeded"` and
//! `subStatus.value: "Created"`; `AzureActivity` says `ActivityStatusValue` and
//! `ActivitySubstatusValue` (`"OK"`, or `"OK (HTTP Status Code: 200)"`); and
//! `properties.statusCode` repeats the sub-status. They all reduce to an
//! [`ActivityStatus`], a sub-status name and an HTTP status, and the operation name
//! to a [`ChangeKind`].

use std::borrow::Cow;

use crate::event::outcome::{classify, OutcomeFacts};
use crate::event::text::non_empty;
use crate::event::{ActivityStatus, ChangeKind, Outcome};

/// The activity status from the first field that has one.
pub fn activity_status(
    result_type: Option<&str>,
    status: Option<&str>,
    signature: Option<&str>,
) -> ActivityStatus {
    for text in [result_type, status].into_iter().flatten() {
        let parsed = ActivityStatus::parse(text);
        if parsed != ActivityStatus::Other {
            return parsed;
        }
    }
    // `Started.`, `Succeeded.Created`, `Failed.Conflict`.
    let head = signature.and_then(|s| s.split('.').next()).unwrap_or("");
    ActivityStatus::parse(head)
}

/// The sub-status name (`Created`, `OK`, `Conflict` …): the part of
/// `resultSignature` after its first dot, else `subStatus`, else `statusCode`;
/// `OK (HTTP Status Code: 200)` becomes `OK`.
pub fn substatus<'a>(
    signature: Option<&Cow<'a, str>>,
    sub_status: Option<Cow<'a, str>>,
    status_code: Option<Cow<'a, str>>,
) -> Option<Cow<'a, str>> {
    let from_signature = signature.and_then(|s| {
        let (_, rest) = s.split_once('.')?;
        let rest = rest.trim();
        (!rest.is_empty()).then(|| sub_cow(s, rest))
    });
    from_signature
        .or_else(|| non_empty(sub_status).map(|s| before_paren(&s)))
        .or_else(|| non_empty(status_code).map(|s| before_paren(&s)))
}

/// `OK (HTTP Status Code: 200)` → `OK`.
fn before_paren<'a>(s: &Cow<'a, str>) -> Cow<'a, str> {
    let head = s.split(" (").next().unwrap_or(s).trim();
    sub_cow(s, head)
}

/// A sub-slice of a `Cow`'s text (keeps the borrow when there is one).
fn sub_cow<'a>(s: &Cow<'a, str>, part: &str) -> Cow<'a, str> {
    let start = part.as_ptr() as usize - s.as_ptr() as usize;
    crate::event::text::sub_cow(s, start, start + part.len())
}

/// A status code in range, from its text.
fn numeric(text: &str) -> Option<u16> {
    text.trim()
        .parse::<u16>()
        .ok()
        .filter(|c| (100..600).contains(c))
}

/// The code of a localized sub-status: `Forbidden (HTTP Status Code: 403)` → 403.
pub fn code_in_parens(text: &str) -> Option<u16> {
    let (_, code) = text.split_once("Status Code:")?;
    numeric(code.trim_end_matches(')'))
}

/// The HTTP status the record reports: a number in `resultSignature`, or the code a
/// localized sub-status gives (`coded`, see [`code_in_parens`]), else the sub-status
/// name; else what the activity status implies (`Success` 200, `Accept` 202), else 0
/// (not answered yet: a `Start` record, or a failure that names no status).
pub fn http_status(
    signature: Option<&str>,
    coded: Option<u16>,
    substatus: Option<&str>,
    status: ActivityStatus,
) -> u16 {
    signature
        .and_then(numeric)
        .or(coded)
        .or_else(|| substatus.and_then(status_of_name))
        .unwrap_or(match status {
            ActivityStatus::Success => 200,
            ActivityStatus::Accept => 202,
            _ => 0,
        })
}

/// `Created` → 201, `NoContent` → 204, `Conflict` → 409 … (ARM's status names).
fn status_of_name(name: &str) -> Option<u16> {
    const TABLE: &[(&str, u16)] = &[
        ("OK", 200),
        ("Created", 201),
        ("Accepted", 202),
        ("NoContent", 204),
        ("BadRequest", 400),
        ("Unauthorized", 401),
        ("Forbidden", 403),
        ("NotFound", 404),
        ("MethodNotAllowed", 405),
        ("Conflict", 409),
        ("PreconditionFailed", 412),
        ("TooManyRequests", 429),
        ("InternalServerError", 500),
        ("ServiceUnavailable", 503),
        ("GatewayTimeout", 504),
    ];
    let name = name.trim();
    if let Ok(code) = name.parse::<u16>() {
        return (100..600).contains(&code).then_some(code);
    }
    TABLE
        .iter()
        .find(|(n, _)| {
            // `No Content` and `NoContent` alike.
            let mut a = n.bytes();
            let mut b = name.bytes().filter(|c| *c != b' ');
            loop {
                match (a.next(), b.next()) {
                    (None, None) => return true,
                    (Some(x), Some(y)) if x.eq_ignore_ascii_case(&y) => {}
                    _ => return false,
                }
            }
        })
        .map(|(_, c)| *c)
}

/// The outcome class of a control-plane operation: a failure by its HTTP status or
/// error code (`AuthorizationFailed` is an RBAC denial), anything else served.
pub fn outcome(status: ActivityStatus, http: u16, error_code: Option<&str>) -> Outcome {
    let denied = error_code.is_some_and(|c| {
        c.eq_ignore_ascii_case("AuthorizationFailed")
            || c.eq_ignore_ascii_case("LinkedAuthorizationFailed")
    });
    if denied {
        return Outcome::DeniedRbac;
    }
    match (status, http) {
        (ActivityStatus::Failure, 0) => Outcome::OtherError,
        (ActivityStatus::Failure, 403) => Outcome::DeniedRbac,
        (ActivityStatus::Failure, code) if code < 400 => Outcome::OtherError,
        (_, code) if code >= 400 => classify(&OutcomeFacts {
            status: code,
            has_identity: true,
            ..OutcomeFacts::default()
        }),
        _ => Outcome::Ok,
    }
}

/// What an ARM operation changes; `None` when it cannot affect who reaches a vault
/// or what it logs (a virtual machine, a storage account write …).
pub fn change_kind(operation: &str, http: u16) -> Option<ChangeKind> {
    let op = operation.trim().to_ascii_lowercase();
    let vault_write = || match http {
        201 => ChangeKind::VaultCreated,
        200 => ChangeKind::VaultUpdated,
        _ => ChangeKind::VaultWritten,
    };
    Some(match op.as_str() {
        "microsoft.authorization/roleassignments/write" => ChangeKind::RoleAssignmentCreated,
        "microsoft.authorization/roleassignments/delete" => ChangeKind::RoleAssignmentDeleted,
        "microsoft.keyvault/vaults/write" | "microsoft.keyvault/managedhsms/write" => vault_write(),
        "microsoft.keyvault/vaults/delete" | "microsoft.keyvault/managedhsms/delete" => {
            ChangeKind::VaultDeleted
        }
        "microsoft.keyvault/locations/deletedvaults/purge/action"
        | "microsoft.keyvault/locations/deletedmanagedhsms/purge/action" => ChangeKind::VaultPurged,
        "microsoft.keyvault/vaults/accesspolicies/write" => ChangeKind::AccessPolicyWritten,
        "microsoft.insights/diagnosticsettings/write" => ChangeKind::DiagnosticSettingWritten,
        "microsoft.insights/diagnosticsettings/delete" => ChangeKind::DiagnosticSettingDeleted,
        "microsoft.authorization/elevateaccess/action" => ChangeKind::ElevateAccess,
        "microsoft.authorization/locks/delete" => ChangeKind::LockRemoved,
        o if o.starts_with("microsoft.network/privateendpoints/")
            || o.starts_with("microsoft.keyvault/vaults/privateendpointconnection")
            || o.starts_with("microsoft.keyvault/managedhsms/privateendpointconnection") =>
        {
            ChangeKind::NetworkChanged
        }
        o if o.starts_with("microsoft.keyvault/")
            || o.starts_with("microsoft.authorization/locks/")
            || o.starts_with("microsoft.authorization/roleassignments/")
            || o.starts_with("microsoft.authorization/roledefinitions/")
            || o.starts_with("microsoft.insights/diagnosticsettings/") =>
        {
            ChangeKind::Other
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(s: &str) -> Option<Cow<'_, str>> {
        Some(Cow::Borrowed(s))
    }

    /// `resultType`, `status`, `resultSignature`, `subStatus`, `statusCode`.
    type Fields = [Option<&'static str>; 5];

    #[test]
    fn statuses_substatuses_and_codes_in_every_shape() {
        use ActivityStatus::*;
        let table: &[(Fields, ActivityStatus, Option<&str>, u16)] = &[
            (
                [
                    Some("Success"),
                    None,
                    Some("Succeeded.Created"),
                    None,
                    Some("Created"),
                ],
                Success,
                Some("Created"),
                201,
            ),
            (
                [Some("Start"), None, Some("Started."), None, None],
                Start,
                None,
                0,
            ),
            (
                [Some("Failure"), None, Some("Failed.Conflict"), None, None],
                Failure,
                Some("Conflict"),
                409,
            ),
            (
                [Some("Success"), None, Some("200"), None, None],
                Success,
                None,
                200,
            ),
            (
                [None, Some("Succeeded"), None, Some("OK"), None],
                Success,
                Some("OK"),
                200,
            ),
            (
                [
                    None,
                    Some("Failed"),
                    None,
                    Some("Forbidden (HTTP Status Code: 403)"),
                    None,
                ],
                Failure,
                Some("Forbidden"),
                403,
            ),
            (
                [None, None, Some("Failed.NoContent"), None, None],
                Failure,
                Some("NoContent"),
                204,
            ),
            (
                [None, Some("Accepted"), None, None, None],
                Accept,
                None,
                202,
            ),
            ([None; 5], Other, None, 0),
        ];
        for (i, ([rt, st, sig, sub, code], want_status, want_sub, want_http)) in
            table.iter().enumerate()
        {
            let status = activity_status(*rt, *st, *sig);
            let signature = sig.map(Cow::Borrowed);
            let s = substatus(signature.as_ref(), sub.and_then(c), code.and_then(c));
            assert_eq!(status, *want_status, "row {i}");
            assert_eq!(s.as_deref(), *want_sub, "row {i}");
            assert_eq!(
                http_status(*sig, sub.and_then(code_in_parens), s.as_deref(), status),
                *want_http,
                "row {i}"
            );
        }
    }

    #[test]
    fn outcomes() {
        use ActivityStatus::*;
        assert_eq!(outcome(Success, 201, None), Outcome::Ok);
        assert_eq!(outcome(Start, 0, None), Outcome::Ok);
        assert_eq!(
            outcome(Failure, 409, Some("RoleAssignmentExists")),
            Outcome::OtherError
        );
        assert_eq!(outcome(Failure, 403, None), Outcome::DeniedRbac);
        assert_eq!(
            outcome(Failure, 0, Some("AuthorizationFailed")),
            Outcome::DeniedRbac
        );
        assert_eq!(outcome(Failure, 0, None), Outcome::OtherError);
        assert_eq!(outcome(Failure, 404, None), Outcome::NotFound);
        assert_eq!(outcome(Failure, 204, None), Outcome::OtherError);
    }

    #[test]
    fn kinds_of_operations() {
        let table = [
            (
                "Microsoft.Authorization/roleAssignments/write",
                201,
                Some(ChangeKind::RoleAssignmentCreated),
            ),
            (
                "MICROSOFT.AUTHORIZATION/ROLEASSIGNMENTS/DELETE",
                200,
                Some(ChangeKind::RoleAssignmentDeleted),
            ),
            (
                "Microsoft.KeyVault/vaults/write",
                201,
                Some(ChangeKind::VaultCreated),
            ),
            (
                "Microsoft.KeyVault/vaults/write",
                200,
                Some(ChangeKind::VaultUpdated),
            ),
            (
                "Microsoft.KeyVault/vaults/write",
                0,
                Some(ChangeKind::VaultWritten),
            ),
            (
                "microsoft.keyvault/locations/deletedvaults/purge/action",
                200,
                Some(ChangeKind::VaultPurged),
            ),
            (
                "Microsoft.Insights/diagnosticSettings/delete",
                200,
                Some(ChangeKind::DiagnosticSettingDeleted),
            ),
            (
                "Microsoft.Authorization/elevateAccess/action",
                200,
                Some(ChangeKind::ElevateAccess),
            ),
            (
                "Microsoft.Authorization/locks/delete",
                200,
                Some(ChangeKind::LockRemoved),
            ),
            (
                "Microsoft.Network/privateEndpoints/write",
                200,
                Some(ChangeKind::NetworkChanged),
            ),
            (
                "Microsoft.KeyVault/vaults/secrets/getSecret/action",
                200,
                Some(ChangeKind::Other),
            ),
            ("Microsoft.Compute/virtualMachines/write", 200, None),
            ("", 200, None),
        ];
        for (op, http, want) in table {
            assert_eq!(change_kind(op, http), want, "{op}");
        }
    }
}
