//! `access_policy_change` scenarios that edit access policies, and shared helpers.
//!
//! - `self_grant`: a developer with control-plane rights adds an access policy for
//!   themselves (`addedAccessPolicy.ObjectId` = their oid), reads secrets, removes it.
//! - `grant_to_new_principal`: a stolen admin session grants a never-seen service
//!   principal, which reads secrets minutes later from a hosting range.
//!
//! Policy edits are `VaultPatch` records through ARM (`/accessPolicies/add|remove`)
//! carrying the vault's whole configuration after the call plus the entry added or
//! removed. Configuration changes (firewall, RBAC, protections) are in
//! [`super::settings`].

use std::sync::Arc;

use rand::RngExt;

use super::super::admin::{arm_change, cli_arm, cli_arm_api};
use super::super::clock::{Zone, MINUTE};
use super::super::ids::{self, SimRng};
use super::super::plan::{Actor, Ctx, Plan};
use super::super::request::{self, Caller, Outcome, PolicyEntry, Request, Style, Verb};
use super::super::tenant::{DATA, DEV};
use super::super::users::{self, portal_arm_api};
use super::super::vaults::{Change, ObjKind};
use super::super::workloads::challenge;
use super::{app_caller, at, ip, tools, user, user_caller, CLI};

fn entry(oid: &str, tenant: &str) -> PolicyEntry {
    PolicyEntry {
        object_id: oid.to_owned(),
        tenant_id: tenant.to_owned(),
        keys: vec![],
        secrets: vec!["get", "list"],
        certificates: vec![],
    }
}

/// Reads `n` secrets of `vault` with a CLI-like client, after the challenge.
pub(super) fn read_secrets(
    rng: &mut SimRng,
    plan: &mut Plan,
    ctx: &Ctx<'_>,
    vault: usize,
    caller: &Arc<Caller>,
    t: i64,
    n: usize,
) -> i64 {
    let v = &ctx.tenant.vaults[vault];
    let mut t = t;
    plan.requests.push(challenge(
        rng,
        t,
        vault,
        caller,
        request::collection(ObjKind::Secret),
        "7.5",
    ));
    t += request::gap(rng, 80, 500);
    plan.requests.push(Request::new(
        rng,
        t,
        vault,
        "SecretList",
        Outcome::Ok,
        caller,
        request::collection(ObjKind::Secret),
        "7.5",
        Style::Sdk,
    ));
    for _ in 0..n {
        t += request::gap(rng, 800, 25_000);
        let Some(o) = ids::pick(rng, &v.secrets) else {
            break;
        };
        plan.requests.push(Request::new(
            rng,
            t,
            vault,
            "SecretGet",
            Outcome::Ok,
            caller,
            request::object(ObjKind::Secret, &o.name, Some(&o.version), Verb::Read),
            "7.5",
            Style::Sdk,
        ));
    }
    t
}

/// An admin's revert next morning, labelled as a legitimate access change.
#[allow(clippy::too_many_arguments)]
pub(super) fn revert(
    ctx: &Ctx<'_>,
    rng: &mut SimRng,
    plan: &mut Plan,
    day: u32,
    vault: usize,
    op: &'static str,
    change: Change,
    scenario: &'static str,
    text: String,
) {
    let admin = user(ctx.tenant, "Camille Martin");
    let t = at(rng, ctx, day, Zone::Europe(60), 8.5, 10.0);
    let office = ip(rng, "fr-office-paris");
    let portal = users::callers(&ctx.tenant.users[admin], office, office).arm;
    let mark = plan.mark();
    plan.requests.push(arm_change(
        rng,
        t,
        vault,
        op,
        &portal,
        portal_arm_api(),
        "",
        None,
        None,
    ));
    plan.changes.push((vault, t, change));
    plan.label(
        mark,
        "access_change",
        scenario,
        "access_policy_change",
        &ctx.tenant.users[admin].oid,
        &ctx.tenant.vaults[vault].lower,
        None,
        text,
    );
}

pub(super) fn self_grant(
    ctx: &Ctx<'_>,
    rng: &mut SimRng,
    day: u32,
    _instance: u32,
    plan: &mut Plan,
) {
    let tenant = ctx.tenant;
    let u = user(tenant, "Julien Bernard");
    let me = &tenant.users[u];
    let office = ip(rng, "fr-office-paris");
    let t = at(rng, ctx, day, Zone::Europe(60), 11.0, 16.0);
    let arm = cli_arm(tenant, u, office);
    let mark = plan.mark();
    let grant = entry(&me.oid, &tenant.tenant_id);
    plan.requests.push(arm_change(
        rng,
        t,
        DATA,
        "VaultPatch",
        &arm,
        cli_arm_api(),
        "/accessPolicies/add",
        Some(grant.clone()),
        None,
    ));
    plan.changes.push((DATA, t, Change::Nothing));
    let caller = user_caller(tenant, u, CLI, office, office, tools::CLI_LINUX);
    let reads = rng.random_range(6..11);
    let begin = t + rng.random_range(2..6) * MINUTE;
    let done = read_secrets(rng, plan, ctx, DATA, &caller, begin, reads);
    let removed_at = done + rng.random_range(15..40) * MINUTE;
    plan.requests.push(arm_change(
        rng,
        removed_at,
        DATA,
        "VaultPatch",
        &arm,
        cli_arm_api(),
        "/accessPolicies/remove",
        None,
        Some(grant),
    ));
    plan.changes.push((DATA, removed_at, Change::Nothing));
    let text = format!("developer {} adds an access policy for themselves (addedAccessPolicy.ObjectId = caller oid) on fab-prod-data-kv, reads {reads} secrets, then removes the policy", me.upn);
    plan.label(
        mark,
        "attack",
        "self_grant",
        "access_policy_change",
        &me.oid,
        &tenant.vaults[DATA].lower,
        None,
        text,
    );
}

pub(super) fn grant_to_new_principal(
    ctx: &Ctx<'_>,
    rng: &mut SimRng,
    day: u32,
    _instance: u32,
    plan: &mut Plan,
) {
    let tenant = ctx.tenant;
    let admin = user(tenant, "Camille Martin");
    let proxy = ip(rng, "fr-home-proxy");
    let t = at(rng, ctx, day, Zone::Europe(60), 2.0, 4.0);
    let grantee = tenant.new_app(rng, "1", None);
    let mark = plan.mark();
    plan.requests.push(arm_change(
        rng,
        t,
        DEV,
        "VaultPatch",
        &cli_arm(tenant, admin, proxy),
        cli_arm_api(),
        "/accessPolicies/add",
        Some(entry(&grantee.oid, &tenant.tenant_id)),
        None,
    ));
    plan.changes.push((DEV, t, Change::Nothing));
    let vps = ip(rng, "ro-hosting-bucharest");
    let start = t + rng.random_range(3..8) * MINUTE;
    let caller = app_caller(rng, &grantee, start, vps, tools::PYTHON_SDK, 4_500);
    let reads = rng.random_range(6..11);
    read_secrets(rng, plan, ctx, DEV, &caller, start, reads);
    let text = format!("admin account {} (stolen session, {proxy}) grants secrets get/list on fab-dev-kv to a never-seen service principal {}, which reads {reads} secrets from {vps} minutes later", tenant.users[admin].upn, grantee.oid);
    plan.label(
        mark,
        "attack",
        "grant_to_new_principal",
        "access_policy_change",
        &tenant.users[admin].oid,
        &tenant.vaults[DEV].lower,
        None,
        text,
    );
    plan.actors.push(Actor {
        role: "service principal granted by the attacker (grant_to_new_principal)".into(),
        oid: grantee.oid.clone(),
        appid: Some(grantee.appid.clone()),
        addresses: vec![vps.to_string()],
    });
}
