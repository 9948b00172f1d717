//! The admins' legitimate changes, labelled `access_change`, the writes that change
//! nothing, labelled `confounder`, and benign travel.
//!
//! Every `VaultPut`/`VaultPatch` an admin makes that changes something is an access
//! change detectors should report: onboarding grants for new employees (the day
//! before they start), a new datacenter range on the payments firewall. Writes that
//! change nothing visible must stay quiet (`confounder`): an admin's tag-only portal
//! update, and the deploy pipeline re-applying every vault's settings, identical,
//! each morning (infrastructure as code). A Paris developer's two days at the Berlin
//! office are planned here too (benign, noted in `_tenant.json`, not labelled).

use std::net::IpAddr;
use std::sync::Arc;

use rand::RngExt;

use super::clock::{Tick, Zone};
use super::ids::{self, SimRng};
use super::places::{self, pool_named};
use super::plan::{Ctx, Plan};
use super::request::{Caller, Extra, Identity, Outcome, PolicyEntry, Request, Style, Target};
use super::tenant::{Role, Tenant, DEV, FIRST_NEW_HIRE, PAY};
use super::vaults::Change;

const CLI_ARM_API: &str = "2024-11-01";
const CLI_ARM: &str = "AZURECLI/2.78.0 (MSI) azsdk-python-azure-mgmt-keyvault/12.0.0 Python/3.12.10 (Windows-11-10.0.26100-SP0)";

fn admin_arm(tenant: &Tenant, admin: usize, ip: IpAddr, client: &str) -> Arc<Caller> {
    let u = &tenant.users[admin];
    Arc::new(Caller {
        identity: Identity::ArmUser {
            oid: u.oid.clone(),
            upn: u.upn.clone(),
            appid: super::tenant::appid::PORTAL_ARM,
        },
        ip,
        client_info: client.to_owned(),
        subnet: None,
        tls: "TLS1_2",
    })
}

/// An ARM change request (`VaultPatch`/`VaultPut`) by `caller`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn arm_change(
    rng: &mut SimRng,
    t: Tick,
    vault: usize,
    op: &'static str,
    caller: &Arc<Caller>,
    api: &'static str,
    suffix: &'static str,
    added: Option<PolicyEntry>,
    removed: Option<PolicyEntry>,
) -> Request {
    let target = Target::Arm {
        host: "management.azure.com".into(),
        suffix,
        query: "",
    };
    Request::new(
        rng,
        t,
        vault,
        op,
        Outcome::Ok,
        caller,
        target,
        api,
        Style::Portal,
    )
    .with_extra(Extra::Arm {
        added: added.map(Box::new),
        removed: removed.map(Box::new),
    })
}

/// The CLI's ARM caller for a user (URI claims, appid of the Azure CLI).
pub(crate) fn cli_arm(tenant: &Tenant, user: usize, ip: IpAddr) -> Arc<Caller> {
    let u = &tenant.users[user];
    let client = match u.os {
        super::tenant::Os::Windows => CLI_ARM.to_owned(),
        super::tenant::Os::Mac => CLI_ARM.replace("(MSI)", "(HOMEBREW)").replace(
            "Python/3.12.10 (Windows-11-10.0.26100-SP0)",
            "Python/3.12.11 (macOS-15.6-arm64-arm-64bit)",
        ),
        super::tenant::Os::Linux => CLI_ARM.replace("(MSI)", "(DEB)").replace(
            "Python/3.12.10 (Windows-11-10.0.26100-SP0)",
            "Python/3.12.3 (Linux-6.8.0-85-generic-x86_64-with-glibc2.39)",
        ),
    };
    Arc::new(Caller {
        identity: Identity::ArmUser {
            oid: u.oid.clone(),
            upn: u.upn.clone(),
            appid: super::tenant::appid::CLI,
        },
        ip,
        client_info: client,
        subnet: None,
        tls: "TLS1_2",
    })
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
    let admin = tenant
        .users
        .iter()
        .position(|u| u.role == Role::Admin)
        .unwrap_or(0);
    let office = IpAddr::V4(places::address_in(pool_named("fr-office-paris"), rng));
    let portal = admin_arm(tenant, admin, office, "Mozilla/5.0");
    let admin_oid = tenant.users[admin].oid.clone();
    let last_day = ctx.days.saturating_sub(1);
    for hire in tenant.users.iter().skip(FIRST_NEW_HIRE) {
        // The working day before the first day, or that morning after a weekend.
        let before = hire.start_day.saturating_sub(1);
        let t = if hire.start_day > 0 && !super::clock::is_weekend(ctx.date(before)) {
            office_time(rng, ctx, before.min(last_day))
        } else {
            Zone::Europe(60).at(
                ctx.date(hire.start_day.min(last_day)),
                rng.random_range(8.0..8.8),
            )
        };
        let entry = PolicyEntry {
            object_id: hire.oid.clone(),
            tenant_id: tenant.tenant_id.clone(),
            keys: vec!["get", "list"],
            secrets: vec!["get", "list", "set"],
            certificates: vec!["get", "list"],
        };
        let mark = plan.mark();
        plan.requests.push(arm_change(
            rng,
            t,
            DEV,
            "VaultPatch",
            &portal,
            super::users::portal_arm_api(),
            "",
            Some(entry),
            None,
        ));
        plan.changes.push((DEV, t, Change::Nothing));
        let text = format!("{} (admin) grants the new employee {} ({}) an access policy on fab-dev-kv before their first day", tenant.users[admin].upn, hire.upn, hire.oid);
        plan.label(
            mark,
            "access_change",
            "onboarding_grant",
            "access_policy_change",
            &admin_oid,
            &tenant.vaults[DEV].lower,
            None,
            text,
        );
    }
    // A new datacenter egress range allowed on the payments firewall.
    let day = (ctx.days * 3 / 10).min(last_day);
    let t = office_time(rng, ctx, day);
    let rule = pool_named("fr-dc-paris").net.to_string();
    let mark = plan.mark();
    plan.requests.push(arm_change(
        rng,
        t,
        PAY,
        "VaultPut",
        &cli_arm(tenant, admin, office),
        CLI_ARM_API,
        "",
        None,
        None,
    ));
    plan.changes.push((PAY, t, Change::AddIpRule(rule.clone())));
    plan.label(mark, "access_change", "admin_ip_rule", "access_policy_change", &admin_oid, &tenant.vaults[PAY].lower, None, format!("admin adds the datacenter range {rule} to the payments vault's IP rules (az keyvault network-rule add)"));
    // A routine update through the portal (tags): still a VaultPatch, with the
    // configuration unchanged; it must raise nothing.
    let day = (ctx.days * 3 / 4).min(last_day);
    let t = office_time(rng, ctx, day);
    let mark = plan.mark();
    plan.requests.push(arm_change(
        rng,
        t,
        super::tenant::APP,
        "VaultPatch",
        &portal,
        super::users::portal_arm_api(),
        "",
        None,
        None,
    ));
    plan.changes.push((super::tenant::APP, t, Change::Nothing));
    plan.label(
        mark,
        "confounder",
        "admin_vault_update",
        "access_policy_change",
        &admin_oid,
        &tenant.vaults[super::tenant::APP].lower,
        None,
        "admin updates fab-prod-app-kv in the portal (tags); the configuration is unchanged: no alert".into(),
    );
}

/// The vaults the platform team keeps in code and re-applies every morning.
const IAC_VAULTS: [usize; 3] = [super::tenant::APP, super::tenant::CERTS, PAY];

/// The platform team's infrastructure-as-code pipeline (a Terraform service
/// principal on a self-hosted runner in West Europe) re-applies the settings of the
/// vaults it owns every morning around 05:30 UTC, through ARM: one `VaultPut` per
/// vault whose record shows the configuration unchanged. Each is labelled
/// `confounder` for `access_policy_change`: a write that changes nothing must raise
/// no alert at any severity. The pipeline starts on the second day, once Azure
/// Resource Graph has read every vault (a first write with no configuration known
/// before it has nothing to compare with, and is reported at info). It only writes
/// vault settings, so it is an identity of its own, not one of the workloads.
pub(crate) fn iac_reapplies(ctx: &Ctx<'_>, plan: &mut Plan) {
    let tenant = ctx.tenant;
    let oid = ids::guid_of(ctx.seed, "iac-terraform-oid", 0);
    let appid = ids::guid_of(ctx.seed, "iac-terraform-appid", 0);
    let mut rng = ids::stream(ctx.seed, "iac-vault-reapply", 0);
    let runner = IpAddr::V4(places::address_in(pool_named("azure-westeurope"), &mut rng));
    let by = Arc::new(Caller {
        identity: Identity::ArmApp {
            oid: oid.clone(),
            appid: appid.clone().into(),
        },
        ip: runner,
        client_info:
            "Terraform/1.9.8 terraform-provider-azurerm/4.10.0 go-autorest/v14.2.1 (go1.22.7)"
                .to_owned(),
        subnet: None,
        tls: "TLS1_2",
    });
    for day in 1..ctx.days {
        let mut rng = ids::stream(ctx.seed, "iac-vault-reapply", u64::from(day));
        let rng = &mut rng;
        let mut t = ctx.start
            + i64::from(day) * super::clock::DAY
            + 5 * super::clock::HOUR
            + rng.random_range(20..50) * super::clock::MINUTE;
        for vault in IAC_VAULTS {
            t += rng.random_range(5..40) * super::clock::SECOND;
            let mark = plan.mark();
            plan.requests.push(arm_change(
                rng,
                t,
                vault,
                "VaultPut",
                &by,
                CLI_ARM_API,
                "",
                None,
                None,
            ));
            plan.changes.push((vault, t, Change::Nothing));
            plan.label(
                mark,
                "confounder",
                "iac_reapply",
                "access_policy_change",
                &oid,
                &tenant.vaults[vault].lower,
                None,
                format!(
                    "the platform team's Terraform pipeline re-applies {}'s settings from code: identical configuration, no alert",
                    tenant.vaults[vault].name
                ),
            );
        }
    }
    plan.notes.push(format!(
        "benign: the Terraform pipeline (service principal oid {oid}, app {appid}) re-applies the settings of {} every morning around 05:30 UTC from the second day, unchanged (labelled confounder)",
        IAC_VAULTS.map(|v| tenant.vaults[v].name.as_str()).join(", ")
    ));
}

/// A benign business trip: a Paris user works two days from the Berlin office.
pub(crate) fn business_trip(ctx: &Ctx<'_>, plan: &mut Plan) {
    if ctx.days < 4 {
        return;
    }
    let Some(user) = ctx
        .tenant
        .users
        .iter()
        .position(|u| u.name == "Julien Bernard")
    else {
        return;
    };
    let first = ctx.days / 2;
    plan.trips.push(super::users::Trip {
        user,
        days: (first, first + 1),
        pool: "de-office-berlin",
    });
    plan.notes.push(format!(
        "benign: {} works from the Berlin office on {} and {} (Germany is common in the tenant; not labelled)",
        ctx.tenant.users[user].upn,
        ctx.date(first),
        ctx.date(first + 1)
    ));
}
