//! An Activity Log record (resource-log shape) as the `AzureActivity` row Log
//! Analytics would hold for it.
//!
//! `AzureActivity` names what the record nests: `OperationNameValue` (and a
//! localized `OperationName`), `CategoryValue`, `ActivityStatusValue` (`Start`,
//! `Success`, `Failure`) with a localized `ActivityStatus`, `ActivitySubstatusValue`
//! (`Created`) with `ActivitySubstatus` (`Created (HTTP Status Code: 201)`),
//! `Caller`, `CallerIpAddress`, `HTTPRequest`, `Hierarchy`, and the `Claims`,
//! `Authorization` and `Properties` objects twice: as JSON text and as dynamic `_d`
//! columns. `_ResourceId` is the resource id in lower case.

use serde_json::{json, Map, Value};

use super::ExportError;

/// The `AzureActivity` row for an Activity Log record.
pub fn azure_activity_row(record: &Value) -> Result<Value, ExportError> {
    let rec = record.as_object().ok_or(ExportError::NotAnObject)?;
    let text = |key: &str| rec.get(key).and_then(Value::as_str).unwrap_or("");
    let mut row = Map::new();
    let mut put = |k: &str, v: Value| {
        if !v.is_null() && v != Value::String(String::new()) {
            row.insert(k.to_owned(), v);
        }
    };
    put("TenantId", json!("00000000-0000-0000-0000-00000000000a"));
    put("SourceSystem", json!("Azure"));
    put("TimeGenerated", json!(text("time")));
    let operation = text("operationName");
    put("OperationNameValue", json!(operation));
    put("OperationName", json!(localized(operation)));
    put("CategoryValue", json!(text("category")));
    put("Category", json!(text("category")));
    let result_type = text("resultType");
    put("ActivityStatusValue", json!(result_type));
    put(
        "ActivityStatus",
        json!(match result_type {
            "Start" => "Started",
            "Success" => "Succeeded",
            "Failure" => "Failed",
            other => other,
        }),
    );
    let props = rec.get("properties").cloned().unwrap_or(Value::Null);
    let substatus = text("resultSignature")
        .split_once('.')
        .map(|(_, s)| s.to_owned())
        .filter(|s| !s.is_empty())
        .or_else(|| props["statusCode"].as_str().map(str::to_owned))
        .unwrap_or_default();
    put("ActivitySubstatusValue", json!(substatus));
    if let Some(code) = http_code(&substatus) {
        put(
            "ActivitySubstatus",
            json!(format!("{substatus} (HTTP Status Code: {code})")),
        );
    }
    let identity = rec.get("identity").cloned().unwrap_or(Value::Null);
    let claims = identity.get("claims").cloned().unwrap_or(Value::Null);
    let caller = [
        "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn",
        "http://schemas.microsoft.com/identity/claims/objectidentifier",
    ]
    .iter()
    .find_map(|k| claims.get(*k).and_then(Value::as_str))
    .unwrap_or("");
    put("Caller", json!(caller));
    put("CallerIpAddress", json!(text("callerIpAddress")));
    put(
        "HTTPRequest",
        json!(json!({"clientRequestId": text("correlationId"), "clientIpAddress": text("callerIpAddress"), "method": "PUT"}).to_string()),
    );
    put("CorrelationId", json!(text("correlationId")));
    put("Level", json!(text("level")));
    put("Hierarchy", props["hierarchy"].clone());
    let resource_id = text("resourceId");
    put("ResourceId", json!(resource_id));
    put("_ResourceId", json!(resource_id.to_ascii_lowercase()));
    put(
        "SubscriptionId",
        json!(segment_after(resource_id, "subscriptions")),
    );
    put(
        "ResourceGroup",
        json!(segment_after(resource_id, "resourceGroups")),
    );
    put(
        "ResourceProviderValue",
        json!(operation.split('/').next().unwrap_or("")),
    );
    for (name, value) in [
        ("Claims", claims),
        (
            "Authorization",
            identity
                .get("authorization")
                .cloned()
                .unwrap_or(Value::Null),
        ),
        ("Properties", props),
    ] {
        if value.is_object() {
            put(name, json!(value.to_string()));
            put(&format!("{name}_d"), value);
        }
    }
    put("Type", json!("AzureActivity"));
    Ok(Value::Object(row))
}

/// The portal's wording of a few operations (`OperationName` is localized text).
fn localized(operation: &str) -> String {
    const NAMES: &[(&str, &str)] = &[
        (
            "microsoft.authorization/roleassignments/write",
            "Create role assignment",
        ),
        (
            "microsoft.authorization/roleassignments/delete",
            "Delete role assignment",
        ),
        ("microsoft.keyvault/vaults/write", "Update Key Vault"),
        ("microsoft.keyvault/vaults/delete", "Delete Key Vault"),
        (
            "microsoft.insights/diagnosticsettings/write",
            "Create or update resource diagnostic setting",
        ),
        (
            "microsoft.insights/diagnosticsettings/delete",
            "Delete resource diagnostic setting",
        ),
    ];
    let lower = operation.to_ascii_lowercase();
    NAMES
        .iter()
        .find(|(op, _)| *op == lower)
        .map_or_else(|| operation.to_owned(), |(_, name)| (*name).to_owned())
}

fn http_code(substatus: &str) -> Option<u16> {
    Some(match substatus {
        "OK" => 200,
        "Created" => 201,
        "Accepted" => 202,
        "NoContent" => 204,
        "BadRequest" => 400,
        "Forbidden" => 403,
        "NotFound" => 404,
        "Conflict" => 409,
        _ => return None,
    })
}

/// The segment after `key` in an ARM path (`subscriptions` → the subscription id).
fn segment_after<'s>(path: &'s str, key: &str) -> &'s str {
    let mut parts = path.split('/');
    while let Some(p) = parts.next() {
        if p.eq_ignore_ascii_case(key) {
            return parts.next().unwrap_or("");
        }
    }
    ""
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_role_assignment_row() {
        let record = json!({
            "time": "2026-11-03T10:00:00.1234567Z",
            "resourceId": "/SUBSCRIPTIONS/S1/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.KEYVAULT/VAULTS/KV/PROVIDERS/MICROSOFT.AUTHORIZATION/ROLEASSIGNMENTS/A1",
            "operationName": "MICROSOFT.AUTHORIZATION/ROLEASSIGNMENTS/WRITE",
            "category": "Administrative",
            "resultType": "Success",
            "resultSignature": "Succeeded.Created",
            "callerIpAddress": "10.0.0.1",
            "correlationId": "c1",
            "identity": {"claims": {"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn": "a@b.c"}, "authorization": {"scope": "x"}},
            "properties": {"statusCode": "Created", "hierarchy": "t/s1"}
        });
        let row = azure_activity_row(&record).unwrap();
        assert_eq!(row["OperationName"], "Create role assignment");
        assert_eq!(row["ActivitySubstatusValue"], "Created");
        assert_eq!(row["ActivitySubstatus"], "Created (HTTP Status Code: 201)");
        assert_eq!(row["Caller"], "a@b.c");
        assert_eq!(row["SubscriptionId"], "S1");
        assert_eq!(row["Hierarchy"], "t/s1");
        assert!(row["_ResourceId"]
            .as_str()
            .unwrap()
            .starts_with("/subscriptions/s1/"));
        assert_eq!(
            row["Claims_d"]["http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn"],
            "a@b.c"
        );
        assert!(row["Properties"].is_string());
        assert!(azure_activity_row(&json!([1])).is_err());
    }
}
