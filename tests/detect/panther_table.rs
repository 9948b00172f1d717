//! The Panther Activity Log test records (real-samples, see its README) as a table
//! for kvwatch's rules: each record's `_expected` flag (Panther's verdict) beside what
//! kvwatch reports for it and why they differ where they do. Each record runs alone
//! through a fresh engine with every shipped detector.

use kvwatch::config::Config;
use kvwatch::detect::Engine;
use serde_json::Value;

/// Why Panther's synthetic deletions give no kvwatch alert (the same records with a
/// caller do: `destructive_operations` examples and the evaluation's vault deletion).
const ANONYMOUS: &str = "the test record carries no caller (no claims): a deletion is judged against a principal's routine, and an anonymous one has none";

/// (Panther rule, Panther test, kvwatch's rule or `None` for no alert, why).
const TABLE: &[(&str, &str, Option<&str>, &str)] = &[
    ("Azure.MonitorActivity.DiagnosticSettings.Deleted", "Diagnostic Settings Deleted", None,
     "a storage account's setting: kvwatch watches vaults' settings and the subscription's own export"),
    ("Azure.MonitorActivity.DiagnosticSettings.Deleted", "Case Insensitive Match", Some("monitoring_disabled"),
     "a vault's setting deleted"),
    ("Azure.MonitorActivity.DiagnosticSettings.Deleted", "Different Operation", None,
     "a write without a body says nothing about AuditEvent"),
    ("Azure.MonitorActivity.KeyVault.Deleted", "Key Vault Deleted", None, ANONYMOUS),
    ("Azure.MonitorActivity.KeyVault.Deleted", "Case Insensitive Match", None, ANONYMOUS),
    ("Azure.MonitorActivity.KeyVault.Deleted", "Different Operation", None, "a vault write is access_policy_change's, from AuditEvent"),
    ("Azure.MonitorActivity.KeyVault.Purged", "Key Vault Purged Successfully", None, ANONYMOUS),
    ("Azure.MonitorActivity.KeyVault.Purged", "Case Insensitive Match", None, ANONYMOUS),
    ("Azure.MonitorActivity.KeyVault.Purged", "Different Operation", None, ANONYMOUS),
    ("Azure.MonitorActivity.RoleAssignment.PrivilegedOrElevated", "Owner Role Assignment", None,
     "answered 200 (OK): the assignment already existed, a re-apply; a new one answers 201 Created"),
    ("Azure.MonitorActivity.RoleAssignment.PrivilegedOrElevated", "Non-Privileged Role Assignment", None,
     "no Created status: a re-apply (and Reader reads no vault data: info at most)"),
    ("Azure.MonitorActivity.RoleAssignment.PrivilegedOrElevated", "Elevated Role Assignment (Storage Blob Data Owner)", None,
     "a storage account's scope reaches no vault"),
    ("Azure.MonitorActivity.RoleAssignment.PrivilegedOrElevated", "Elevate Access to All Azure Subscriptions", Some("elevate_access"),
     "as Panther"),
];

#[test]
fn panther_records_give_kvwatch_verdicts() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/real-samples/panther-activitylog-keyvault-rbac-tests.jsonl");
    let cases: Vec<Value> = std::fs::read_to_string(path)
        .expect("the Panther records")
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON"))
        .collect();
    let mut failures = Vec::new();
    for (rule, test, want, why) in TABLE {
        let case = cases
            .iter()
            .find(|c| c["_rule"] == *rule && c["_test"] == *test)
            .unwrap_or_else(|| panic!("no Panther case {rule} / {test}"));
        let text = case["log"].to_string();
        let event = kvwatch::decode::decode_record(text.as_bytes())
            .unwrap_or_else(|e| panic!("{rule} / {test} does not decode: {e:?}"));
        let mut engine = Engine::from_config(&Config::default()).expect("engine");
        let mut alerts = Vec::new();
        engine.process(&event, &mut |a| alerts.push(a));
        let got: Vec<&str> = alerts.iter().map(|a| a.rule.as_str()).collect();
        let ok = match want {
            Some(r) => got.contains(r),
            None => got.is_empty(),
        };
        if !ok {
            failures.push(format!(
                "{rule} / {test} (Panther: {}): want {want:?} ({why}), got {got:?}",
                case["_expected"]
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}
