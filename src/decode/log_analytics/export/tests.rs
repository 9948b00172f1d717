//! Tests of the resource-log → Log Analytics row export.

use serde_json::json;

use super::*;

fn record() -> Value {
    json!({
        "time": "2024-04-08T15:15:50.6257670Z",
        "resourceId": "/SUBSCRIPTIONS/AB12/RESOURCEGROUPS/RG1/PROVIDERS/MICROSOFT.KEYVAULT/VAULTS/KV1",
        "category": "AuditEvent", "operationName": "VaultPatch", "resultType": "Success",
        "resultSignature": "OK", "correlationId": "", "callerIpAddress": "10.0.0.1",
        "durationMs": "14.7", "operationVersion": "2023-07-01",
        "identity": {"claim": {
            "http://schemas.microsoft.com/identity/claims/objectidentifier": "0a0b0c0d-0000-0000-0000-00000000000a",
            "upn": "a@b.c", "amr": ["pwd", "mfa"], "xms_az_nwperimid": []}},
        "properties": {
            "id": "https://kv1.vault.azure.net/", "httpStatusCode": 200, "isRbacAuthorized": true,
            "properties": {"sku": {"Family": "A", "Name": "premium", "Capacity": null},
                "networkAcls": {"defaultAction": "Deny", "ipRules": [{"value": "1.2.3.4/32"}]},
                "softDeleteRetentionInDays": 7, "enablePurgeProtection": null},
            "addedAccessPolicy": {"ObjectId": "0a0b0c0d-0000-0000-0000-00000000000b",
                "Permissions": {"secrets": ["Get", "List"]}},
            "keyProperties": {"type": "RSA"}}
    })
}

#[test]
fn azure_diagnostics_flattening() {
    let row = azure_diagnostics_row(&record()).unwrap();
    let want = json!({
        "TimeGenerated": "2024-04-08T15:15:50.6257670Z",
        "ResourceId": "/SUBSCRIPTIONS/AB12/RESOURCEGROUPS/RG1/PROVIDERS/MICROSOFT.KEYVAULT/VAULTS/KV1",
        "_ResourceId": "/subscriptions/ab12/resourcegroups/rg1/providers/microsoft.keyvault/vaults/kv1",
        "SubscriptionId": "ab12", "ResourceGroup": "RG1", "ResourceProvider": "MICROSOFT.KEYVAULT",
        "ResourceType": "VAULTS", "Resource": "KV1",
        "Category": "AuditEvent", "OperationName": "VaultPatch", "ResultType": "Success",
        "ResultSignature": "OK", "CorrelationId": "", "CallerIPAddress": "10.0.0.1",
        "DurationMs": 14, "OperationVersion": "2023-07-01",
        "identity_claim_http_schemas_microsoft_com_identity_claims_objectidentifier_g": "0a0b0c0d-0000-0000-0000-00000000000a",
        "identity_claim_upn_s": "a@b.c",
        "identity_claim_amr_s": "[\"pwd\",\"mfa\"]",
        "identity_claim_xms_az_nwperimid_s": "[]",
        "id_s": "https://kv1.vault.azure.net/", "httpStatusCode_d": 200.0, "isRbacAuthorized_b": true,
        "properties_sku_Family_s": "A", "properties_sku_Name_s": "premium",
        "properties_networkAcls_defaultAction_s": "Deny",
        "properties_networkAcls_ipRules_s": "[{\"value\":\"1.2.3.4/32\"}]",
        "properties_softDeleteRetentionInDays_d": 7.0,
        "addedAccessPolicy_ObjectId_g": "0a0b0c0d-0000-0000-0000-00000000000b",
        "addedAccessPolicy_Permissions_secrets_s": "[\"Get\",\"List\"]",
        "keyProperties_type_s": "RSA",
        "SourceSystem": "Azure", "Type": "AzureDiagnostics"
    });
    assert_eq!(row, want);
    assert_eq!(
        serde_json::to_string(&row["httpStatusCode_d"]).unwrap(),
        "200.0"
    );
}

#[test]
fn azkv_audit_logs_columns() {
    let row = azkv_audit_logs_row(&record()).unwrap();
    assert_eq!(row["HttpStatusCode"], json!(200));
    assert_eq!(row["DurationMs"], json!(14));
    assert_eq!(row["Id"], json!("https://kv1.vault.azure.net/"));
    assert_eq!(row["IsRbacAuthorized"], json!(true));
    assert_eq!(
        row["Sku"],
        json!({"Family": "A", "Name": "premium", "Capacity": null})
    );
    assert_eq!(row["SoftDeleteRetentionInDays"], json!(7));
    assert_eq!(row["KeyProperties"], json!({"type": "RSA"}));
    assert_eq!(
        row["Properties"],
        json!({"addedAccessPolicy": {"ObjectId": "0a0b0c0d-0000-0000-0000-00000000000b", "Permissions": {"secrets": ["Get", "List"]}}})
    );
    assert_eq!(
        row["_ResourceId"],
        json!("/subscriptions/ab12/resourcegroups/rg1/providers/microsoft.keyvault/vaults/kv1")
    );
    assert_eq!(row["Type"], json!("AZKVAuditLogs"));
    assert!(row.get("Category").is_none() && row.get("EnablePurgeProtection").is_none());
}

#[test]
fn overflow_goes_to_additional_fields() {
    let row = azure_diagnostics_row_with_limit(&record(), 30).unwrap();
    let obj = row.as_object().unwrap();
    assert_eq!(obj.len(), 30);
    let extra = obj["AdditionalFields"].as_object().unwrap();
    assert_eq!(
        extra.len() + obj.len() - 1,
        azure_diagnostics_row(&record())
            .unwrap()
            .as_object()
            .unwrap()
            .len()
    );
    assert!(extra.keys().all(|k| has_type_suffix(k)));
}

#[test]
fn names_are_flattened() {
    assert_eq!(
        flat_name("http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn"),
        "http_schemas_xmlsoap_org_ws_2005_05_identity_claims_upn"
    );
    assert_eq!(flat_name("xms_mirid"), "xms_mirid");
    assert!(matches!(
        azure_diagnostics_row(&json!([1])),
        Err(ExportError::NotAnObject)
    ));
}
