//! `destructive_operations` scenario: secrets deleted, then purged for good.
//!
//! - `delete_and_purge`: a phished developer's token, from a hosting range at night,
//!   lists the development vault, deletes 18 to 26 of its secrets within minutes and
//!   then purges every one of them, so soft delete cannot bring them back.
//!
//! The confounder, unlabelled because it must stay quiet: a certificate-rotation
//! pipeline (a service principal of its own, from Azure) that every night of the
//! period imports a few new certificates, then deletes and purges the ones they
//! replace (four to seven), and on the attack's day cleans up a larger batch
//! (ten to twelve) at its usual hour: more than a principal that never deletes may
//! delete, well within what this one always does.

use std::sync::Arc;

use rand::RngExt;

use super::super::clock::{Tick, Zone, SECOND};
use super::super::ids::SimRng;
use super::super::plan::{Actor, Ctx, Plan};
use super::super::request::{self, Caller, Outcome, Request, Style, Verb};
use super::super::tenant::{CERTS, DEV};
use super::super::vaults::{ObjKind, Object};
use super::super::workloads::challenge;
use super::{app_caller, at, ip, tools, user, user_caller, CLI};

/// The rotation pipeline's client.
const POWERSHELL: &str = "AzurePowershell/v12.5.0 PSVersion/v7.4.6 Az.KeyVault/6.3.1";

pub(super) fn delete_and_purge(
    ctx: &Ctx<'_>,
    rng: &mut SimRng,
    day: u32,
    _instance: u32,
    plan: &mut Plan,
) {
    rotation_pipeline(ctx, rng, day, plan);
    let tenant = ctx.tenant;
    let u = user(tenant, "Nicolas Laurent");
    let addr = ip(rng, "nl-hosting-amsterdam");
    let mut t = at(rng, ctx, day, tenant.users[u].zone, 1.0, 4.0);
    let caller = user_caller(tenant, u, CLI, addr, addr, tools::CLI_LINUX);
    let v = &tenant.vaults[DEV];
    let n = rng.random_range(18..=v.secrets.len().clamp(18, 26));
    let victims: Vec<&Object> = v.secrets.iter().take(n).collect();
    let mark = plan.mark();
    let list = request::collection(ObjKind::Secret);
    plan.requests
        .push(challenge(rng, t, DEV, &caller, list.clone(), "7.5"));
    t += request::gap(rng, 200, 900);
    plan.requests.push(Request::new(
        rng,
        t,
        DEV,
        "SecretList",
        Outcome::Ok,
        &caller,
        list,
        "7.5",
        Style::Sdk,
    ));
    for (op, verb) in [("SecretDelete", Verb::Delete), ("SecretPurge", Verb::Purge)] {
        t += request::gap(rng, 20_000, 60_000);
        for o in &victims {
            t += request::gap(rng, 800, 6_000);
            let target = request::object(ObjKind::Secret, &o.name, None, verb);
            plan.requests.push(Request::new(
                rng,
                t,
                DEV,
                op,
                Outcome::Ok,
                &caller,
                target,
                "7.5",
                Style::Sdk,
            ));
        }
    }
    let text = format!("{}'s token (phished) deletes {n} secrets of {} within minutes from a hosting range ({addr}) at night, then purges them all", tenant.users[u].upn, v.lower);
    plan.label(
        mark,
        "attack",
        "delete_and_purge",
        "destructive_operations",
        &tenant.users[u].oid,
        &v.lower,
        None,
        text,
    );
}

/// Every night: new certificates imported, the ones they replace deleted and purged;
/// a larger cleanup on `cleanup_day`.
fn rotation_pipeline(ctx: &Ctx<'_>, rng: &mut SimRng, cleanup_day: u32, plan: &mut Plan) {
    let tenant = ctx.tenant;
    let p = tenant.new_app(rng, "2", None);
    let addr = ip(rng, "azure-westeurope");
    for d in 0..ctx.days {
        let t = at(rng, ctx, d, Zone::Europe(60), 2.0, 2.2);
        let n = if d == cleanup_day {
            rng.random_range(10..=12)
        } else {
            rng.random_range(4..=7)
        };
        let caller = app_caller(rng, &p, t, addr, POWERSHELL, 4_500);
        rotate(
            rng,
            plan,
            &caller,
            t,
            ctx.date(d).format("%Y%m%d").to_string(),
            n,
        );
    }
    plan.actors.push(Actor {
        role: "certificate rotation pipeline deleting and purging replaced certificates nightly (destructive_operations confounder)".into(),
        oid: p.oid.clone(),
        appid: Some(p.appid.clone()),
        addresses: vec![addr.to_string()],
    });
    plan.notes.push(format!(
        "a certificate rotation pipeline ({}) deletes and purges the certificates it replaces every night at 02:00 in {}; a larger cleanup on day {}",
        p.oid, tenant.vaults[CERTS].lower, cleanup_day + 1
    ));
}

/// One night's rotation of `n` certificates named after the night's date.
fn rotate(
    rng: &mut SimRng,
    plan: &mut Plan,
    caller: &Arc<Caller>,
    t: Tick,
    date: String,
    n: usize,
) {
    let mut t = t;
    let certificates = request::collection(ObjKind::Certificate);
    plan.requests
        .push(challenge(rng, t, CERTS, caller, certificates, "7.5"));
    for (op, verb) in [
        ("CertificateImport", Verb::Write),
        ("CertificateDelete", Verb::Delete),
        ("CertificatePurge", Verb::Purge),
    ] {
        for k in 0..n {
            t += rng.random_range(2..6) * SECOND + request::gap(rng, 0, 900);
            // The new certificates carry tonight's date, the replaced ones an older one.
            let name = match verb {
                Verb::Write => format!("tls-{date}-{k}"),
                _ => format!("tls-retired-{date}-{k}"),
            };
            let target = request::object(ObjKind::Certificate, &name, None, verb);
            plan.requests.push(Request::new(
                rng,
                t,
                CERTS,
                op,
                Outcome::Ok,
                caller,
                target,
                "7.5",
                Style::Sdk,
            ));
        }
    }
}
