//! `[detectors] roles`: a tenant's own roles file, replacing the built-in one. A role
//! assignment of a custom role is judged by what the file says it reads and grants,
//! and named as the file names it; without the file the same assignment is "a role
//! kvwatch does not know", assumed to read every kind of data. A file that cannot be
//! read or breaks a rule stops the start with an error naming the key.

use kvwatch::alert::{Alert, Severity};
use kvwatch::config::Config;
use kvwatch::detect::examples::{self, EventSpec};
use kvwatch::detect::registry;

const VAULT: &str = "/subscriptions/11111111-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv-example";
const ADMIN: &str = "5d2e4c1a-2b3c-4d5e-8f90-a1b2c3d4e5f6";
const BOB: &str = "22222222-2222-4222-8222-222222222222";
const VIEWER: &str = "0badc0de-0000-4000-8000-000000000001";
const READER: &str = "0badc0de-0000-4000-8000-000000000002";

/// The built-in roles file with two custom roles added, as the file's header asks.
fn custom_roles() -> String {
    let builtin = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("detectors/roles/azure_roles.toml"),
    )
    .unwrap();
    format!(
        r#"{builtin}
[[role]]
id = "{VIEWER}"
name = "Contoso Vault Viewer"
reads = []
grants = []
privileged = false
summary = "lists vaults and reads their properties; no data"

[[role]]
id = "{READER}"
name = "Contoso Secret Reader"
reads = ["secrets"]
grants = []
privileged = false
summary = "reads secret values of the payments vaults"
"#
    )
}

/// A config whose `[detectors] roles` names `file` (relative to the config), or the
/// built-in roles with `None`.
fn config(dir: &std::path::Path, file: Option<&str>) -> Config {
    let text = match file {
        Some(f) => format!("[detectors]\nroles = {f:?}\n"),
        None => String::new(),
    };
    let path = dir.join("kvwatch.toml");
    std::fs::write(&path, &text).unwrap();
    Config::load(&path).unwrap_or_else(|e| panic!("{e}"))
}

/// The `control_plane` alerts for Bob, seen reading the vault the day before, being
/// granted `role` on it.
fn grant_alerts(config: &Config, role: &str) -> Vec<Alert> {
    #[derive(serde::Deserialize)]
    struct Events {
        events: Vec<EventSpec>,
    }
    let events: Events = toml::from_str(&format!(
        r#"
[[events]]
at = "2024-05-05T10:00:00Z"
op = "SecretGet"
oid = "{BOB}"
ip = "81.2.69.160"
vault = "kv-example"
object = "secrets/db"

[[events]]
at = "2024-05-06T10:00:00Z"
arm = "Microsoft.Authorization/roleAssignments/write"
resource = "{VAULT}/providers/Microsoft.Authorization/roleAssignments/9c5e1c7a-0d3b-4a57-9b45-6a8f0e3b2c11"
oid = "{ADMIN}"
upn = "admin@contoso.com"
ip = "81.2.69.160"
grantee = "{BOB}"
role = "{role}"
"#
    ))
    .unwrap();
    let records = examples::records(&events.events).unwrap();
    let detector =
        registry::build_named(&config.detectors, "control_plane").unwrap_or_else(|e| panic!("{e}"));
    examples::run(detector, &records, examples::enricher(&[]).unwrap()).unwrap()
}

#[test]
fn a_custom_role_is_judged_and_named_by_the_configured_roles_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("roles.toml"), custom_roles()).unwrap();
    let custom = config(dir.path(), Some("roles.toml"));
    let builtin = config(dir.path(), None);
    // (role, roles file, expected severity, words the summary must hold)
    let table = [
        (VIEWER, &builtin, Severity::Medium, "role 0badc0de"),
        (VIEWER, &custom, Severity::Info, "Contoso Vault Viewer"),
        (READER, &builtin, Severity::Medium, "role 0badc0de"),
        (READER, &custom, Severity::Medium, "Contoso Secret Reader"),
    ];
    for (role, config, severity, words) in table {
        let case = format!("{role} with {:?}", config.detectors.roles);
        let alerts = grant_alerts(config, role);
        let [alert] = alerts.as_slice() else {
            panic!("{case}: one role_grant: {alerts:#?}")
        };
        assert_eq!(
            (alert.rule.as_str(), alert.severity),
            ("role_grant", severity),
            "{case}"
        );
        assert!(
            alert.summary.contains(words),
            "{case}: the summary names the role: {}",
            alert.summary
        );
        let role_evidence = alert.evidence.get("after").and_then(|a| a.get("role"));
        assert_eq!(
            role_evidence
                .and_then(|r| r.get("known"))
                .and_then(serde_json::Value::as_bool),
            config.detectors.roles.is_none().then_some(false),
            "{case}: the evidence says whether the role is known: {:#?}",
            alert.evidence
        );
    }
}

#[test]
fn a_roles_file_that_cannot_be_used_stops_the_start_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.toml"),
        custom_roles().replace(VIEWER, "not-a-guid"),
    )
    .unwrap();
    for (file, words) in [
        ("missing.toml", "missing.toml"),
        ("bad.toml", "is not a GUID"),
    ] {
        let config = config(dir.path(), Some(file));
        let err = registry::build_detectors(&config.detectors)
            .err()
            .unwrap_or_else(|| panic!("{file}: refused"))
            .to_string();
        assert!(
            err.contains("[detectors] roles") && err.contains(words),
            "{file}: {err}"
        );
    }
}
