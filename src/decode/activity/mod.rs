//! The Azure Activity Log: its records, in every shape, as control-plane events.
//!
//! A subscription's Activity Log reaches an analyst the way AuditEvent does: JSON
//! Lines in Storage (`insights-activity-logs/resourceId=/SUBSCRIPTIONS/<sub>/y=/m=/d=/h=/m=00/PT1H.json`),
//! Event Hubs bodies `{"records":[…]}`, the REST API's or portal's export
//! (`operationName: {"value", "localizedValue"}`, `status`, `subStatus`, `caller`),
//! and Log Analytics `AzureActivity` rows (JSON or CSV). The framing decoders do not
//! care: every record goes through the same per-record readers into a
//! [`RawRecord`], and [`crate::decode::normalise`] sends it here when its category
//! says it is an Activity Log record (`Administrative`, or an ARM operation with no
//! category). This module turns it into an [`AuditEvent`] whose operation carries a
//! [`ControlPlane`]: the change, its status, scope, grantee and role, new diagnostic
//! setting; operations that cannot change who reaches a vault (a virtual machine
//! restarted) are skipped and counted.

pub mod body;
pub mod raw;
pub mod status;

use std::borrow::Cow;

use compact_str::CompactString;

use self::body::{diagnostic_setting, error_code, role_assignment, RoleAssignmentBody};
use self::status::{activity_status, change_kind, code_in_parens, http_status, outcome, substatus};
use super::raw::RawRecord;
use super::reject::{Refusal, RejectReason, SkipReason};
use super::time::parse_event_time;
use crate::event::address::parse_caller_ip;
use crate::event::roles::{is_guid, role_guid, RoleCatalog};
use crate::event::scope::{scope_before, ScopeLevel, ScopePath};
use crate::event::text::{lower, non_empty};
use crate::event::{
    AccessFlags, AuditEvent, CallerAuthorization, ChangeKind, Claims, ControlPlane,
    DiagnosticSetting, Operation, Principal, RoleAssignment, VaultKind,
};

/// Turns an Activity Log record into a control-plane event, or says why not.
pub fn normalise_activity(raw: RawRecord<'_>) -> Result<AuditEvent<'_>, Refusal> {
    let act = raw.activity.map(|a| *a).unwrap_or_default();
    let props = raw.props.activity.map(|p| *p).unwrap_or_default();
    let operation = non_empty(act.operation_value)
        .or_else(|| non_empty(raw.operation_name))
        .ok_or(RejectReason::MissingOperation)?;
    let time_text = non_empty(raw.time)
        .or_else(|| non_empty(act.event_timestamp))
        .ok_or(RejectReason::MissingTime)?;
    let time = parse_event_time(&time_text).ok_or(RejectReason::BadTime)?;

    let signature = non_empty(raw.result_signature);
    let status = activity_status(
        raw.result_type.as_deref(),
        act.status.as_deref(),
        signature.as_deref(),
    );
    let coded = act.sub_status.as_deref().and_then(code_in_parens);
    let substatus = substatus(signature.as_ref(), act.sub_status, props.status_code);
    let http = http_status(signature.as_deref(), coded, substatus.as_deref(), status);
    let change = change_kind(&operation, http).ok_or(SkipReason::UnrelatedOperation)?;

    let resource_id = non_empty(raw.resource_id)
        .or_else(|| non_empty(props.entity))
        .map(trim_lower);
    let authorization = act.authorization;
    let auth_scope = authorization
        .as_ref()
        .and_then(|a| non_empty(a.scope.clone()))
        .map(trim_lower);
    let bodies = Bodies::read(change, props.request_body, props.response_body)?;
    let error = props
        .status_message
        .as_deref()
        .and_then(error_code)
        .or_else(|| bodies.error.clone());
    let scope =
        scope_of(change, resource_id.as_ref(), auth_scope.as_ref(), &bodies).map(trim_lower);
    let scope_level = scope.as_deref().map_or(ScopeLevel::Unknown, ScopeLevel::of);
    let (vault, vault_kind) = [
        resource_id.as_deref(),
        scope.as_deref(),
        auth_scope.as_deref(),
    ]
    .into_iter()
    .flatten()
    .map(ScopePath::parse)
    .find_map(|p| p.vault.map(|v| (v, p.managed_hsm)))
    .map_or((CompactString::default(), VaultKind::Vault), |(v, hsm)| {
        let mut name = CompactString::from(v.trim());
        name.make_ascii_lowercase();
        (
            name,
            if hsm {
                VaultKind::ManagedHsm
            } else {
                VaultKind::Vault
            },
        )
    });

    let principal = principal_of(raw.claims, act.caller.as_deref());
    let outcome = outcome(status, http, error.as_deref());
    let control = ControlPlane {
        change,
        status,
        substatus,
        error_code: error.map(Cow::Owned),
        role_assignment: bodies.role_assignment(change, resource_id.as_deref()),
        diagnostic_setting: bodies.diagnostic_setting(change, resource_id.as_deref()),
        authorization: authorization
            .map(|a| CallerAuthorization {
                role: non_empty(a.role),
                role_definition_id: non_empty(a.role_definition_id).map(lower),
                role_assignment_scope: non_empty(a.role_assignment_scope).map(trim_lower),
                role_assignment_id: non_empty(a.role_assignment_id).map(lower),
                principal_id: non_empty(a.principal_id).map(lower),
                principal_type: non_empty(a.principal_type),
            })
            .filter(|a| *a != CallerAuthorization::default()),
        resource_id,
        scope,
        scope_level,
        hierarchy: non_empty(props.hierarchy).or_else(|| non_empty(act.hierarchy)),
        operation: lower(operation),
    };
    let class = control.class();
    let caller_ip = non_empty(raw.caller_ip)
        .as_deref()
        .and_then(parse_caller_ip)
        .or_else(|| act.client_ip.as_deref().and_then(parse_caller_ip));
    Ok(AuditEvent {
        time,
        vault,
        vault_kind,
        operation: Operation::Control(Box::new(control)),
        class,
        status: http,
        outcome,
        caller_ip,
        principal,
        object: None,
        client_info: None,
        access: AccessFlags::default(),
        vault_config: None,
        policy_change: None,
        correlation_id: non_empty(raw.correlation_id),
        // Not in every shape (the REST and `AzureActivity` ones lack them), so never
        // kept: the same record must give the same event whatever its shape.
        result_description: None,
        subnet_id: None,
        operation_version: None,
        tls_version: None,
        duration_ms: None,
    })
}

/// Trimmed and lower case, borrowing when it can.
fn trim_lower(s: Cow<'_, str>) -> Cow<'_, str> {
    let trimmed = s.trim();
    if trimmed.len() == s.len() {
        return lower(s);
    }
    let start = trimmed.as_ptr() as usize - s.as_ptr() as usize;
    lower(crate::event::text::sub_cow(
        &s,
        start,
        start + trimmed.len(),
    ))
}

/// The caller by AuditEvent's rules (object id, then app id); a caller known only by
/// its UPN (some exports carry no object id) is keyed by that UPN, and a record with
/// no claims at all falls back to the `caller` text (a GUID is an object id).
fn principal_of<'a>(claims: Claims<'a>, caller: Option<&str>) -> Principal<'a> {
    let mut claims = claims.without_blanks();
    if claims.is_empty() {
        match caller.map(str::trim) {
            Some(c) if is_guid(c) => claims.oid = Some(Cow::Owned(c.to_owned())),
            Some(c) if c.contains('@') => claims.upn = Some(Cow::Owned(c.to_owned())),
            _ => {}
        }
    }
    if claims.is_empty() {
        return Principal::anonymous();
    }
    let mut principal = Principal::from_claims(claims);
    if principal.key.is_none() {
        principal.key = principal.upn.clone().map(lower);
    }
    principal
}

/// What the request and response bodies said.
#[derive(Default)]
struct Bodies {
    role: Option<RoleAssignmentBody>,
    diagnostic: Option<body::DiagnosticBody>,
    error: Option<String>,
}

impl Bodies {
    /// Reads the bodies the change needs (the request's first, the response filling
    /// gaps); other operations' bodies are looked at only for an error code.
    fn read(
        change: ChangeKind,
        request: Option<Cow<'_, str>>,
        response: Option<Cow<'_, str>>,
    ) -> Result<Bodies, RejectReason> {
        let (request, response) = (non_empty(request), non_empty(response));
        let mut out = Bodies {
            error: response.as_deref().and_then(error_code),
            ..Bodies::default()
        };
        match change {
            ChangeKind::RoleAssignmentCreated | ChangeKind::RoleAssignmentDeleted => {
                for text in [&request, &response].into_iter().flatten() {
                    let found = role_assignment(text)?;
                    let into = out.role.get_or_insert_default();
                    macro_rules! fill {
                        ($($f:ident),+) => { $(if into.$f.is_none() { into.$f = found.$f; })+ };
                    }
                    fill!(id, principal_id, principal_type, role_definition_id, scope);
                }
            }
            ChangeKind::DiagnosticSettingWritten => {
                if let Some(text) = request.as_ref().or(response.as_ref()) {
                    out.diagnostic = Some(diagnostic_setting(text)?);
                }
            }
            _ => {}
        }
        Ok(out)
    }

    fn role_assignment<'a>(
        &self,
        change: ChangeKind,
        resource_id: Option<&str>,
    ) -> Option<RoleAssignment<'a>> {
        if !matches!(
            change,
            ChangeKind::RoleAssignmentCreated | ChangeKind::RoleAssignmentDeleted
        ) {
            return None;
        }
        let body = self.role.clone().unwrap_or_default();
        let own_lower = |s: String| Cow::Owned(s.trim().to_ascii_lowercase());
        let id = body
            .id
            .as_deref()
            .or(resource_id)
            .and_then(last_segment)
            .map(|s| Cow::Owned(s.to_ascii_lowercase()));
        let role_definition_id = body.role_definition_id.map(|r| match role_guid(&r) {
            Some(guid) => Cow::Owned(guid.to_ascii_lowercase()),
            None => own_lower(r),
        });
        let role_name = role_definition_id
            .as_deref()
            .and_then(|r| RoleCatalog::builtin().get(r))
            .map(|r| Cow::Borrowed(r.name.as_str()));
        Some(RoleAssignment {
            id,
            principal_id: body.principal_id.map(own_lower),
            principal_type: body.principal_type.map(Cow::Owned),
            role_definition_id,
            role_name,
        })
    }

    fn diagnostic_setting<'a>(
        &self,
        change: ChangeKind,
        resource_id: Option<&str>,
    ) -> Option<DiagnosticSetting<'a>> {
        let flows = match change {
            ChangeKind::DiagnosticSettingDeleted => Some(false),
            ChangeKind::DiagnosticSettingWritten => {
                self.diagnostic.as_ref().map(|d| d.audit_event_flows)
            }
            _ => return None,
        };
        let name = resource_id
            .and_then(|r| {
                let scope = scope_before(r, "Microsoft.Insights", "diagnosticSettings")?;
                let rest = r.get(scope.len()..)?;
                last_segment(rest)
            })
            .map(str::to_owned)
            .or_else(|| self.diagnostic.as_ref().and_then(|d| d.name.clone()));
        Some(DiagnosticSetting {
            name: name.map(Cow::Owned),
            audit_event_flows: flows,
            enabled: self
                .diagnostic
                .as_ref()
                .map(|d| d.enabled.clone())
                .unwrap_or_default(),
        })
    }
}

/// The last non-empty `/` segment.
fn last_segment(path: &str) -> Option<&str> {
    path.trim()
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .filter(|s| !s.is_empty())
}

/// The scope a change applies to (see [`ControlPlane::scope`]).
fn scope_of<'a>(
    change: ChangeKind,
    resource_id: Option<&Cow<'a, str>>,
    auth_scope: Option<&Cow<'a, str>>,
    bodies: &Bodies,
) -> Option<Cow<'a, str>> {
    let under = |namespace: &str, kind: &str| {
        [resource_id, auth_scope]
            .into_iter()
            .flatten()
            .find_map(|id| {
                let scope = scope_before(id, namespace, kind)?;
                Some(if scope == "/" {
                    Cow::Borrowed("/")
                } else {
                    crate::event::text::sub_cow(id, 0, scope.len())
                })
            })
    };
    let direct = || resource_id.or(auth_scope).cloned();
    match change {
        ChangeKind::ElevateAccess => Some(Cow::Borrowed("/")),
        ChangeKind::RoleAssignmentCreated | ChangeKind::RoleAssignmentDeleted => bodies
            .role
            .as_ref()
            .and_then(|b| b.scope.clone())
            .map(Cow::Owned)
            .or_else(|| under("Microsoft.Authorization", "roleAssignments"))
            .or_else(direct),
        ChangeKind::DiagnosticSettingWritten | ChangeKind::DiagnosticSettingDeleted => {
            under("Microsoft.Insights", "diagnosticSettings").or_else(direct)
        }
        ChangeKind::LockRemoved => under("Microsoft.Authorization", "locks").or_else(direct),
        _ => direct(),
    }
}
