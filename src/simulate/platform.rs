//! Azure's own callers and the admins' legitimate changes.
//!
//! Azure Resource Graph (appid `509e4652…`) re-reads every vault's configuration
//! through ARM a few times a day and minutes after each change; Policy Insights
//! (appid `8cae6e77…`) scans once a day; Key Vault logs near-expiry notifications
//! itself. Admins change vaults too: onboarding grants for new employees, a new IP
//! rule, a routine update. Every admin `VaultPut`/`VaultPatch` is an access change
//! and gets an `access_change` label, so detectors are judged on reporting them.

use std::net::IpAddr;
use std::sync::Arc;

use rand::RngExt;

use super::clock::{Tick, Zone, DAY, HOUR};
use super::ids::{self, SimRng};
use super::places::{self, pool_named};
use super::plan::{Ctx, Plan};
use super::request::{self, Caller, Extra, Identity, Outcome, PolicyEntry, Request, Style, Target, Verb};
use super::tenant::{Role, Tenant, DEV, FIRST_NEW_HIRE, PAY};
use super::vaults::{Change, Kind, ObjKind};

const ARG_API: &str = "2023-07-01";
const ARG_CLIENT: &str = "AzureResourceGraph.IngestionWorkerService.global/1.24.1.672";
const CLI_ARM_API: &str = "2024-11-01";
const CLI_ARM: &str = "AZURECLI/2.78.0 (MSI) azsdk-python-azure-mgmt-keyvault/12.0.0 Python/3.12.10 (Windows-11-10.0.26100-SP0)";

fn first_party_caller(rng: &mut SimRng, tenant: &Tenant, which: usize, client: &str) -> Arc<Caller> {
    let fp = &tenant.first_party[which.min(tenant.first_party.len() - 1)];
    let pool = *ids::pick(rng, &["azure-westeurope", "azure-northeurope", "azure-francecentral"]).unwrap_or(&"azure-westeurope");
    Arc::new(Caller {
        identity: Identity::ArmApp { oid: fp.oid.clone(), appid: fp.appid },
        ip: IpAddr::V4(places::address_in(pool_named(pool), rng)),
        client_info: client.to_owned(),
        subnet: None,
        tls: "TLS1_2",
    })
}

/// A Resource Graph read of `vault` at `t`.
pub(crate) fn resource_graph_read(rng: &mut SimRng, tenant: &Tenant, vault: usize, t: Tick) -> Request {
    let caller = first_party_caller(rng, tenant, 0, ARG_CLIENT);
    let region = *ids::pick(rng, &["westeurope", "northeurope", "francecentral", "uksouth"]).unwrap_or(&"westeurope");
    let target = Target::Arm { host: format!("{region}.management.azure.com"), suffix: "", query: "&MaskCMKEnabledProperties=true" };
    Request::new(rng, t, vault, "VaultGet", Outcome::Ok, &caller, target, ARG_API, Style::Sdk).with_extra(Extra::Arm { added: None, removed: None })
}

/// One UTC day of Resource Graph and Policy Insights reads.
pub(crate) fn day(tenant: &Tenant, seed: u64, day: u64, t0: Tick, out: &mut Vec<Request>) {
    let mut rng = ids::stream(seed, "first-party", day);
    let rng = &mut rng;
    for v in (0..tenant.vaults.len()).filter(|v| tenant.vaults[*v].kind == Kind::Vault) {
        let mut t = t0 + rng.random_range(0..10 * HOUR);
        while t < t0 + DAY {
            out.push(resource_graph_read(rng, tenant, v, t));
            t += rng.random_range(8 * HOUR..16 * HOUR);
        }
        let t = t0 + rng.random_range(0..DAY);
        let caller = first_party_caller(rng, tenant, 1, "azure-resource-manager/2.0");
        out.push(Request::new(rng, t, v, "VaultGet", Outcome::Ok, &caller, request::arm(), ARG_API, Style::Sdk).with_extra(Extra::Arm { added: None, removed: None }));
    }
}

/// Plans Resource Graph reads a few minutes after every planned change.
pub(crate) fn follow_changes(ctx: &Ctx<'_>, plan: &mut Plan) {
    let mut rng = ids::stream(ctx.seed, "resource-graph-follow", 0);
    let changed: Vec<(usize, Tick)> = plan.requests.iter().filter(|r| matches!(r.op, "VaultPut" | "VaultPatch") && r.outcome.is_success()).map(|r| (r.vault, r.time)).collect();
    for (vault, t) in changed {
        let delay = rng.random_range(40..240) * super::clock::SECOND;
        let read = resource_graph_read(&mut rng, ctx.tenant, vault, t + delay);
        plan.requests.push(read);
    }
}

/// Plans near-expiry notifications for a few objects that expire soon.
pub(crate) fn expiry_notifications(ctx: &Ctx<'_>, plan: &mut Plan) {
    let mut rng = ids::stream(ctx.seed, "expiry", 0);
    let period = i64::from(ctx.days) * DAY;
    let caller = Arc::new(Caller { identity: Identity::None, ip: IpAddr::V4(places::address_in(pool_named("azure-westeurope"), &mut rng)), client_info: String::new(), subnet: None, tls: "TLS1_2" });
    for (v, vault) in ctx.tenant.vaults.iter().enumerate() {
        let (kind, op) = if vault.certificates.is_empty() { (ObjKind::Secret, "SecretNearExpiryEventGridNotification") } else { (ObjKind::Certificate, "CertificateNearExpiryEventGridNotification") };
        for o in vault.objects(kind).iter().filter(|o| o.expires.is_some()).take(1) {
            let t = ctx.start + rng.random_range(0..period);
            let exp = super::clock::epoch_seconds(t) + 30 * 86_400;
            let target = request::object(kind, &o.name, Some(&o.version), Verb::Notify);
            plan.requests.push(Request::new(&mut rng, t, v, op, Outcome::Ok, &caller, target, "7.5", Style::Sdk).with_extra(Extra::SecretExpiry(exp)));
        }
    }
}

fn admin_arm(tenant: &Tenant, admin: usize, ip: IpAddr, client: &str) -> Arc<Caller> {
    let u = &tenant.users[admin];
    Arc::new(Caller { identity: Identity::ArmUser { oid: u.oid.clone(), upn: u.upn.clone(), appid: super::tenant::appid::PORTAL_ARM }, ip, client_info: client.to_owned(), subnet: None, tls: "TLS1_2" })
}

/// An ARM change request (`VaultPatch`/`VaultPut`) by `caller`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn arm_change(rng: &mut SimRng, t: Tick, vault: usize, op: &'static str, caller: &Arc<Caller>, api: &'static str, suffix: &'static str, added: Option<PolicyEntry>, removed: Option<PolicyEntry>) -> Request {
    let target = Target::Arm { host: "management.azure.com".into(), suffix, query: "" };
    Request::new(rng, t, vault, op, Outcome::Ok, caller, target, api, Style::Portal).with_extra(Extra::Arm { added, removed })
}

/// The CLI's ARM caller for a user (URI claims, appid of the Azure CLI).
pub(crate) fn cli_arm(tenant: &Tenant, user: usize, ip: IpAddr) -> Arc<Caller> {
    let u = &tenant.users[user];
    Arc::new(Caller { identity: Identity::ArmUser { oid: u.oid.clone(), upn: u.upn.clone(), appid: super::tenant::appid::CLI }, ip, client_info: CLI_ARM.to_owned(), subnet: None, tls: "TLS1_2" })
}

/// The CLI ARM api-version.
pub(crate) fn cli_arm_api() -> &'static str {
    CLI_ARM_API
}

/// A working-hours time on period day `d` for the admin (Paris).
fn office_time(rng: &mut SimRng, ctx: &Ctx<'_>, d: u32) -> Tick {
    Zone::Europe(60).at(ctx.date(d), rng.random_range(9.5..16.5))
}

/// Plans the admins' legitimate changes (labelled `access_change`).
pub(crate) fn admin_changes(ctx: &Ctx<'_>, plan: &mut Plan) {
    let tenant = ctx.tenant;
    let mut rng = ids::stream(ctx.seed, "admin-changes", 0);
    let rng = &mut rng;
    let admin = tenant.users.iter().position(|u| u.role == Role::Admin).unwrap_or(0);
    let office = IpAddr::V4(places::address_in(pool_named("fr-office-paris"), rng));
    let portal = admin_arm(tenant, admin, office, "Mozilla/5.0");
    let admin_oid = tenant.users[admin].oid.clone();
    let last_day = ctx.days.saturating_sub(1);
    for hire in tenant.users.iter().skip(FIRST_NEW_HIRE) {
        let day = hire.start_day.saturating_sub(1).min(last_day);
        let t = office_time(rng, ctx, day);
        let entry = PolicyEntry { object_id: hire.oid.clone(), tenant_id: tenant.tenant_id.clone(), keys: vec!["get", "list"], secrets: vec!["get", "list", "set"], certificates: vec!["get", "list"] };
        let mark = plan.mark();
        plan.requests.push(arm_change(rng, t, DEV, "VaultPatch", &portal, super::users::portal_arm_api(), "", Some(entry), None));
        plan.changes.push((DEV, t, Change::Nothing));
        let text = format!("{} (admin) grants the new employee {} ({}) an access policy on fab-dev-kv before their first day", tenant.users[admin].upn, hire.upn, hire.oid);
        plan.label(mark, "access_change", "onboarding_grant", "access_policy_change", &admin_oid, &tenant.vaults[DEV].lower, None, text);
    }
    // A new datacenter egress range allowed on the payments firewall.
    let day = (ctx.days * 3 / 10).min(last_day);
    let t = office_time(rng, ctx, day);
    let rule = pool_named("fr-dc-paris").net.to_string();
    let mark = plan.mark();
    plan.requests.push(arm_change(rng, t, PAY, "VaultPut", &cli_arm(tenant, admin, office), CLI_ARM_API, "", None, None));
    plan.changes.push((PAY, t, Change::AddIpRule(rule.clone())));
    plan.label(mark, "access_change", "admin_ip_rule", "access_policy_change", &admin_oid, &tenant.vaults[PAY].lower, None, format!("admin adds the datacenter range {rule} to the payments vault's IP rules (az keyvault network-rule add)"));
    // A routine update through the portal (tags): still a VaultPatch.
    let day = (ctx.days * 3 / 4).min(last_day);
    let t = office_time(rng, ctx, day);
    let mark = plan.mark();
    plan.requests.push(arm_change(rng, t, super::tenant::APP, "VaultPatch", &portal, super::users::portal_arm_api(), "", None, None));
    plan.changes.push((super::tenant::APP, t, Change::Nothing));
    plan.label(mark, "access_change", "admin_vault_update", "access_policy_change", &admin_oid, &tenant.vaults[super::tenant::APP].lower, None, "admin updates fab-prod-app-kv in the portal (tags); the configuration is unchanged".into());
}

/// A benign business trip: a Paris user works two days from the Berlin office.
pub(crate) fn business_trip(ctx: &Ctx<'_>, plan: &mut Plan) {
    if ctx.days < 4 {
        return;
    }
    let Some(user) = ctx.tenant.users.iter().position(|u| u.name == "Julien Bernard") else { return };
    let first = ctx.days / 2;
    plan.trips.push(super::users::Trip { user, days: (first, first + 1), pool: "de-office-berlin" });
    plan.notes.push(format!(
        "benign: {} works from the Berlin office on {} and {} (Germany is common in the tenant; not labelled)",
        ctx.tenant.users[user].upn,
        ctx.date(first),
        ctx.date(first + 1)
    ));
}
