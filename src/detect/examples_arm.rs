//! Activity Log records for detector examples, written compactly.
//!
//! An example event with `arm = "<operation>"` becomes an Azure Activity Log record
//! in the resource-log shape a subscription's diagnostic setting writes (Storage
//! JSON Lines, Event Hubs bodies), decoded by the production decoder like any other:
//! `resource` (the id acted on), `result` (`Succeeded.Created` by default,
//! `Succeeded.OK`, `Started.`, `Failed.Conflict` …), `error` (a failure's code),
//! `grantee`/`grantee_type`/`role` (a role assignment's body), `logs` (a diagnostic
//! setting's enabled categories or groups), and the caller as for Key Vault records
//! (`oid`, `upn`, `appid`, `idtyp`, `mirid`, `ip`).

use serde_json::{json, Map, Value};

use crate::event::scope::ScopePath;

/// One compact Activity Log event, its text already expanded (`{i}`, `{d}`).
#[derive(Debug, Clone, Default)]
pub struct ArmEvent {
    /// The ARM operation.
    pub arm: Option<String>,
    /// The resource acted on.
    pub resource: Option<String>,
    /// `Succeeded.Created` (default), `Started.`, `Failed.Conflict` …
    pub result: Option<String>,
    /// A failure's error code.
    pub error: Option<String>,
    /// A role assignment's grantee.
    pub grantee: Option<String>,
    /// The grantee's type (default `User`).
    pub grantee_type: Option<String>,
    /// The role definition's GUID.
    pub role: Option<String>,
    /// A diagnostic setting's enabled categories or groups.
    pub logs: Option<Vec<String>>,
    /// The caller's object id.
    pub oid: Option<String>,
    /// The caller's UPN.
    pub upn: Option<String>,
    /// The caller's app id.
    pub appid: Option<String>,
    /// `idtyp`.
    pub idtyp: Option<String>,
    /// `xms_mirid`.
    pub mirid: Option<String>,
    /// `callerIpAddress`.
    pub ip: Option<String>,
}

/// The record of one compact Activity Log event at `time`.
pub fn record(spec: &ArmEvent, time: &str, correlation: &str) -> Result<String, String> {
    let s = |v: &Option<String>| v.clone();
    let operation = s(&spec.arm).unwrap_or_default();
    let resource = s(&spec.resource).ok_or("an Activity Log example needs `resource`")?;
    let result = s(&spec.result).unwrap_or_else(|| "Succeeded.Created".into());
    let (result_type, status) = match result.split_once('.') {
        Some(("Succeeded", st)) => ("Success", st.to_owned()),
        Some(("Started", _)) => ("Start", String::new()),
        Some(("Accepted", _)) => ("Accept", "Accepted".to_owned()),
        Some(("Failed", st)) => ("Failure", st.to_owned()),
        _ => {
            return Err(format!(
            "result = {result:?}: write Succeeded.<status>, Started., Accepted. or Failed.<status>"
        ))
        }
    };
    let path = ScopePath::parse(&resource);
    let sub = path
        .subscription
        .unwrap_or("00000000-0000-0000-0000-000000000000");
    let mut claims = Map::new();
    let mut put = |k: &str, v: Option<String>| {
        if let Some(v) = v {
            claims.insert(k.into(), json!(v));
        }
    };
    put(
        "http://schemas.microsoft.com/identity/claims/objectidentifier",
        s(&spec.oid),
    );
    put(
        "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn",
        s(&spec.upn),
    );
    put("appid", s(&spec.appid));
    put("idtyp", s(&spec.idtyp));
    put("xms_mirid", s(&spec.mirid));
    let mut props = Map::new();
    if !status.is_empty() {
        props.insert("statusCode".into(), json!(status));
    }
    props.insert("eventCategory".into(), json!("Administrative"));
    props.insert("entity".into(), json!(resource));
    props.insert("message".into(), json!(operation));
    props.insert(
        "hierarchy".into(),
        json!(format!(
            "00000000-0000-0000-0000-0000000000aa/mg-example/{sub}"
        )),
    );
    if let Some(code) = s(&spec.error) {
        props.insert(
            "statusMessage".into(),
            json!(json!({"error": {"code": code, "message": "refused"}}).to_string()),
        );
    }
    if let Some(role) = s(&spec.role) {
        let scope = resource
            .to_ascii_lowercase()
            .rfind("/providers/microsoft.authorization/roleassignments/")
            .map_or(resource.as_str(), |at| &resource[..at])
            .to_owned();
        let body = json!({
            "properties": {
                "roleDefinitionId": format!("/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/{role}"),
                "principalId": s(&spec.grantee).unwrap_or_default(),
                "principalType": s(&spec.grantee_type).unwrap_or_else(|| "User".into()),
                "scope": if scope.is_empty() { "/".to_owned() } else { scope },
            },
            "id": resource,
            "type": "Microsoft.Authorization/roleAssignments",
            "name": resource.rsplit('/').next().unwrap_or(""),
        });
        props.insert("responseBody".into(), json!(body.to_string()));
    }
    if let Some(logs) = &spec.logs {
        let logs: Vec<Value> = logs
            .iter()
            .map(|l| {
                if l == "audit" || l == "allLogs" {
                    json!({"categoryGroup": l, "enabled": true})
                } else {
                    json!({"category": l, "enabled": true})
                }
            })
            .collect();
        let body = json!({"properties": {"workspaceId": "/subscriptions/x/resourceGroups/rg/providers/Microsoft.OperationalInsights/workspaces/siem", "logs": logs}});
        props.insert("requestbody".into(), json!(body.to_string()));
    }
    let mut rec = json!({
        "time": time,
        "resourceId": resource.to_ascii_uppercase(),
        "operationName": operation.to_ascii_uppercase(),
        "category": "Administrative",
        "resultType": result_type,
        "resultSignature": result,
        "durationMs": "0",
        "correlationId": correlation,
        "identity": {"authorization": {"scope": resource, "action": operation}, "claims": claims},
        "level": "Information",
        "location": "global",
        "properties": props,
    });
    if let (Some(o), Some(ip)) = (rec.as_object_mut(), s(&spec.ip)) {
        o.insert("callerIpAddress".into(), json!(ip));
    }
    Ok(rec.to_string())
}
