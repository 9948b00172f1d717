//! The Activity Log records of the public samples, decoded: the Panther test cases
//! as a table of what each decodes to (their `_expected` flags kept beside, for the
//! rules to come), the thesis lab's real records (one caller, one principal key in
//! both logs), the role assignment's grantee taken from its body and never from the
//! caller's evidence, a category deciding its decoder inside one input, and the
//! operations that are skipped, each counted under its reason.

use std::path::Path;

use serde_json::Value;

use kvwatch::decode::{decode_buffer, Format, Limits, LogCategory, Record, Refusal, SkipReason};
use kvwatch::event::{
    ActivityStatus, AuditEvent, ChangeKind, LogSource, Outcome, PrincipalKind, ScopeLevel,
};

fn sample(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/real-samples")
        .join(name);
    std::fs::read_to_string(path).expect("sample")
}

fn decode(text: &str) -> Vec<Record<'_>> {
    let mut out = Vec::new();
    decode_buffer(
        text.as_bytes(),
        Format::Auto,
        &Limits::default(),
        &mut |r| out.push(r),
    );
    out
}

fn events(text: &str) -> Vec<AuditEvent<'static>> {
    decode(text)
        .into_iter()
        .map(|r| match r.result {
            Ok(e) => e.into_owned(),
            Err(refusal) => panic!("{}: refused {refusal}", r.location),
        })
        .collect()
}

/// One Panther case: its rule and test name, its `_expected` flag, and what the
/// record decodes to (change, vault, scope level, role name of a grant).
struct Case {
    rule: &'static str,
    test: &'static str,
    expected: bool,
    change: ChangeKind,
    vault: &'static str,
    level: ScopeLevel,
    role: Option<&'static str>,
}

const fn case(
    rule: &'static str,
    test: &'static str,
    expected: bool,
    change: ChangeKind,
    vault: &'static str,
    level: ScopeLevel,
    role: Option<&'static str>,
) -> Case {
    Case {
        rule,
        test,
        expected,
        change,
        vault,
        level,
        role,
    }
}

#[test]
fn panther_cases_decode_to_their_change_kinds() {
    use ChangeKind::*;
    use ScopeLevel::{Resource, ResourceGroup, Root, Subscription, Vault};
    const DS: &str = "Azure.MonitorActivity.DiagnosticSettings.Deleted";
    const CERT: &str = "Azure.MonitorActivity.KeyVault.CertificateAccessed";
    const DEL: &str = "Azure.MonitorActivity.KeyVault.Deleted";
    const KEY: &str = "Azure.MonitorActivity.KeyVault.KeyAccessed.Recovered";
    const KPURGE: &str = "Azure.MonitorActivity.KeyVault.KeyPurged";
    const PURGE: &str = "Azure.MonitorActivity.KeyVault.Purged";
    const SECRET: &str = "Azure.MonitorActivity.KeyVault.SecretAccessedOrRecovered";
    const ROLE: &str = "Azure.MonitorActivity.RoleAssignment.PrivilegedOrElevated";
    #[rustfmt::skip]
    let table = [
        case(DS, "Diagnostic Settings Deleted", true, DiagnosticSettingDeleted, "", Resource, None),
        case(DS, "Case Insensitive Match", true, DiagnosticSettingDeleted, "prodvault", Vault, None),
        case(DS, "Different Operation", false, DiagnosticSettingWritten, "", ResourceGroup, None),
        case(CERT, "Certificate Accessed Successfully", true, Other, "myvault", Vault, None),
        case(CERT, "Certificate Read with Succeeded Status", true, Other, "prodvault", Vault, None),
        case(CERT, "Case Insensitive Match", true, Other, "secvault", Vault, None),
        case(CERT, "Different Operation", false, Other, "myvault", Vault, None),
        case(DEL, "Key Vault Deleted", true, VaultDeleted, "mykeyvault", Vault, None),
        case(DEL, "Case Insensitive Match", true, VaultDeleted, "prodvault", Vault, None),
        case(DEL, "Different Operation", false, VaultUpdated, "mykeyvault", Vault, None),
        case(KEY, "Key Read Successfully", true, Other, "myvault", Vault, None),
        case(KEY, "Key Recovered Successfully", true, Other, "prodvault", Vault, None),
        case(KEY, "Key Restored Successfully", true, Other, "secvault", Vault, None),
        case(KEY, "Different Operation", false, Other, "myvault", Vault, None),
        case(KPURGE, "Key Purged", true, Other, "mykeyvault", Vault, None),
        case(KPURGE, "Case Insensitive Match", true, Other, "prodvault", Vault, None),
        case(KPURGE, "Different Operation", false, Other, "mykeyvault", Vault, None),
        case(PURGE, "Key Vault Purged Successfully", true, VaultPurged, "mykeyvault", Vault, None),
        case(PURGE, "Case Insensitive Match", true, VaultPurged, "prodvault", Vault, None),
        case(PURGE, "Different Operation", false, VaultDeleted, "mykeyvault", Vault, None),
        case(SECRET, "Secret Accessed", true, Other, "myvault", Vault, None),
        case(SECRET, "Soft-Deleted Secret Recovered", true, Other, "prodvault", Vault, None),
        case(SECRET, "Case Insensitive Match", true, Other, "secvault", Vault, None),
        case(SECRET, "Different Operation", false, Other, "myvault", Vault, None),
        case(ROLE, "Owner Role Assignment", true, RoleAssignmentCreated, "", Subscription, Some("Owner")),
        case(ROLE, "Non-Privileged Role Assignment", false, RoleAssignmentCreated, "", Subscription, Some("Reader")),
        // Storage Blob Data Owner is not a role kvwatch's roles file lists.
        case(ROLE, "Elevated Role Assignment (Storage Blob Data Owner)", true, RoleAssignmentCreated, "", Resource, None),
        case(ROLE, "Elevate Access to All Azure Subscriptions", true, ElevateAccess, "", Root, None),
    ];
    let text = sample("panther-activitylog-keyvault-rbac-tests.jsonl");
    let cases: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("test case"))
        .collect();
    assert_eq!(cases.len(), table.len(), "one row per Panther test case");
    for (row, c) in table.iter().zip(&cases) {
        let what = format!("{} / {}", row.rule, row.test);
        assert_eq!(c["_rule"], row.rule, "{what}");
        assert_eq!(c["_test"], row.test, "{what}");
        assert_eq!(
            c["_expected"], row.expected,
            "{what}: Panther's expectation"
        );
        let decoded = events(&c["log"].to_string());
        let [event] = decoded.as_slice() else {
            panic!("{what}: one event, got {}", decoded.len())
        };
        let change = event.control_plane().expect("a control-plane event");
        assert_eq!(event.log(), LogSource::ActivityLog, "{what}");
        assert_eq!(change.change, row.change, "{what}");
        assert_eq!(event.vault.as_str(), row.vault, "{what}");
        assert_eq!(change.scope_level, row.level, "{what}");
        let role = change
            .role_assignment
            .as_ref()
            .and_then(|r| r.role_name.as_deref());
        assert_eq!(role, row.role, "{what}");
        assert_eq!(change.status, ActivityStatus::Success, "{what}");
        assert_eq!(event.outcome, Outcome::Ok, "{what}");
    }
}

#[test]
fn the_grantee_comes_from_the_body_and_the_caller_from_the_evidence() {
    let text = sample("panther-activitylog-keyvault-rbac-tests.jsonl");
    let owner = text.lines().nth(24).expect("case 24");
    let case: Value = serde_json::from_str(owner).expect("JSON");
    let event = &events(&case["log"].to_string())[0];
    let change = event.control_plane().expect("control plane");
    let grant = change.role_assignment.as_ref().expect("a grant");
    assert_eq!(
        grant.principal_id.as_deref(),
        Some("770797c4-e05a-43f9-bda2-1f1f379987ae")
    );
    assert_eq!(grant.principal_type.as_deref(), Some("ServicePrincipal"));
    assert_eq!(
        grant.role_definition_id.as_deref(),
        Some("8e3af657-a8ff-443c-a75c-2fe8c4bcb635")
    );
    assert_eq!(
        grant.id.as_deref(),
        Some("a1b2c3d4-e5f6-7890-abcd-ef1234567890")
    );
    assert_eq!(
        change.scope.as_deref(),
        Some("/subscriptions/12345678-1234-1234-1234-123456789abc")
    );
    // The evidence is the caller's own Owner assignment, not the grant.
    let caller = change.authorization.as_ref().expect("evidence");
    assert_eq!(
        caller.principal_id.as_deref(),
        Some("6b6d44f0-b13a-46a0-bfde-161324d4c34d")
    );
    assert_eq!(caller.role.as_deref(), Some("Owner"));
}

#[test]
fn the_thesis_caller_has_one_principal_key_in_both_logs() {
    let audit = events(&sample("secura-thesis-keyvault-auditevent.jsonl"));
    let activity = events(&sample("secura-thesis-activitylog-keyvault.jsonl"));
    let put = &audit[0];
    assert_eq!(put.operation.as_str(), "VaultPut");
    assert_eq!(activity.len(), 2);
    for event in &activity {
        assert_eq!(event.principal.key, put.principal.key);
        assert_eq!(event.principal.kind, PrincipalKind::User);
        assert_eq!(event.principal.upn, put.principal.upn);
        assert_eq!(event.vault, put.vault);
    }
    let write = activity[0].control_plane().expect("vault write");
    assert_eq!(write.change, ChangeKind::VaultUpdated);
    assert_eq!(write.status, ActivityStatus::Success);
    assert_eq!(write.substatus.as_deref(), Some("OK"));
    let delete = activity[1]
        .control_plane()
        .expect("diagnostic setting delete");
    assert_eq!(delete.change, ChangeKind::DiagnosticSettingDeleted);
    assert_eq!(delete.status, ActivityStatus::Start);
    assert_eq!(
        activity[1].status, 0,
        "a Start record has no HTTP status yet"
    );
    let setting = delete.diagnostic_setting.as_ref().expect("setting");
    assert_eq!(setting.name.as_deref(), Some("all keyvault"));
    assert_eq!(setting.audit_event_flows, Some(false));
    assert_eq!(delete.scope_level, ScopeLevel::Vault);
    assert_eq!(
        delete.hierarchy.as_deref(),
        Some("d2af6ef7-a00c-438f-903b-65592cfddc48/a921d5d4-bdb7-43c3-aa01-88c6ae24992f")
    );
}

#[test]
fn the_category_decides_the_decoder_inside_one_input() {
    let mixed = format!(
        "{}{}{}",
        sample("secura-thesis-activitylog-keyvault.jsonl"),
        sample("secura-thesis-keyvault-auditevent.jsonl"),
        sample("misc-keyvault-auditevent.jsonl"),
    );
    let logs: Vec<(LogCategory, LogSource)> = decode(&mixed)
        .iter()
        .map(|r| {
            let event = r.result.as_ref().expect("decodes");
            (r.category(), event.log())
        })
        .collect();
    let activity = (LogCategory::ActivityLog, LogSource::ActivityLog);
    let audit = (LogCategory::AuditEvent, LogSource::AuditEvent);
    assert_eq!(logs[..2], [activity, activity]);
    assert!(logs[2..].iter().all(|l| *l == audit), "{logs:?}");
    assert_eq!(logs.len(), 10);
}

#[test]
fn what_is_not_analysed_is_skipped_under_its_reason() {
    let vm = r#"{"time":"2026-11-03T10:00:00Z","resourceId":"/SUBSCRIPTIONS/S/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.COMPUTE/VIRTUALMACHINES/VM1","operationName":"MICROSOFT.COMPUTE/VIRTUALMACHINES/START/ACTION","category":"Administrative","resultType":"Success","resultSignature":"Succeeded.OK"}"#;
    let policy = r#"{"time":"2026-11-03T10:00:00Z","resourceId":"/SUBSCRIPTIONS/S/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.KEYVAULT/VAULTS/KV","operationName":"MICROSOFT.AUTHORIZATION/POLICIES/AUDIT/ACTION","category":"Policy","resultType":"Success"}"#;
    let no_category = r#"{"time":"2026-11-03T10:00:00Z","resourceId":"/SUBSCRIPTIONS/S/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.KEYVAULT/VAULTS/KV","operationName":"Microsoft.KeyVault/vaults/delete","resultType":"Success"}"#;
    let input = format!("{vm}\n{policy}\n{no_category}\n");
    let got: Vec<(Result<ChangeKind, Refusal>, LogCategory)> = decode(&input)
        .iter()
        .map(|r| {
            let change = r
                .result
                .as_ref()
                .map(|e| e.control_plane().expect("control plane").change)
                .map_err(|refusal| *refusal);
            (change, r.category())
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                Err(SkipReason::UnrelatedOperation.into()),
                LogCategory::ActivityLog
            ),
            (Err(SkipReason::OtherCategory.into()), LogCategory::Other),
            (Ok(ChangeKind::VaultDeleted), LogCategory::ActivityLog),
        ]
    );
}

#[test]
fn rest_shape_records_in_a_value_list_decode_like_lines() {
    let lines = sample("secura-thesis-activitylog-keyvault.jsonl");
    let items: Vec<&str> = lines.lines().collect();
    let response = format!("{{\"value\":[{}],\"nextLink\":null}}", items.join(","));
    let array = format!("[{}]", items.join(","));
    let from_lines = events(&lines);
    assert_eq!(events(&response), from_lines);
    assert_eq!(events(&array), from_lines);
}
