//! One Azure Resource Manager call as the Activity Log records it.
//!
//! ARM logs a write as two records sharing a correlation id: `Start`
//! (`resultSignature: "Started."`, the request body) and its end, `Success`
//! (`Succeeded.Created` or `Succeeded.OK`, the response body) or `Failure`
//! (`Failed.Conflict`, `Failed.Forbidden`, with the error in `statusMessage`). The
//! shape is the one a subscription's diagnostic setting writes to Storage and Event
//! Hubs: `operationName` and `resourceId` in upper case, the caller's token claims
//! (URI names, as ARM relays them) and the evidence of the caller's own role under
//! `identity`, and the bodies as JSON text under `properties`.

use std::net::IpAddr;

use rand::RngExt;
use serde_json::{json, Map, Value};

use super::super::clock::{time_text, Tick, MINUTE};
use super::super::ids::{self, SimRng};

/// Who makes ARM calls.
#[derive(Debug, Clone)]
pub(crate) enum Actor {
    /// A person, through the portal, the CLI or PowerShell.
    User {
        /// Object id.
        oid: String,
        /// User principal name (a guest's carries `#EXT#`).
        upn: String,
        /// Display name.
        name: String,
        /// Client application id.
        appid: &'static str,
        /// Multi-factor authentication in the token.
        mfa: bool,
    },
    /// A service principal or managed identity.
    App {
        /// Object id.
        oid: String,
        /// Application id.
        appid: String,
        /// Managed identity resource id.
        mirid: Option<String>,
    },
}

impl Actor {
    /// The principal key kvwatch derives from the claims.
    pub(crate) fn key(&self) -> &str {
        match self {
            Actor::User { oid, .. } | Actor::App { oid, .. } => oid,
        }
    }

    fn claims(&self, tenant: &str, ip: IpAddr, t: Tick) -> Value {
        let iat = super::super::clock::epoch_seconds(t - 20 * MINUTE);
        let mut c = Map::new();
        let mut put = |k: &str, v: Value| {
            c.insert(k.to_owned(), v);
        };
        put("aud", json!("https://management.core.windows.net/"));
        put("iss", json!(format!("https://sts.windows.net/{tenant}/")));
        put("iat", json!(iat.to_string()));
        put("nbf", json!(iat.to_string()));
        put("exp", json!((iat + 4_500).to_string()));
        put(
            "http://schemas.microsoft.com/identity/claims/tenantid",
            json!(tenant),
        );
        match self {
            Actor::User {
                oid,
                upn,
                name,
                appid,
                mfa,
            } => {
                let amr = if *mfa { "pwd,mfa" } else { "pwd" };
                put(
                    "http://schemas.microsoft.com/claims/authnmethodsreferences",
                    json!(amr),
                );
                put("appid", json!(appid));
                put("appidacr", json!("0"));
                put("ipaddr", json!(ip.to_string()));
                put("name", json!(name));
                put(
                    "http://schemas.microsoft.com/identity/claims/objectidentifier",
                    json!(oid),
                );
                put(
                    "http://schemas.microsoft.com/identity/claims/scope",
                    json!("user_impersonation"),
                );
                put(
                    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name",
                    json!(upn),
                );
                put(
                    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn",
                    json!(upn),
                );
                put("ver", json!("1.0"));
            }
            Actor::App { oid, appid, mirid } => {
                put("appid", json!(appid));
                put("appidacr", json!("2"));
                put("idtyp", json!("app"));
                put(
                    "http://schemas.microsoft.com/identity/claims/objectidentifier",
                    json!(oid),
                );
                if let Some(mirid) = mirid {
                    put("xms_mirid", json!(mirid));
                }
                put("ver", json!("1.0"));
            }
        }
        Value::Object(c)
    }
}

/// The role that allowed the caller (`identity.authorization.evidence`).
#[derive(Debug, Clone)]
pub(crate) struct Evidence {
    /// The role's name.
    pub role: &'static str,
    /// Its role definition GUID.
    pub role_definition: &'static str,
    /// The scope of the caller's assignment.
    pub scope: String,
    /// The caller's assignment GUID.
    pub assignment: String,
}

/// How the call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ending {
    /// `Succeeded.Created` (201).
    Created,
    /// `Succeeded.OK` (200).
    Ok,
    /// `Failed.Conflict` (409) with an error code.
    Conflict(&'static str),
}

/// One ARM call: its two records.
#[derive(Debug, Clone)]
pub(crate) struct ArmCall<'a> {
    /// When it started.
    pub time: Tick,
    /// Who called.
    pub actor: &'a Actor,
    /// From where.
    pub ip: IpAddr,
    /// The operation (Azure's mixed-case spelling).
    pub operation: &'static str,
    /// The resource acted on (mixed case, as created).
    pub resource_id: String,
    /// `<tenant>/<management groups>/<subscription>`.
    pub hierarchy: String,
    /// The tenant id.
    pub tenant: &'a str,
    /// Why the caller was allowed.
    pub evidence: Option<Evidence>,
    /// The request body (JSON text).
    pub request_body: Option<String>,
    /// The response body of a success (JSON text).
    pub response_body: Option<String>,
    /// How it ended.
    pub ending: Ending,
}

impl ArmCall<'_> {
    /// The call's `Start` and end records (JSON lines) with their event times.
    pub(crate) fn records(&self, rng: &mut SimRng) -> [(Tick, String); 2] {
        let correlation = ids::guid(rng);
        let end = self.time + rng.random_range(3_000_000..30_000_000);
        let (result_type, signature, status) = match self.ending {
            Ending::Created => ("Success", "Succeeded.Created", "Created"),
            Ending::Ok => ("Success", "Succeeded.OK", "OK"),
            Ending::Conflict(_) => ("Failure", "Failed.Conflict", "Conflict"),
        };
        let start = self.record(rng, self.time, &correlation, ("Start", "Started.", None));
        let finish = self.record(
            rng,
            end,
            &correlation,
            (result_type, signature, Some(status)),
        );
        [(self.time, start), (end, finish)]
    }

    fn record(
        &self,
        rng: &mut SimRng,
        t: Tick,
        correlation: &str,
        (result_type, signature, status): (&str, &str, Option<&str>),
    ) -> String {
        let mut props = Map::new();
        if let Some(status) = status {
            props.insert("statusCode".into(), json!(status));
        }
        props.insert("serviceRequestId".into(), json!(ids::guid(rng)));
        props.insert("eventCategory".into(), json!("Administrative"));
        props.insert("entity".into(), json!(self.resource_id));
        props.insert("message".into(), json!(self.operation));
        props.insert("hierarchy".into(), json!(self.hierarchy));
        match (status, self.ending) {
            (None, _) => {
                if let Some(body) = &self.request_body {
                    props.insert("requestbody".into(), json!(body));
                }
            }
            (Some(_), Ending::Conflict(code)) => {
                let message = json!({"error": {"code": code, "message": "The role assignment already exists."}});
                props.insert("statusMessage".into(), json!(message.to_string()));
            }
            (Some(_), _) => {
                if let Some(body) = &self.response_body {
                    props.insert("responseBody".into(), json!(body));
                }
            }
        }
        let mut authorization = Map::new();
        authorization.insert("scope".into(), json!(self.resource_id));
        authorization.insert("action".into(), json!(self.operation));
        if let Some(e) = &self.evidence {
            authorization.insert(
                "evidence".into(),
                json!({
                    "role": e.role,
                    "roleAssignmentScope": e.scope,
                    "roleAssignmentId": e.assignment.replace('-', ""),
                    "roleDefinitionId": e.role_definition.replace('-', ""),
                    "principalId": self.actor.key().replace('-', ""),
                    "principalType": match self.actor { Actor::User { .. } => "User", Actor::App { .. } => "ServicePrincipal" },
                }),
            );
        }
        let record = json!({
            "time": time_text(t),
            "resourceId": self.resource_id.to_ascii_uppercase(),
            "operationName": self.operation.to_ascii_uppercase(),
            "category": "Administrative",
            "resultType": result_type,
            "resultSignature": signature,
            "durationMs": "0",
            "callerIpAddress": self.ip.to_string(),
            "correlationId": correlation,
            "identity": {
                "authorization": Value::Object(authorization),
                "claims": self.actor.claims(self.tenant, self.ip, t),
            },
            "level": "Information",
            "location": "global",
            "properties": Value::Object(props),
        });
        record.to_string()
    }
}

/// A role assignment's request body (ARM's PascalCase).
pub(crate) fn role_assignment_request(
    id: &str,
    principal: &str,
    principal_type: &str,
    subscription: &str,
    role: &str,
    scope: &str,
) -> String {
    json!({
        "Id": id,
        "Properties": {
            "PrincipalId": principal,
            "PrincipalType": principal_type,
            "RoleDefinitionId": format!("/subscriptions/{subscription}/providers/Microsoft.Authorization/roleDefinitions/{role}"),
            "Scope": scope,
            "Condition": null,
            "ConditionVersion": null,
        }
    })
    .to_string()
}

/// The same assignment as the response describes it (camelCase, full ids).
pub(crate) fn role_assignment_response(request: &str, resource_id: &str, creator: &str) -> String {
    let parsed: Value = serde_json::from_str(request).unwrap_or(Value::Null);
    let p = &parsed["Properties"];
    json!({
        "properties": {
            "roleDefinitionId": p["RoleDefinitionId"],
            "principalId": p["PrincipalId"],
            "principalType": p["PrincipalType"],
            "scope": p["Scope"],
            "condition": null,
            "conditionVersion": null,
            "createdBy": creator,
            "updatedBy": creator,
        },
        "id": resource_id,
        "type": "Microsoft.Authorization/roleAssignments",
        "name": parsed["Id"],
    })
    .to_string()
}

/// A diagnostic setting's body sending the vault's audit logs somewhere.
pub(crate) fn diagnostic_setting_body(destination: (&str, &str)) -> String {
    json!({
        "properties": {
            destination.0: destination.1,
            "logs": [
                {"categoryGroup": "audit", "enabled": true},
                {"categoryGroup": "allLogs", "enabled": false},
            ],
            "metrics": [{"category": "AllMetrics", "enabled": false}],
        }
    })
    .to_string()
}
