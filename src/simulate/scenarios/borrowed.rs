//! The borrowed workload identity (`unusual_geo`'s `borrowed_identity`), with the
//! benign routines that look like it.
//!
//! Attack:
//! - `borrowed_workload_identity`: the orders Function App's managed identity token,
//!   replayed from another VM in the same Azure region (West Europe: same country, an
//!   Azure address, the identity's own client), reads twelve secrets it never read,
//!   in about half an hour, from the data vault its token also opens (the data
//!   vault: an earlier scenario, `low_and_slow`, has the same identity read most
//!   of the application vault).
//!
//! Confounders (labelled `confounder` for `unusual_geo` and `bulk_secret_retrieval`:
//! neither may raise anything):
//! - `workload_scale_out`: the orders API scales out to three new nodes (three new
//!   Azure networks), whose pods read its usual secrets at every restart for two hours.
//! - `release_new_secrets`: a release of the orders Function App reads three secrets
//!   it never read, with its usual ones, from its usual addresses.
//! - `azure_address_churn`: the application gateway's identity moves to a new Azure
//!   egress address (a new network) every three hours for a day, polling its usual
//!   certificates.
//! - `new_app_from_azure`: a managed identity first seen after learning (a new
//!   Container App) reads its eight secrets from a new Azure address at start-up and
//!   at each restart, from another address the next day.

use std::net::IpAddr;
use std::sync::Arc;

use rand::RngExt;

use super::super::clock::{Tick, Zone, HOUR, MINUTE, SECOND};
use super::super::ids::SimRng;
use super::super::plan::{Actor, Ctx, Plan};
use super::super::request::{self, AppToken, Caller, Identity};
use super::super::tenant::{APP, CERTS, DATA};
use super::super::workloads::{self, Job, Network, Workload};
use super::novelty::{day_of, get, pick};
use super::{at, ip, workload};

/// The region the tenant's workloads run in.
const REGION: &str = "azure-westeurope";

/// A caller for workload `w` from `addr` (another machine), its own client and token.
fn from(rng: &mut SimRng, w: &Workload, t: Tick, addr: IpAddr) -> Arc<Caller> {
    Arc::new(Caller {
        identity: Identity::App(AppToken::issue(rng, &w.principal, t, w.token_seconds)),
        ip: addr,
        client_info: w.client_info.to_owned(),
        subnet: None,
        tls: w.tls,
    })
}

/// The /24 of an IPv4 address (0 for IPv6).
fn net24(a: &IpAddr) -> u32 {
    match a {
        IpAddr::V4(v4) => u32::from(*v4) >> 8,
        IpAddr::V6(_) => 0,
    }
}

/// `n` addresses of the region, each in a /24 none of `w`'s addresses (or of the
/// others drawn) is in.
fn new_networks(rng: &mut SimRng, w: &Workload, n: usize) -> Vec<IpAddr> {
    let mut taken: Vec<u32> = match &w.network {
        Network::Azure(ips) | Network::Vnet(ips, _) => ips.iter().map(net24).collect(),
        Network::OnPrem(a) => vec![net24(a)],
        Network::Runners(_) => Vec::new(),
    };
    let mut out = Vec::new();
    while out.len() < n {
        let a = ip(rng, REGION);
        if !taken.contains(&net24(&a)) {
            taken.push(net24(&a));
            out.push(a);
        }
    }
    out
}

/// Labels the requests since `mark` as a confounder of both detectors.
fn confounder(plan: &mut Plan, mark: usize, scenario: &'static str, oid: &str, text: String) {
    for detector in ["unusual_geo", "bulk_secret_retrieval"] {
        plan.label(
            mark,
            "confounder",
            scenario,
            detector,
            oid,
            "*",
            None,
            text.clone(),
        );
    }
}

/// The secrets a workload reads (indexes into its vault's secrets) and the vault.
fn usual(w: &Workload) -> (usize, Vec<usize>) {
    match &w.job {
        Job::References { vault, secrets }
        | Job::Restarts { vault, secrets, .. }
        | Job::Poll { vault, secrets, .. }
        | Job::Cron { vault, secrets, .. } => (*vault, secrets.clone()),
        _ => (APP, Vec::new()),
    }
}

/// `borrowed_workload_identity`: twelve never-read secrets from another Azure VM.
pub(super) fn borrowed_workload_identity(
    ctx: &Ctx<'_>,
    rng: &mut SimRng,
    day: u32,
    _instance: u32,
    plan: &mut Plan,
) {
    let tenant = ctx.tenant;
    let Some(w) = workload(tenant, "func-orders-prod") else {
        return;
    };
    let (_, own) = usual(w);
    let addr = new_networks(rng, w, 1)[0];
    let d = day_of(ctx, day);
    let mut t = at(rng, ctx, d, Zone::Fixed(0), 1.0, 22.0);
    let caller = from(rng, w, t, addr);
    let stolen = pick(rng, &tenant.vaults[DATA].secrets, &[], 12);
    let mark = plan.mark();
    for o in &stolen {
        plan.requests.push(get(rng, t, DATA, &caller, o, w.api));
        t += rng.random_range(90..180) * SECOND + request::gap(rng, 0, 900);
    }
    let text = format!(
        "the token of {} (a managed identity that reads its {} secrets of {}) replayed from another VM in West Europe ({addr}, a network it never used; its own client) reads {} secrets of {} it never read in about half an hour",
        w.name,
        own.len(),
        tenant.vaults[APP].lower,
        stolen.len(),
        tenant.vaults[DATA].lower
    );
    plan.label(
        mark,
        "attack",
        "borrowed_workload_identity",
        "unusual_geo",
        &w.principal.oid,
        "*",
        None,
        text,
    );
    plan.actors.push(Actor {
        role: "borrowed managed identity token (borrowed_workload_identity)".into(),
        oid: w.principal.oid.clone(),
        appid: Some(w.principal.appid.clone()),
        addresses: vec![addr.to_string()],
    });
}

/// `workload_scale_out`: three new nodes reading the orders API's usual secrets.
pub(super) fn workload_scale_out(
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
    let (vault, own) = usual(w);
    let nodes = new_networks(rng, w, 3);
    let d = day_of(ctx, day);
    let start = at(rng, ctx, d, Zone::Europe(60), 13.0, 16.0);
    let mark = plan.mark();
    for round in 0..4 {
        for node in &nodes {
            let t = start + round * 30 * MINUTE + rng.random_range(0..10) * MINUTE;
            let caller = from(rng, w, t, *node);
            let targets = workloads::targets(&tenant.vaults[vault], &own, None);
            workloads::session(rng, w, &caller, t, vault, targets, true, &mut plan.requests);
        }
    }
    let text = format!(
        "{} scales out to three new nodes ({}), new networks in its region; their pods read its {} usual secrets at every restart for two hours",
        w.name,
        nodes
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", "),
        own.len()
    );
    confounder(plan, mark, "workload_scale_out", &w.principal.oid, text);
}

/// `release_new_secrets`: a release reads three new secrets from the usual addresses.
pub(super) fn release_new_secrets(
    ctx: &Ctx<'_>,
    rng: &mut SimRng,
    day: u32,
    _instance: u32,
    plan: &mut Plan,
) {
    let tenant = ctx.tenant;
    let Some(w) = workload(tenant, "func-orders-prod") else {
        return;
    };
    let (vault, own) = usual(w);
    let fresh = pick(rng, &tenant.vaults[vault].secrets, &own, 3);
    let d = day_of(ctx, day);
    let mut t = at(rng, ctx, d, Zone::Europe(60), 10.0, 17.0);
    let mark = plan.mark();
    for _restart in 0..3 {
        let caller = workloads::caller(rng, w, t);
        let mut targets = workloads::targets(&tenant.vaults[vault], &own, None);
        targets.extend(fresh.iter().map(|o| {
            (
                request::object(
                    super::super::vaults::ObjKind::Secret,
                    &o.name,
                    Some(&o.version),
                    request::Verb::Read,
                ),
                true,
            )
        }));
        workloads::session(rng, w, &caller, t, vault, targets, true, &mut plan.requests);
        t += rng.random_range(5..20) * MINUTE;
    }
    let text = format!(
        "a release of {} reads three secrets it never read ({}) with its usual ones, from its usual addresses, at three restarts",
        w.name,
        fresh
            .iter()
            .map(|o| o.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    confounder(plan, mark, "release_new_secrets", &w.principal.oid, text);
}

/// `azure_address_churn`: a new egress address every three hours for a day.
pub(super) fn azure_address_churn(
    ctx: &Ctx<'_>,
    rng: &mut SimRng,
    day: u32,
    _instance: u32,
    plan: &mut Plan,
) {
    let tenant = ctx.tenant;
    let Some(w) = workload(tenant, "id-appgw-prod") else {
        return;
    };
    let (vault, own) = usual(w);
    let vault = if own.is_empty() { CERTS } else { vault };
    let addrs = new_networks(rng, w, 8);
    let d = day_of(ctx, day);
    let start = at(rng, ctx, d, Zone::Fixed(0), 0.0, 1.0);
    let mark = plan.mark();
    for (k, addr) in addrs.iter().enumerate() {
        let t = start + k as i64 * 3 * HOUR + rng.random_range(0..30) * MINUTE;
        let caller = from(rng, w, t, *addr);
        let targets = workloads::targets(&tenant.vaults[vault], &own, None);
        workloads::session(rng, w, &caller, t, vault, targets, true, &mut plan.requests);
    }
    let text = format!(
        "{} moves to a new Azure egress address (a new network) every three hours for a day, polling its {} usual objects",
        w.name,
        own.len()
    );
    confounder(plan, mark, "azure_address_churn", &w.principal.oid, text);
}

/// `new_app_from_azure`: a managed identity first seen after learning.
pub(super) fn new_app_from_azure(
    ctx: &Ctx<'_>,
    rng: &mut SimRng,
    day: u32,
    _instance: u32,
    plan: &mut Plan,
) {
    let tenant = ctx.tenant;
    let Some(template) = workload(tenant, "func-orders-prod") else {
        return;
    };
    let principal = tenant.new_app(
        rng,
        "2",
        Some("/subscriptions/00000000-0000-0000-0000-000000000000/resourcegroups/rg-prod-app/providers/Microsoft.App/containerApps/ca-invoices-prod".into()),
    );
    let w = Workload {
        name: "ca-invoices-prod",
        principal,
        ..template.clone()
    };
    let own: Vec<usize> = {
        let v = &tenant.vaults[APP].secrets;
        let mut idx: Vec<usize> = (0..v.len()).collect();
        for i in (1..idx.len()).rev() {
            let j = rng.random_range(0..=i);
            idx.swap(i, j);
        }
        idx.into_iter().take(8).collect()
    };
    let addrs = new_networks(rng, &w, 2);
    let d = day_of(ctx, day).min(ctx.days.saturating_sub(2));
    let mark = plan.mark();
    for (k, addr) in addrs.iter().enumerate() {
        let mut t = at(rng, ctx, d + k as u32, Zone::Europe(60), 9.0, 16.0);
        for _restart in 0..3 {
            let caller = from(rng, &w, t, *addr);
            let targets = workloads::targets(&tenant.vaults[APP], &own, None);
            workloads::session(rng, &w, &caller, t, APP, targets, true, &mut plan.requests);
            t += rng.random_range(20..90) * MINUTE;
        }
    }
    let text = format!(
        "{} (a managed identity first seen after learning) reads its eight secrets of {} from a new Azure address at start-up and at restarts, from another one the next day",
        w.name,
        tenant.vaults[APP].lower
    );
    let oid = w.principal.oid.clone();
    confounder(plan, mark, "new_app_from_azure", &oid, text);
    plan.actors.push(Actor {
        role: "new application from Azure (new_app_from_azure confounder)".into(),
        oid,
        appid: Some(w.principal.appid.clone()),
        addresses: addrs.iter().map(ToString::to_string).collect(),
    });
}
