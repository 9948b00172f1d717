//! The table of the hygiene checks that read the Activity Log (`hygiene::rbac`,
//! `hygiene::guests`, `hygiene::audit_log`): role assignments and diagnostic
//! settings (written with the detectors' compact form, decoded by the real decoder)
//! beside AuditEvent use, and the finding each gives or not.

use super::{case, rec, secret, Case, APP, BOB};
use crate::alert::Severity;
use crate::detect::examples_arm::{record, ArmEvent};

const OWNER: &str = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635";
const UAA: &str = "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9";
const KV_ADMIN: &str = "00482a5a-887f-4fb3-b363-3b7fe8e74483";
const SECRETS_USER: &str = "4633458b-17de-408a-b874-0445c86b69e6";
const CRYPTO_USER: &str = "12338af0-0e69-4776-bea7-57ae8d297424";
const READER: &str = "acdd72a7-3385-48ef-bd42-f606fba81ae7";
const SUB: &str = "/subscriptions/s1";
const RG: &str = "/subscriptions/s1/resourceGroups/rg";
const KV1: &str = "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv1";
const STORAGE: &str =
    "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/st1";
const GUEST: &str = r#"{"oid":"9e57","upn":"eve_fabrikam.com#EXT#@contoso.onmicrosoft.com","appid":"04b07795-8ddb-461a-bbee-02f9e1bf7b46","scp":"user_impersonation","amr":"pwd mfa"}"#;

/// A role assignment written (`write`) or deleted (`delete`) at `scope`, by the admin.
fn assignment(
    day: i64,
    verb: &str,
    scope: &str,
    grantee: &str,
    role: &str,
    result: &str,
) -> String {
    assignment_of(day, verb, scope, grantee, "User", role, result)
}

fn assignment_of(
    day: i64,
    verb: &str,
    scope: &str,
    grantee: &str,
    grantee_type: &str,
    role: &str,
    result: &str,
) -> String {
    let id = format!("{:0>8}-0000-4000-8000-{:0>12}", grantee, &role[..8]);
    let spec = ArmEvent {
        arm: Some(format!("Microsoft.Authorization/roleAssignments/{verb}")),
        resource: Some(format!(
            "{scope}/providers/Microsoft.Authorization/roleAssignments/{id}"
        )),
        result: Some(result.to_owned()),
        grantee: Some(grantee.to_owned()),
        grantee_type: Some(grantee_type.to_owned()),
        role: Some(role.to_owned()),
        oid: Some("ad0000".to_owned()),
        upn: Some("admin@contoso.com".to_owned()),
        ip: Some("198.51.100.9".to_owned()),
        ..ArmEvent::default()
    };
    record(&spec, &super::at(day), &format!("c-{day}-{verb}-{grantee}"))
        .unwrap_or_else(|e| panic!("{e}"))
}

/// kv1's diagnostic setting `name` written (`write`, sending `logs`) or deleted.
fn setting(day: i64, verb: &str, name: &str, logs: &[&str]) -> String {
    let spec = ArmEvent {
        arm: Some(format!("Microsoft.Insights/diagnosticSettings/{verb}")),
        resource: Some(format!(
            "{KV1}/providers/Microsoft.Insights/diagnosticSettings/{name}"
        )),
        result: Some("Succeeded.OK".to_owned()),
        logs: (verb == "write").then(|| logs.iter().map(|l| (*l).to_owned()).collect()),
        oid: Some("ad0000".to_owned()),
        upn: Some("admin@contoso.com".to_owned()),
        ..ArmEvent::default()
    };
    record(&spec, &super::at(day), &format!("c-diag-{day}-{verb}"))
        .unwrap_or_else(|e| panic!("{e}"))
}

/// A diagnostic setting written on kv1: locates the vault under its subscription.
fn locate_kv1(day: i64) -> String {
    setting(day, "write", "to-siem", &["audit"])
}

fn later(day: i64) -> String {
    secret(day, "SecretGet", 200, APP, "db")
}

pub(super) fn cases() -> Vec<Case> {
    let created = "Succeeded.Created";
    let ok = "Succeeded.OK";
    vec![
        case(
            "monitoring.audit_log_stopped",
            "the setting deleted, the vault dark after it",
            vec![later(0), setting(1, "delete", "to-siem", &[])],
            Some(Severity::High),
        ),
        case(
            "monitoring.audit_log_stopped",
            "rewritten to send only policy evaluations, records still arriving",
            vec![
                setting(0, "write", "to-siem", &["AzurePolicyEvaluationDetails"]),
                later(1),
            ],
            Some(Severity::Medium),
        ),
        case(
            "monitoring.audit_log_stopped",
            "deleted, then written again with the audit group",
            vec![
                setting(0, "delete", "to-siem", &[]),
                setting(1, "write", "to-siem", &["audit"]),
                later(2),
            ],
            None,
        ),
        case(
            "monitoring.audit_log_stopped",
            "one of two settings deleted, the other written with AuditEvent",
            vec![
                setting(0, "write", "to-archive", &["AuditEvent"]),
                setting(1, "delete", "to-siem", &[]),
                later(2),
            ],
            None,
        ),
        case(
            "rbac.privileged_role",
            "Owner on the subscription",
            vec![assignment(0, "write", SUB, "b0b", OWNER, created), later(1)],
            Some(Severity::High),
        ),
        case(
            "rbac.privileged_role",
            "User Access Administrator re-applied by a pipeline: it exists",
            vec![assignment(0, "write", SUB, "b0b", UAA, ok), later(1)],
            Some(Severity::High),
        ),
        case(
            "rbac.privileged_role",
            "Owner on the resource group",
            vec![assignment(0, "write", RG, "b0b", OWNER, created), later(1)],
            Some(Severity::Medium),
        ),
        case(
            "rbac.privileged_role",
            "Key Vault Administrator on one vault",
            vec![
                assignment(0, "write", KV1, "b0b", KV_ADMIN, created),
                later(1),
            ],
            Some(Severity::Low),
        ),
        case(
            "rbac.privileged_role",
            "Key Vault Secrets User is not privileged",
            vec![
                assignment(0, "write", KV1, "b0b", SECRETS_USER, created),
                later(1),
            ],
            None,
        ),
        case(
            "rbac.privileged_role",
            "Owner granted, then removed",
            vec![
                assignment(0, "write", SUB, "b0b", OWNER, created),
                assignment(1, "delete", SUB, "b0b", OWNER, ok),
                later(2),
            ],
            None,
        ),
        case(
            "rbac.privileged_role",
            "Owner of a storage account reaches no vault",
            vec![
                assignment(0, "write", STORAGE, "b0b", OWNER, created),
                later(1),
            ],
            None,
        ),
        case(
            "rbac.privileged_role",
            "a refused write (the assignment exists: RoleAssignmentExists) carries no grantee",
            vec![
                assignment(0, "write", SUB, "b0b", OWNER, "Failed.Conflict"),
                later(1),
            ],
            None,
        ),
        case(
            "rbac.guest_data_access",
            "a guest reads a secret",
            vec![secret(0, "SecretGet", 200, GUEST, "db")],
            Some(Severity::High),
        ),
        case(
            "rbac.guest_data_access",
            "a guest lists secrets (no value)",
            vec![rec(
                0,
                "SecretList",
                200,
                GUEST,
                r#","requestUri":"https://kv1.vault.azure.net/secrets?api-version=7.5""#,
            )],
            Some(Severity::Medium),
        ),
        case(
            "rbac.guest_data_access",
            "a refused guest holding Key Vault Secrets User on a vault",
            vec![
                assignment(0, "write", KV1, "9e57", SECRETS_USER, created),
                secret(1, "SecretGet", 403, GUEST, "db").replace(
                    r#""clientInfo""#,
                    r#""isRbacAuthorized":false,"clientInfo""#,
                ),
            ],
            Some(Severity::High),
        ),
        case(
            "rbac.guest_data_access",
            "a refused guest with no assignment",
            vec![secret(0, "SecretGet", 403, GUEST, "db")],
            None,
        ),
        case(
            "rbac.guest_data_access",
            "a member reads a secret",
            vec![secret(0, "SecretGet", 200, BOB, "db")],
            None,
        ),
        case(
            "rbac.unused_assignment",
            "Secrets User on kv1, never read in 10 days",
            vec![
                assignment(0, "write", KV1, "b0b", SECRETS_USER, created),
                later(10),
            ],
            Some(Severity::Medium),
        ),
        case(
            "rbac.unused_assignment",
            "Crypto User on kv1, never used",
            vec![
                assignment(0, "write", KV1, "b0b", CRYPTO_USER, created),
                later(10),
            ],
            Some(Severity::Low),
        ),
        case(
            "rbac.unused_assignment",
            "granted an hour before the end",
            vec![
                later(0),
                assignment(10, "write", KV1, "b0b", SECRETS_USER, created),
                later(10).replace("T09:00:00", "T10:00:00"),
            ],
            Some(Severity::Info),
        ),
        case(
            "rbac.unused_assignment",
            "used only before the grant",
            vec![
                secret(0, "SecretGet", 200, BOB, "db"),
                assignment(1, "write", KV1, "b0b", SECRETS_USER, created),
                later(10),
            ],
            Some(Severity::Medium),
        ),
        case(
            "rbac.unused_assignment",
            "granted and used",
            vec![
                assignment(0, "write", KV1, "b0b", SECRETS_USER, created),
                secret(1, "SecretGet", 200, BOB, "db"),
                later(10),
            ],
            None,
        ),
        case(
            "rbac.unused_assignment",
            "a subscription grant used on a vault located under it",
            vec![
                locate_kv1(0),
                assignment(0, "write", SUB, "b0b", SECRETS_USER, created),
                secret(1, "SecretGet", 200, BOB, "db"),
                later(10),
            ],
            None,
        ),
        case(
            "rbac.unused_assignment",
            "a group (its members' use shows under their own ids)",
            vec![
                assignment_of(0, "write", KV1, "60000f", "Group", SECRETS_USER, created),
                later(10),
            ],
            None,
        ),
        case(
            "rbac.unused_assignment",
            "Reader reads no data and gives no access",
            vec![
                assignment(0, "write", KV1, "b0b", READER, created),
                later(10),
            ],
            None,
        ),
    ]
}

#[test]
fn a_broad_grant_names_the_vaults_it_reaches_and_how_it_was_seen() {
    let found = super::findings(&[
        locate_kv1(0),
        assignment(0, "write", SUB, "b0b", OWNER, "Succeeded.OK"),
        later(1),
    ]);
    let f = found
        .iter()
        .find(|f| f.check == "rbac.privileged_role")
        .expect("a finding");
    assert_eq!(f.id, "rbac.privileged_role/principal:b0b");
    assert!(
        f.summary
            .contains("Owner at subscription /subscriptions/s1 (reaching kv1)"),
        "{}",
        f.summary
    );
    let a = &f.evidence["assignments"][0];
    assert_eq!(a["vaults"], serde_json::json!(["kv1"]));
    assert_eq!(a["may_reach_unlocated"], true);
    assert_eq!(a["created_in_period"], false, "re-applied, so older");
    assert_eq!(a["granted_by"], "admin@contoso.com");
    assert_eq!(a["gives_access"], true);
}

/// `[detectors] roles`: the report judges a custom role by the configured file. The
/// built-in file does not know it, so it is not called privileged; the tenant's file
/// lists it as privileged, and the finding names it.
#[test]
fn a_custom_role_is_judged_by_the_configured_roles_file() {
    const CUSTOM: &str = "0badc0de-0000-4000-8000-000000000009";
    let records = [
        locate_kv1(0),
        assignment(0, "write", KV1, "b0b", CUSTOM, "Succeeded.Created"),
        later(1),
    ];
    let text = format!(
        "{}\n[[role]]\nid = \"{CUSTOM}\"\nname = \"Contoso Vault Operator\"\nreads = [\"secrets\"]\ngrants = [\"role_assignments\"]\nprivileged = true\nsummary = \"runs the payments vaults\"\n",
        crate::event::roles::BUILTIN_ROLES
    );
    let custom = crate::event::roles::RoleCatalog::parse(&text, "roles.toml").unwrap();
    let privileged = |found: &[super::Finding]| {
        found
            .iter()
            .find(|f| f.check == "rbac.privileged_role")
            .map(|f| f.summary.clone())
    };
    assert_eq!(
        privileged(&super::findings(&records)),
        None,
        "built-in file"
    );
    let summary = privileged(&super::findings_with(&records, &custom));
    assert!(
        summary
            .as_deref()
            .is_some_and(|s| s.contains("Contoso Vault Operator")),
        "the tenant's file: {summary:?}"
    );
}
