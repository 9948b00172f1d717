//! The slow thief and the brand-new application (`bulk_secret_retrieval`), with
//! the benign routines that look like them.
//!
//! Attacks:
//! - `slow_thief_workload`: the billing worker, which reads its three billing secrets
//!   every hour, reads two secrets it never read every hour for twenty hours, across
//!   the application vault and two vaults it never used, from its usual address and
//!   client. No ten-minute or six-hour window of one vault looks unusual; the day does.
//! - `slow_thief_user`: a developer who reads a few secrets a day reads 25 over five
//!   hours across her dev vault and the application vault, new to her.
//! - `new_principal_most_of_vault`: a service principal never seen before reads most
//!   of the dev vault in a minute, without listing it (it knew the names).
//!
//! Confounders (labelled `confounder`, they must raise nothing):
//! - `new_employee_ramp_up`: a new developer meets eight to eleven secrets she never
//!   read on each of her first working days, across two vaults.
//! - `nightly_backup`: the backup identity reads every object of three vaults every
//!   night (its own traffic, labelled from the fourth night).
//! - `app_restart_storm`: the orders API crash-loops for an hour, every pod re-reading
//!   its usual secrets at every restart.
//! - `new_app_start_up`: three applications first seen after learning each read their
//!   own fifteen to eighteen of the application vault's secrets in seconds at
//!   start-up, and again at each restart.

use std::sync::Arc;

use rand::RngExt;

use super::super::clock::{Tick, Zone, HOUR, MINUTE};
use super::super::ids::SimRng;
use super::super::plan::{Actor, Ctx, Plan};
use super::super::request::{self, Caller, Outcome, Request, Style, Verb};
use super::super::tenant::{APP, DATA, DEV};
use super::super::users;
use super::super::vaults::{ObjKind, Object};
use super::super::workloads::{self, Job};
use super::{app_caller, at, ip, tools, user, user_caller, workload, CLI};

/// The first day a scenario of this file may use: three closed days after learning.
const FIRST_DAY: u32 = 4;

/// A SecretGet of `o` in `vault` by `caller` at `t`.
pub(super) fn get(
    rng: &mut SimRng,
    t: Tick,
    vault: usize,
    caller: &Arc<Caller>,
    o: &Object,
    api: &'static str,
) -> Request {
    let target = request::object(ObjKind::Secret, &o.name, Some(&o.version), Verb::Read);
    Request::new(
        rng,
        t,
        vault,
        "SecretGet",
        Outcome::Ok,
        caller,
        target,
        api,
        Style::Sdk,
    )
}

/// `n` objects of `objects` (shuffled), excluding the indexes in `skip`.
pub(super) fn pick(rng: &mut SimRng, objects: &[Object], skip: &[usize], n: usize) -> Vec<Object> {
    let mut idx: Vec<usize> = (0..objects.len()).filter(|i| !skip.contains(i)).collect();
    for i in (1..idx.len()).rev() {
        let j = rng.random_range(0..=i);
        idx.swap(i, j);
    }
    idx.into_iter()
        .take(n)
        .map(|i| objects[i].clone())
        .collect()
}

pub(super) fn day_of(ctx: &Ctx<'_>, day: u32) -> u32 {
    day.max(FIRST_DAY).min(ctx.days.saturating_sub(1))
}

/// `slow_thief_workload`: two new secrets an hour for twenty hours, three vaults.
pub(super) fn slow_thief_workload(
    ctx: &Ctx<'_>,
    rng: &mut SimRng,
    day: u32,
    _instance: u32,
    plan: &mut Plan,
) {
    let tenant = ctx.tenant;
    let Some(w) = workload(tenant, "billing-worker") else {
        return;
    };
    let usual = match &w.job {
        Job::Cron { secrets, .. } => secrets.clone(),
        _ => vec![],
    };
    let mut stolen: Vec<(usize, Object)> = Vec::new();
    for (vault, n) in [(APP, 16), (DATA, 10), (DEV, 14)] {
        let skip = if vault == APP { usual.as_slice() } else { &[] };
        stolen.extend(
            pick(rng, &tenant.vaults[vault].secrets, skip, n)
                .into_iter()
                .map(|o| (vault, o)),
        );
    }
    for i in (1..stolen.len()).rev() {
        let j = rng.random_range(0..=i);
        stolen.swap(i, j);
    }
    let d = day_of(ctx, day);
    let start = at(rng, ctx, d, Zone::Fixed(0), 2.0, 3.5);
    let mark = plan.mark();
    for (k, (vault, o)) in stolen.iter().enumerate() {
        let hour = start + (k as i64 / 2) * HOUR;
        let t = hour + rng.random_range(5..55) * MINUTE + request::gap(rng, 0, 30_000);
        let caller = workloads::caller(rng, w, t);
        plan.requests.push(get(rng, t, *vault, &caller, o, w.api));
    }
    let text = format!(
        "{} (from its usual on-premises address and client), which reads its three billing secrets every hour, reads {} secrets it never read, two an hour for twenty hours, across {}, {} and {} (the last two new to it)",
        w.name,
        stolen.len(),
        tenant.vaults[APP].lower,
        tenant.vaults[DATA].lower,
        tenant.vaults[DEV].lower
    );
    plan.label(
        mark,
        "attack",
        "slow_thief_workload",
        "bulk_secret_retrieval",
        &w.principal.oid,
        "*",
        None,
        text,
    );
}

/// `slow_thief_user`: 25 new secrets over five hours across two vaults, one new to her.
pub(super) fn slow_thief_user(
    ctx: &Ctx<'_>,
    rng: &mut SimRng,
    day: u32,
    _instance: u32,
    plan: &mut Plan,
) {
    let tenant = ctx.tenant;
    let u = user(tenant, "Lea Moreau");
    let Some(person) = tenant.users.get(u) else {
        return;
    };
    let d = (day_of(ctx, day)..ctx.days)
        .find(|d| !super::super::clock::is_weekend(ctx.date(*d)))
        .unwrap_or(day_of(ctx, day));
    let addr = ip(rng, person.office_pool);
    let caller = user_caller(tenant, u, CLI, addr, addr, tools::CLI_LINUX);
    let mut stolen: Vec<(usize, Object)> =
        pick(rng, &tenant.vaults[DEV].secrets, &[0, 1, 2, 3, 4], 12)
            .into_iter()
            .map(|o| (DEV, o))
            .collect();
    stolen.extend(
        pick(rng, &tenant.vaults[APP].secrets, &[], 13)
            .into_iter()
            .map(|o| (APP, o)),
    );
    for i in (1..stolen.len()).rev() {
        let j = rng.random_range(0..=i);
        stolen.swap(i, j);
    }
    let mut t = at(rng, ctx, d, person.zone, 11.0, 12.0);
    let mark = plan.mark();
    for (vault, o) in &stolen {
        plan.requests
            .push(get(rng, t, *vault, &caller, o, users::data_api()));
        t += rng.random_range(8..16) * MINUTE + request::gap(rng, 0, 40_000);
    }
    let text = format!(
        "{} (from her office, her usual client), who reads a few secrets a day, reads {} she never read over five hours across {} and {} (a vault new to her)",
        person.upn,
        stolen.len(),
        tenant.vaults[DEV].lower,
        tenant.vaults[APP].lower
    );
    plan.label(
        mark,
        "attack",
        "slow_thief_user",
        "bulk_secret_retrieval",
        &person.oid,
        "*",
        None,
        text,
    );
}

/// `new_principal_most_of_vault`: a never-seen principal reads most of the dev vault.
pub(super) fn new_principal_most_of_vault(
    ctx: &Ctx<'_>,
    rng: &mut SimRng,
    day: u32,
    _instance: u32,
    plan: &mut Plan,
) {
    let tenant = ctx.tenant;
    let p = tenant.new_app(rng, "1", None);
    let addr = ip(rng, "azure-northeurope");
    let d = day_of(ctx, day);
    let mut t = at(rng, ctx, d, Zone::Fixed(0), 0.0, 23.0);
    let caller = app_caller(rng, &p, t, addr, tools::PYTHON_SDK, 4_500);
    let v = &tenant.vaults[DEV];
    let n = (v.secrets.len() * 9 / 10).max(1);
    let objects = pick(rng, &v.secrets, &[], n);
    let mark = plan.mark();
    for o in &objects {
        plan.requests.push(get(rng, t, DEV, &caller, o, "7.5"));
        t += request::gap(rng, 300, 3_000);
    }
    let text = format!("a service principal never seen before ({}) reads {n} of the {} secrets of {} in a minute from an Azure VM ({addr}), without listing the vault", p.oid, v.secrets.len(), v.lower);
    plan.label(
        mark,
        "attack",
        "new_principal_most_of_vault",
        "bulk_secret_retrieval",
        &p.oid,
        &v.lower,
        None,
        text,
    );
    plan.actors.push(Actor {
        role: "new service principal reading most of a vault (new_principal_most_of_vault)".into(),
        oid: p.oid.clone(),
        appid: Some(p.appid.clone()),
        addresses: vec![addr.to_string()],
    });
}
