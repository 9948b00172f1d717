//! Every hygiene check, table-tested: for each, records (inline JSON, decoded by the
//! real decoder and folded by the real collector) that trigger it, and records that
//! do not.

use chrono::{DateTime, Duration, Utc};

use super::{run, Context, Finding};
use crate::alert::Severity;
use crate::config::ReportConfig;
use crate::decode::{decode_buffer, Format, Limits};
use crate::detect::enrichment::Enricher;
use crate::pipeline::{Happening, Observer};
use crate::report::collect::Collector;

mod activity_log;

const ALICE_PWD: &str = r#"{"oid":"a11ce","upn":"alice@contoso.com","appid":"04b07795-8ddb-461a-bbee-02f9e1bf7b46","scp":"user_impersonation","amr":"pwd"}"#;
const ALICE_MFA: &str = r#"{"oid":"a11ce","upn":"alice@contoso.com","appid":"04b07795-8ddb-461a-bbee-02f9e1bf7b46","scp":"user_impersonation","amr":"pwd mfa"}"#;
const APP: &str = r#"{"oid":"5e41ce","appid":"0a0b0c0d-0000-0000-0000-000000000001","idtyp":"app","appidacr":"1"}"#;
const BOB: &str = r#"{"oid":"b0b","upn":"bob@contoso.com","appid":"04b07795-8ddb-461a-bbee-02f9e1bf7b46","scp":"user_impersonation","amr":"pwd mfa"}"#;
const ADMIN_ARM: &str = r#"{"http://schemas.microsoft.com/identity/claims/objectidentifier":"ad0000","http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn":"admin@contoso.com","appid":"c44b4083-3bb0-49c1-b47d-974e53cbdf3c"}"#;
const CLOSED: &str = r#""networkAcls":{"bypass":"AzureServices","defaultAction":"Deny","ipRules":[{"value":"203.0.113.0/24"}],"virtualNetworkRules":[]},"enableSoftDelete":true,"softDeleteRetentionInDays":90,"enablePurgeProtection":true,"enableRbacAuthorization":true"#;

fn at(day: i64) -> String {
    let base = DateTime::parse_from_rfc3339("2026-01-01T09:00:00Z")
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default();
    (base + Duration::days(day)).to_rfc3339()
}

/// One Key Vault audit record, as Azure writes it to Storage.
fn rec(day: i64, op: &str, status: u16, claims: &str, props: &str) -> String {
    format!(
        r#"{{"time":"{}","category":"AuditEvent","operationName":"{op}","resultType":"Success","callerIpAddress":"198.51.100.7","identity":{{"claim":{claims}}},"properties":{{"httpStatusCode":{status}{props},"clientInfo":"azsdk-python-keyvault-secrets/4.9.0"}},"resourceId":"/SUBSCRIPTIONS/S1/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.KEYVAULT/VAULTS/KV1","operationVersion":"7.5","resultSignature":"OK","durationMs":"4"}}"#,
        at(day)
    )
}

fn secret(day: i64, op: &str, status: u16, claims: &str, name: &str) -> String {
    rec(
        day,
        op,
        status,
        claims,
        &format!(
            r#","id":"https://kv1.vault.azure.net/secrets/{name}/0123456789abcdef0123456789abcdef""#
        ),
    )
}

fn notification(day: i64, op: &str, name: &str) -> String {
    let line = secret(day, op, 200, "{}", name);
    line.replace(r#""identity":{"claim":{}}"#, r#""identity":{}"#)
}

fn vault_config(day: i64, op: &str, config: &str, extra: &str) -> String {
    rec(
        day,
        op,
        200,
        ADMIN_ARM,
        &format!(
            r#","id":"https://kv1.vault.azure.net/","requestUri":"https://management.azure.com/subscriptions/s1/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv1?api-version=2023-07-01","properties":{{"sku":{{"Family":"A","Name":"standard"}},"tenantId":"t1",{config}}}{extra}"#
        ),
    )
}

/// Replays records through the decoder and the collector, then runs every check.
fn findings(lines: &[String]) -> Vec<Finding> {
    findings_with(lines, crate::event::roles::RoleCatalog::builtin())
}

/// The findings for `lines` with role assignments judged by `roles`.
fn findings_with(lines: &[String], roles: &crate::event::roles::RoleCatalog) -> Vec<Finding> {
    let config = ReportConfig::default();
    let mut collector = Collector::new(&config, Enricher::default());
    let text = lines.join("\n");
    let mut decoded = 0;
    decode_buffer(
        text.as_bytes(),
        Format::JsonLines,
        &Limits::default(),
        &mut |r| {
            let event = r
                .result
                .unwrap_or_else(|e| panic!("test record does not decode: {e:?}"));
            decoded += 1;
            collector.observe(&Happening::Processed {
                event: &event,
                waited: std::time::Duration::ZERO,
            });
        },
    );
    assert_eq!(decoded, lines.len());
    let state = collector.shared();
    let c = state.lock().unwrap();
    let ctx = Context {
        start: c.first.unwrap(),
        end: c.last.unwrap(),
        config: &config,
        roles,
    };
    run(&c, &ctx)
}

struct Case {
    check: &'static str,
    name: &'static str,
    records: Vec<String>,
    expect: Option<Severity>,
}

fn case(
    check: &'static str,
    name: &'static str,
    records: Vec<String>,
    expect: Option<Severity>,
) -> Case {
    Case {
        check,
        name,
        records,
        expect,
    }
}

fn cases() -> Vec<Case> {
    let grant = r#","addedAccessPolicy":{"ObjectId":"9a9a","TenantId":"t1","Permissions":{"keys":[],"secrets":["get","list"],"certificates":[],"storage":[]}}"#;
    vec![
        case(
            "identity.no_mfa",
            "password-only user reads a secret",
            vec![secret(0, "SecretGet", 200, ALICE_PWD, "db")],
            Some(Severity::High),
        ),
        case(
            "identity.no_mfa",
            "password-only user lists",
            vec![rec(
                0,
                "SecretList",
                200,
                ALICE_PWD,
                r#","requestUri":"https://kv1.vault.azure.net/secrets?api-version=7.5""#,
            )],
            Some(Severity::Medium),
        ),
        case(
            "identity.no_mfa",
            "user with MFA",
            vec![secret(0, "SecretGet", 200, ALICE_MFA, "db")],
            None,
        ),
        case(
            "identity.no_mfa",
            "application (no amr)",
            vec![secret(0, "SecretGet", 200, APP, "db")],
            None,
        ),
        case(
            "rotation.overdue",
            "written 100 days before the end",
            vec![
                secret(0, "SecretSet", 200, APP, "db"),
                secret(100, "SecretGet", 200, APP, "db"),
            ],
            Some(Severity::Medium),
        ),
        case(
            "rotation.overdue",
            "not written in a 70-day period",
            vec![
                secret(0, "SecretGet", 200, APP, "db"),
                secret(70, "SecretGet", 200, APP, "db"),
            ],
            Some(Severity::Low),
        ),
        case(
            "rotation.overdue",
            "written 5 days before the end",
            vec![
                secret(0, "SecretGet", 200, APP, "db"),
                secret(95, "SecretSet", 200, APP, "db"),
                secret(100, "SecretGet", 200, APP, "db"),
            ],
            None,
        ),
        case(
            "rotation.overdue",
            "deleted after its last write",
            vec![
                secret(0, "SecretSet", 200, APP, "db"),
                secret(1, "SecretDelete", 200, APP, "db"),
                rec(
                    100,
                    "SecretList",
                    200,
                    APP,
                    r#","requestUri":"https://kv1.vault.azure.net/secrets?api-version=7.5""#,
                ),
            ],
            None,
        ),
        case(
            "rotation.near_expiry",
            "warned, not renewed",
            vec![
                notification(0, "SecretNearExpiryEventGridNotification", "tls"),
                secret(3, "SecretGet", 200, APP, "tls"),
            ],
            Some(Severity::Medium),
        ),
        case(
            "rotation.near_expiry",
            "warned, probably expired by the end",
            vec![
                notification(0, "SecretNearExpiryEventGridNotification", "tls"),
                secret(40, "SecretGet", 200, APP, "tls"),
            ],
            Some(Severity::High),
        ),
        case(
            "rotation.near_expiry",
            "renewed after the warning",
            vec![
                notification(0, "SecretNearExpiryEventGridNotification", "tls"),
                secret(2, "SecretSet", 200, APP, "tls"),
            ],
            None,
        ),
        case(
            "rotation.expired",
            "expired, not renewed",
            vec![notification(0, "SecretExpiredEventGridNotification", "tls")],
            Some(Severity::High),
        ),
        case(
            "rotation.expired",
            "renewed after expiry",
            vec![
                notification(0, "SecretExpiredEventGridNotification", "tls"),
                secret(1, "SecretSet", 200, APP, "tls"),
            ],
            None,
        ),
        case(
            "review.unused_object",
            "written, never read in 10 days",
            vec![
                secret(0, "SecretSet", 200, APP, "old"),
                secret(10, "SecretGet", 200, APP, "db"),
            ],
            Some(Severity::Low),
        ),
        case(
            "review.unused_object",
            "written and read",
            vec![
                secret(0, "SecretSet", 200, APP, "old"),
                secret(10, "SecretGet", 200, APP, "old"),
            ],
            None,
        ),
        case(
            "review.unused_object",
            "only a failed read (not shown to exist)",
            vec![
                secret(0, "SecretGet", 404, APP, "ghost"),
                secret(10, "SecretGet", 200, APP, "db"),
            ],
            None,
        ),
        case(
            "review.dormant_principal",
            "idle for the last 10 days",
            vec![
                secret(0, "SecretGet", 200, BOB, "db"),
                secret(10, "SecretGet", 200, APP, "db"),
            ],
            Some(Severity::Low),
        ),
        case(
            "review.dormant_principal",
            "active to the end",
            vec![
                secret(0, "SecretGet", 200, BOB, "db"),
                secret(9, "SecretGet", 200, BOB, "db"),
                secret(10, "SecretGet", 200, APP, "db"),
            ],
            None,
        ),
        case(
            "review.unused_grant",
            "granted, never used",
            vec![
                vault_config(0, "VaultPatch", CLOSED, grant),
                secret(5, "SecretGet", 200, APP, "db"),
            ],
            Some(Severity::Medium),
        ),
        case(
            "review.unused_grant",
            "granted and used",
            vec![
                vault_config(0, "VaultPatch", CLOSED, grant),
                secret(
                    1,
                    "SecretGet",
                    200,
                    r#"{"oid":"9a9a","appid":"x1","idtyp":"app"}"#,
                    "db",
                ),
                secret(5, "SecretGet", 200, APP, "db"),
            ],
            None,
        ),
        case(
            "network.public",
            "no firewall",
            vec![vault_config(
                0,
                "VaultGet",
                r#""networkAcls":null,"enableSoftDelete":true,"enablePurgeProtection":true"#,
                "",
            )],
            Some(Severity::Medium),
        ),
        case(
            "network.public",
            "firewall deny",
            vec![vault_config(0, "VaultGet", CLOSED, "")],
            None,
        ),
        case(
            "network.public",
            "public access disabled",
            vec![vault_config(
                0,
                "VaultGet",
                r#""networkAcls":null,"publicNetworkAccess":"Disabled","enableSoftDelete":true,"enablePurgeProtection":true"#,
                "",
            )],
            None,
        ),
        case(
            "network.default_allow",
            "default Allow",
            vec![vault_config(
                0,
                "VaultGet",
                &CLOSED.replace("Deny", "Allow"),
                "",
            )],
            Some(Severity::Medium),
        ),
        case(
            "network.default_allow",
            "opened during the period",
            vec![
                vault_config(0, "VaultGet", CLOSED, ""),
                vault_config(1, "VaultPatch", &CLOSED.replace("Deny", "Allow"), ""),
            ],
            Some(Severity::High),
        ),
        case(
            "network.default_allow",
            "closed again",
            vec![
                vault_config(0, "VaultPatch", &CLOSED.replace("Deny", "Allow"), ""),
                vault_config(1, "VaultPatch", CLOSED, ""),
            ],
            None,
        ),
        case(
            "recovery.soft_delete_off",
            "soft delete off",
            vec![vault_config(
                0,
                "VaultGet",
                &CLOSED.replace(r#""enableSoftDelete":true"#, r#""enableSoftDelete":false"#),
                "",
            )],
            Some(Severity::High),
        ),
        case(
            "recovery.soft_delete_off",
            "soft delete on",
            vec![vault_config(0, "VaultGet", CLOSED, "")],
            None,
        ),
        case(
            "recovery.purge_protection_off",
            "purge protection null",
            vec![vault_config(
                0,
                "VaultGet",
                &CLOSED.replace(
                    r#""enablePurgeProtection":true"#,
                    r#""enablePurgeProtection":null"#,
                ),
                "",
            )],
            Some(Severity::Medium),
        ),
        case(
            "recovery.purge_protection_off",
            "purge protection on",
            vec![vault_config(0, "VaultGet", CLOSED, "")],
            None,
        ),
        case(
            "activity.destructive",
            "a purge",
            vec![rec(
                0,
                "SecretPurge",
                200,
                ALICE_MFA,
                r#","id":"https://kv1.vault.azure.net/deletedsecrets/db""#,
            )],
            Some(Severity::High),
        ),
        case(
            "activity.destructive",
            "a backup",
            vec![secret(0, "SecretBackup", 200, APP, "db")],
            Some(Severity::Low),
        ),
        case(
            "activity.destructive",
            "a denied purge",
            vec![rec(
                0,
                "SecretPurge",
                403,
                ALICE_MFA,
                r#","id":"https://kv1.vault.azure.net/deletedsecrets/db","isAccessPolicyMatch":false"#,
            )],
            None,
        ),
        case(
            "activity.denied",
            "an RBAC denial",
            vec![rec(
                0,
                "SecretGet",
                403,
                BOB,
                r#","id":"https://kv1.vault.azure.net/secrets/db","isRbacAuthorized":false"#,
            )],
            Some(Severity::Low),
        ),
        case(
            "activity.denied",
            "the SDK challenge",
            vec![rec(
                0,
                "Authentication",
                401,
                "{}",
                r#","requestUri":"https://kv1.vault.azure.net/secrets/db?api-version=7.5""#,
            )
            .replace(r#""identity":{"claim":{}}"#, r#""identity":{}"#)],
            None,
        ),
    ]
}

#[test]
fn every_check_triggers_and_stays_quiet() {
    let mut checked = std::collections::BTreeSet::new();
    for c in cases().into_iter().chain(activity_log::cases()) {
        let found = findings(&c.records);
        let hit: Vec<&Finding> = found.iter().filter(|f| f.check == c.check).collect();
        match c.expect {
            Some(severity) => {
                assert_eq!(
                    hit.len(),
                    1,
                    "{} / {}: expected one finding, got {found:#?}",
                    c.check,
                    c.name
                );
                assert_eq!(
                    hit[0].severity, severity,
                    "{} / {}: {:#?}",
                    c.check, c.name, hit[0]
                );
                assert!(
                    hit[0].id.starts_with(&format!("{}/", c.check)),
                    "{}",
                    hit[0].id
                );
                checked.insert(c.check);
            }
            None => assert!(
                hit.is_empty(),
                "{} / {}: expected none, got {hit:#?}",
                c.check,
                c.name
            ),
        }
    }
    let catalogue: std::collections::BTreeSet<&str> =
        super::catalogue().iter().map(|c| c.id).collect();
    assert_eq!(checked, catalogue, "every check has a triggering case");
}

#[test]
fn findings_are_stable_json_objects() {
    let records = vec![
        secret(0, "SecretGet", 200, ALICE_PWD, "db"),
        secret(1, "SecretGet", 200, ALICE_PWD, "db"),
    ];
    let a = findings(&records);
    let b = findings(&records);
    assert_eq!(a, b);
    let f = a.iter().find(|f| f.check == "identity.no_mfa").unwrap();
    assert_eq!(f.id, "identity.no_mfa/principal:a11ce");
    let json = serde_json::to_value(f).unwrap();
    for key in [
        "id", "check", "title", "practice", "severity", "subject", "summary", "evidence",
    ] {
        assert!(json.get(key).is_some(), "{key} in {json}");
    }
    assert_eq!(json["practice"], "mfa");
    assert_eq!(json["evidence"]["requests_without_mfa"], 2);
    assert_eq!(json["subject"]["principal_name"], "alice@contoso.com");
}

#[test]
fn rotation_says_when_the_age_is_only_a_lower_bound() {
    let found = findings(&[
        secret(0, "SecretGet", 200, APP, "db"),
        secret(70, "SecretGet", 200, APP, "db"),
    ]);
    let f = found
        .iter()
        .find(|f| f.check == "rotation.overdue")
        .unwrap();
    assert_eq!(f.evidence["age_is_lower_bound"], true);
    assert!(f.summary.contains("at least 70 days"), "{}", f.summary);
}
