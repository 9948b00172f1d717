//! Golden tests: every real sample, decoded with format auto-detection, against a
//! reviewed expectation in `tests/golden/<sample-file>.json`.
//!
//! Each golden file lists every record the decoder reported (location, shape, and the
//! normalised event or the refusal), so any change in what a real record means shows
//! up as a diff. `KVWATCH_UPDATE_GOLDEN=1 cargo test --test decode golden::` rewrites them;
//! a rewritten golden must be reviewed by hand against the raw record before it is
//! committed. Beside the goldens, a hand-written table asserts the key fields of a
//! few records per file, so correctness does not rest on the goldens alone.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use kvwatch::decode::{decode_buffer, detect_format, Format, Limits, Record, Refusal};
use kvwatch::event::{AuditEvent, ObjectKind, Outcome, PrincipalKind, VaultKind};

fn samples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/real-samples")
}

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

fn sample_names() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(samples_dir())
        .expect("samples directory")
        .map(|e| {
            e.expect("directory entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|n| n.ends_with(".json") || n.ends_with(".jsonl"))
        .collect();
    names.sort();
    names
}

/// The bytes to decode for a sample. The Panther file's lines are test-case
/// wrappers `{"_rule","_test","_expected","log":{…}}`; the record is `log`.
fn sample_input(name: &str) -> Vec<u8> {
    let bytes = std::fs::read(samples_dir().join(name)).expect("sample file");
    if !name.starts_with("panther-") {
        return bytes;
    }
    let text = String::from_utf8(bytes).expect("UTF-8 sample");
    let mut out = String::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let case: Value = serde_json::from_str(line).expect("Panther test case");
        out.push_str(&case["log"].to_string());
        out.push('\n');
    }
    out.into_bytes()
}

fn decode(buf: &[u8]) -> Vec<Record<'_>> {
    let mut out = Vec::new();
    decode_buffer(buf, Format::Auto, &Limits::default(), &mut |r| out.push(r));
    out
}

fn refusal_json(r: &Refusal) -> Value {
    match r {
        Refusal::Rejected(reason) => json!({ "rejected": reason.as_str() }),
        Refusal::Skipped(reason) => json!({ "skipped": reason.as_str() }),
    }
}

fn record_json(r: &Record<'_>) -> Value {
    let mut entry = json!({ "location": r.location, "shape": r.shape });
    match &r.result {
        Ok(event) => {
            let mut json = serde_json::to_value(event).expect("event serialises");
            // An Activity Log event's change rides in its operation; show it whole.
            if let Some(change) = event.control_plane() {
                json["control_plane"] = serde_json::to_value(change).expect("change serialises");
            }
            entry["event"] = json;
        }
        Err(refusal) => entry["refusal"] = refusal_json(refusal),
    }
    entry
}

fn actual(name: &str) -> Value {
    let input = sample_input(name);
    let records: Vec<Value> = decode(&input).iter().map(record_json).collect();
    json!({
        "sample": name,
        "format": detect_format(&input).to_string(),
        "records": records,
    })
}

#[test]
fn every_sample_matches_its_golden() {
    let update = std::env::var_os("KVWATCH_UPDATE_GOLDEN").is_some_and(|v| v == "1");
    let mut failures = Vec::new();
    for name in sample_names() {
        let got = actual(&name);
        let path = golden_dir().join(format!("{name}.json"));
        if update {
            std::fs::create_dir_all(golden_dir()).expect("golden directory");
            let text = serde_json::to_string_pretty(&got).expect("golden serialises") + "\n";
            std::fs::write(&path, text).expect("golden written");
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&path) else {
            failures.push(format!(
                "{name}: no golden file {} (run with KVWATCH_UPDATE_GOLDEN=1)",
                path.display()
            ));
            continue;
        };
        let want: Value = serde_json::from_str(&text).expect("golden is JSON");
        if got != want {
            failures.push(first_difference(&name, &want, &got));
        }
    }
    // A golden without a sample is stale.
    if let Ok(dir) = std::fs::read_dir(golden_dir()) {
        let samples = sample_names();
        for entry in dir.flatten() {
            let file = entry.file_name().to_string_lossy().into_owned();
            if !samples.iter().any(|s| format!("{s}.json") == file) {
                failures.push(format!("stale golden file {file}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "golden mismatches:\n{}",
        failures.join("\n\n")
    );
}

fn first_difference(name: &str, want: &Value, got: &Value) -> String {
    if want["format"] != got["format"] {
        return format!(
            "{name}: format {} != golden {}",
            got["format"], want["format"]
        );
    }
    let (w, g) = (want["records"].as_array(), got["records"].as_array());
    let (Some(w), Some(g)) = (w, g) else {
        return format!("{name}: malformed golden");
    };
    for (i, (a, b)) in w.iter().zip(g).enumerate() {
        if a != b {
            return format!("{name}: record {i} differs\n golden: {a}\n actual: {b}");
        }
    }
    format!("{name}: {} records, golden has {}", g.len(), w.len())
}

/// Decodes a sample's events (refusals are an error here).
fn events(name: &str) -> Vec<AuditEvent<'static>> {
    let input = sample_input(name);
    decode(&input)
        .into_iter()
        .map(|r| match r.result {
            Ok(e) => e.into_owned(),
            Err(refusal) => panic!("{name} {}: refused {refusal}", r.location),
        })
        .collect()
}

#[test]
fn msdocs_envelope_and_json_lines_give_identical_events() {
    let envelope = events("msdocs-keyvault-records-envelope.json");
    let lines = events("msdocs-keyvault-PT1H-jsonlines.json");
    assert_eq!(envelope.len(), 2);
    assert_eq!(envelope, lines);
}

/// The key fields of one event, as a test writes them.
#[derive(Debug, PartialEq)]
struct Fields<'t> {
    vault: &'t str,
    kind: VaultKind,
    op: &'t str,
    status: u16,
    outcome: Outcome,
    principal: Option<&'t str>,
    principal_kind: PrincipalKind,
    object: Option<(ObjectKind, Option<&'t str>)>,
    flags: (Option<bool>, Option<bool>, Option<bool>),
}

fn key_of<'e>(e: &'e AuditEvent<'_>) -> Fields<'e> {
    Fields {
        vault: e.vault.as_str(),
        kind: e.vault_kind,
        op: e.operation.as_str(),
        status: e.status,
        outcome: e.outcome,
        principal: e.principal.key.as_deref(),
        principal_kind: e.principal.kind,
        object: e.object.as_ref().map(|o| (o.kind, o.name.as_deref())),
        flags: (
            e.access.access_policy_match,
            e.access.rbac_authorized,
            e.access.address_authorized,
        ),
    }
}

#[allow(clippy::too_many_arguments)]
fn key<'t>(
    vault: &'t str,
    op: &'t str,
    status: u16,
    outcome: Outcome,
    principal: Option<&'t str>,
    principal_kind: PrincipalKind,
    object: Option<(ObjectKind, Option<&'t str>)>,
    flags: (Option<bool>, Option<bool>, Option<bool>),
) -> Fields<'t> {
    Fields {
        vault,
        kind: VaultKind::Vault,
        op,
        status,
        outcome,
        principal,
        principal_kind,
        object,
        flags,
    }
}

#[test]
fn key_fields_of_chosen_records() {
    use ObjectKind::*;
    use Outcome::*;
    use PrincipalKind::*;
    const JOHN: Option<&str> = Some("d4ba3e84-0444-4841-aaf7-xxxx");
    const JOHN6: Option<&str> = Some("d4ba3e84-0444-4841-aaf7-xxxxxx");
    const ATTACKER: Option<&str> = Some("30a6c29d-de7c-4830-815f-9b3bb366e975");
    const ZERO: Option<&str> = Some("00000000-0000-0000-0000-000000000000");
    const NONE: (Option<bool>, Option<bool>, Option<bool>) = (None, None, None);
    const POLICY_OK: (Option<bool>, Option<bool>, Option<bool>) = (Some(true), None, None);
    let table: Vec<(&str, usize, Fields<'static>)> = vec![
        (
            "sekoia-intake-formats-keyvault.jsonl",
            0,
            key(
                "testpermissionvault",
                "CertificateCreate",
                202,
                Ok,
                JOHN,
                User,
                Some((Certificate, Some("fdfdffffd"))),
                POLICY_OK,
            ),
        ),
        (
            "sekoia-intake-formats-keyvault.jsonl",
            1,
            key(
                "myright3",
                "CertificateImport",
                400,
                OtherError,
                Some("d4ba3e84-0444-4841-aaf7-xxxxxxxxxxxx"),
                User,
                Some((Certificate, Some("mycertiii"))),
                POLICY_OK,
            ),
        ),
        (
            "sekoia-intake-formats-keyvault.jsonl",
            7,
            key(
                "testpermissionvault",
                "KeyGet",
                404,
                NotFound,
                JOHN,
                User,
                Some((Key, Some("egzghfgrrg"))),
                POLICY_OK,
            ),
        ),
        (
            "sekoia-intake-formats-keyvault.jsonl",
            8,
            key(
                "testpermissionvault",
                "KeyGet",
                200,
                Ok,
                Some("d4ba3e84-0444-4841-aaf7-xxxxx"),
                User,
                Some((Key, Some("myfirstkey"))),
                POLICY_OK,
            ),
        ),
        (
            "sekoia-intake-formats-keyvault.jsonl",
            9,
            key(
                "testpermissionvault",
                "KeyList",
                200,
                Ok,
                JOHN6,
                User,
                Some((Key, None)),
                POLICY_OK,
            ),
        ),
        (
            "sekoia-intake-formats-keyvault.jsonl",
            10,
            key(
                "keytestint",
                "KeyList",
                403,
                DeniedRbac,
                Some("d4ba3e84-0444-4841-aaf7-xxxxx"),
                User,
                Some((Key, None)),
                (None, Some(false), None),
            ),
        ),
        (
            "secura-thesis-keyvault-auditevent.jsonl",
            0,
            key(
                "securaallkeyvault",
                "VaultPut",
                200,
                Ok,
                ATTACKER,
                User,
                Some((Vault, None)),
                NONE,
            ),
        ),
        (
            "secura-thesis-keyvault-auditevent.jsonl",
            4,
            key(
                "securaallkeyvault",
                "SecretGet",
                200,
                Ok,
                ATTACKER,
                User,
                Some((Secret, Some("securaallsecret"))),
                POLICY_OK,
            ),
        ),
        (
            "misc-keyvault-auditevent.jsonl",
            0,
            key(
                "[my-key-vault]",
                "Authentication",
                401,
                Challenge,
                None,
                Anonymous,
                Some((Secret, Some("**[my-first-secret]**"))),
                NONE,
            ),
        ),
        (
            "misc-keyvault-auditevent.jsonl",
            1,
            key(
                "example-vault",
                "Authentication",
                401,
                Challenge,
                None,
                Anonymous,
                Some((Secret, None)),
                NONE,
            ),
        ),
        (
            "misc-keyvault-auditevent.jsonl",
            2,
            key(
                "acme-secrets-dev",
                "SecretGet",
                200,
                Ok,
                Some("00000000-0000-0000-0000-000000000037"),
                ServicePrincipal,
                Some((Secret, Some("jwt-token-feed-external-api-service"))),
                POLICY_OK,
            ),
        ),
        (
            "msdocs-keyvault-PT1H-jsonlines.json",
            0,
            key(
                "contosokeyvault",
                "VaultGet",
                200,
                Ok,
                Some("d9da5048-2737-4770-bd64-xxxxxxxxxxxx"),
                User,
                Some((Vault, None)),
                NONE,
            ),
        ),
        (
            "google-secops-azurediagnostics-row.json",
            0,
            key(
                "example-vault",
                "SecretGet",
                200,
                Ok,
                ZERO,
                ServicePrincipal,
                Some((Secret, Some("example-secret"))),
                POLICY_OK,
            ),
        ),
        (
            "google-secops-azurediagnostics-query-response.json",
            0,
            key(
                "example-vault",
                "VaultGet",
                200,
                Ok,
                ZERO,
                ServicePrincipal,
                Some((Vault, None)),
                NONE,
            ),
        ),
    ];
    for (name, index, want) in &table {
        let all = events(name);
        let event = all
            .get(*index)
            .unwrap_or_else(|| panic!("{name} has no record {index}"));
        assert_eq!(&key_of(event), want, "{name} record {index}");
    }
}

#[test]
fn sekoia_denials_and_statuses() {
    let all = events("sekoia-intake-formats-keyvault.jsonl");
    assert_eq!(all.len(), 32);
    let mut statuses: Vec<u16> = all.iter().map(|e| e.status).collect();
    statuses.sort_unstable();
    statuses.dedup();
    assert_eq!(statuses, [200, 202, 400, 403, 404, 409]);
    let denied: Vec<(&str, Outcome)> = all
        .iter()
        .filter(|e| e.status == 403)
        .map(|e| (e.operation.as_str(), e.outcome))
        .collect();
    assert_eq!(denied.len(), 6, "{denied:?}");
    assert!(
        denied
            .iter()
            .all(|(_, o)| matches!(o, Outcome::DeniedRbac | Outcome::DeniedPolicy)),
        "{denied:?}"
    );
    assert!(
        denied.contains(&("KeyPurge", Outcome::DeniedPolicy)),
        "{denied:?}"
    );
    assert!(
        denied.contains(&("SecretGet", Outcome::DeniedRbac)),
        "{denied:?}"
    );
    // vault_get_3: `resultSignature: Forbidden` with `httpStatusCode: 200`; the status code wins.
    assert!(all
        .iter()
        .all(|e| e.status != 403 || e.operation.as_str() != "VaultGet"));
}

#[test]
fn vault_configuration_of_control_plane_records() {
    let put = &events("secura-thesis-keyvault-auditevent.jsonl")[0];
    let config = put
        .vault_config
        .as_deref()
        .expect("VaultPut carries the configuration");
    assert_eq!(config.sku.as_deref(), Some("standard"));
    assert_eq!(
        config.tenant_id.as_deref(),
        Some("d2af6ef7-a00c-438f-903b-65592cfddc48")
    );
    assert_eq!(config.network_acls, None);
    assert_eq!(config.enable_soft_delete, Some(true));
    assert_eq!(config.soft_delete_retention_days, Some(7));
    assert_eq!(config.enable_rbac_authorization, Some(false));
    assert_eq!(config.enable_purge_protection, None);
    assert!(config.is_publicly_reachable());
    assert_eq!(
        put.principal.upn.as_deref(),
        Some("attacker@securathesis.onmicrosoft.com")
    );
    assert_eq!(
        put.principal.appid.as_deref(),
        Some("04b07795-8ddb-461a-bbee-02f9e1bf7b46")
    );
    assert_eq!(put.caller_ip, None, "<Redacted> is no address");

    let get = &events("google-secops-azurediagnostics-query-response.json")[0];
    let config = get
        .vault_config
        .as_deref()
        .expect("VaultGet row carries the configuration");
    assert_eq!(config.sku.as_deref(), Some("standard"));
    assert_eq!(config.enable_purge_protection, Some(true));
    assert_eq!(config.enable_rbac_authorization, Some(false));
    assert_eq!(
        get.principal.appid.as_deref(),
        Some("00000000-0000-0000-0000-000000000000")
    );
    assert_eq!(get.duration_ms, Some(30));
}

/// The Google `AzureDiagnostics` SecretGet row, written back by hand as the
/// resource-log record Azure would have emitted: both must mean the same.
#[test]
fn google_row_matches_its_resource_log_twin() {
    let twin = r#"{"time":"2025-01-07T20:00:00.0483028Z","category":"AuditEvent","operationName":"SecretGet","resultType":"Success","resultDescription":"","correlationId":"00000000-0000-0000-0000-000000000000","callerIpAddress":"127.0.0.1","identity":{"claim":{"oid":"00000000-0000-0000-0000-000000000000","appid":"00000000-0000-0000-0000-000000000000","appidacr":"2","xms_az_nwperimid":[],"idtyp":"app"}},"properties":{"id":"https://example-vault.vault.azure.net/secrets/example-secret/00000000000000000000000000000000","clientInfo":"azsdk-net-Security.KeyVault.Secrets/4.3.0 (.NET 6.0.35; Microsoft Windows 10.0.14393)","httpStatusCode":200,"requestUri":"https://example-vault.vault.azure.net/secrets/example-secret/?api-version=7.3","isAccessPolicyMatch":true,"tlsVersion":"TLS1_2"},"resourceId":"/SUBSCRIPTIONS/00000000-0000-0000-0000-000000000000/RESOURCEGROUPS/EXAMPLE-RG/PROVIDERS/MICROSOFT.KEYVAULT/VAULTS/EXAMPLE-VAULT","operationVersion":"7.3","resultSignature":"OK","durationMs":"16"}"#;
    let from_twin = decode(twin.as_bytes())
        .into_iter()
        .map(|r| r.result.map(AuditEvent::into_owned))
        .collect::<Vec<_>>();
    let from_row = events("google-secops-azurediagnostics-row.json");
    assert_eq!(from_twin, vec![Ok(from_row[0].clone())]);
}
