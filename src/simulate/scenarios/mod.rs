//! Labelled attack scenarios: the catalogue, when each runs, and shared helpers.
//!
//! Each scenario writes the records an attack would leave in the vaults' own audit
//! log and one label per detector expected to report it. Scenarios run after a
//! warm-up (a quarter of the period, at least a day when there is one) so detectors
//! can learn baselines, spread over the rest of the period at varied hours
//! (business hours, nights, weekends). In periods of ten days or more the
//! failed-auth, geography and bulk-retrieval scenarios run twice, against different
//! victims, so every detector is scored on several cases.

mod access;
mod borrowed;
mod bulk;
mod destructive;
mod failed_auth;
mod geo;
mod novelty;
mod novelty_confounders;
mod pipeline;
mod settings;
mod vpn;

pub(crate) use vpn::split_tunnel_routine;

use std::net::IpAddr;
use std::sync::Arc;

use rand::RngExt;

use super::clock::{Tick, Zone};
use super::ids::{self, SimRng};
use super::places::{self, pool_named};
use super::plan::{Ctx, Plan};
use super::request::{AppPrincipal, AppToken, Caller, Identity, UserToken};
use super::tenant::{appid, Tenant};

/// A scenario planner: (context, random stream, day, instance, plan).
type Planner = fn(&Ctx<'_>, &mut SimRng, u32, u32, &mut Plan);

/// When a scenario runs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Placement {
    /// Spread with the other `Spread` scenarios over the period, in a shuffled order,
    /// so detectors' cases interleave.
    Spread,
    /// On a day of its own, drawn from its own random stream: adding such a
    /// scenario moves no other, so every earlier label stays where it was.
    OwnDay,
}

/// One entry of the catalogue.
struct Template {
    name: &'static str,
    repeat: bool,
    placement: Placement,
    plan: Planner,
}

const CATALOGUE: &[Template] = &[
    Template {
        name: "token_spray",
        repeat: true,
        placement: Placement::Spread,
        plan: failed_auth::token_spray,
    },
    Template {
        name: "rbac_enumeration",
        repeat: true,
        placement: Placement::Spread,
        plan: failed_auth::rbac_enumeration,
    },
    Template {
        name: "firewall_denied",
        repeat: true,
        placement: Placement::Spread,
        plan: failed_auth::firewall_denied,
    },
    Template {
        name: "new_country",
        repeat: true,
        placement: Placement::Spread,
        plan: geo::new_country,
    },
    Template {
        name: "impossible_travel",
        repeat: true,
        placement: Placement::Spread,
        plan: geo::impossible_travel,
    },
    Template {
        name: "sp_new_country",
        repeat: false,
        placement: Placement::Spread,
        plan: geo::sp_new_country,
    },
    Template {
        name: "self_grant",
        repeat: false,
        placement: Placement::Spread,
        plan: access::self_grant,
    },
    Template {
        name: "grant_to_new_principal",
        repeat: false,
        placement: Placement::Spread,
        plan: access::grant_to_new_principal,
    },
    Template {
        name: "firewall_opened",
        repeat: false,
        placement: Placement::Spread,
        plan: settings::firewall_opened,
    },
    Template {
        name: "ip_rule_added",
        repeat: false,
        placement: Placement::Spread,
        plan: settings::ip_rule_added,
    },
    Template {
        name: "rbac_disabled",
        repeat: false,
        placement: Placement::Spread,
        plan: settings::rbac_disabled,
    },
    Template {
        name: "deployment_access_enabled",
        repeat: false,
        placement: Placement::Spread,
        plan: settings::deployment_access_enabled,
    },
    Template {
        name: "purge_protection_disabled",
        repeat: false,
        placement: Placement::Spread,
        plan: settings::purge_protection_disabled,
    },
    Template {
        name: "list_then_dump",
        repeat: true,
        placement: Placement::Spread,
        plan: bulk::list_then_dump,
    },
    Template {
        name: "low_and_slow",
        repeat: true,
        placement: Placement::Spread,
        plan: bulk::low_and_slow,
    },
    Template {
        name: "backup_identity_misuse",
        repeat: false,
        placement: Placement::Spread,
        plan: bulk::backup_identity_misuse,
    },
    Template {
        name: "new_principal_dump",
        repeat: false,
        placement: Placement::Spread,
        plan: bulk::new_principal_dump,
    },
    Template {
        name: "delete_and_purge",
        repeat: false,
        placement: Placement::OwnDay,
        plan: destructive::delete_and_purge,
    },
    Template {
        name: "vpn_user_far_sign_in",
        repeat: false,
        placement: Placement::OwnDay,
        plan: vpn::far_sign_in,
    },
    Template {
        name: "slow_thief_workload",
        repeat: false,
        placement: Placement::OwnDay,
        plan: novelty::slow_thief_workload,
    },
    Template {
        name: "slow_thief_user",
        repeat: false,
        placement: Placement::OwnDay,
        plan: novelty::slow_thief_user,
    },
    Template {
        name: "new_principal_most_of_vault",
        repeat: false,
        placement: Placement::OwnDay,
        plan: novelty::new_principal_most_of_vault,
    },
    Template {
        name: "new_employee_ramp_up",
        repeat: false,
        placement: Placement::OwnDay,
        plan: novelty_confounders::new_employee_ramp_up,
    },
    Template {
        name: "nightly_backup",
        repeat: false,
        placement: Placement::OwnDay,
        plan: novelty_confounders::nightly_backup,
    },
    Template {
        name: "app_restart_storm",
        repeat: false,
        placement: Placement::OwnDay,
        plan: novelty_confounders::app_restart_storm,
    },
    Template {
        name: "new_app_start_up",
        repeat: false,
        placement: Placement::OwnDay,
        plan: novelty_confounders::new_app_start_up,
    },
    Template {
        name: "pipeline_back_to_back",
        repeat: false,
        placement: Placement::OwnDay,
        plan: pipeline::pipeline_back_to_back,
    },
    Template {
        name: "pipeline_dump",
        repeat: true,
        placement: Placement::OwnDay,
        plan: pipeline::pipeline_dump,
    },
    Template {
        name: "borrowed_workload_identity",
        repeat: false,
        placement: Placement::OwnDay,
        plan: borrowed::borrowed_workload_identity,
    },
    Template {
        name: "workload_scale_out",
        repeat: false,
        placement: Placement::OwnDay,
        plan: borrowed::workload_scale_out,
    },
    Template {
        name: "release_new_secrets",
        repeat: false,
        placement: Placement::OwnDay,
        plan: borrowed::release_new_secrets,
    },
    Template {
        name: "azure_address_churn",
        repeat: false,
        placement: Placement::OwnDay,
        plan: borrowed::azure_address_churn,
    },
    Template {
        name: "new_app_from_azure",
        repeat: false,
        placement: Placement::OwnDay,
        plan: borrowed::new_app_from_azure,
    },
];

/// The names of every attack scenario.
pub(crate) fn names() -> Vec<&'static str> {
    CATALOGUE.iter().map(|t| t.name).collect()
}

/// Plans every attack scenario into `plan`.
pub(crate) fn plan_attacks(ctx: &Ctx<'_>, plan: &mut Plan) {
    let mut rng = ids::stream(ctx.seed, "scenario-schedule", 0);
    let instances_of = |t: &Template| {
        let repeats = t.repeat && ctx.days >= 10;
        [0, 1].into_iter().take(if repeats { 2 } else { 1 })
    };
    let mut instances: Vec<(usize, u32)> = Vec::new();
    for (i, t) in CATALOGUE.iter().enumerate() {
        if t.placement == Placement::Spread {
            instances.extend(instances_of(t).map(|n| (i, n)));
        }
    }
    // Shuffle so detectors' cases interleave over the period.
    for i in (1..instances.len()).rev() {
        let j = rng.random_range(0..=i);
        instances.swap(i, j);
    }
    let warmup = if ctx.days >= 2 {
        (ctx.days / 4).max(1)
    } else {
        0
    };
    let span = ctx.days - warmup;
    let count = instances.len() as u32;
    let mut days: Vec<(usize, u32, u32)> = instances
        .into_iter()
        .enumerate()
        .map(|(k, (t, n))| (t, n, warmup + (k as u32 * span) / count.max(1)))
        .collect();
    for (i, t) in CATALOGUE.iter().enumerate() {
        if t.placement == Placement::OwnDay {
            for n in instances_of(t) {
                let mut own =
                    ids::stream(ctx.seed, &format!("scenario-day-{}", t.name), u64::from(n));
                days.push((i, n, warmup + own.random_range(0..span.max(1))));
            }
        }
    }
    for (template, instance, day) in days {
        let t = &CATALOGUE[template];
        let mut srng = ids::stream(ctx.seed, t.name, u64::from(instance));
        (t.plan)(ctx, &mut srng, day.min(ctx.days - 1), instance, plan);
    }
}

/// A random address of `pool`.
pub(crate) fn ip(rng: &mut SimRng, pool: &str) -> IpAddr {
    IpAddr::V4(places::address_in(pool_named(pool), rng))
}

/// A time on period day `d` between local hours `from` and `to` in `zone`.
pub(crate) fn at(rng: &mut SimRng, ctx: &Ctx<'_>, d: u32, zone: Zone, from: f64, to: f64) -> Tick {
    zone.at(ctx.date(d), rng.random_range(from..to))
}

/// The index of the user called `name` (the roster is fixed).
pub(crate) fn user(tenant: &Tenant, name: &str) -> usize {
    tenant
        .users
        .iter()
        .position(|u| u.name == name)
        .unwrap_or(0)
}

/// A user's data-plane caller with a tool's appid, from `ip`, token issued at `token_ip`.
pub(crate) fn user_caller(
    tenant: &Tenant,
    u: usize,
    app: &'static str,
    ip: IpAddr,
    token_ip: IpAddr,
    client: &str,
) -> Arc<Caller> {
    let user = &tenant.users[u];
    let amr = if user.mfa { "pwd mfa" } else { "pwd" };
    Arc::new(Caller {
        identity: Identity::User(UserToken {
            oid: user.oid.clone(),
            upn: user.upn.clone(),
            appid: app,
            ipaddr: token_ip.to_string(),
            amr,
        }),
        ip,
        client_info: client.to_owned(),
        subnet: None,
        tls: "TLS1_3",
    })
}

/// An application's caller from `ip` with a fresh token.
pub(crate) fn app_caller(
    rng: &mut SimRng,
    p: &AppPrincipal,
    t: Tick,
    ip: IpAddr,
    client: &str,
    lifetime: i64,
) -> Arc<Caller> {
    Arc::new(Caller {
        identity: Identity::App(AppToken::issue(rng, p, t, lifetime)),
        ip,
        client_info: client.to_owned(),
        subnet: None,
        tls: "TLS1_2",
    })
}

/// The workload called `name`.
pub(crate) fn workload<'t>(
    tenant: &'t Tenant,
    name: &str,
) -> Option<&'t super::workloads::Workload> {
    tenant.workloads.iter().find(|w| w.name == name)
}

/// Attacker tooling user agents.
pub(crate) mod tools {
    /// The Python SDK on an attacker's Linux box.
    pub const PYTHON_SDK: &str = "azsdk-python-keyvault-secrets/4.9.0 Python/3.13.1 (Linux-6.12.20-amd64-x86_64-with-glibc2.41)";
    /// Raw REST with a stolen token.
    pub const REQUESTS: &str = "python-requests/2.32.3";
    /// The Azure CLI on Linux.
    pub const CLI_LINUX: &str = "AZURECLI/2.78.0 (DEB) azsdk-python-core/1.35.0 Python/3.12.3 (Linux-6.8.0-85-generic-x86_64-with-glibc2.39)";
    /// A browser on Windows (portal sessions of a phished account).
    pub const BROWSER: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/141.0.0.0 Safari/537.36";
}

/// The CLI appid.
pub(crate) const CLI: &str = appid::CLI;
