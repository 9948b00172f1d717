//! Shape equivalence: one Key Vault record means one event, whatever shape it came in.
//!
//! Every Key Vault record in the real samples, plus hand-made records for what the
//! samples lack (a VaultPatch with `addedAccessPolicy`, firewall rules, a managed
//! identity, a 429, a Managed HSM, a firewall denial), is written in every shape an
//! analyst can bring (resource-log line, Event Hubs body, `AzureDiagnostics` and
//! `AZKVAuditLogs` rows as JSON, query responses and CSV, gzip) with the export module,
//! decoded with format auto-detection, and compared with the resource-log decoding
//! after `into_owned()`. The shape each record reports is checked separately.

use std::io::Write;

use chrono::SubsecRound;
use serde_json::{json, Value};

use kvwatch::decode::log_analytics::export::{
    azkv_audit_logs_row, azure_diagnostics_row, azure_diagnostics_row_with_limit, query_response,
    to_csv, CsvStyle,
};
use kvwatch::decode::{decode_buffer, detect_format, gzip, Format, Limits, Shape};
use kvwatch::event::{AuditEvent, ObjectKind, Outcome, PrincipalKind, VaultKind};

const SAMPLES: &[&str] = &[
    "sekoia-intake-formats-keyvault.jsonl",
    "secura-thesis-keyvault-auditevent.jsonl",
    "misc-keyvault-auditevent.jsonl",
    "msdocs-keyvault-PT1H-jsonlines.json",
];

/// Records the samples lack, one per line.
const HAND_MADE: &str = r#"{"time":"2025-03-10T08:01:02.1234567Z","category":"AuditEvent","operationName":"VaultPatch","resultType":"Success","correlationId":"5c2f8a53-7d7c-4a4e-9f0e-2d7c8b1f0a11","callerIpAddress":"198.51.100.23","identity":{"claim":{"http://schemas.microsoft.com/identity/claims/objectidentifier":"7A1E4C22-9B3D-4F0A-8C55-0D9E1B2C3D4E","http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn":"mallory@contoso.example","http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name":"mallory@contoso.example","appid":"c44b4083-3bb0-49c1-b47d-974e53cbdf3c","http://schemas.microsoft.com/identity/claims/tenantid":"11111111-2222-3333-4444-555555555555"}},"properties":{"id":"https://kv-prod-01.vault.azure.net/","clientInfo":"Mozilla/5.0 (Windows NT 10.0; Win64; x64)","requestUri":"https://management.azure.com/subscriptions/11111111-aaaa-bbbb-cccc-222222222222/resourceGroups/prod/providers/Microsoft.KeyVault/vaults/kv-prod-01?api-version=2023-07-01","httpStatusCode":200,"properties":{"sku":{"Family":"A","Name":"Premium","Capacity":null},"tenantId":"11111111-2222-3333-4444-555555555555","networkAcls":{"bypass":"None","defaultAction":"Deny","ipRules":[{"value":"203.0.113.0/24"},{"value":"198.51.100.23/32"}],"virtualNetworkRules":[{"id":"/subscriptions/11111111-aaaa-bbbb-cccc-222222222222/resourcegroups/prod/providers/microsoft.network/virtualnetworks/vnet1/subnets/app"}]},"enabledForDeployment":false,"enabledForDiskEncryption":true,"enabledForTemplateDeployment":false,"enableSoftDelete":true,"softDeleteRetentionInDays":30,"enableRbacAuthorization":false,"enablePurgeProtection":true,"publicNetworkAccess":"Enabled"},"addedAccessPolicy":{"ObjectId":"9F8E7D6C-5B4A-4321-8765-0FEDCBA98765","TenantId":"11111111-2222-3333-4444-555555555555","ApplicationId":null,"Permissions":{"keys":["Get","List"],"secrets":["Get","List","Set"],"certificates":[],"storage":[]}},"removedAccessPolicy":{"ObjectId":"0a0a0a0a-1b1b-2c2c-3d3d-4e4e4e4e4e4e","TenantId":"11111111-2222-3333-4444-555555555555","Permissions":{"keys":["all"],"secrets":[],"certificates":["get"]}}},"resourceId":"/SUBSCRIPTIONS/11111111-AAAA-BBBB-CCCC-222222222222/RESOURCEGROUPS/PROD/PROVIDERS/MICROSOFT.KEYVAULT/VAULTS/KV-PROD-01","operationVersion":"2023-07-01","resultSignature":"OK","durationMs":"312"}
{"time":"2025-03-10T08:05:00.0000001Z","category":"AuditEvent","operationName":"SecretGet","resultType":"Success","correlationId":"","callerIpAddress":"[2001:db8::5]:443","identity":{"claim":{"oid":"3b0c1d2e-4f50-6172-8394-a5b6c7d8e9f0","appid":"6c7d8e9f-0a1b-2c3d-4e5f-60718293a4b5","appidacr":"2","idtyp":"app","xms_mirid":"/subscriptions/11111111-aaaa-bbbb-cccc-222222222222/resourcegroups/prod/providers/Microsoft.ManagedIdentity/userAssignedIdentities/orders-api","xms_az_nwperimid":[],"tid":"11111111-2222-3333-4444-555555555555"}},"properties":{"id":"https://kv-prod-01.vault.azure.net/secrets/Db-Password/0123456789abcdef0123456789abcdef","clientInfo":"azsdk-net-Security.KeyVault.Secrets/4.6.0 (.NET 8.0.1; Linux)","httpStatusCode":200,"requestUri":"https://kv-prod-01.vault.azure.net/secrets/Db-Password/?api-version=7.5","isRbacAuthorized":true,"appliedAssignmentId":"4e5f6a7b-8c9d-0e1f-2a3b-4c5d6e7f8a9b","isAddressAuthorized":true,"addressAuthorizationType":"subnet","subnetId":"/subscriptions/11111111-aaaa-bbbb-cccc-222222222222/resourcegroups/prod/providers/microsoft.network/virtualnetworks/vnet1/subnets/app","tlsVersion":"TLS1_3"},"resourceId":"/SUBSCRIPTIONS/11111111-AAAA-BBBB-CCCC-222222222222/RESOURCEGROUPS/PROD/PROVIDERS/MICROSOFT.KEYVAULT/VAULTS/KV-PROD-01","operationVersion":"7.5","resultSignature":"OK","durationMs":"7"}
{"time":"2025-03-10T08:06:10.5Z","category":"AuditEvent","operationName":"SecretGet","resultType":"Success","resultDescription":"Too many requests, slow down.\nSee \"throttling\" in the docs; retry after 5s.","correlationId":"c0ffee00-0000-4000-8000-000000000001","callerIpAddress":"203.0.113.50","identity":{"claim":{"oid":"5d6e7f80-91a2-4b3c-8d4e-5f60718293a4","appid":"04b07795-8ddb-461a-bbee-02f9e1bf7b46","scp":"user_impersonation","upn":"eve@contoso.example","unique_name":"eve@contoso.example","amr":["pwd"],"appidacr":"0"}},"properties":{"id":"https://kv-prod-01.vault.azure.net/secrets/api-key-17","clientInfo":"AZURECLI/2.70.0 (DEB) azsdk-python-core/1.32.0","httpStatusCode":429,"requestUri":"https://kv-prod-01.vault.azure.net/secrets/api-key-17/?api-version=7.4","isAccessPolicyMatch":true,"tlsVersion":"TLS1_2"},"resourceId":"/SUBSCRIPTIONS/11111111-AAAA-BBBB-CCCC-222222222222/RESOURCEGROUPS/PROD/PROVIDERS/MICROSOFT.KEYVAULT/VAULTS/KV-PROD-01","operationVersion":"7.4","resultSignature":"Too Many Requests","durationMs":"14.2187"}
{"time":"2025-03-10T09:00:00.25Z","category":"AuditEvent","operationName":"KeyUnwrap","resultType":"Success","correlationId":"7e7e7e7e-0000-4000-8000-000000000002","callerIpAddress":"10.20.30.40","identity":{"claim":{"oid":"8A9B0C1D-2E3F-4051-9263-748596A7B8C9","appid":"1950a258-227b-4e31-a9cf-717495945fc2","scp":"user_impersonation","upn":"ops@contoso.example","amr":["pwd","mfa"],"appidacr":"0"}},"properties":{"id":"https://hsm-eu-1.managedhsm.azure.net/keys/cmk-orders/fedcba9876543210fedcba9876543210","clientInfo":"azsdk-python-keyvault-keys/4.9.0","httpStatusCode":200,"requestUri":"https://hsm-eu-1.managedhsm.azure.net/keys/cmk-orders/fedcba9876543210fedcba9876543210/unwrapkey?api-version=7.4","algorithm":"RSA-OAEP-256","keyProperties":{"type":"RSA-HSM","size":3072}},"resourceId":"/SUBSCRIPTIONS/11111111-AAAA-BBBB-CCCC-222222222222/RESOURCEGROUPS/HSM/PROVIDERS/MICROSOFT.KEYVAULT/MANAGEDHSMS/HSM-EU-1","operationVersion":"7.4","resultSignature":"OK","durationMs":"3"}
{"time":"2025-03-10T09:10:00.0000000Z","category":"AuditEvent","operationName":"SecretList","resultType":"Success","resultDescription":"Client address is not authorized and caller is not a trusted service.\r\nClient address: 203.0.113.99","correlationId":"","callerIpAddress":"203.0.113.99:51234","identity":{"claim":{"oid":"5d6e7f80-91a2-4b3c-8d4e-5f60718293a4","appid":"04b07795-8ddb-461a-bbee-02f9e1bf7b46","scp":"user_impersonation","upn":"eve@contoso.example"}},"properties":{"clientInfo":"AZURECLI/2.70.0","httpStatusCode":"403","requestUri":"https://kv-prod-01.vault.azure.net/secrets?api-version=7.4&maxresults=25","isAddressAuthorized":false,"addressAuthorizationType":"Public IP"},"resourceId":"/SUBSCRIPTIONS/11111111-AAAA-BBBB-CCCC-222222222222/RESOURCEGROUPS/PROD/PROVIDERS/MICROSOFT.KEYVAULT/VAULTS/KV-PROD-01","operationVersion":"7.4","resultSignature":"Forbidden","durationMs":"1"}
"#;

/// One record: its resource-log line and parsed value.
struct Case {
    name: String,
    line: String,
    value: Value,
}

fn cases() -> Vec<Case> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/real-samples");
    let mut out = Vec::new();
    for sample in SAMPLES {
        let text = std::fs::read_to_string(dir.join(sample)).expect("sample");
        for (i, line) in text.lines().filter(|l| !l.trim().is_empty()).enumerate() {
            let value = serde_json::from_str(line).expect("sample line is JSON");
            out.push(Case {
                name: format!("{sample}:{}", i + 1),
                line: line.to_owned(),
                value,
            });
        }
    }
    for (i, line) in HAND_MADE.lines().enumerate() {
        let value = serde_json::from_str(line).expect("hand-made line is JSON");
        out.push(Case {
            name: format!("hand-made:{}", i + 1),
            line: line.to_owned(),
            value,
        });
    }
    out
}

type Decoded = Vec<(Shape, Result<AuditEvent<'static>, String>)>;

/// Asserts two event lists are equal, naming the first record that differs.
fn assert_same_events(got: &[AuditEvent<'static>], want: &[AuditEvent<'static>], label: &str) {
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        if g != w {
            let (g, w) = (format!("{g:?}"), format!("{w:?}"));
            let at = g.bytes().zip(w.bytes()).take_while(|(a, b)| a == b).count();
            let from = g[..at].rfind(", ").unwrap_or(0);
            panic!(
                "{label}: record {i} differs at\n got: …{}\nwant: …{}",
                &g[from..(at + 80).min(g.len())],
                &w[from..(at + 80).min(w.len())]
            );
        }
    }
    assert_eq!(got.len(), want.len(), "{label}: record count");
}

fn decode(buf: &[u8]) -> Decoded {
    let mut out = Vec::new();
    decode_buffer(buf, Format::Auto, &Limits::default(), &mut |r| {
        out.push((
            r.shape,
            r.result
                .map(AuditEvent::into_owned)
                .map_err(|e| format!("{} {e}", r.location)),
        ));
    });
    out
}

fn baseline(case: &Case) -> AuditEvent<'static> {
    match decode(case.line.as_bytes()).as_slice() {
        [(Shape::ResourceLog, Ok(event))] => event.clone(),
        other => panic!("{}: resource-log line decodes to {other:?}", case.name),
    }
}

fn ad(case: &Case) -> Value {
    azure_diagnostics_row(&case.value).expect("AzureDiagnostics row")
}

fn azkv(case: &Case) -> Value {
    azkv_audit_logs_row(&case.value).expect("AZKVAuditLogs row")
}

fn without(mut row: Value, column: &str) -> Value {
    if let Some(map) = row.as_object_mut() {
        map.remove(column);
    }
    row
}

fn csv(rows: &[Value]) -> String {
    to_csv(rows, CsvStyle::Plain).expect("CSV")
}

/// Every single-record form of a case: (label, text, expected format, expected shape).
fn forms(case: &Case) -> Vec<(&'static str, String, Format, Shape)> {
    use Format::{JsonLines, LogAnalyticsCsv, LogAnalyticsJson};
    use Shape::*;
    let (ad, azkv) = (ad(case), azkv(case));
    let overflow = azure_diagnostics_row_with_limit(&case.value, 20).expect("overflow row");
    let mut overflow_text = overflow.clone();
    if let Some(extra) = overflow_text.get_mut("AdditionalFields") {
        *extra = Value::String(extra.to_string());
    }
    let pretty = |v: &Value| serde_json::to_string_pretty(v).expect("JSON");
    vec![
        (
            "resource-log line",
            case.line.clone(),
            JsonLines,
            ResourceLog,
        ),
        (
            "Event Hubs body",
            format!("{{\"records\":[{}]}}", case.line),
            Format::EventHubs,
            EventHubs,
        ),
        (
            "AzureDiagnostics JSON line",
            ad.to_string(),
            LogAnalyticsJson,
            AzureDiagnostics,
        ),
        (
            "AzureDiagnostics pretty row",
            pretty(&ad),
            LogAnalyticsJson,
            AzureDiagnostics,
        ),
        (
            "AzureDiagnostics array",
            pretty(&json!([ad])),
            LogAnalyticsJson,
            AzureDiagnostics,
        ),
        (
            "AzureDiagnostics value",
            pretty(&json!({"value": [ad]})),
            LogAnalyticsJson,
            AzureDiagnostics,
        ),
        (
            "AzureDiagnostics tables",
            query_response(std::slice::from_ref(&ad)).to_string(),
            LogAnalyticsJson,
            AzureDiagnostics,
        ),
        (
            "AzureDiagnostics without Type",
            without(ad.clone(), "Type").to_string(),
            LogAnalyticsJson,
            AzureDiagnostics,
        ),
        (
            "AdditionalFields object",
            overflow.to_string(),
            LogAnalyticsJson,
            AzureDiagnostics,
        ),
        (
            "AdditionalFields text",
            overflow_text.to_string(),
            LogAnalyticsJson,
            AzureDiagnostics,
        ),
        (
            "AzureDiagnostics CSV",
            csv(std::slice::from_ref(&ad)),
            LogAnalyticsCsv,
            AzureDiagnostics,
        ),
        (
            "AZKVAuditLogs JSON line",
            azkv.to_string(),
            LogAnalyticsJson,
            AzkvAuditLogs,
        ),
        (
            "AZKVAuditLogs tables",
            pretty(&query_response(std::slice::from_ref(&azkv))),
            LogAnalyticsJson,
            AzkvAuditLogs,
        ),
        (
            "AZKVAuditLogs without Type",
            without(azkv.clone(), "Type").to_string(),
            LogAnalyticsJson,
            AzkvAuditLogs,
        ),
        (
            "AZKVAuditLogs CSV",
            csv(std::slice::from_ref(&azkv)),
            LogAnalyticsCsv,
            AzkvAuditLogs,
        ),
    ]
}

#[test]
fn every_record_means_the_same_in_every_shape() {
    let cases = cases();
    assert_eq!(cases.len(), 32 + 5 + 3 + 2 + 5);
    let mut failures = Vec::new();
    for case in &cases {
        let want = baseline(case);
        for (label, text, format, shape) in forms(case) {
            if detect_format(text.as_bytes()) != format {
                failures.push(format!(
                    "{} / {label}: detected as {}",
                    case.name,
                    detect_format(text.as_bytes())
                ));
            }
            match decode(text.as_bytes()).as_slice() {
                [(got_shape, Ok(event))] if *got_shape == shape && *event == want => {}
                other => failures.push(format!(
                    "{} / {label}:\n want {shape:?} {want:?}\n got {other:?}",
                    case.name
                )),
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn all_records_at_once_in_every_container() {
    let cases = cases();
    let want: Vec<AuditEvent<'static>> = cases.iter().map(baseline).collect();
    let ad: Vec<Value> = cases.iter().map(ad).collect();
    let azkv: Vec<Value> = cases.iter().map(azkv).collect();
    let lines = |rows: &[Value]| {
        rows.iter()
            .map(|r| r.to_string() + "\n")
            .collect::<String>()
    };
    // Both tables in one union query, rows interleaved: `Type` decides each row's shape.
    let mixed: Vec<Value> = ad
        .iter()
        .zip(&azkv)
        .flat_map(|(a, k)| [a.clone(), k.clone()])
        .collect();
    let all = |shape: Shape| vec![shape; cases.len()];
    let alternate: Vec<Shape> = (0..cases.len() * 2)
        .map(|i| {
            if i % 2 == 0 {
                Shape::AzureDiagnostics
            } else {
                Shape::AzkvAuditLogs
            }
        })
        .collect();
    let twice: Vec<AuditEvent<'static>> =
        want.iter().flat_map(|e| [e.clone(), e.clone()]).collect();
    let body = format!(
        "{{\"records\":[{}]}}",
        cases
            .iter()
            .map(|c| c.line.as_str())
            .collect::<Vec<_>>()
            .join(",")
    );
    let containers: Vec<(&str, String, Vec<Shape>, &Vec<AuditEvent<'static>>)> = vec![
        (
            "resource-log lines",
            cases.iter().map(|c| c.line.clone() + "\n").collect(),
            all(Shape::ResourceLog),
            &want,
        ),
        ("one Event Hubs body", body, all(Shape::EventHubs), &want),
        (
            "AzureDiagnostics JSON lines",
            lines(&ad),
            all(Shape::AzureDiagnostics),
            &want,
        ),
        (
            "AzureDiagnostics array",
            serde_json::to_string_pretty(&ad).expect("JSON"),
            all(Shape::AzureDiagnostics),
            &want,
        ),
        (
            "AzureDiagnostics tables",
            query_response(&ad).to_string(),
            all(Shape::AzureDiagnostics),
            &want,
        ),
        (
            "AzureDiagnostics CSV",
            csv(&ad),
            all(Shape::AzureDiagnostics),
            &want,
        ),
        (
            "AZKVAuditLogs JSON lines",
            lines(&azkv),
            all(Shape::AzkvAuditLogs),
            &want,
        ),
        (
            "AZKVAuditLogs value",
            json!({"value": azkv}).to_string(),
            all(Shape::AzkvAuditLogs),
            &want,
        ),
        (
            "AZKVAuditLogs CSV",
            csv(&azkv),
            all(Shape::AzkvAuditLogs),
            &want,
        ),
        (
            "union tables",
            query_response(&mixed).to_string(),
            alternate.clone(),
            &twice,
        ),
        ("union CSV", csv(&mixed), alternate, &twice),
    ];
    for (label, text, shapes, events) in containers {
        let got = decode(text.as_bytes());
        let got_shapes: Vec<Shape> = got.iter().map(|(s, _)| *s).collect();
        assert_eq!(got_shapes, shapes, "{label}");
        let got_events: Vec<AuditEvent<'static>> = got
            .into_iter()
            .map(|(_, r)| r.unwrap_or_else(|e| panic!("{label}: refused {e}")))
            .collect();
        assert_same_events(&got_events, events, label);
    }
}

#[test]
fn gzip_of_a_csv_export_decodes_the_same() {
    let cases = cases();
    let want: Vec<AuditEvent<'static>> = cases.iter().map(baseline).collect();
    let text = csv(&cases.iter().map(ad).collect::<Vec<_>>());
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(text.as_bytes()).expect("gzip");
    let packed = enc.finish().expect("gzip");
    assert!(gzip::is_gzip(&packed));
    let plain = gzip::gunzip(&packed, Limits::default().max_decompressed_bytes).expect("gunzip");
    let got: Vec<AuditEvent<'static>> = decode(&plain)
        .into_iter()
        .map(|(_, r)| r.expect("gzip row decodes"))
        .collect();
    assert_same_events(&got, &want, "gzip of the AzureDiagnostics CSV");
}

/// The portal's CSV keeps milliseconds only; everything else is the same.
#[test]
fn portal_csv_export_decodes_the_same_up_to_milliseconds() {
    let cases = cases();
    let want: Vec<AuditEvent<'static>> = cases
        .iter()
        .map(|c| {
            let mut e = baseline(c);
            e.time = e.time.trunc_subsecs(3);
            e
        })
        .collect();
    for rows in [
        cases.iter().map(ad).collect::<Vec<_>>(),
        cases.iter().map(azkv).collect(),
    ] {
        let text = to_csv(&rows, CsvStyle::Portal).expect("CSV");
        assert!(
            text.lines()
                .next()
                .is_some_and(|h| h.contains(",TimeGenerated [UTC],")),
            "portal header"
        );
        assert!(
            text.contains("\"3/10/2025, 8:01:02.123 AM\""),
            "portal time format"
        );
        let got: Vec<AuditEvent<'static>> = decode(text.as_bytes())
            .into_iter()
            .map(|(_, r)| r.expect("portal row decodes"))
            .collect();
        assert_same_events(&got, &want, "portal CSV");
    }
}

/// The hand-made records' meaning, checked on the baseline so an error shared by
/// every shape cannot hide.
#[test]
fn hand_made_records_mean_what_they_say() {
    let cases = cases();
    let hand: Vec<AuditEvent<'static>> = cases
        .iter()
        .filter(|c| c.name.starts_with("hand-made"))
        .map(baseline)
        .collect();
    let [patch, mi, throttled, hsm, firewall] = hand.as_slice() else {
        panic!("five hand-made records")
    };

    assert_eq!(
        (patch.vault.as_str(), patch.operation.as_str(), patch.status),
        ("kv-prod-01", "VaultPatch", 200)
    );
    assert_eq!(
        patch.principal.key.as_deref(),
        Some("7a1e4c22-9b3d-4f0a-8c55-0d9e1b2c3d4e")
    );
    assert_eq!(patch.principal.kind, PrincipalKind::User);
    assert_eq!(
        patch.principal.tenant_id.as_deref(),
        Some("11111111-2222-3333-4444-555555555555")
    );
    let change = patch.policy_change.as_deref().expect("policy change");
    let added = change.added.as_ref().expect("added policy");
    assert_eq!(
        added.object_id.as_deref(),
        Some("9f8e7d6c-5b4a-4321-8765-0fedcba98765")
    );
    assert_eq!(added.application_id, None);
    assert_eq!(added.permissions.keys, ["get", "list"]);
    assert_eq!(added.permissions.secrets, ["get", "list", "set"]);
    assert!(added.permissions.can_read_secrets());
    assert!(added.permissions.certificates.is_empty());
    let removed = change.removed.as_ref().expect("removed policy");
    assert_eq!(
        removed.object_id.as_deref(),
        Some("0a0a0a0a-1b1b-2c2c-3d3d-4e4e4e4e4e4e")
    );
    assert_eq!(removed.permissions.flat(), ["keys:all", "certificates:get"]);
    let config = patch.vault_config.as_deref().expect("vault config");
    assert_eq!(config.sku.as_deref(), Some("premium"));
    assert_eq!(config.public_network_access.as_deref(), Some("Enabled"));
    assert_eq!(config.soft_delete_retention_days, Some(30));
    assert_eq!(config.enable_purge_protection, Some(true));
    assert_eq!(config.enabled_for_disk_encryption, Some(true));
    let acls = config.network_acls.as_ref().expect("firewall");
    assert_eq!(acls.default_action.as_deref(), Some("Deny"));
    assert_eq!(acls.bypass.as_deref(), Some("None"));
    assert_eq!(acls.ip_rules, ["203.0.113.0/24", "198.51.100.23/32"]);
    assert_eq!(acls.virtual_network_rules.len(), 1);
    assert!(!config.is_publicly_reachable());

    assert_eq!(mi.principal.kind, PrincipalKind::ManagedIdentity);
    assert_eq!(
        mi.principal.key.as_deref(),
        Some("3b0c1d2e-4f50-6172-8394-a5b6c7d8e9f0")
    );
    assert!(mi
        .principal
        .xms_mirid
        .as_deref()
        .is_some_and(|m| m.ends_with("/userAssignedIdentities/orders-api")));
    assert_eq!(mi.caller_ip, Some("2001:db8::5".parse().expect("address")));
    assert_eq!(
        (mi.access.rbac_authorized, mi.access.address_authorized),
        (Some(true), Some(true))
    );
    assert!(mi
        .subnet_id
        .as_deref()
        .is_some_and(|s| s.ends_with("/subnets/app")));
    let object = mi.object.as_ref().expect("object");
    assert_eq!(
        (object.kind, object.name.as_deref()),
        (ObjectKind::Secret, Some("db-password"))
    );
    assert_eq!(mi.correlation_id, None);

    assert_eq!(
        (throttled.status, throttled.outcome),
        (429, Outcome::Throttled)
    );
    assert_eq!(throttled.duration_ms, Some(14));
    assert_eq!(throttled.principal.amr.as_deref(), Some("pwd"));
    assert!(throttled
        .result_description
        .as_deref()
        .is_some_and(|d| d.contains("\"throttling\"")));

    assert_eq!(
        (hsm.vault.as_str(), hsm.vault_kind),
        ("hsm-eu-1", VaultKind::ManagedHsm)
    );
    let object = hsm.object.as_ref().expect("object");
    assert_eq!(
        (object.kind, object.name.as_deref()),
        (ObjectKind::Key, Some("cmk-orders"))
    );
    assert_eq!(
        object.version.as_deref(),
        Some("fedcba9876543210fedcba9876543210")
    );
    assert_eq!(hsm.principal.amr.as_deref(), Some("pwd mfa"));
    assert_eq!(hsm.principal.used_mfa(), Some(true));

    assert_eq!(
        (firewall.status, firewall.outcome),
        (403, Outcome::DeniedNetwork)
    );
    assert_eq!(
        firewall.caller_ip,
        Some("203.0.113.99".parse().expect("address"))
    );
    assert_eq!(firewall.access.address_authorized, Some(false));
    let object = firewall.object.as_ref().expect("object");
    assert_eq!(
        (object.kind, object.name.as_deref()),
        (ObjectKind::Secret, None)
    );
}
