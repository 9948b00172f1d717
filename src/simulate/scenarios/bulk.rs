//! `bulk_secret_retrieval` scenarios: secrets read in bulk, fast or slow.
//!
//! - `list_then_dump`: a phished developer's token lists the vault (two pages) and
//!   reads dozens of secrets in a few minutes with a parallel tool; the vault
//!   throttles some calls (429) and the tool retries them.
//! - `low_and_slow`: a workload identity, from its own usual address and client,
//!   reads one secret it never needed every few minutes for hours.
//! - `backup_identity_misuse`: the nightly backup identity reads secret *values*
//!   in the afternoon from a hosting range abroad (also an `unusual_geo` case).
//! - `new_principal_dump`: a service principal never seen before (its role
//!   assignment is only in the Activity Log) dumps the vault from an Azure VM.

use std::sync::Arc;

use rand::RngExt;

use super::super::clock::{Zone, MINUTE, SECOND};
use super::super::ids::SimRng;
use super::super::plan::{Actor, Ctx, Plan};
use super::super::request::{self, Caller, Outcome, Request, Style, Target, Verb};
use super::super::tenant::{APP, DEV};
use super::super::vaults::{ObjKind, Object};
use super::super::workloads::{self, challenge};
use super::{app_caller, at, ip, tools, user, user_caller, workload, CLI};

/// Lists (in pages) then reads `objects` in parallel bursts; some calls throttled.
#[allow(clippy::too_many_arguments)]
fn dump(
    rng: &mut SimRng,
    plan: &mut Plan,
    vault: usize,
    caller: &Arc<Caller>,
    t: i64,
    objects: &[Object],
    throttle: f64,
    api: &'static str,
) -> i64 {
    let mut t = t;
    plan.requests.push(challenge(
        rng,
        t,
        vault,
        caller,
        request::collection(ObjKind::Secret),
        api,
    ));
    t += request::gap(rng, 60, 300);
    plan.requests.push(Request::new(
        rng,
        t,
        vault,
        "SecretList",
        Outcome::Ok,
        caller,
        request::collection(ObjKind::Secret),
        api,
        Style::Sdk,
    ));
    if objects.len() > 25 {
        t += request::gap(rng, 150, 600);
        let page = Target::Collection {
            kind: ObjKind::Secret,
            page: Some(format!(
                "2!{}!MDAwMDI4IXNlY3JldC8",
                rng.random_range(100..999)
            )),
        };
        plan.requests.push(Request::new(
            rng,
            t,
            vault,
            "SecretList",
            Outcome::Ok,
            caller,
            page,
            api,
            Style::Sdk,
        ));
    }
    for chunk in objects.chunks(8) {
        t += request::gap(rng, 1_000, 6_000);
        let mut retries = Vec::new();
        for o in chunk {
            let at = t + request::gap(rng, 5, 150);
            let outcome = if rng.random_bool(throttle) {
                Outcome::Throttled
            } else {
                Outcome::Ok
            };
            if outcome == Outcome::Throttled {
                retries.push(o);
            }
            let target = request::object(ObjKind::Secret, &o.name, Some(&o.version), Verb::Read);
            plan.requests.push(Request::new(
                rng,
                at,
                vault,
                "SecretGet",
                outcome,
                caller,
                target,
                api,
                Style::Sdk,
            ));
        }
        for o in retries {
            let at = t + rng.random_range(1..4) * SECOND + request::gap(rng, 0, 500);
            let target = request::object(ObjKind::Secret, &o.name, Some(&o.version), Verb::Read);
            plan.requests.push(Request::new(
                rng,
                at,
                vault,
                "SecretGet",
                Outcome::Ok,
                caller,
                target,
                api,
                Style::Sdk,
            ));
        }
        t += 4 * SECOND;
    }
    t
}

fn sample(rng: &mut SimRng, objects: &[Object], n: usize) -> Vec<Object> {
    let mut idx: Vec<usize> = (0..objects.len()).collect();
    for i in (1..idx.len()).rev() {
        let j = rng.random_range(0..=i);
        idx.swap(i, j);
    }
    idx.into_iter()
        .take(n)
        .map(|i| objects[i].clone())
        .collect()
}

pub(super) fn list_then_dump(
    ctx: &Ctx<'_>,
    rng: &mut SimRng,
    day: u32,
    instance: u32,
    plan: &mut Plan,
) {
    let tenant = ctx.tenant;
    let (victim, pool, vault) = if instance == 0 {
        ("Sarah Williams", "us-hosting-newyork", APP)
    } else {
        ("Priya Sharma", "in-home-bangalore", DEV)
    };
    let u = user(tenant, victim);
    let addr = ip(rng, pool);
    let t = at(rng, ctx, day, tenant.users[u].zone, 1.0, 4.0);
    let caller = user_caller(tenant, u, CLI, addr, addr, tools::PYTHON_SDK);
    let v = &tenant.vaults[vault];
    let n = rng.random_range(30..=v.secrets.len().min(42));
    let objects = sample(rng, &v.secrets, n);
    let mark = plan.mark();
    dump(rng, plan, vault, &caller, t, &objects, 0.12, "7.5");
    let text = format!("{}'s token (phished) lists {} and reads {n} secrets within minutes from {addr}; the vault throttles some calls (429) and the tool retries", tenant.users[u].upn, v.lower);
    plan.label(
        mark,
        "attack",
        "list_then_dump",
        "bulk_secret_retrieval",
        &tenant.users[u].oid,
        &v.lower,
        None,
        text,
    );
}

pub(super) fn low_and_slow(
    ctx: &Ctx<'_>,
    rng: &mut SimRng,
    day: u32,
    instance: u32,
    plan: &mut Plan,
) {
    let tenant = ctx.tenant;
    let name = if instance == 0 {
        "orders-api"
    } else {
        "func-orders-prod"
    };
    let Some(w) = workload(tenant, name) else {
        return;
    };
    let mut t = at(rng, ctx, day, Zone::Europe(60), 9.0, 12.0);
    let v = &tenant.vaults[APP];
    let usual: Vec<usize> = match &w.job {
        workloads::Job::Restarts { secrets, .. } | workloads::Job::References { secrets, .. } => {
            secrets.clone()
        }
        _ => vec![],
    };
    let unusual: Vec<Object> = v
        .secrets
        .iter()
        .enumerate()
        .filter(|(i, _)| !usual.contains(i))
        .map(|(_, o)| o.clone())
        .collect();
    let n = rng.random_range(25..=unusual.len().clamp(25, 35));
    let objects = sample(rng, &unusual, n);
    let mark = plan.mark();
    for o in &objects {
        let caller = workloads::caller(rng, w, t);
        let target = request::object(ObjKind::Secret, &o.name, Some(&o.version), Verb::Read);
        plan.requests.push(Request::new(
            rng,
            t,
            APP,
            "SecretGet",
            Outcome::Ok,
            &caller,
            target,
            w.api,
            Style::Sdk,
        ));
        t += rng.random_range(6..16) * MINUTE + request::gap(rng, 0, 30_000);
    }
    let text = format!("{} (from its usual address and client) reads {n} secrets it never uses, one every 6-15 minutes for hours", w.name);
    plan.label(
        mark,
        "attack",
        "low_and_slow",
        "bulk_secret_retrieval",
        &w.principal.oid,
        &v.lower,
        None,
        text,
    );
}

pub(super) fn backup_identity_misuse(
    ctx: &Ctx<'_>,
    rng: &mut SimRng,
    day: u32,
    _instance: u32,
    plan: &mut Plan,
) {
    let tenant = ctx.tenant;
    let Some(w) = workload(tenant, "backup-automation") else {
        return;
    };
    let addr = ip(rng, "ro-hosting-bucharest");
    let t = at(rng, ctx, day, Zone::Europe(60), 14.0, 16.5);
    let caller = app_caller(rng, &w.principal, t, addr, tools::PYTHON_SDK, 4_500);
    let v = &tenant.vaults[APP];
    let n = rng.random_range(28..=v.secrets.len().min(40));
    let objects = sample(rng, &v.secrets, n);
    let mark = plan.mark();
    dump(rng, plan, APP, &caller, t, &objects, 0.05, "7.5");
    let text = format!("the nightly backup identity {} reads {n} secret values (SecretGet, not backups) in the afternoon from a hosting range in Romania ({addr}); it normally backs up from Azure at 02:00", w.name);
    plan.label(
        mark,
        "attack",
        "backup_identity_misuse",
        "bulk_secret_retrieval",
        &w.principal.oid,
        &v.lower,
        None,
        text.clone(),
    );
    plan.label(
        mark,
        "attack",
        "backup_identity_misuse",
        "unusual_geo",
        &w.principal.oid,
        &v.lower,
        None,
        text,
    );
}

pub(super) fn new_principal_dump(
    ctx: &Ctx<'_>,
    rng: &mut SimRng,
    day: u32,
    _instance: u32,
    plan: &mut Plan,
) {
    let tenant = ctx.tenant;
    let p = tenant.new_app(rng, "1", None);
    let addr = ip(rng, "azure-eastus");
    let t = at(rng, ctx, day, Zone::Europe(60), 0.0, 23.0);
    let caller = app_caller(rng, &p, t, addr, tools::PYTHON_SDK, 4_500);
    let v = &tenant.vaults[APP];
    let n = rng.random_range(30..=v.secrets.len().min(40));
    let objects = sample(rng, &v.secrets, n);
    let mark = plan.mark();
    dump(rng, plan, APP, &caller, t, &objects, 0.08, "7.5");
    let text = format!("a service principal never seen before ({}; its role assignment is only in the Activity Log) reads {n} secrets in minutes from an Azure VM ({addr})", p.oid);
    plan.label(
        mark,
        "attack",
        "new_principal_dump",
        "bulk_secret_retrieval",
        &p.oid,
        &v.lower,
        None,
        text,
    );
    plan.actors.push(Actor {
        role: "new service principal dumping secrets (new_principal_dump)".into(),
        oid: p.oid.clone(),
        appid: Some(p.appid.clone()),
        addresses: vec![addr.to_string()],
    });
}
