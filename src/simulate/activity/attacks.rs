//! Labelled attacks that go through the control plane, by attack class.
//!
//! Each leaves its Activity Log records here and, when it goes on to read data, its
//! AuditEvent requests in the plan (rendered with the rest of the vaults' traffic).
//! Labels name the attack class as `scenario` and the detector whose rule reports
//! it: `control_plane` (`grant_then_read`, `role_grant`, `monitoring_disabled`) or
//! `destructive_operations` (`vault_delete`, from the Activity Log alone).
//!
//! - `rbac_self_grant_dump`: an operator's stolen session grants itself Key Vault
//!   Secrets Officer on the RBAC app vault, then reads every secret minutes later.
//! - `guest_broad_grant`: an admin's stolen session gives a guest (`#EXT#`) Key Vault
//!   Administrator on the whole production subscription at night; the guest reads
//!   secrets within the hour.
//! - `diagnostic_setting_deleted_dump`: a developer's stolen password (no MFA)
//!   deletes the data vault's diagnostic setting to the SIEM workspace, then dumps
//!   the vault (still visible through the Event Hubs setting kvwatch reads).
//! - `vault_delete_purge`: an admin's stolen session deletes the dev vault, then
//!   purges it so it cannot be recovered (on the period's last evening).

use std::net::IpAddr;
use std::sync::Arc;

use rand::RngExt;

use super::super::clock::{Tick, Zone, MINUTE, SECOND};
use super::super::ids::{self, SimRng};
use super::super::plan::{Actor as PlanActor, Ctx, Plan};
use super::super::request::{self, Caller, Identity, Outcome, Request, Style, UserToken, Verb};
use super::super::scenarios::{ip, tools, user};
use super::super::tenant::{appid, APP, DATA, DEV};
use super::super::vaults::{ObjKind, Vault};
use super::record::{
    role_assignment_request, role_assignment_response, Actor, ArmCall, Ending, Evidence,
};
use super::{
    group_id, hierarchy, role, stream, subscription_of, user_actor, vault_id, ActivityLog,
};

const ATTACK: &str = "attack";
/// The detector of grants and monitoring changes.
const CONTROL_PLANE: &str = "control_plane";
/// The detector of deletions.
const DESTRUCTIVE: &str = "destructive_operations";

/// Plans the four attacks on their days (after the detectors' warm-up).
pub(super) fn plan(ctx: &Ctx<'_>, plan: &mut Plan, log: &mut ActivityLog) {
    let day = |share: f64| ((f64::from(ctx.days) * share) as u32).clamp(1, ctx.days.max(2) - 1);
    if ctx.days < 2 {
        return;
    }
    self_grant_dump(ctx, plan, log, day(0.45));
    guest_broad_grant(ctx, plan, log, day(0.6));
    diagnostic_setting_deleted_dump(ctx, plan, log, day(0.75));
    vault_delete_purge(ctx, plan, log, ctx.days - 1);
}

/// A data-plane caller for `oid`/`upn` from `ip` with the attacker's Python SDK.
fn data_caller(oid: &str, upn: &str, ip: IpAddr) -> Arc<Caller> {
    Arc::new(Caller {
        identity: Identity::User(UserToken {
            oid: oid.to_owned(),
            upn: upn.to_owned(),
            appid: appid::CLI,
            ipaddr: ip.to_string(),
            amr: "pwd",
        }),
        ip,
        client_info: tools::PYTHON_SDK.to_owned(),
        subnet: None,
        tls: "TLS1_3",
    })
}

/// Lists the vault's secrets, then reads `count` of them (all when `None`).
fn dump(
    rng: &mut SimRng,
    plan: &mut Plan,
    vault: usize,
    v: &Vault,
    caller: &Arc<Caller>,
    mut t: Tick,
    count: Option<usize>,
) -> Tick {
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
    for o in v.secrets.iter().take(count.unwrap_or(usize::MAX)) {
        t += request::gap(rng, 150, 2_500);
        let target = request::object(ObjKind::Secret, &o.name, Some(&o.version), Verb::Read);
        plan.requests.push(Request::new(
            rng,
            t,
            vault,
            "SecretGet",
            Outcome::Ok,
            caller,
            target,
            "7.5",
            Style::Sdk,
        ));
    }
    t
}

/// A role-assignment call granting `role_id` at `scope` to `grantee`.
#[allow(clippy::too_many_arguments)]
fn grant<'a>(
    ctx: &'a Ctx<'_>,
    rng: &mut SimRng,
    at: Tick,
    actor: &'a Actor,
    ip: IpAddr,
    grantee: (&str, &str),
    role_id: &str,
    scope: &str,
    sub: usize,
    evidence: Evidence,
) -> ArmCall<'a> {
    let t = ctx.tenant;
    let id = ids::guid(rng);
    let resource = format!("{scope}/providers/Microsoft.Authorization/roleAssignments/{id}");
    let request = role_assignment_request(
        &id,
        grantee.0,
        grantee.1,
        &t.subscriptions[sub],
        role_id,
        scope,
    );
    ArmCall {
        time: at,
        actor,
        ip,
        operation: "Microsoft.Authorization/roleAssignments/write",
        response_body: Some(role_assignment_response(&request, &resource, actor.key())),
        request_body: Some(request),
        resource_id: resource,
        hierarchy: hierarchy(t, sub),
        tenant: &t.tenant_id,
        evidence: Some(evidence),
        ending: Ending::Created,
    }
}

fn self_grant_dump(ctx: &Ctx<'_>, plan: &mut Plan, log: &mut ActivityLog, day: u32) {
    let t = ctx.tenant;
    let Some(v) = t.vaults.get(APP) else { return };
    let mut rng = stream(ctx.seed, "attack-self-grant", 0);
    let u = user(t, "Thomas Petit");
    let victim = &t.users[u];
    let attacker_ip = ip(&mut rng, "nl-hosting-amsterdam");
    let actor = user_actor(t, u, appid::CLI);
    let sub = subscription_of(t, v);
    let at = Zone::Europe(60).at(ctx.date(day), rng.random_range(14.0..16.5));
    let evidence = Evidence {
        role: "Role Based Access Control Administrator",
        role_definition: role::RBAC_ADMINISTRATOR,
        scope: group_id(v),
        assignment: ids::guid(&mut rng),
    };
    let call = grant(
        ctx,
        &mut rng,
        at,
        &actor,
        attacker_ip,
        (&victim.oid, "User"),
        role::KV_SECRETS_OFFICER,
        &vault_id(v),
        sub,
        evidence,
    );
    log.push(&mut rng, &call, sub);
    let caller = data_caller(&victim.oid, &victim.upn, attacker_ip);
    let start = at + rng.random_range(4..12) * MINUTE;
    let end = dump(&mut rng, plan, APP, v, &caller, start, None);
    let mark = plan.mark();
    plan.label(
        mark,
        ATTACK,
        "rbac_self_grant_dump",
        CONTROL_PLANE,
        &victim.oid,
        &v.lower,
        Some((at, end)),
        format!(
            "{}'s stolen session ({attacker_ip}) grants itself Key Vault Secrets Officer on the RBAC vault {} (Activity Log), then reads all {} of its secrets (AuditEvent)",
            victim.upn,
            v.lower,
            v.secrets.len()
        ),
    );
}

fn guest_broad_grant(ctx: &Ctx<'_>, plan: &mut Plan, log: &mut ActivityLog, day: u32) {
    let t = ctx.tenant;
    let Some(v) = t.vaults.get(APP) else { return };
    let mut rng = stream(ctx.seed, "attack-guest-grant", 0);
    let u = user(t, "Michael Johnson");
    let admin = &t.users[u];
    let attacker_ip = ip(&mut rng, "vn-hosting-hanoi");
    let actor = user_actor(t, u, appid::PORTAL_ARM);
    let sub = subscription_of(t, v);
    let guest_oid = ids::guid(&mut rng);
    let guest_upn = format!(
        "ext.consultant_outlook.com#EXT#@{}",
        "fabrikam.onmicrosoft.com"
    );
    let at = Zone::UsPacific.at(ctx.date(day), rng.random_range(2.0..4.0));
    let scope = format!("/subscriptions/{}", t.subscriptions[sub]);
    let evidence = Evidence {
        role: "Owner",
        role_definition: role::OWNER,
        scope: scope.clone(),
        assignment: ids::guid(&mut rng),
    };
    let call = grant(
        ctx,
        &mut rng,
        at,
        &actor,
        attacker_ip,
        (&guest_oid, "User"),
        role::KV_ADMINISTRATOR,
        &scope,
        sub,
        evidence,
    );
    log.push(&mut rng, &call, sub);
    let guest_ip = ip(&mut rng, "ro-hosting-bucharest");
    let caller = data_caller(&guest_oid, &guest_upn, guest_ip);
    let start = at + rng.random_range(25..55) * MINUTE;
    let end = dump(&mut rng, plan, APP, v, &caller, start, Some(6));
    plan.actors.push(PlanActor {
        role: "guest (#EXT#) given Key Vault Administrator on the production subscription".into(),
        oid: guest_oid.clone(),
        appid: None,
        addresses: vec![guest_ip.to_string()],
    });
    let mark = plan.mark();
    plan.label(
        mark,
        ATTACK,
        "guest_broad_grant",
        CONTROL_PLANE,
        &admin.oid,
        "*",
        Some((at, end)),
        format!(
            "{}'s stolen session ({attacker_ip}) gives the guest {guest_upn} ({guest_oid}) Key Vault Administrator on the whole production subscription at night; the guest reads 6 secrets of {} from {guest_ip}",
            admin.upn, v.lower
        ),
    );
}

fn diagnostic_setting_deleted_dump(
    ctx: &Ctx<'_>,
    plan: &mut Plan,
    log: &mut ActivityLog,
    day: u32,
) {
    let t = ctx.tenant;
    let Some(v) = t.vaults.get(DATA) else { return };
    let mut rng = stream(ctx.seed, "attack-diagnostic-delete", 0);
    let u = user(t, "Nicolas Laurent");
    let victim = &t.users[u];
    let attacker_ip = ip(&mut rng, "fr-hosting-roubaix");
    let actor = user_actor(t, u, appid::CLI);
    let sub = subscription_of(t, v);
    let at = Zone::Europe(60).at(ctx.date(day), rng.random_range(19.0..21.0));
    let call = ArmCall {
        time: at,
        actor: &actor,
        ip: attacker_ip,
        operation: "Microsoft.Insights/diagnosticSettings/delete",
        resource_id: format!(
            "{}/providers/Microsoft.Insights/diagnosticSettings/to-sentinel",
            vault_id(v)
        ),
        hierarchy: hierarchy(t, sub),
        tenant: &t.tenant_id,
        evidence: Some(Evidence {
            role: "Contributor",
            role_definition: role::CONTRIBUTOR,
            scope: group_id(v),
            assignment: ids::guid(&mut rng),
        }),
        request_body: None,
        response_body: None,
        ending: Ending::Ok,
    };
    log.push(&mut rng, &call, sub);
    let caller = data_caller(&victim.oid, &victim.upn, attacker_ip);
    let start = at + rng.random_range(5..15) * MINUTE;
    let end = dump(&mut rng, plan, DATA, v, &caller, start, None);
    let mark = plan.mark();
    plan.label(
        mark,
        ATTACK,
        "diagnostic_setting_deleted_dump",
        CONTROL_PLANE,
        &victim.oid,
        &v.lower,
        Some((at, end)),
        format!(
            "{}'s stolen password ({attacker_ip}) deletes the diagnostic setting 'to-sentinel' of {} (its AuditEvent stops reaching the SIEM workspace), then reads its {} secrets",
            victim.upn,
            v.lower,
            v.secrets.len()
        ),
    );
}

fn vault_delete_purge(ctx: &Ctx<'_>, plan: &mut Plan, log: &mut ActivityLog, day: u32) {
    let t = ctx.tenant;
    let Some(v) = t.vaults.get(DEV) else { return };
    let mut rng = stream(ctx.seed, "attack-delete-purge", 0);
    let u = user(t, "Camille Martin");
    let admin = &t.users[u];
    let attacker_ip = ip(&mut rng, "sg-hosting-singapore");
    let actor = user_actor(t, u, appid::PORTAL_ARM);
    let sub = subscription_of(t, v);
    let at = ctx.start
        + i64::from(day) * super::super::clock::DAY
        + rng.random_range(21 * 60..22 * 60) * MINUTE
        + rng.random_range(0..60 * SECOND);
    let evidence = Evidence {
        role: "Owner",
        role_definition: role::OWNER,
        scope: format!("/subscriptions/{}", t.subscriptions[sub]),
        assignment: ids::guid(&mut rng),
    };
    let delete = ArmCall {
        time: at,
        actor: &actor,
        ip: attacker_ip,
        operation: "Microsoft.KeyVault/vaults/delete",
        resource_id: vault_id(v),
        hierarchy: hierarchy(t, sub),
        tenant: &t.tenant_id,
        evidence: Some(evidence.clone()),
        request_body: None,
        response_body: None,
        ending: Ending::Ok,
    };
    log.push(&mut rng, &delete, sub);
    let purged = at + rng.random_range(3..9) * MINUTE + rng.random_range(0..SECOND);
    let purge = ArmCall {
        time: purged,
        operation: "Microsoft.KeyVault/locations/deletedVaults/purge/action",
        resource_id: format!(
            "/subscriptions/{}/providers/Microsoft.KeyVault/locations/{}/deletedVaults/{}",
            t.subscriptions[sub], v.location, v.name
        ),
        ..delete
    };
    log.push(&mut rng, &purge, sub);
    let mark = plan.mark();
    plan.label(
        mark,
        ATTACK,
        "vault_delete_purge",
        DESTRUCTIVE,
        &admin.oid,
        &v.lower,
        Some((at, purged)),
        format!(
            "{}'s stolen session ({attacker_ip}) deletes the vault {} and purges it minutes later, so it cannot be recovered",
            admin.upn, v.lower
        ),
    );
}
