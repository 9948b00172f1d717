//! `access_policy_change` scenarios that change a vault's configuration.
//!
//! - `firewall_opened`: a stolen admin session sets the payments vault's
//!   `networkAcls.defaultAction` Deny -> Allow at night and reads through it.
//! - `ip_rule_added`: a phished engineer adds the attacker's address to `ipRules`.
//! - `rbac_disabled`: `enableRbacAuthorization` true -> false, so legacy access
//!   policies apply again (data-plane records switch to `isAccessPolicyMatch`).
//! - `deployment_access_enabled`: `enabledForTemplateDeployment`/`ForDeployment` on.
//! - `purge_protection_disabled`: purge protection off, retention 7 days (see the
//!   label's caveat: Azure documents both as irreversible).
//!
//! The records carry the configuration *after* the change, never a diff. Where a
//! team would notice, an admin's revert follows, labelled `access_change`.

use std::sync::Arc;

use rand::RngExt;

use super::super::admin::{arm_change, cli_arm, cli_arm_api};
use super::super::clock::{Zone, DAY, MINUTE};
use super::super::ids::SimRng;
use super::super::plan::{Ctx, Plan};
use super::super::request::Caller;
use super::super::sessions;
use super::super::tenant::{APP, CERTS, DATA, PAY};
use super::super::users::{self, portal_arm_api};
use super::super::vaults::Change;
use super::access::{read_secrets, revert};
use super::{at, ip, tools, user, user_caller, CLI};

pub(super) fn firewall_opened(
    ctx: &Ctx<'_>,
    rng: &mut SimRng,
    day: u32,
    _instance: u32,
    plan: &mut Plan,
) {
    let tenant = ctx.tenant;
    let admin = user(tenant, "Camille Martin");
    let proxy = ip(rng, "fr-home-proxy");
    let t = at(rng, ctx, day, Zone::Europe(60), 22.5, 23.8);
    let mut callers = users::callers(&tenant.users[admin], proxy, proxy);
    callers.portal = Arc::new(Caller {
        client_info: tools::BROWSER.to_owned(),
        ..(*callers.portal).clone()
    });
    let mark = plan.mark();
    plan.requests.push(arm_change(
        rng,
        t,
        PAY,
        "VaultPatch",
        &callers.arm,
        portal_arm_api(),
        "",
        None,
        None,
    ));
    plan.changes.push((PAY, t, Change::DefaultDeny(false)));
    let (begin, reveals) = (t + rng.random_range(1..4) * MINUTE, rng.random_range(3..6));
    sessions::portal_read(
        rng,
        PAY,
        &tenant.vaults[PAY],
        &callers,
        begin,
        reveals,
        &mut plan.requests,
    );
    let text = format!("admin account {} (stolen session, {proxy}) sets the payments vault firewall defaultAction Deny -> Allow at night, then reads secrets through the opened firewall", tenant.users[admin].upn);
    plan.label(
        mark,
        "attack",
        "firewall_opened",
        "access_policy_change",
        &tenant.users[admin].oid,
        &tenant.vaults[PAY].lower,
        None,
        text,
    );
    revert(
        ctx,
        rng,
        plan,
        day + 1,
        PAY,
        "VaultPatch",
        Change::DefaultDeny(true),
        "firewall_restored",
        "admin restores defaultAction Deny on the payments vault the next morning".into(),
    );
}

pub(super) fn ip_rule_added(
    ctx: &Ctx<'_>,
    rng: &mut SimRng,
    day: u32,
    _instance: u32,
    plan: &mut Plan,
) {
    let tenant = ctx.tenant;
    let u = user(tenant, "Emily Jones");
    let vps = ip(rng, "gb-hosting-london");
    let t = at(rng, ctx, day, Zone::Europe(0), 20.0, 22.5);
    let rule = format!("{vps}/32");
    let mark = plan.mark();
    plan.requests.push(arm_change(
        rng,
        t,
        PAY,
        "VaultPut",
        &cli_arm(tenant, u, vps),
        cli_arm_api(),
        "",
        None,
        None,
    ));
    plan.changes.push((PAY, t, Change::AddIpRule(rule.clone())));
    let caller = user_caller(tenant, u, CLI, vps, vps, tools::CLI_LINUX);
    let (begin, reads) = (t + rng.random_range(1..3) * MINUTE, rng.random_range(4..7));
    read_secrets(rng, plan, ctx, PAY, &caller, begin, reads);
    let text = format!("{}'s account (phished) adds the attacker's address {rule} to the payments vault IP rules, then reads secrets from it", tenant.users[u].upn);
    plan.label(
        mark,
        "attack",
        "ip_rule_added",
        "access_policy_change",
        &tenant.users[u].oid,
        &tenant.vaults[PAY].lower,
        None,
        text,
    );
    revert(
        ctx,
        rng,
        plan,
        day + 2,
        PAY,
        "VaultPut",
        Change::RemoveIpRule(rule.clone()),
        "ip_rule_removed",
        format!("admin removes the unknown IP rule {rule} from the payments vault"),
    );
}

pub(super) fn rbac_disabled(
    ctx: &Ctx<'_>,
    rng: &mut SimRng,
    day: u32,
    _instance: u32,
    plan: &mut Plan,
) {
    let tenant = ctx.tenant;
    let u = user(tenant, "Michael Johnson");
    let vps = ip(rng, "us-hosting-newyork");
    let t = at(rng, ctx, day, Zone::UsPacific, 9.5, 11.0);
    let callers = users::callers(&tenant.users[u], vps, vps);
    let mark = plan.mark();
    plan.requests.push(arm_change(
        rng,
        t,
        APP,
        "VaultPatch",
        &callers.arm,
        portal_arm_api(),
        "",
        None,
        None,
    ));
    plan.changes.push((APP, t, Change::Rbac(false)));
    let reads = rng.random_range(4..7);
    let begin = t + rng.random_range(2..6) * MINUTE;
    sessions::portal_read(
        rng,
        APP,
        &tenant.vaults[APP],
        &callers,
        begin,
        reads,
        &mut plan.requests,
    );
    let text = format!("admin account {} (stolen session, {vps}) turns RBAC authorisation off on fab-prod-app-kv; legacy access policies from before the RBAC migration apply again and the attacker reads {reads} secrets", tenant.users[u].upn);
    plan.label(
        mark,
        "attack",
        "rbac_disabled",
        "access_policy_change",
        &tenant.users[u].oid,
        &tenant.vaults[APP].lower,
        None,
        text,
    );
    revert(
        ctx,
        rng,
        plan,
        day + 1,
        APP,
        "VaultPatch",
        Change::Rbac(true),
        "rbac_restored",
        "admin turns RBAC authorisation back on for fab-prod-app-kv".into(),
    );
}

pub(super) fn deployment_access_enabled(
    ctx: &Ctx<'_>,
    rng: &mut SimRng,
    day: u32,
    _instance: u32,
    plan: &mut Plan,
) {
    let tenant = ctx.tenant;
    let u = user(tenant, "Thomas Petit");
    let proxy = ip(rng, "fr-home-proxy");
    let t = at(rng, ctx, day, Zone::Europe(60), 21.0, 23.5);
    let mark = plan.mark();
    plan.requests.push(arm_change(
        rng,
        t,
        DATA,
        "VaultPatch",
        &cli_arm(tenant, u, proxy),
        cli_arm_api(),
        "",
        None,
        None,
    ));
    plan.changes.push((DATA, t, Change::DeploymentAccess(true)));
    let text = format!("{}'s account (stolen session) sets enabledForTemplateDeployment and enabledForDeployment to true on fab-prod-data-kv, letting ARM deployments and VMs retrieve its secrets", tenant.users[u].upn);
    plan.label(
        mark,
        "attack",
        "deployment_access_enabled",
        "access_policy_change",
        &tenant.users[u].oid,
        &tenant.vaults[DATA].lower,
        None,
        text,
    );
}

pub(super) fn purge_protection_disabled(
    ctx: &Ctx<'_>,
    rng: &mut SimRng,
    day: u32,
    _instance: u32,
    plan: &mut Plan,
) {
    let tenant = ctx.tenant;
    let u = user(tenant, "Thomas Petit");
    let proxy = ip(rng, "fr-home-proxy");
    let t = at(rng, ctx, day, Zone::Europe(60), 1.0, 4.0) + DAY / 2;
    let arm = Arc::new(Caller {
        client_info: "azure-resource-manager/2.0".into(),
        ..(*cli_arm(tenant, u, proxy)).clone()
    });
    let mark = plan.mark();
    plan.requests.push(arm_change(
        rng,
        t,
        CERTS,
        "VaultPut",
        &arm,
        "2024-11-01",
        "",
        None,
        None,
    ));
    plan.changes
        .push((CERTS, t, Change::PurgeProtection(false)));
    plan.changes.push((CERTS, t, Change::SoftDeleteDays(7)));
    let text = format!(
        "{}'s account (stolen session) redeploys fab-shared-certs-kv from a template with purge protection off and soft-delete retention 7 days. Azure documents purge protection and retention as irreversible, so the service may refuse this today; the record is what a detector must flag if the configuration ever weakens",
        tenant.users[u].upn
    );
    plan.label(
        mark,
        "attack",
        "purge_protection_disabled",
        "access_policy_change",
        &tenant.users[u].oid,
        &tenant.vaults[CERTS].lower,
        None,
        text,
    );
}
