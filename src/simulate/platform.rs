//! Azure's own callers: Resource Graph, Policy Insights and Key Vault itself.
//!
//! Azure Resource Graph (appid `509e4652…`) re-reads every vault's configuration
//! through ARM a few times a day and minutes after each change; Policy Insights
//! (appid `8cae6e77…`) scans once a day; Key Vault logs near-expiry notifications
//! itself (no token, an Azure address). None of it is an attack, all of it is
//! traffic detectors must not alert on. Admins' changes are in [`super::admin`].

use std::net::IpAddr;
use std::sync::Arc;

use rand::RngExt;

use super::clock::{Tick, DAY, HOUR};
use super::ids::{self, SimRng};
use super::places::{self, pool_named};
use super::plan::{Ctx, Plan};
use super::request::{self, Caller, Extra, Identity, Outcome, Request, Style, Target, Verb};
use super::tenant::Tenant;
use super::vaults::{Kind, ObjKind};

const ARG_API: &str = "2023-07-01";
const ARG_CLIENT: &str = "AzureResourceGraph.IngestionWorkerService.global/1.24.1.672";

fn first_party_caller(
    rng: &mut SimRng,
    tenant: &Tenant,
    which: usize,
    client: &str,
) -> Arc<Caller> {
    let fp = &tenant.first_party[which.min(tenant.first_party.len() - 1)];
    let pool = *ids::pick(
        rng,
        &[
            "azure-westeurope",
            "azure-northeurope",
            "azure-francecentral",
        ],
    )
    .unwrap_or(&"azure-westeurope");
    Arc::new(Caller {
        identity: Identity::ArmApp {
            oid: fp.oid.clone(),
            appid: fp.appid.into(),
        },
        ip: IpAddr::V4(places::address_in(pool_named(pool), rng)),
        client_info: client.to_owned(),
        subnet: None,
        tls: "TLS1_2",
    })
}

/// A Resource Graph read of `vault` at `t`.
pub(crate) fn resource_graph_read(
    rng: &mut SimRng,
    tenant: &Tenant,
    vault: usize,
    t: Tick,
) -> Request {
    let caller = first_party_caller(rng, tenant, 0, ARG_CLIENT);
    let region = *ids::pick(
        rng,
        &["westeurope", "northeurope", "francecentral", "uksouth"],
    )
    .unwrap_or(&"westeurope");
    let target = Target::Arm {
        host: format!("{region}.management.azure.com"),
        suffix: "",
        query: "&MaskCMKEnabledProperties=true",
    };
    Request::new(
        rng,
        t,
        vault,
        "VaultGet",
        Outcome::Ok,
        &caller,
        target,
        ARG_API,
        Style::Sdk,
    )
    .with_extra(Extra::Arm {
        added: None,
        removed: None,
    })
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
        out.push(
            Request::new(
                rng,
                t,
                v,
                "VaultGet",
                Outcome::Ok,
                &caller,
                request::arm(),
                ARG_API,
                Style::Sdk,
            )
            .with_extra(Extra::Arm {
                added: None,
                removed: None,
            }),
        );
    }
}

/// Plans Resource Graph reads a few minutes after every planned change.
pub(crate) fn follow_changes(ctx: &Ctx<'_>, plan: &mut Plan) {
    let mut rng = ids::stream(ctx.seed, "resource-graph-follow", 0);
    let changed: Vec<(usize, Tick)> = plan
        .requests
        .iter()
        .filter(|r| matches!(r.op, "VaultPut" | "VaultPatch") && r.outcome.is_success())
        .map(|r| (r.vault, r.time))
        .collect();
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
    let caller = Arc::new(Caller {
        identity: Identity::None,
        ip: IpAddr::V4(places::address_in(pool_named("azure-westeurope"), &mut rng)),
        client_info: String::new(),
        subnet: None,
        tls: "TLS1_2",
    });
    for (v, vault) in ctx.tenant.vaults.iter().enumerate() {
        let (kind, op) = if vault.certificates.is_empty() {
            (ObjKind::Secret, "SecretNearExpiryEventGridNotification")
        } else {
            (
                ObjKind::Certificate,
                "CertificateNearExpiryEventGridNotification",
            )
        };
        for o in vault
            .objects(kind)
            .iter()
            .filter(|o| o.expires.is_some())
            .take(1)
        {
            let t = ctx.start + rng.random_range(0..period);
            let exp = super::clock::epoch_seconds(t) + 30 * 86_400;
            let target = request::object(kind, &o.name, Some(&o.version), Verb::Notify);
            plan.requests.push(
                Request::new(
                    &mut rng,
                    t,
                    v,
                    op,
                    Outcome::Ok,
                    &caller,
                    target,
                    "7.5",
                    Style::Sdk,
                )
                .with_extra(Extra::SecretExpiry(exp)),
            );
        }
    }
}
