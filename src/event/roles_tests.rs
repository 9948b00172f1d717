//! Tests of `roles`.

use super::*;

#[test]
fn the_builtin_file_parses_and_names_the_key_roles() {
    let parsed = RoleCatalog::parse(BUILTIN_ROLES, BUILTIN_ROLES_PATH).expect("built-in roles");
    assert_eq!(&parsed, RoleCatalog::builtin());
    let table: &[(&str, &str, &[DataKind], bool, bool)] = &[
        (
            "00482a5a-887f-4fb3-b363-3b7fe8e74483",
            "Key Vault Administrator",
            &[DataKind::Secrets, DataKind::Keys, DataKind::Certificates],
            false,
            false,
        ),
        (
            "b86a8fe4-44ce-4948-aee5-eccb2c155cd7",
            "Key Vault Secrets Officer",
            &[DataKind::Secrets],
            false,
            false,
        ),
        (
            "4633458b-17de-408a-b874-0445c86b69e6",
            "Key Vault Secrets User",
            &[DataKind::Secrets],
            false,
            false,
        ),
        (
            "a4417e6f-fecd-4de8-b567-7b0420556985",
            "Key Vault Certificates Officer",
            &[DataKind::Certificates],
            false,
            false,
        ),
        (
            "db79e9a7-68ee-4b58-9aeb-b90e7c24fcba",
            "Key Vault Certificate User",
            &[DataKind::Certificates, DataKind::Secrets],
            false,
            false,
        ),
        (
            "14b46e9e-c2b7-41b4-b07b-48a6ebf60603",
            "Key Vault Crypto Officer",
            &[DataKind::Keys],
            false,
            false,
        ),
        (
            "12338af0-0e69-4776-bea7-57ae8d297424",
            "Key Vault Crypto User",
            &[DataKind::Keys],
            false,
            false,
        ),
        (
            "e147488a-f6f5-4113-8e2d-b22465e65bf6",
            "Key Vault Crypto Service Encryption User",
            &[DataKind::Keys],
            false,
            false,
        ),
        (
            "08bbd89e-9f13-488c-ac41-acfcb10c90ab",
            "Key Vault Crypto Service Release User",
            &[DataKind::Keys],
            false,
            false,
        ),
        (
            "21090545-7ca7-4776-b22c-e363652d74d2",
            "Key Vault Reader",
            &[],
            false,
            false,
        ),
        (
            "8b54135c-b56d-4d72-a534-26097cfdc8d8",
            "Key Vault Data Access Administrator",
            &[],
            true,
            false,
        ),
        (
            "f25e0fa2-a7c8-4377-a976-54943a77a395",
            "Key Vault Contributor",
            &[],
            true,
            false,
        ),
        (
            "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
            "Owner",
            &[],
            true,
            true,
        ),
        (
            "b24988ac-6180-42a0-ab88-20f7382dd24c",
            "Contributor",
            &[],
            true,
            true,
        ),
        (
            "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9",
            "User Access Administrator",
            &[],
            true,
            true,
        ),
        (
            "f58310d9-a9f6-439a-9e8d-f62e7b41a168",
            "Role Based Access Control Administrator",
            &[],
            true,
            true,
        ),
        (
            "acdd72a7-3385-48ef-bd42-f606fba81ae7",
            "Reader",
            &[],
            false,
            false,
        ),
    ];
    for (id, name, reads, manages, privileged) in table {
        let role = parsed.get(id).unwrap_or_else(|| panic!("{name} missing"));
        assert_eq!(role.name, *name);
        assert_eq!(role.reads, *reads, "{name}");
        assert_eq!(role.manages_access(), *manages, "{name}");
        assert_eq!(role.privileged, *privileged, "{name}");
    }
    assert_eq!(
        parsed.roles().len(),
        table.len(),
        "a role without a test row"
    );
    assert!(parsed
        .get("21090545-7ca7-4776-b22c-e363652d74d2")
        .is_some_and(RoleDef::control_plane_only));
}

#[test]
fn lookups_take_full_ids_and_unknown_roles_possibly_grant_data() {
    let c = RoleCatalog::builtin();
    let full = "/subscriptions/1/providers/Microsoft.Authorization/roleDefinitions/B86A8FE4-44CE-4948-AEE5-ECCB2C155CD7";
    assert_eq!(
        c.get(full).map(|r| r.name.as_str()),
        Some("Key Vault Secrets Officer")
    );
    assert_eq!(c.get("not-a-guid"), None);
    let custom = c.access("11111111-2222-3333-4444-555555555555");
    let RoleAccess::Unknown(u) = custom else {
        panic!("a custom role is unknown")
    };
    assert!(u.summary.contains("possibly granting"));
    assert_eq!(
        custom.reads(),
        &[DataKind::Secrets, DataKind::Keys, DataKind::Certificates]
    );
}

#[test]
fn bad_files_are_refused_with_the_reason() {
    let unknown = "[unknown]\nreads = []\ngrants = []\nsummary = \"s\"\n";
    let role = |id: &str, extra: &str| {
        format!("[[role]]\nid = \"{id}\"\nname = \"R{extra}\"\nreads = [\"secrets\"]\ngrants = []\nprivileged = false\nsummary = \"s\"\n")
    };
    let ok = "00000000-0000-0000-0000-000000000001";
    let cases = [
        (format!("{unknown}{}", role("not-a-guid", "")), "not a GUID"),
        (
            format!("{unknown}{}{}", role(ok, "1"), role(ok, "2")),
            "listed twice",
        ),
        (
            format!("{unknown}{}", role(ok, "").replace("reads", "read")),
            "unknown field",
        ),
        (
            format!(
                "{unknown}{}",
                role(ok, "").replace("\"secrets\"", "\"passwords\"")
            ),
            "unknown variant",
        ),
        (role(ok, ""), "missing field"),
        (
            format!(
                "{unknown}{}",
                role(ok, "").replace("[\"secrets\"]", "[\"keys\", \"keys\"]")
            ),
            "repeats",
        ),
    ];
    for (text, want) in cases {
        let err = RoleCatalog::parse(&text, "t.toml")
            .expect_err(want)
            .to_string();
        assert!(err.contains(want), "{err} (wanted {want})");
    }
    assert!(RoleCatalog::parse(&format!("{unknown}{}", role(ok, "")), "t.toml").is_ok());
    let missing = RoleCatalog::load(Path::new("/nonexistent/roles.toml")).expect_err("missing");
    assert!(missing.to_string().contains("/nonexistent/roles.toml"));
}
