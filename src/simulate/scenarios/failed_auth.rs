//! `failed_auth` scenarios: refused tokens, authorisation denials, firewall denials.
//!
//! - `token_spray`: one hosting address tries many vaults with tokens of several
//!   identities: another tenant's (`AKV10032` invalid issuer), stolen ARM tokens
//!   (`AKV10022` invalid audience), a forged one (`AKV10046`), and a stolen
//!   low-privilege data-plane token that is denied. Labelled on the address.
//! - `rbac_enumeration`: a phished developer account enumerates vaults it has no
//!   role on, at night, from a residential proxy in the victim's own country; RBAC
//!   and access-policy 403s across objects and vaults.
//! - `firewall_denied`: a token of a principal normally allowed on the firewalled
//!   payments vault (its managed identity, or a payments engineer) replayed from a
//!   hosting address outside the IP rules: `isAddressAuthorized: false`.

use rand::RngExt;

use super::super::clock::{Zone, DAY, HOUR};
use super::super::ids::{self, SimRng};
use super::super::plan::{Ctx, Plan};
use super::super::request::{
    self, Caller, Identity, Outcome, Request, Style, Target, UserToken, Verb,
};
use super::super::tenant::{APP, CERTS, DATA, DEV, PAY};
use super::super::vaults::ObjKind;
use super::super::workloads::challenge;
use super::{app_caller, at, ip, tools, user, user_caller, workload, CLI};
use std::sync::Arc;

const GUESSES: &[&str] = &[
    "admin-password",
    "db-password",
    "sql-connection-string",
    "storage-account-key",
    "api-key",
    "jwt-secret",
    "client-secret",
    "ssh-private-key",
    "aws-access-key",
    "github-token",
];

pub(super) fn token_spray(
    ctx: &Ctx<'_>,
    rng: &mut SimRng,
    day: u32,
    instance: u32,
    plan: &mut Plan,
) {
    let tenant = ctx.tenant;
    let pool = if instance == 0 {
        "nl-hosting-amsterdam"
    } else {
        "sg-hosting-singapore"
    };
    let addr = ip(rng, pool);
    let mut t = ctx.start + i64::from(day) * DAY + rng.random_range(0..DAY - HOUR);
    let foreign_tenant = ids::guid(rng);
    let foreign_domain: String = (0..8)
        .map(|_| char::from(b'a' + rng.random_range(0..26u8)))
        .collect();
    let mk = |identity, client: &str| {
        Arc::new(Caller {
            identity,
            ip: addr,
            client_info: client.to_owned(),
            subnet: None,
            tls: "TLS1_2",
        })
    };
    let mut tokens: Vec<(Arc<Caller>, Option<String>)> = Vec::new();
    for n in 0..3 {
        let token = UserToken {
            oid: ids::guid(rng),
            upn: format!("svc-sync{n}@{foreign_domain}.onmicrosoft.com"),
            appid: CLI,
            ipaddr: addr.to_string(),
            amr: "pwd",
        };
        let text = format!("AKV10032: Invalid issuer. Expected one of https://sts.windows.net/{}/, found https://sts.windows.net/{foreign_tenant}/.", tenant.tenant_id);
        tokens.push((mk(Identity::User(token), tools::REQUESTS), Some(text)));
    }
    for name in ["Thomas Petit", "Emily Jones"] {
        let u = &tenant.users[user(tenant, name)];
        let token = UserToken {
            oid: u.oid.clone(),
            upn: u.upn.clone(),
            appid: CLI,
            ipaddr: u.home_ip.to_string(),
            amr: "pwd mfa",
        };
        tokens.push((mk(Identity::User(token), tools::REQUESTS), Some("AKV10022: Invalid audience. Expected https://vault.azure.net, found: https://management.azure.com/.".to_owned())));
    }
    let forged = UserToken {
        oid: ids::guid(rng),
        upn: format!("admin@{}", tenant.domain),
        appid: CLI,
        ipaddr: addr.to_string(),
        amr: "pwd",
    };
    tokens.push((
        mk(Identity::User(forged), "curl/8.5.0"),
        Some("AKV10046: Unable to resolve the key used for signature validation.".to_owned()),
    ));
    let low = user(tenant, "Sarah Williams");
    let stolen = user_caller(
        tenant,
        low,
        CLI,
        addr,
        tenant.users[low].home_ip,
        tools::REQUESTS,
    );
    tokens.push((stolen, None));
    let vaults: Vec<usize> = (0..tenant.vaults.len()).collect();
    let mark = plan.mark();
    let count = rng.random_range(50..90);
    for _ in 0..count {
        let v = *ids::pick(rng, &vaults).unwrap_or(&APP);
        let vault = &tenant.vaults[v];
        let (caller, text) = ids::pick(rng, &tokens)
            .cloned()
            .unwrap_or_else(|| tokens[0].clone());
        let key_only = vault.secrets.is_empty();
        let kind = if key_only {
            ObjKind::Key
        } else {
            ObjKind::Secret
        };
        let name = if key_only || rng.random_bool(0.3) {
            ids::pick(rng, vault.objects(kind))
                .map(|o| o.name.clone())
                .unwrap_or_default()
        } else {
            (*ids::pick(rng, GUESSES).unwrap_or(&"api-key")).to_owned()
        };
        let target = request::object(kind, &name, None, Verb::Read);
        let get = if key_only { "KeyGet" } else { "SecretGet" };
        let req = if v == PAY && tenant.vaults[PAY].initial.firewalled() {
            Request::new(
                rng,
                t,
                v,
                get,
                Outcome::Firewall,
                &caller,
                target,
                "7.4",
                Style::Sdk,
            )
        } else if let Some(text) = text {
            Request::new(
                rng,
                t,
                v,
                "Authentication",
                Outcome::BadToken,
                &caller,
                target,
                "7.4",
                Style::Sdk,
            )
            .with_description(text)
        } else {
            Request::new(
                rng,
                t,
                v,
                get,
                Outcome::Denied,
                &caller,
                target,
                "7.4",
                Style::Sdk,
            )
        };
        plan.requests.push(req);
        t += request::gap(rng, 200, 30_000);
    }
    let text = format!("{addr} ({pool}) sprays {count} requests at every vault with foreign-tenant, wrong-audience, forged and low-privilege tokens: 401s with identities and 403s");
    plan.label(
        mark,
        "attack",
        "token_spray",
        "failed_auth",
        &format!("ip:{addr}"),
        "*",
        None,
        text,
    );
}

pub(super) fn rbac_enumeration(
    ctx: &Ctx<'_>,
    rng: &mut SimRng,
    day: u32,
    instance: u32,
    plan: &mut Plan,
) {
    let tenant = ctx.tenant;
    let (victim, pool) = if instance == 0 {
        ("Sophie Dubois", "fr-home-proxy")
    } else {
        ("Hannah Schmidt", "de-hosting-frankfurt")
    };
    let u = user(tenant, victim);
    let addr = ip(rng, pool);
    let zone = tenant.users[u].zone;
    let mut t = at(rng, ctx, day, zone, 21.0, 23.5);
    let caller = user_caller(tenant, u, CLI, addr, addr, tools::PYTHON_SDK);
    let mine = tenant.users[u].vaults.clone();
    let mark = plan.mark();
    let mut denied = 0;
    for v in [APP, CERTS, DATA, DEV, PAY].into_iter().chain(
        tenant
            .vaults
            .get(super::super::tenant::HSM)
            .map(|_| super::super::tenant::HSM),
    ) {
        if v == PAY {
            continue;
        }
        let vault = &tenant.vaults[v];
        let kind = if !vault.certificates.is_empty() {
            ObjKind::Certificate
        } else if vault.secrets.is_empty() {
            ObjKind::Key
        } else {
            ObjKind::Secret
        };
        let has = mine.contains(&v);
        let list_op = match kind {
            ObjKind::Secret => "SecretList",
            ObjKind::Key => "KeyList",
            ObjKind::Certificate => "CertificateList",
        };
        plan.requests.push(challenge(
            rng,
            t,
            v,
            &caller,
            request::collection(kind),
            "7.5",
        ));
        t += request::gap(rng, 80, 400);
        let outcome = if has { Outcome::Ok } else { Outcome::Denied };
        denied += u32::from(!has);
        plan.requests.push(Request::new(
            rng,
            t,
            v,
            list_op,
            outcome,
            &caller,
            request::collection(kind),
            "7.5",
            Style::Sdk,
        ));
        let objects = vault.objects(kind);
        for _ in 0..rng.random_range(3..8) {
            t += request::gap(rng, 400, 9_000);
            let Some(o) = ids::pick(rng, objects) else {
                break;
            };
            let (op, verb) = match (kind, has) {
                (ObjKind::Secret, true) => (
                    *ids::pick(rng, &["SecretSet", "SecretDelete", "SecretBackup"])
                        .unwrap_or(&"SecretDelete"),
                    Verb::Delete,
                ),
                (ObjKind::Secret, false) => ("SecretGet", Verb::Read),
                (ObjKind::Key, _) => (
                    *ids::pick(rng, &["KeyGet", "KeyBackup", "KeyUnwrap"]).unwrap_or(&"KeyGet"),
                    Verb::Read,
                ),
                (ObjKind::Certificate, _) => ("CertificateGet", Verb::Read),
            };
            let verb = match op {
                "SecretSet" => Verb::Write,
                "SecretBackup" | "KeyBackup" => Verb::Backup,
                "KeyUnwrap" => Verb::Unwrap,
                _ => verb,
            };
            let target = Target::Object {
                kind,
                name: o.name.clone(),
                version: None,
                verb,
            };
            plan.requests.push(Request::new(
                rng,
                t,
                v,
                op,
                Outcome::Denied,
                &caller,
                target,
                "7.5",
                Style::Sdk,
            ));
            denied += 1;
        }
        t += request::gap(rng, 5_000, 60_000);
    }
    let text = format!("phished developer {} enumerates vaults at night from {addr} ({pool}): {denied} RBAC and access-policy denials across objects and vaults", tenant.users[u].upn);
    plan.label(
        mark,
        "attack",
        "rbac_enumeration",
        "failed_auth",
        &tenant.users[u].oid,
        "*",
        None,
        text,
    );
}

pub(super) fn firewall_denied(
    ctx: &Ctx<'_>,
    rng: &mut SimRng,
    day: u32,
    instance: u32,
    plan: &mut Plan,
) {
    let tenant = ctx.tenant;
    let addr = ip(rng, "fr-hosting-roubaix");
    let mut t = at(rng, ctx, day, Zone::Europe(60), 0.0, 23.0);
    let (caller, who, identity) = if instance == 0 {
        let Some(w) = workload(tenant, "id-payments-api") else {
            return;
        };
        (
            app_caller(rng, &w.principal, t, addr, tools::REQUESTS, 86_399),
            format!("the payments API's managed identity ({})", w.name),
            w.principal.oid.clone(),
        )
    } else {
        let u = user(tenant, "Lea Moreau");
        let office = ip(rng, "fr-office-paris");
        (
            user_caller(tenant, u, CLI, addr, office, tools::REQUESTS),
            format!("payments engineer {}", tenant.users[u].upn),
            tenant.users[u].oid.clone(),
        )
    };
    let vault = &tenant.vaults[PAY];
    let mark = plan.mark();
    plan.requests.push(Request::new(
        rng,
        t,
        PAY,
        "SecretList",
        Outcome::Firewall,
        &caller,
        request::collection(ObjKind::Secret),
        "7.4",
        Style::Sdk,
    ));
    let attempts = rng.random_range(8..14);
    for _ in 0..attempts {
        t += request::gap(rng, 1_000, 45_000);
        let Some(o) = ids::pick(rng, &vault.secrets) else {
            break;
        };
        plan.requests.push(Request::new(
            rng,
            t,
            PAY,
            "SecretGet",
            Outcome::Firewall,
            &caller,
            request::object(ObjKind::Secret, &o.name, None, Verb::Read),
            "7.4",
            Style::Sdk,
        ));
    }
    let text = format!("a stolen token of {who}, normally allowed through the payments firewall, is used from {addr} (hosting, outside the IP rules): {} firewall denials", attempts + 1);
    plan.label(
        mark,
        "attack",
        "firewall_denied",
        "failed_auth",
        &identity,
        &vault.lower,
        None,
        text,
    );
}
