//! `unusual_geo` scenarios: a new country, impossible travel, a workload abroad.
//!
//! - `new_country`: a phished user signs in (MFA fatigue) from a country nobody in
//!   the tenant uses (Nigeria, then Brazil) and reads a few secrets in the portal.
//! - `impossible_travel`: a user works from the Paris office; forty minutes later a
//!   replayed token of theirs (its `ipaddr` still the office) reads secrets from
//!   New York. The United States is a tenant country, so only distance over time
//!   gives it away.
//! - `sp_new_country`: the on-premises billing job's client secret, leaked, is used
//!   from a hosting range in Vietnam; the principal normally calls from Paris.

use rand::RngExt;

use super::super::clock::{Zone, MINUTE};
use super::super::ids::{self, SimRng};
use super::super::plan::{Ctx, Plan};
use super::super::request::{self, Outcome, Request, Style, Verb};
use super::super::sessions;
use super::super::tenant::{Role, APP, PAY};
use super::super::users::{self, UserCallers};
use super::super::vaults::ObjKind;
use super::super::workloads::challenge;
use super::{app_caller, at, ip, tools, user, user_caller, workload, CLI};

pub(super) fn new_country(
    ctx: &Ctx<'_>,
    rng: &mut SimRng,
    day: u32,
    instance: u32,
    plan: &mut Plan,
) {
    let tenant = ctx.tenant;
    let (victim, pool, country) = if instance == 0 {
        ("Oliver Smith", "ng-home-lagos", "Nigeria")
    } else {
        ("Thomas Petit", "br-home-saopaulo", "Brazil")
    };
    let u = user(tenant, victim);
    let addr = ip(rng, pool);
    let zone = if instance == 0 {
        Zone::Fixed(60)
    } else {
        Zone::Fixed(-180)
    };
    let t = at(rng, ctx, day, zone, 10.0, 17.0);
    let mut callers: UserCallers = users::callers(&tenant.users[u], addr, addr);
    // The attacker's own browser, not the victim's.
    callers.portal = std::sync::Arc::new(super::super::request::Caller {
        client_info: tools::BROWSER.to_owned(),
        ..(*callers.portal).clone()
    });
    let vault = tenant.users[u]
        .vaults
        .iter()
        .copied()
        .find(|v| *v != PAY)
        .unwrap_or(APP);
    let mark = plan.mark();
    let reveals = rng.random_range(2..5);
    sessions::portal_read(
        rng,
        vault,
        &tenant.vaults[vault],
        &callers,
        t,
        reveals,
        &mut plan.requests,
    );
    let text = format!("{} signs in from {country} ({addr}), a country no one in the tenant uses, and reveals {reveals} secrets in the portal", tenant.users[u].upn);
    plan.label(
        mark,
        "attack",
        "new_country",
        "unusual_geo",
        &tenant.users[u].oid,
        &tenant.vaults[vault].lower,
        None,
        text,
    );
}

pub(super) fn impossible_travel(
    ctx: &Ctx<'_>,
    rng: &mut SimRng,
    day: u32,
    instance: u32,
    plan: &mut Plan,
) {
    let tenant = ctx.tenant;
    let candidates: Vec<usize> = tenant
        .users
        .iter()
        .enumerate()
        .filter(|(i, u)| {
            u.zone == Zone::Europe(60)
                && u.office_pool == "fr-office-paris"
                && u.role != Role::Admin
                && *i < super::super::tenant::FIRST_NEW_HIRE
        })
        .map(|(i, _)| i)
        .collect();
    // Nicolas, then Lea: victims no other scenario uses.
    let u = candidates
        .get([4usize, 3][instance.min(1) as usize] % candidates.len().max(1))
        .copied()
        .unwrap_or(0);
    let user_ref = &tenant.users[u];
    let office = ip(rng, "fr-office-paris");
    let far = ip(
        rng,
        if instance == 0 {
            "us-home-newyork"
        } else {
            "in-home-bangalore"
        },
    );
    let t = at(rng, ctx, day, Zone::Europe(60), 10.0, 15.0);
    let vault = user_ref
        .vaults
        .iter()
        .copied()
        .find(|v| *v != PAY)
        .unwrap_or(APP);
    let mark = plan.mark();
    let home = users::callers(user_ref, office, office);
    let last_paris = sessions::portal_read(
        rng,
        vault,
        &tenant.vaults[vault],
        &home,
        t,
        1,
        &mut plan.requests,
    );
    let mut t2 = last_paris + rng.random_range(30..50) * MINUTE;
    let caller = user_caller(tenant, u, CLI, far, office, tools::CLI_LINUX);
    let v = &tenant.vaults[vault];
    plan.requests.push(challenge(
        rng,
        t2,
        vault,
        &caller,
        request::collection(ObjKind::Secret),
        users::data_api(),
    ));
    t2 += request::gap(rng, 100, 600);
    plan.requests.push(Request::new(
        rng,
        t2,
        vault,
        "SecretList",
        Outcome::Ok,
        &caller,
        request::collection(ObjKind::Secret),
        users::data_api(),
        Style::Sdk,
    ));
    let reads = rng.random_range(3..6);
    for _ in 0..reads {
        t2 += request::gap(rng, 2_000, 40_000);
        let Some(o) = ids::pick(rng, &v.secrets) else {
            break;
        };
        plan.requests.push(Request::new(
            rng,
            t2,
            vault,
            "SecretGet",
            Outcome::Ok,
            &caller,
            request::object(ObjKind::Secret, &o.name, Some(&o.version), Verb::Read),
            users::data_api(),
            Style::Sdk,
        ));
    }
    let place = if instance == 0 {
        "New York"
    } else {
        "Bengaluru"
    };
    let text = format!("{} works from the Paris office, then under an hour later a replayed token of theirs (ipaddr {office}) lists and reads {reads} secrets from {place} ({far})", user_ref.upn);
    plan.label(
        mark,
        "attack",
        "impossible_travel",
        "unusual_geo",
        &user_ref.oid,
        &v.lower,
        Some((last_paris, t2)),
        text,
    );
}

pub(super) fn sp_new_country(
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
    let addr = ip(rng, "vn-hosting-hanoi");
    let mut t = at(rng, ctx, day, Zone::Fixed(420), 9.0, 18.0);
    let caller = app_caller(
        rng,
        &w.principal,
        t,
        addr,
        "azsdk-python-keyvault-secrets/4.9.0 Python/3.12.4 (Windows-10-10.0.19045-SP0)",
        4_500,
    );
    let vault = &tenant.vaults[APP];
    let mark = plan.mark();
    let reads: Vec<usize> = match &w.job {
        super::super::workloads::Job::Cron { secrets, .. } => secrets.clone(),
        _ => vec![0, 1, 2],
    };
    let extra = rng.random_range(2..4);
    let mut names: Vec<usize> = reads.clone();
    for _ in 0..extra {
        names.push(rng.random_range(0..vault.secrets.len().max(1)));
    }
    plan.requests.push(challenge(
        rng,
        t,
        APP,
        &caller,
        request::collection(ObjKind::Secret),
        "7.5",
    ));
    for i in names {
        t += request::gap(rng, 300, 20_000);
        let Some(o) = vault.secrets.get(i) else {
            continue;
        };
        plan.requests.push(Request::new(
            rng,
            t,
            APP,
            "SecretGet",
            Outcome::Ok,
            &caller,
            request::object(ObjKind::Secret, &o.name, Some(&o.version), Verb::Read),
            "7.5",
            Style::Sdk,
        ));
    }
    let text = format!("the client secret of {} (normally used from the Paris datacenter) is used from a hosting range in Vietnam ({addr}) to read {} secrets", w.name, reads.len() + extra);
    plan.label(
        mark,
        "attack",
        "sp_new_country",
        "unusual_geo",
        &w.principal.oid,
        &vault.lower,
        None,
        text,
    );
}
