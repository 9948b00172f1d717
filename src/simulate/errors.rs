//! The service's error texts (`resultDescription`), as Key Vault writes them.
//!
//! The texts tell denials apart and detectors read them: an RBAC denial names the
//! caller, the action and the resource; an access-policy denial names the missing
//! permission; a firewall denial names the client address; 404 and 429 have their
//! own wording. The wording follows real records (SEKOIA samples, public issues).

use super::request::{Identity, Outcome, Request, Target};
use super::vaults::{Config, Kind, ObjKind, Vault};

/// The `resultDescription` of a failed request (`None` for successes and challenges).
pub(crate) fn description(
    r: &Request,
    v: &Vault,
    config: &Config,
    tenant_id: &str,
) -> Option<String> {
    let (appid, oid, tenant, user) = match &r.caller.identity {
        Identity::User(u) => (
            u.appid.to_owned(),
            u.oid.clone(),
            tenant_id.to_owned(),
            true,
        ),
        Identity::App(a) => (a.appid.clone(), a.oid.clone(), a.tenant.clone(), false),
        Identity::ArmUser { oid, appid, .. } => (
            (*appid).to_owned(),
            oid.clone(),
            tenant_id.to_owned(),
            false,
        ),
        Identity::ArmApp { oid, appid } => {
            (appid.to_string(), oid.clone(), tenant_id.to_owned(), false)
        }
        Identity::None => (String::new(), String::new(), tenant_id.to_owned(), false),
    };
    let iss = format!("https://sts.windows.net/{tenant}/");
    let vault_text = format!("{};location={}", v.name, v.location);
    let (kind, name) = match &r.target {
        Target::Object { kind, name, .. } => (*kind, Some(name.as_str())),
        Target::Collection { kind, .. } => (*kind, None),
        Target::Arm { .. } => (ObjKind::Secret, None),
    };
    Some(match r.outcome {
        Outcome::Denied if config.rbac || v.kind == Kind::ManagedHsm => match name {
            None => "Caller is not authorized to perform action on resource.".to_owned(),
            Some(n) => format!(
                "Caller is not authorized to perform action on resource.\nIf role assignments, deny assignments or role definitions were changed recently, please observe propagation time.\nCaller: appid={appid};oid={oid};iss={iss}\nAction: '{}'\nResource: '/subscriptions/{}/resourcegroups/{}/providers/microsoft.keyvault/vaults/{}/{}/{}'\nAssignment: (not found)\nDenyAssignmentId: null\nDecisionReason: null \nVault: {vault_text}",
                rbac_action(r.op),
                v.subscription,
                v.resource_group.to_ascii_lowercase(),
                v.lower,
                kind.segment(),
                n.to_ascii_lowercase()
            ),
        },
        Outcome::Denied => {
            let groups = if user { format!("numgroups={};", 1 + oid.bytes().map(u32::from).sum::<u32>() % 6) } else { String::new() };
            format!(
                "The user, group or application 'appid={appid};oid={oid};{groups}iss={iss}' does not have {} permission on key vault '{vault_text}'. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125287",
                policy_permission(r.op)
            )
        }
        Outcome::Firewall => format!(
            "Client address is not authorized and caller is not a trusted service.\r\nClient address: {} from unknown subnet\r\nCaller: appid={appid};oid={oid};iss={iss}\r\nVault: {vault_text}",
            r.caller.ip
        ),
        Outcome::NotFound => {
            let noun = kind.noun();
            format!(
                "A {noun} with (name/id) {} was not found in this key vault. If you recently deleted this {noun} you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182",
                name.unwrap_or("")
            )
        }
        Outcome::Throttled => "Request was not processed because too many requests were received. Reason: VaultRequestTypeLimitReached".to_owned(),
        _ => return None,
    })
}

fn rbac_action(op: &str) -> &'static str {
    match op {
        "SecretGet" => "Microsoft.KeyVault/vaults/secrets/getSecret/action",
        "SecretList" | "SecretListVersions" => {
            "Microsoft.KeyVault/vaults/secrets/readMetadata/action"
        }
        "SecretSet" => "Microsoft.KeyVault/vaults/secrets/setSecret/action",
        "SecretDelete" => "Microsoft.KeyVault/vaults/secrets/delete",
        "SecretBackup" => "Microsoft.KeyVault/vaults/secrets/backup/action",
        "KeyUnwrap" => "Microsoft.KeyVault/vaults/keys/unwrap/action",
        "KeyWrap" => "Microsoft.KeyVault/vaults/keys/wrap/action",
        "KeyDelete" => "Microsoft.KeyVault/vaults/keys/delete",
        "KeyBackup" => "Microsoft.KeyVault/vaults/keys/backup/action",
        "CertificateDelete" => "Microsoft.KeyVault/vaults/certificates/delete",
        op if op.starts_with("Certificate") => "Microsoft.KeyVault/vaults/certificates/read",
        _ => "Microsoft.KeyVault/vaults/keys/read",
    }
}

fn policy_permission(op: &str) -> &'static str {
    match op {
        "SecretGet" => "secrets get",
        "SecretList" | "SecretListVersions" => "secrets list",
        "SecretSet" => "secrets set",
        "SecretDelete" => "secrets delete",
        "SecretBackup" => "secrets backup",
        "KeyGet" => "keys get",
        "KeyList" => "keys list",
        "KeyUnwrap" => "keys unwrapKey",
        "KeyWrap" => "keys wrapKey",
        "KeyDelete" => "keys delete",
        "KeyBackup" => "keys backup",
        "CertificateList" => "certificates list",
        "CertificateDelete" => "certificates delete",
        _ => "certificates get",
    }
}
