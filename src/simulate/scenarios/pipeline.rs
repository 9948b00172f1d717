//! The pipeline that deploys twice (issue #17, class 5), for `bulk_secret_retrieval`:
//! a release pipeline of its own (a service principal on a self-hosted agent pool in
//! West Europe) with three release definitions, each reading its own secrets of the
//! application vault plus two shared ones. Every day it runs two of them, hours
//! apart, from the first day of the period.
//! - `pipeline_back_to_back` (confounder): on two days it runs its definitions back to
//!   back, three in a row and then two: more distinct secrets in ten minutes than any
//!   of its runs ever read, but only secrets its runs read, each definition its usual
//!   set. Before the run-to-run baseline it raised a medium `burst`.
//! - `pipeline_dump` (attack): the same identity, from its usual agents and client (a
//!   stolen federated token), reads one definition's set and then every other secret
//!   of the vault after listing it; in long periods a second case reads a run twice
//!   its usual size made of the dev vault's secrets, none of which it ever read. Both on
//!   the last two days of the period (after the runs back to back), in the evening.

use std::net::IpAddr;
use std::sync::Arc;

use rand::RngExt;

use super::super::clock::{Tick, Zone};
use super::super::ids::{self, SimRng};
use super::super::plan::{Actor, Ctx, Plan};
use super::super::request::{self, AppPrincipal, Caller, Outcome, Request, Style};
use super::super::tenant::{APP, DEV};
use super::super::vaults::{ObjKind, Object};
use super::novelty::{day_of, get, pick};
use super::{app_caller, at, ip};

/// The agents' client.
const CLIENT: &str = "AZURECLI/2.78.0 (DEB) azsdk-python-core/1.35.0 Python/3.12.3 (Linux-6.8.0-1021-azure-x86_64-with-glibc2.39)";

/// The release pipeline: its identity, its agents and its release definitions.
struct Pipeline {
    principal: AppPrincipal,
    agents: [IpAddr; 3],
    /// Three release definitions: two shared secrets and 13, 11 and 9 of their own.
    definitions: [Vec<Object>; 3],
}

/// The same pipeline for both scenarios (its own random stream).
fn pipeline(ctx: &Ctx<'_>) -> Pipeline {
    let mut rng = ids::stream(ctx.seed, "release-pipeline", 0);
    let principal = ctx.tenant.new_app(&mut rng, "2", None);
    let agents = [0; 3].map(|_| ip(&mut rng, "azure-westeurope"));
    let secrets = pick(
        &mut rng,
        &ctx.tenant.vaults[APP].secrets,
        &[],
        2 + 13 + 11 + 9,
    );
    let shared = &secrets[..2.min(secrets.len())];
    let own = |from: usize, n: usize| -> Vec<Object> {
        shared
            .iter()
            .chain(secrets.iter().skip(from).take(n))
            .cloned()
            .collect()
    };
    Pipeline {
        principal,
        agents,
        definitions: [own(2, 13), own(15, 11), own(26, 9)],
    }
}

impl Pipeline {
    fn caller(&self, rng: &mut SimRng, t: Tick) -> Arc<Caller> {
        let agent = self.agents[rng.random_range(0..self.agents.len())];
        app_caller(rng, &self.principal, t, agent, CLIENT, 4_500)
    }

    /// One run of definition `d` from `t`; returns when it ended.
    fn run(&self, rng: &mut SimRng, t: Tick, d: usize, plan: &mut Plan) -> Tick {
        let caller = self.caller(rng, t);
        let mut s = t;
        for o in &self.definitions[d % 3] {
            plan.requests.push(get(rng, s, APP, &caller, o, "7.5"));
            s += request::gap(rng, 150, 1_500);
        }
        s
    }

    /// Definitions back to back from `t`, a minute or so apart.
    fn back_to_back(&self, rng: &mut SimRng, t: Tick, defs: &[usize], plan: &mut Plan) {
        let mut t = t;
        for &d in defs {
            t = self.run(rng, t, d, plan) + request::gap(rng, 20_000, 90_000);
        }
    }
}

/// The two days with runs back to back: before the attacks' days (the last two), so
/// that they are judged against the pipeline's runs, not against an attack it made.
fn back_to_back_days(ctx: &Ctx<'_>, day: u32) -> [u32; 2] {
    let last = ctx.days.saturating_sub(3);
    let first = day_of(ctx, day).min(last.saturating_sub(1));
    let second = if first + 2 <= last {
        first + 2
    } else {
        first.saturating_sub(2)
    };
    [first, second]
}

/// `pipeline_back_to_back`: the pipeline's routine, and two days of runs back to back.
pub(super) fn pipeline_back_to_back(
    ctx: &Ctx<'_>,
    rng: &mut SimRng,
    day: u32,
    _instance: u32,
    plan: &mut Plan,
) {
    let p = pipeline(ctx);
    let days = back_to_back_days(ctx, day);
    // Its routine: two definitions a day, morning and afternoon (UTC), in turn.
    for d in (0..ctx.days).filter(|d| !days.contains(d)) {
        for (k, (from, to)) in [(7.0, 11.0), (13.0, 17.0)].into_iter().enumerate() {
            let t = at(rng, ctx, d, Zone::Fixed(0), from, to);
            p.run(rng, t, (2 * d as usize + k) % 3, plan);
        }
    }
    let v = &ctx.tenant.vaults[APP];
    for (defs, d) in [(&[0usize, 1, 2][..], days[0]), (&[1usize, 0][..], days[1])] {
        let t = at(rng, ctx, d, Zone::Fixed(0), 9.0, 12.0);
        let mark = plan.mark();
        p.back_to_back(rng, t, defs, plan);
        let text = format!(
            "the release pipeline {} runs {} of its release definitions back to back: more secrets of {} in ten minutes than any run of it read, each definition its usual set (no alert)",
            p.principal.oid,
            defs.len(),
            v.lower
        );
        plan.label(
            mark,
            "confounder",
            "pipeline_back_to_back",
            "bulk_secret_retrieval",
            &p.principal.oid,
            &v.lower,
            None,
            text,
        );
    }
    plan.actors.push(Actor {
        role: "release pipeline with three release definitions (pipeline_back_to_back confounder)"
            .into(),
        oid: p.principal.oid.clone(),
        appid: Some(p.principal.appid.clone()),
        addresses: p.agents.iter().map(ToString::to_string).collect(),
    });
}

/// `pipeline_dump`: the pipeline's identity reading far beyond its runs.
pub(super) fn pipeline_dump(
    ctx: &Ctx<'_>,
    rng: &mut SimRng,
    _day: u32,
    instance: u32,
    plan: &mut Plan,
) {
    let p = pipeline(ctx);
    // The last two days, after its runs back to back (an attack raises the largest
    // window it is judged against afterwards).
    let d = (ctx.days.saturating_sub(2) + instance).min(ctx.days.saturating_sub(1));
    // In the evening, after the routine's afternoon run (never on its heels).
    let t = at(rng, ctx, d, Zone::Fixed(0), 19.0, 22.0);
    let caller = p.caller(rng, t);
    let mark = plan.mark();
    let (vault, text) = if instance == 0 {
        let v = &ctx.tenant.vaults[APP];
        plan.requests.push(Request::new(
            rng,
            t,
            APP,
            "SecretList",
            Outcome::Ok,
            &caller,
            request::collection(ObjKind::Secret),
            "7.5",
            Style::Sdk,
        ));
        let usual = &p.definitions[rng.random_range(0..3)];
        let rest = v
            .secrets
            .iter()
            .filter(|o| !usual.iter().any(|u| u.name == o.name));
        let objects: Vec<&Object> = usual.iter().chain(rest).collect();
        let mut s = t + 2 * request::gap(rng, 200, 900);
        for o in &objects {
            plan.requests.push(get(rng, s, APP, &caller, o, "7.5"));
            s += request::gap(rng, 150, 1_200);
        }
        let text = format!("the release pipeline {} (its own agents and client: a stolen federated token) lists {} and reads one release definition's {} secrets and then every other secret of the vault, {} in all, in minutes", p.principal.oid, v.lower, usual.len(), objects.len());
        (APP, text)
    } else {
        let v = &ctx.tenant.vaults[DEV];
        let n = (2 * p.definitions[0].len()).min(v.secrets.len());
        let objects = pick(rng, &v.secrets, &[], n);
        let mut s = t;
        for o in &objects {
            plan.requests.push(get(rng, s, DEV, &caller, o, "7.5"));
            s += request::gap(rng, 150, 1_500);
        }
        let text = format!("the release pipeline {} (its own agents and client) reads {n} secrets of {} in minutes, a run twice its usual size made of secrets none of its runs ever read", p.principal.oid, v.lower);
        (DEV, text)
    };
    plan.label(
        mark,
        "attack",
        "pipeline_dump",
        "bulk_secret_retrieval",
        &p.principal.oid,
        &ctx.tenant.vaults[vault].lower,
        None,
        text,
    );
}
