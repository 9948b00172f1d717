//! The benign routines that look like the slow thief or a new principal's dump
//! (`bulk_secret_retrieval` confounders, labelled `confounder`: they must raise
//! nothing; the workloads' ones are `unusual_geo` confounders too, for
//! `borrowed_identity`), next to the attacks of `novelty.rs`:
//! - `new_employee_ramp_up`: a new developer meets eight to eleven secrets she never
//!   read on each of her first working days, across two vaults.
//! - `nightly_backup`: the backup identity reads every object of three vaults every
//!   night (its own traffic, labelled from the fourth night).
//! - `app_restart_storm`: the orders API crash-loops for an hour, every pod re-reading
//!   its usual secrets at every restart.
//! - `new_app_start_up`: three applications (the managed identities of new Function
//!   Apps) first seen after learning each read their own fifteen to eighteen of the
//!   application vault's 45 secrets in seconds at start-up, and again at each restart.

use std::sync::Arc;

use rand::RngExt;

use super::super::clock::{Zone, DAY, HOUR, MINUTE};
use super::super::ids::{self, SimRng};
use super::super::plan::{Actor, Ctx, Plan};
use super::super::request::{self, Caller, Identity, UserToken};
use super::super::tenant::{APP, DEV};
use super::super::users;
use super::super::vaults::Object;
use super::super::workloads::{self, Job};
use super::novelty::{day_of, get, pick};
use super::{app_caller, at, ip, tools, workload, CLI};

/// `new_employee_ramp_up`: a new developer meeting new secrets every working day.
pub(super) fn new_employee_ramp_up(
    ctx: &Ctx<'_>,
    rng: &mut SimRng,
    day: u32,
    _instance: u32,
    plan: &mut Plan,
) {
    let tenant = ctx.tenant;
    let oid = ids::guid(rng);
    let upn = format!("ines.garnier@{}", tenant.domain);
    let first = day.max(1).min(ctx.days.saturating_sub(1));
    let pool: Vec<(usize, Object)> = tenant.vaults[DEV]
        .secrets
        .iter()
        .map(|o| (DEV, o.clone()))
        .chain(tenant.vaults[APP].secrets.iter().map(|o| (APP, o.clone())))
        .collect();
    let mut order: Vec<usize> = (0..pool.len()).collect();
    for i in (1..order.len()).rev() {
        let j = rng.random_range(0..=i);
        order.swap(i, j);
    }
    let mut met = 0usize;
    let mark = plan.mark();
    for d in (first..ctx.days)
        .filter(|d| !super::super::clock::is_weekend(ctx.date(*d)))
        .take(6)
    {
        let addr = ip(rng, "fr-office-paris");
        let caller = Arc::new(Caller {
            identity: Identity::User(UserToken {
                oid: oid.clone(),
                upn: upn.clone(),
                appid: CLI,
                ipaddr: addr.to_string(),
                amr: "pwd mfa",
            }),
            ip: addr,
            client_info: tools::CLI_LINUX.to_owned(),
            subnet: None,
            tls: "TLS1_3",
        });
        let mut t = at(rng, ctx, d, Zone::Europe(60), 9.0, 10.0);
        let fresh = rng.random_range(8..12usize);
        let again = rng.random_range(2..5usize).min(met);
        let today: Vec<usize> = order
            .iter()
            .skip(met)
            .take(fresh)
            .copied()
            .chain((0..again).map(|_| order[rng.random_range(0..met.max(1))]))
            .collect();
        met = (met + fresh).min(order.len());
        for i in today {
            let (vault, o) = &pool[i];
            plan.requests
                .push(get(rng, t, *vault, &caller, o, users::data_api()));
            t += rng.random_range(15..50) * MINUTE;
        }
    }
    let text = format!("{upn}, a developer who joined this week, meets eight to eleven secrets she never read on each of her first working days across {} and {}, as she is onboarded (no alert)", tenant.vaults[DEV].lower, tenant.vaults[APP].lower);
    plan.label(
        mark,
        "confounder",
        "new_employee_ramp_up",
        "bulk_secret_retrieval",
        &oid,
        "*",
        None,
        text,
    );
    plan.actors.push(Actor {
        role: "new employee ramping up (new_employee_ramp_up confounder)".into(),
        oid,
        appid: None,
        addresses: vec![],
    });
}

/// `nightly_backup`: labels the backup identity's nights from the fourth on.
pub(super) fn nightly_backup(
    ctx: &Ctx<'_>,
    _rng: &mut SimRng,
    _day: u32,
    _instance: u32,
    plan: &mut Plan,
) {
    let tenant = ctx.tenant;
    let Some(w) = workload(tenant, "backup-automation") else {
        return;
    };
    let Job::Backup {
        zone, local_hour, ..
    } = &w.job
    else {
        return;
    };
    for d in 3..ctx.days {
        let start = zone.at(ctx.date(d), *local_hour) - 20 * MINUTE;
        let end = start + 2 * HOUR;
        if end >= ctx.start + i64::from(ctx.days) * DAY {
            break;
        }
        let text = format!("the nightly backup identity {} backs up every object of its vaults at its usual hour (no alert)", w.name);
        // Its usual network and objects: borrowed_identity must stay quiet too.
        for detector in ["bulk_secret_retrieval", "unusual_geo"] {
            plan.label(
                plan.mark(),
                "confounder",
                "nightly_backup",
                detector,
                &w.principal.oid,
                "*",
                Some((start, end)),
                text.clone(),
            );
        }
    }
}

/// `app_restart_storm`: the orders API crash-looping for an hour.
pub(super) fn app_restart_storm(
    ctx: &Ctx<'_>,
    rng: &mut SimRng,
    day: u32,
    _instance: u32,
    plan: &mut Plan,
) {
    let tenant = ctx.tenant;
    let Some(w) = workload(tenant, "orders-api") else {
        return;
    };
    let Job::Restarts {
        vault,
        secrets,
        pods,
        ..
    } = &w.job
    else {
        return;
    };
    let d = day_of(ctx, day);
    let mut t = at(rng, ctx, d, Zone::Europe(60), 13.0, 16.0);
    let mark = plan.mark();
    for _ in 0..12 {
        for _ in 0..*pods {
            let caller = workloads::caller(rng, w, t);
            let start = t + request::gap(rng, 200, 8_000);
            workloads::session(
                rng,
                w,
                &caller,
                start,
                *vault,
                workloads::targets(&tenant.vaults[*vault], secrets, None),
                true,
                &mut plan.requests,
            );
        }
        t += rng.random_range(3..7) * MINUTE;
    }
    let text = format!("{} crash-loops for an hour: {} pods restart twelve times, each re-reading its usual secrets (no alert)", w.name, pods);
    plan.label(
        mark,
        "confounder",
        "app_restart_storm",
        "bulk_secret_retrieval",
        &w.principal.oid,
        &tenant.vaults[*vault].lower,
        None,
        text.clone(),
    );
    plan.label(
        mark,
        "confounder",
        "app_restart_storm",
        "unusual_geo",
        &w.principal.oid,
        "*",
        None,
        text,
    );
}

/// `new_app_start_up`: three new applications each reading their own subset.
pub(super) fn new_app_start_up(
    ctx: &Ctx<'_>,
    rng: &mut SimRng,
    day: u32,
    _instance: u32,
    plan: &mut Plan,
) {
    let tenant = ctx.tenant;
    let v = &tenant.vaults[APP];
    for k in 0..3u32 {
        let d = (day_of(ctx, day) + k).min(ctx.days.saturating_sub(1));
        // System-assigned identities of new Function Apps: managed identities, a kind
        // with few readers, so until now their start-up read was judged by the count.
        let site = format!("func-checkout-v{}", k + 2);
        let mirid = format!(
            "/subscriptions/{}/resourcegroups/rg-prod-app/providers/Microsoft.Web/sites/{site}",
            tenant.subscriptions[0]
        );
        let p = tenant.new_app(rng, "2", Some(mirid));
        let addrs = [ip(rng, "azure-westeurope"), ip(rng, "azure-westeurope")];
        let n = rng.random_range(15..=18usize);
        let subset = pick(rng, &v.secrets, &[], n);
        let mut t = at(rng, ctx, d, Zone::Fixed(0), 7.0, 15.0);
        let mark = plan.mark();
        for _ in 0..3 {
            let addr = addrs[rng.random_range(0..2)];
            let caller = app_caller(
                rng,
                &p,
                t,
                addr,
                "azsdk-net-Security.KeyVault.Secrets/4.7.0 (.NET 8.0.20; Ubuntu 22.04.5 LTS)",
                4_500,
            );
            let mut s = t;
            for o in &subset {
                plan.requests.push(get(rng, s, APP, &caller, o, "7.5"));
                s += request::gap(rng, 50, 900);
            }
            t += rng.random_range(2..6) * HOUR;
        }
        let text = format!("a new application ({}) first seen after learning reads its own {n} of the {} secrets of {} in seconds at start-up, and again at two restarts (no alert)", p.oid, v.secrets.len(), v.lower);
        plan.label(
            mark,
            "confounder",
            "new_app_start_up",
            "bulk_secret_retrieval",
            &p.oid,
            &v.lower,
            None,
            text.clone(),
        );
        plan.label(
            mark,
            "confounder",
            "new_app_start_up",
            "unusual_geo",
            &p.oid,
            "*",
            None,
            text,
        );
        plan.actors.push(Actor {
            role: "new application starting up (new_app_start_up confounder)".into(),
            oid: p.oid.clone(),
            appid: Some(p.appid.clone()),
            addresses: addrs.iter().map(ToString::to_string).collect(),
        });
    }
}
