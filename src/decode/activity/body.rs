//! The request and response bodies of an Activity Log record: JSON text inside a
//! string (`properties.requestbody`, `properties.responseBody`).
//!
//! Two bodies matter. A role assignment's names the grantee, the role and the scope:
//! `{"Id":…,"Properties":{"PrincipalId","PrincipalType","RoleDefinitionId","Scope"}}`
//! (PascalCase in requests, camelCase in responses). A diagnostic setting's says which
//! log categories still flow: `{"properties":{"logs":[{"category"|"categoryGroup",
//! "enabled"}],…}}`. Both are read straight from the text (values borrowed from it),
//! bounded in size, and never panic: a body that is present but not a JSON object, or
//! too large, or nested too deep, refuses the record with a counted reason. The error
//! code of a failure (`statusMessage`) is best effort: free text there is no error.

use std::borrow::Cow;

use compact_str::CompactString;
use serde::Deserialize;

use crate::decode::lenient::{is_too_deep, LenientBool, LenientStr};
use crate::decode::reject::RejectReason;
use crate::event::control::MAX_ENABLED_CATEGORIES;

/// The largest body read, in bytes (a role assignment's is under 1 KiB, a diagnostic
/// setting's a few KiB).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// A role assignment, as its request or response body describes it.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RoleAssignmentBody {
    /// `Id`/`id`/`name`: a GUID or the assignment's full resource id.
    pub id: Option<String>,
    /// `Properties.PrincipalId`.
    pub principal_id: Option<String>,
    /// `Properties.PrincipalType`.
    pub principal_type: Option<String>,
    /// `Properties.RoleDefinitionId` (a full id or a GUID).
    pub role_definition_id: Option<String>,
    /// `Properties.Scope`.
    pub scope: Option<String>,
}

/// What a diagnostic setting's body enables.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DiagnosticBody {
    /// Whether `AuditEvent`, or the `audit` or `allLogs` group, is enabled.
    pub audit_event_flows: bool,
    /// The enabled categories and groups (at most [`MAX_ENABLED_CATEGORIES`]).
    pub enabled: Vec<CompactString>,
    /// `name`, when the body carries it.
    pub name: Option<String>,
}

#[derive(Deserialize)]
struct RoleAssignmentJson<'a> {
    #[serde(borrow, default, alias = "Id")]
    id: LenientStr<'a>,
    #[serde(borrow, default, alias = "Name")]
    name: LenientStr<'a>,
    #[serde(borrow, default, alias = "Properties")]
    properties: Option<RoleAssignmentProps<'a>>,
}

#[derive(Deserialize)]
struct RoleAssignmentProps<'a> {
    #[serde(borrow, default, rename = "principalId", alias = "PrincipalId")]
    principal_id: LenientStr<'a>,
    #[serde(borrow, default, rename = "principalType", alias = "PrincipalType")]
    principal_type: LenientStr<'a>,
    #[serde(
        borrow,
        default,
        rename = "roleDefinitionId",
        alias = "RoleDefinitionId"
    )]
    role_definition_id: LenientStr<'a>,
    #[serde(borrow, default, alias = "Scope")]
    scope: LenientStr<'a>,
}

#[derive(Deserialize)]
struct DiagnosticJson<'a> {
    #[serde(borrow, default, alias = "Name")]
    name: LenientStr<'a>,
    #[serde(borrow, default, alias = "Properties")]
    properties: Option<DiagnosticProps<'a>>,
}

#[derive(Deserialize)]
struct DiagnosticProps<'a> {
    #[serde(borrow, default, alias = "Logs")]
    logs: Option<Vec<LogSetting<'a>>>,
}

#[derive(Deserialize)]
struct LogSetting<'a> {
    #[serde(borrow, default, alias = "Category")]
    category: LenientStr<'a>,
    #[serde(borrow, default, rename = "categoryGroup", alias = "CategoryGroup")]
    category_group: LenientStr<'a>,
    #[serde(default, alias = "Enabled")]
    enabled: LenientBool,
}

/// Parses a body into `T`, or says why it cannot be used.
fn parse<'t, T: Deserialize<'t>>(text: &'t str) -> Result<T, RejectReason> {
    if text.len() > MAX_BODY_BYTES {
        return Err(RejectReason::TooLarge);
    }
    // serde reads a struct from an array too; a body is an object.
    if !text.trim_start().starts_with('{') {
        return Err(RejectReason::InvalidBody);
    }
    serde_json::from_str(text).map_err(|e| {
        if is_too_deep(&e) {
            RejectReason::TooDeep
        } else {
            RejectReason::InvalidBody
        }
    })
}

fn owned(s: LenientStr<'_>) -> Option<String> {
    s.0.map(Cow::into_owned).filter(|s| !s.trim().is_empty())
}

/// Reads a role-assignment body.
pub fn role_assignment(text: &str) -> Result<RoleAssignmentBody, RejectReason> {
    let json: RoleAssignmentJson<'_> = parse(text)?;
    let props = json.properties;
    let (principal_id, principal_type, role_definition_id, scope) = match props {
        Some(p) => (
            owned(p.principal_id),
            owned(p.principal_type),
            owned(p.role_definition_id),
            owned(p.scope),
        ),
        None => (None, None, None, None),
    };
    Ok(RoleAssignmentBody {
        id: owned(json.id).or_else(|| owned(json.name)),
        principal_id,
        principal_type,
        role_definition_id,
        scope,
    })
}

/// Reads a diagnostic-setting body.
pub fn diagnostic_setting(text: &str) -> Result<DiagnosticBody, RejectReason> {
    let json: DiagnosticJson<'_> = parse(text)?;
    let mut body = DiagnosticBody {
        name: owned(json.name),
        ..DiagnosticBody::default()
    };
    let logs = json.properties.and_then(|p| p.logs).unwrap_or_default();
    for log in logs.iter().filter(|l| l.enabled.0 == Some(true)) {
        for name in [&log.category.0, &log.category_group.0]
            .into_iter()
            .flatten()
        {
            let name = name.trim();
            if name.is_empty() {
                continue;
            }
            let audit = ["AuditEvent", "audit", "allLogs"]
                .iter()
                .any(|a| name.eq_ignore_ascii_case(a));
            body.audit_event_flows |= audit;
            if body.enabled.len() < MAX_ENABLED_CATEGORIES
                && !body.enabled.iter().any(|e| e.eq_ignore_ascii_case(name))
            {
                body.enabled.push(CompactString::from(name));
            }
        }
    }
    Ok(body)
}

#[derive(Deserialize)]
struct ErrorJson<'a> {
    #[serde(borrow, default, alias = "Error")]
    error: Option<ErrorCode<'a>>,
    #[serde(borrow, default, alias = "Code")]
    code: LenientStr<'a>,
}

#[derive(Deserialize)]
struct ErrorCode<'a> {
    #[serde(borrow, default, alias = "Code")]
    code: LenientStr<'a>,
}

/// The error code in a status message or error body
/// (`{"error":{"code":"RoleAssignmentExists",…}}` or `{"code":…}`); `None` when the
/// text is not such JSON.
pub fn error_code(text: &str) -> Option<String> {
    if text.len() > MAX_BODY_BYTES || !text.trim_start().starts_with('{') {
        return None;
    }
    let json: ErrorJson<'_> = serde_json::from_str(text).ok()?;
    json.error
        .and_then(|e| owned(e.code))
        .or_else(|| owned(json.code))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_assignment_bodies_in_both_spellings() {
        let request = r#"{"Id":"a1b2","Properties":{"PrincipalId":"770797c4","PrincipalType":"ServicePrincipal","RoleDefinitionId":"/providers/Microsoft.Authorization/roleDefinitions/8e3af657-a8ff-443c-a75c-2fe8c4bcb635","Scope":"/subscriptions/s"}}"#;
        let response = r#"{"properties":{"roleDefinitionId":"/subscriptions/s/providers/Microsoft.Authorization/roleDefinitions/8e3af657-a8ff-443c-a75c-2fe8c4bcb635","principalId":"770797c4","principalType":"ServicePrincipal","scope":"/subscriptions/s","createdOn":"2024-01-01T00:00:00Z"},"id":"/subscriptions/s/providers/Microsoft.Authorization/roleAssignments/a1b2","type":"Microsoft.Authorization/roleAssignments","name":"a1b2"}"#;
        for body in [request, response] {
            let b = role_assignment(body).expect(body);
            assert_eq!(b.principal_id.as_deref(), Some("770797c4"));
            assert_eq!(b.principal_type.as_deref(), Some("ServicePrincipal"));
            assert!(b
                .role_definition_id
                .is_some_and(|r| r.ends_with("8e3af657-a8ff-443c-a75c-2fe8c4bcb635")));
            assert_eq!(b.scope.as_deref(), Some("/subscriptions/s"));
            assert!(b.id.is_some_and(|i| i.ends_with("a1b2")));
        }
        assert_eq!(role_assignment("{}"), Ok(RoleAssignmentBody::default()));
        assert_eq!(
            role_assignment(r#"{"Properties":{"PrincipalId":7}}"#).map(|b| b.principal_id),
            Ok(Some("7".into()))
        );
    }

    #[test]
    fn hostile_bodies_are_refused_with_a_reason() {
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        let deep_object = format!("{{\"Properties\":{deep}}}");
        let huge = format!("{{\"Id\":\"{}\"}}", "x".repeat(MAX_BODY_BYTES));
        let table = [
            ("not json", RejectReason::InvalidBody),
            ("[1,2]", RejectReason::InvalidBody),
            ("\"text\"", RejectReason::InvalidBody),
            ("{\"Id\":", RejectReason::InvalidBody),
            (deep_object.as_str(), RejectReason::TooDeep),
            (huge.as_str(), RejectReason::TooLarge),
        ];
        for (body, want) in table {
            assert_eq!(
                role_assignment(body).map(|_| ()),
                Err(want),
                "{}",
                &body[..body.len().min(40)]
            );
            assert_eq!(diagnostic_setting(body).map(|_| ()), Err(want));
        }
    }

    #[test]
    fn diagnostic_settings_say_whether_audit_events_flow() {
        let table = [
            (
                r#"{"properties":{"logs":[{"category":"AuditEvent","enabled":true}]}}"#,
                true,
                vec!["AuditEvent"],
            ),
            (
                r#"{"properties":{"logs":[{"categoryGroup":"audit","enabled":true},{"categoryGroup":"allLogs","enabled":false}]}}"#,
                true,
                vec!["audit"],
            ),
            (
                r#"{"Properties":{"Logs":[{"Category":"AzurePolicyEvaluationDetails","Enabled":"True"},{"Category":"AuditEvent","Enabled":false}]}}"#,
                false,
                vec!["AzurePolicyEvaluationDetails"],
            ),
            (
                r#"{"properties":{"metrics":[{"category":"AllMetrics","enabled":true}]}}"#,
                false,
                vec![],
            ),
        ];
        for (body, flows, enabled) in table {
            let got = diagnostic_setting(body);
            let want = Ok((
                flows,
                enabled
                    .iter()
                    .map(|e| CompactString::from(*e))
                    .collect::<Vec<_>>(),
            ));
            assert_eq!(
                got.map(|b| (b.audit_event_flows, b.enabled)),
                want,
                "{body}"
            );
        }
        // The wrong type where the log list belongs: the body cannot be read.
        assert_eq!(
            diagnostic_setting(r#"{"properties":{"logs":"oops"}}"#).map(|_| ()),
            Err(RejectReason::InvalidBody)
        );
    }

    #[test]
    fn error_codes() {
        assert_eq!(error_code(r#"{"error":{"code":"RoleAssignmentExists","message":"The role assignment already exists."}}"#).as_deref(), Some("RoleAssignmentExists"));
        assert_eq!(
            error_code(r#"{"Code":"AuthorizationFailed"}"#).as_deref(),
            Some("AuthorizationFailed")
        );
        assert_eq!(error_code("The client does not have authorization"), None);
        assert_eq!(error_code("{broken"), None);
    }
}
