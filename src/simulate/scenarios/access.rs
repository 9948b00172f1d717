//! `access_policy_change` scenarios: who may reach a vault, changed by an attacker.
//!
//! Every change is a `VaultPatch` or `VaultPut` through ARM whose record carries the
//! vault's whole configuration *after* the change (from the configuration history),
//! plus `addedAccessPolicy`/`removedAccessPolicy` for policy edits. Where a real
//! team would notice and revert (firewall opened, RBAC turned off, a rogue IP rule),
//! an admin's revert follows and is labelled `access_change`, not `attack`.

use std::sync::Arc;

use rand::RngExt;

use super::super::clock::{Zone, DAY, MINUTE};
use super::super::ids::{self, SimRng};
use super::super::plan::{Actor, Ctx, Plan};
use super::super::platform::{arm_change, cli_arm, cli_arm_api};
use super::super::request::{self, Caller, Outcome, PolicyEntry, Request, Style, Verb};
use super::super::tenant::{APP, CERTS, DATA, DEV, PAY};
use super::super::users::{self, portal_arm_api};
use super::super::vaults::{Change, ObjKind};
use super::super::workloads::challenge;
use super::{app_caller, at, ip, tools, user, user_caller, CLI};

fn entry(oid: &str, tenant: &str) -> PolicyEntry {
    PolicyEntry { object_id: oid.to_owned(), tenant_id: tenant.to_owned(), keys: vec![], secrets: vec!["get", "list"], certificates: vec![] }
}

/// Reads `n` secrets of `vault` with a CLI-like client, after the challenge.
fn read_secrets(rng: &mut SimRng, plan: &mut Plan, ctx: &Ctx<'_>, vault: usize, caller: &Arc<Caller>, t: i64, n: usize) -> i64 {
    let v = &ctx.tenant.vaults[vault];
    let mut t = t;
    plan.requests.push(challenge(rng, t, vault, caller, request::collection(ObjKind::Secret), "7.5"));
    t += request::gap(rng, 80, 500);
    plan.requests.push(Request::new(rng, t, vault, "SecretList", Outcome::Ok, caller, request::collection(ObjKind::Secret), "7.5", Style::Sdk));
    for _ in 0..n {
        t += request::gap(rng, 800, 25_000);
        let Some(o) = ids::pick(rng, &v.secrets) else { break };
        plan.requests.push(Request::new(rng, t, vault, "SecretGet", Outcome::Ok, caller, request::object(ObjKind::Secret, &o.name, Some(&o.version), Verb::Read), "7.5", Style::Sdk));
    }
    t
}

/// An admin's revert next morning, labelled as a legitimate access change.
#[allow(clippy::too_many_arguments)]
fn revert(ctx: &Ctx<'_>, rng: &mut SimRng, plan: &mut Plan, day: u32, vault: usize, op: &'static str, change: Change, scenario: &'static str, text: String) {
    let admin = user(ctx.tenant, "Camille Martin");
    let t = at(rng, ctx, day, Zone::Europe(60), 8.5, 10.0);
    let office = ip(rng, "fr-office-paris");
    let portal = users::callers(&ctx.tenant.users[admin], office, office).arm;
    let mark = plan.mark();
    plan.requests.push(arm_change(rng, t, vault, op, &portal, portal_arm_api(), "", None, None));
    plan.changes.push((vault, t, change));
    plan.label(mark, "access_change", scenario, "access_policy_change", &ctx.tenant.users[admin].oid, &ctx.tenant.vaults[vault].lower, None, text);
}

pub(super) fn self_grant(ctx: &Ctx<'_>, rng: &mut SimRng, day: u32, _instance: u32, plan: &mut Plan) {
    let tenant = ctx.tenant;
    let u = user(tenant, "Julien Bernard");
    let me = &tenant.users[u];
    let office = ip(rng, "fr-office-paris");
    let t = at(rng, ctx, day, Zone::Europe(60), 11.0, 16.0);
    let arm = cli_arm(tenant, u, office);
    let mark = plan.mark();
    let grant = entry(&me.oid, &tenant.tenant_id);
    plan.requests.push(arm_change(rng, t, DATA, "VaultPatch", &arm, cli_arm_api(), "/accessPolicies/add", Some(grant.clone()), None));
    plan.changes.push((DATA, t, Change::Nothing));
    let caller = user_caller(tenant, u, CLI, office, office, tools::CLI_LINUX);
    let reads = rng.random_range(6..11);
    let begin = t + rng.random_range(2..6) * MINUTE;
    let done = read_secrets(rng, plan, ctx, DATA, &caller, begin, reads);
    let removed_at = done + rng.random_range(15..40) * MINUTE;
    plan.requests.push(arm_change(rng, removed_at, DATA, "VaultPatch", &arm, cli_arm_api(), "/accessPolicies/remove", None, Some(grant)));
    plan.changes.push((DATA, removed_at, Change::Nothing));
    let text = format!("developer {} adds an access policy for themselves (addedAccessPolicy.ObjectId = caller oid) on fab-prod-data-kv, reads {reads} secrets, then removes the policy", me.upn);
    plan.label(mark, "attack", "self_grant", "access_policy_change", &me.oid, &tenant.vaults[DATA].lower, None, text);
}

pub(super) fn grant_to_new_principal(ctx: &Ctx<'_>, rng: &mut SimRng, day: u32, _instance: u32, plan: &mut Plan) {
    let tenant = ctx.tenant;
    let admin = user(tenant, "Camille Martin");
    let proxy = ip(rng, "fr-home-proxy");
    let t = at(rng, ctx, day, Zone::Europe(60), 2.0, 4.0);
    let grantee = tenant.new_app(rng, "1", None);
    let mark = plan.mark();
    plan.requests.push(arm_change(rng, t, DEV, "VaultPatch", &cli_arm(tenant, admin, proxy), cli_arm_api(), "/accessPolicies/add", Some(entry(&grantee.oid, &tenant.tenant_id)), None));
    plan.changes.push((DEV, t, Change::Nothing));
    let vps = ip(rng, "ro-hosting-bucharest");
    let start = t + rng.random_range(3..8) * MINUTE;
    let caller = app_caller(rng, &grantee, start, vps, tools::PYTHON_SDK, 4_500);
    let reads = rng.random_range(6..11);
    read_secrets(rng, plan, ctx, DEV, &caller, start, reads);
    let text = format!("admin account {} (stolen session, {proxy}) grants secrets get/list on fab-dev-kv to a never-seen service principal {}, which reads {reads} secrets from {vps} minutes later", tenant.users[admin].upn, grantee.oid);
    plan.label(mark, "attack", "grant_to_new_principal", "access_policy_change", &tenant.users[admin].oid, &tenant.vaults[DEV].lower, None, text);
    plan.actors.push(Actor { role: "service principal granted by the attacker (grant_to_new_principal)".into(), oid: grantee.oid.clone(), appid: Some(grantee.appid.clone()), addresses: vec![vps.to_string()] });
}

pub(super) fn firewall_opened(ctx: &Ctx<'_>, rng: &mut SimRng, day: u32, _instance: u32, plan: &mut Plan) {
    let tenant = ctx.tenant;
    let admin = user(tenant, "Camille Martin");
    let proxy = ip(rng, "fr-home-proxy");
    let t = at(rng, ctx, day, Zone::Europe(60), 22.5, 23.8);
    let mut callers = users::callers(&tenant.users[admin], proxy, proxy);
    callers.portal = Arc::new(Caller { client_info: tools::BROWSER.to_owned(), ..(*callers.portal).clone() });
    let mark = plan.mark();
    plan.requests.push(arm_change(rng, t, PAY, "VaultPatch", &callers.arm, portal_arm_api(), "", None, None));
    plan.changes.push((PAY, t, Change::DefaultDeny(false)));
    let (begin, reveals) = (t + rng.random_range(1..4) * MINUTE, rng.random_range(3..6));
    users::portal_read(rng, PAY, &tenant.vaults[PAY], &callers, begin, reveals, &mut plan.requests);
    let text = format!("admin account {} (stolen session, {proxy}) sets the payments vault firewall defaultAction Deny -> Allow at night, then reads secrets through the opened firewall", tenant.users[admin].upn);
    plan.label(mark, "attack", "firewall_opened", "access_policy_change", &tenant.users[admin].oid, &tenant.vaults[PAY].lower, None, text);
    revert(ctx, rng, plan, day + 1, PAY, "VaultPatch", Change::DefaultDeny(true), "firewall_restored", "admin restores defaultAction Deny on the payments vault the next morning".into());
}

pub(super) fn ip_rule_added(ctx: &Ctx<'_>, rng: &mut SimRng, day: u32, _instance: u32, plan: &mut Plan) {
    let tenant = ctx.tenant;
    let u = user(tenant, "Emily Jones");
    let vps = ip(rng, "gb-hosting-london");
    let t = at(rng, ctx, day, Zone::Europe(0), 20.0, 22.5);
    let rule = format!("{vps}/32");
    let mark = plan.mark();
    plan.requests.push(arm_change(rng, t, PAY, "VaultPut", &cli_arm(tenant, u, vps), cli_arm_api(), "", None, None));
    plan.changes.push((PAY, t, Change::AddIpRule(rule.clone())));
    let caller = user_caller(tenant, u, CLI, vps, vps, tools::CLI_LINUX);
    let (begin, reads) = (t + rng.random_range(1..3) * MINUTE, rng.random_range(4..7));
    read_secrets(rng, plan, ctx, PAY, &caller, begin, reads);
    let text = format!("{}'s account (phished) adds the attacker's address {rule} to the payments vault IP rules, then reads secrets from it", tenant.users[u].upn);
    plan.label(mark, "attack", "ip_rule_added", "access_policy_change", &tenant.users[u].oid, &tenant.vaults[PAY].lower, None, text);
    revert(ctx, rng, plan, day + 2, PAY, "VaultPut", Change::RemoveIpRule(rule.clone()), "ip_rule_removed", format!("admin removes the unknown IP rule {rule} from the payments vault"));
}

pub(super) fn rbac_disabled(ctx: &Ctx<'_>, rng: &mut SimRng, day: u32, _instance: u32, plan: &mut Plan) {
    let tenant = ctx.tenant;
    let u = user(tenant, "Michael Johnson");
    let vps = ip(rng, "us-hosting-newyork");
    let t = at(rng, ctx, day, Zone::UsPacific, 9.5, 11.0);
    let callers = users::callers(&tenant.users[u], vps, vps);
    let mark = plan.mark();
    plan.requests.push(arm_change(rng, t, APP, "VaultPatch", &callers.arm, portal_arm_api(), "", None, None));
    plan.changes.push((APP, t, Change::Rbac(false)));
    let reads = rng.random_range(4..7);
    let begin = t + rng.random_range(2..6) * MINUTE;
    users::portal_read(rng, APP, &tenant.vaults[APP], &callers, begin, reads, &mut plan.requests);
    let text = format!("admin account {} (stolen session, {vps}) turns RBAC authorisation off on fab-prod-app-kv; legacy access policies from before the RBAC migration apply again and the attacker reads {reads} secrets", tenant.users[u].upn);
    plan.label(mark, "attack", "rbac_disabled", "access_policy_change", &tenant.users[u].oid, &tenant.vaults[APP].lower, None, text);
    revert(ctx, rng, plan, day + 1, APP, "VaultPatch", Change::Rbac(true), "rbac_restored", "admin turns RBAC authorisation back on for fab-prod-app-kv".into());
}

pub(super) fn deployment_access_enabled(ctx: &Ctx<'_>, rng: &mut SimRng, day: u32, _instance: u32, plan: &mut Plan) {
    let tenant = ctx.tenant;
    let u = user(tenant, "Thomas Petit");
    let proxy = ip(rng, "fr-home-proxy");
    let t = at(rng, ctx, day, Zone::Europe(60), 21.0, 23.5);
    let mark = plan.mark();
    plan.requests.push(arm_change(rng, t, DATA, "VaultPatch", &cli_arm(tenant, u, proxy), cli_arm_api(), "", None, None));
    plan.changes.push((DATA, t, Change::DeploymentAccess(true)));
    let text = format!("{}'s account (stolen session) sets enabledForTemplateDeployment and enabledForDeployment to true on fab-prod-data-kv, letting ARM deployments and VMs retrieve its secrets", tenant.users[u].upn);
    plan.label(mark, "attack", "deployment_access_enabled", "access_policy_change", &tenant.users[u].oid, &tenant.vaults[DATA].lower, None, text);
}

pub(super) fn purge_protection_disabled(ctx: &Ctx<'_>, rng: &mut SimRng, day: u32, _instance: u32, plan: &mut Plan) {
    let tenant = ctx.tenant;
    let u = user(tenant, "Thomas Petit");
    let proxy = ip(rng, "fr-home-proxy");
    let t = at(rng, ctx, day, Zone::Europe(60), 1.0, 4.0) + DAY / 2;
    let arm = Arc::new(Caller { client_info: "azure-resource-manager/2.0".into(), ..(*cli_arm(tenant, u, proxy)).clone() });
    let mark = plan.mark();
    plan.requests.push(arm_change(rng, t, CERTS, "VaultPut", &arm, "2024-11-01", "", None, None));
    plan.changes.push((CERTS, t, Change::PurgeProtection(false)));
    plan.changes.push((CERTS, t, Change::SoftDeleteDays(7)));
    let text = format!(
        "{}'s account (stolen session) redeploys fab-shared-certs-kv from a template with purge protection off and soft-delete retention 7 days. Azure documents purge protection and retention as irreversible, so the service may refuse this today; the record is what a detector must flag if the configuration ever weakens",
        tenant.users[u].upn
    );
    plan.label(mark, "attack", "purge_protection_disabled", "access_policy_change", &tenant.users[u].oid, &tenant.vaults[CERTS].lower, None, text);
}
