//! Writes a [`Request`] as the resource-log record Azure would emit.
//!
//! Field order, claim spellings, URL shapes, `id` rules (versioned on reads, absent
//! on List and on unauthenticated calls), the error texts of `resultDescription`
//! and the access flags all follow the real records in
//! `tests/fixtures/real-samples/` and the field guide. The vault's configuration at
//! the request's time decides between `isRbacAuthorized` and `isAccessPolicyMatch`
//! and whether the firewall reported on the caller's address.

use super::clock::{self, Tick};
use super::json::Obj;
use super::request::{Extra, Identity, Outcome, PolicyEntry, Request, Style, Target, Verb};
use super::vaults::{Config, ConfigHistory, Kind, ObjKind, Vault};

/// Renders requests of one tenant.
pub(crate) struct Renderer<'w> {
    vaults: &'w [Vault],
    history: &'w ConfigHistory,
    tenant_id: &'w str,
    resource_ids: Vec<String>,
    bases: Vec<String>,
    arm_paths: Vec<String>,
}

impl<'w> Renderer<'w> {
    /// A renderer for these vaults and their configuration history.
    pub(crate) fn new(vaults: &'w [Vault], history: &'w ConfigHistory, tenant_id: &'w str) -> Self {
        Renderer {
            vaults,
            history,
            tenant_id,
            resource_ids: vaults.iter().map(Vault::resource_id).collect(),
            bases: vaults.iter().map(Vault::base_url).collect(),
            arm_paths: vaults.iter().map(Vault::arm_path).collect(),
        }
    }

    /// The `resourceId` of a vault.
    pub(crate) fn resource_id(&self, vault: usize) -> &str {
        self.resource_ids.get(vault).map_or("", String::as_str)
    }

    /// Appends the record of `r` (one line, no newline) to `out`.
    pub(crate) fn render(&self, r: &Request, out: &mut String) {
        let Some(v) = self.vaults.get(r.vault) else {
            return;
        };
        let config = self.history.at(r.vault, r.time).unwrap_or(&v.initial);
        let base = &self.bases[r.vault];
        let mut o = Obj::open(out);
        o.str("time", &clock::time_text(r.time))
            .str("category", "AuditEvent")
            .str("operationName", r.op)
            .str("resultType", "Success");
        let description = r
            .description
            .clone()
            .or_else(|| super::errors::description(r, v, config, self.tenant_id));
        o.opt_str("resultDescription", description.as_deref())
            .str("correlationId", &r.correlation)
            .str("callerIpAddress", &r.caller.ip.to_string());
        o.obj("identity", |i| claims(i, &r.caller.identity, v.kind));
        o.obj("properties", |p| {
            if let Target::Arm {
                host,
                suffix,
                query,
            } = &r.target
            {
                p.str("id", &format!("{base}/"))
                    .str("clientInfo", &r.caller.client_info)
                    .str(
                        "requestUri",
                        &format!(
                            "https://{host}{}{suffix}?api-version={}{query}",
                            self.arm_paths[r.vault], r.api
                        ),
                    )
                    .int("httpStatusCode", i64::from(r.outcome.status()));
                p.obj("properties", |c| write_config(c, config));
                if let Extra::Arm { added, removed } = &r.extra {
                    if let Some(a) = added {
                        p.obj("addedAccessPolicy", |e| write_policy(e, a));
                    }
                    if let Some(x) = removed {
                        p.obj("removedAccessPolicy", |e| write_policy(e, x));
                    }
                }
                return;
            }
            let unauthenticated = matches!(r.outcome, Outcome::Challenge | Outcome::BadToken);
            let id = if unauthenticated {
                None
            } else {
                object_id(r, base)
            };
            p.opt_str("id", id.as_deref());
            let client = Some(r.caller.client_info.as_str()).filter(|c| !c.is_empty());
            p.opt_str("clientInfo", client)
                .opt_str("subnetId", r.caller.subnet.as_deref());
            p.int("httpStatusCode", i64::from(r.outcome.status()));
            p.opt_str("requestUri", request_uri(r, base).as_deref());
            if !unauthenticated && r.outcome != Outcome::Throttled {
                let rbac = config.rbac || v.kind == Kind::ManagedHsm;
                if r.outcome == Outcome::Firewall {
                    p.bool("isAddressAuthorized", false);
                } else {
                    p.bool(
                        if rbac {
                            "isRbacAuthorized"
                        } else {
                            "isAccessPolicyMatch"
                        },
                        r.outcome != Outcome::Denied,
                    );
                    if config.firewalled() {
                        p.bool("isAddressAuthorized", true);
                        p.str(
                            "addressAuthorizationType",
                            if r.caller.subnet.is_some() {
                                "subnet"
                            } else {
                                "Public IP"
                            },
                        );
                    }
                }
            }
            match &r.extra {
                Extra::KeyProperties if r.outcome.is_success() => {
                    let (kty, platform) = if v.kind == Kind::ManagedHsm {
                        ("RSA-HSM", "2")
                    } else {
                        ("RSA", "0")
                    };
                    p.obj("keyProperties", |k| {
                        k.str("type", kty).int("size", 2048).obj("attributes", |a| {
                            a.bool("enabled", true).str("hsmPlatform", platform);
                        });
                    });
                }
                Extra::SecretExpiry(exp) => {
                    p.obj("secretProperties", |s| {
                        s.obj("attributes", |a| {
                            a.bool("enabled", true).int("exp", *exp);
                        });
                    });
                }
                _ => {}
            }
            if r.op != "SecretNearExpiryEventGridNotification"
                && r.op != "CertificateNearExpiryEventGridNotification"
            {
                p.str("tlsVersion", r.caller.tls);
            }
        });
        o.str("resourceId", &self.resource_ids[r.vault])
            .str("operationVersion", r.api)
            .str("resultSignature", r.outcome.signature())
            .str("durationMs", &r.duration_ms.to_string());
        o.end();
    }
}

fn claims(i: &mut Obj<'_>, identity: &Identity, kind: Kind) {
    const OBJECT_ID: &str = "http://schemas.microsoft.com/identity/claims/objectidentifier";
    const UPN: &str = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn";
    const NAME: &str = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name";
    match identity {
        Identity::None => {}
        Identity::User(u) => {
            i.obj("claim", |c| {
                c.str("oid", &u.oid)
                    .str("appid", u.appid)
                    .str("scp", "user_impersonation")
                    .str("appidacr", "0");
                c.raw("xms_az_nwperimid", "[]")
                    .str("upn", &u.upn)
                    .str("ipaddr", &u.ipaddr)
                    .str("unique_name", &u.upn)
                    .str("amr", u.amr);
            });
        }
        Identity::App(a) => {
            let aud = if kind == Kind::ManagedHsm {
                "https://managedhsm.azure.net"
            } else {
                "https://vault.azure.net"
            };
            i.obj("claim", |c| {
                c.str("oid", &a.oid)
                    .str("appid", &a.appid)
                    .str("appidacr", a.appidacr);
                c.str("iss", &format!("https://sts.windows.net/{}/", a.tenant))
                    .raw("xms_az_nwperimid", "[]")
                    .str("idtyp", "app");
                c.opt_str("xms_mirid", a.mirid.as_deref())
                    .str("uti", &a.uti);
                c.str("iat", &a.issued.to_string())
                    .str("exp", &a.expires.to_string())
                    .str("aud", aud)
                    .str("nbf", &a.issued.to_string());
            });
        }
        Identity::ArmUser { oid, upn, appid } => {
            i.obj("claim", |c| {
                c.str(OBJECT_ID, oid)
                    .str(UPN, upn)
                    .str(NAME, upn)
                    .str("appid", appid);
            });
        }
        Identity::ArmApp { oid, appid } => {
            i.obj("claim", |c| {
                c.str(OBJECT_ID, oid).str("appid", appid);
            });
        }
    }
}

fn object_path(base: &str, kind: ObjKind, name: &str, verb: Verb) -> String {
    let deleted = if verb == Verb::Purge { "deleted" } else { "" };
    format!("{base}/{deleted}{}/{name}", kind.segment())
}

/// `properties.id`: versioned on successful reads, writes and crypto calls.
fn object_id(r: &Request, base: &str) -> Option<String> {
    let Target::Object {
        kind,
        name,
        version,
        verb,
    } = &r.target
    else {
        return None;
    };
    let path = object_path(base, *kind, name, *verb);
    let versioned = r.outcome.is_success()
        && matches!(
            verb,
            Verb::Read | Verb::Write | Verb::Wrap | Verb::Unwrap | Verb::Notify
        );
    Some(match (versioned, version) {
        (true, Some(ver)) => format!("{path}/{ver}"),
        _ => path,
    })
}

fn request_uri(r: &Request, base: &str) -> Option<String> {
    let api = r.api;
    let bust = || format!("&_={}", clock::epoch_millis(r.time - 137 * clock::SECOND));
    match &r.target {
        Target::Object {
            kind,
            name,
            version,
            verb,
        } => {
            let path = object_path(base, *kind, name, *verb);
            Some(match verb {
                Verb::Read if r.style == Style::Portal => match version {
                    Some(ver) if *kind == ObjKind::Secret => {
                        format!("{path}/{ver}?api-version={api}{}", bust())
                    }
                    _ => format!("{path}?api-version={api}{}", bust()),
                },
                Verb::Read => format!("{path}/?api-version={api}"),
                Verb::Write | Verb::Delete | Verb::Purge => format!("{path}?api-version={api}"),
                Verb::Backup => format!("{path}/backup?api-version={api}"),
                Verb::Wrap | Verb::Unwrap => {
                    let action = if *verb == Verb::Wrap {
                        "wrapkey"
                    } else {
                        "unwrapkey"
                    };
                    format!(
                        "{path}/{}/{action}?api-version={api}",
                        version.as_deref().unwrap_or("")
                    )
                }
                Verb::Notify => return None,
            })
        }
        Target::Collection { kind, page } => {
            let seg = kind.segment();
            Some(match (page, r.style) {
                (Some(token), _) => {
                    format!("{base}/{seg}?api-version={api}&$skiptoken={token}&maxresults=25")
                }
                (None, Style::Portal) => {
                    format!("{base}/{seg}?api-version={api}&maxresults=25{}", bust())
                }
                (None, Style::Sdk) => format!("{base}/{seg}?api-version={api}"),
            })
        }
        Target::Arm { .. } => None,
    }
}

/// Writes `properties.properties`: the configuration after the call.
pub(crate) fn write_config(c: &mut Obj<'_>, config: &Config) {
    let family = if config.sku.starts_with("Standard_B") {
        "B"
    } else {
        "A"
    };
    c.obj("sku", |s| {
        s.str("Family", family)
            .str("Name", config.sku)
            .null("Capacity");
    });
    c.str("tenantId", &config.tenant_id);
    match &config.firewall {
        None => {
            c.null("networkAcls");
        }
        Some(f) => {
            c.obj("networkAcls", |n| {
                n.str("bypass", f.bypass)
                    .str("defaultAction", if f.deny { "Deny" } else { "Allow" });
                if !f.ip_rules.is_empty() {
                    n.obj_array("ipRules", &f.ip_rules, |e, rule| {
                        e.str("value", rule);
                    });
                }
                if !f.vnet_rules.is_empty() {
                    n.obj_array("virtualNetworkRules", &f.vnet_rules, |e, id| {
                        e.str("id", id)
                            .bool("ignoreMissingVnetServiceEndpoint", false);
                    });
                }
            });
        }
    }
    c.bool("enabledForDeployment", config.for_deployment)
        .bool("enabledForDiskEncryption", config.for_disk_encryption)
        .bool(
            "enabledForTemplateDeployment",
            config.for_template_deployment,
        )
        .bool("enableSoftDelete", true)
        .int(
            "softDeleteRetentionInDays",
            i64::from(config.soft_delete_days),
        )
        .bool("enableRbacAuthorization", config.rbac);
    if config.purge_protection {
        c.bool("enablePurgeProtection", true);
    } else {
        c.null("enablePurgeProtection");
    }
}

fn write_policy(e: &mut Obj<'_>, p: &PolicyEntry) {
    e.str("ObjectId", &p.object_id)
        .str("TenantId", &p.tenant_id);
    e.obj("Permissions", |perm| {
        perm.str_array("keys", &p.keys)
            .str_array("secrets", &p.secrets)
            .str_array("certificates", &p.certificates)
            .str_array("storage", &[]);
    });
}

/// A tick formatted as Azure does (for labels and the report).
pub(crate) fn time(t: Tick) -> String {
    clock::time_text(t)
}
