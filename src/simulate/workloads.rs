//! Applications and managed identities: who they are and what they do every day.
//!
//! Workloads are the bulk of real Key Vault traffic and the main source of false
//! alerts: apps re-reading their few secrets on every restart, a deploy pipeline
//! reading dozens of secrets in a minute, a nightly backup exporting every object,
//! storage and SQL unwrapping their customer-managed keys all day long. This file
//! holds who they are and where they call from; [`super::jobs`] and
//! [`super::batch`] generate what they do. SDK clients open with the
//! unauthenticated challenge (`Authentication`, 401, `identity: {}`).

use std::net::IpAddr;
use std::sync::Arc;

use super::clock::{Tick, Zone};
use super::ids::{self, SimRng};
use super::places::{self, pool_named};
use super::request::{
    self, AppPrincipal, AppToken, Caller, Identity, Outcome, Request, Style, Target, Verb,
};
use super::vaults::{ObjKind, Vault};

/// Where a workload's calls come from.
#[derive(Debug, Clone)]
pub(crate) enum Network {
    /// Fixed Azure egress addresses (NAT gateway, App Service outbound, Azure service).
    Azure(Vec<IpAddr>),
    /// An on-premises server behind the company's datacenter egress.
    OnPrem(IpAddr),
    /// Inside the production VNet (private addresses, `subnetId` set).
    Vnet(Vec<IpAddr>, String),
    /// Hosted CI runners: a fresh Azure address from one of these pools each run.
    Runners(Vec<&'static str>),
}

/// What a workload does.
#[derive(Debug, Clone)]
pub(crate) enum Job {
    /// Pods restarting a few times a day, each reading its secrets; periodic refresh.
    Restarts {
        vault: usize,
        secrets: Vec<usize>,
        per_day: f64,
        refresh_hours: f64,
        pods: u32,
    },
    /// A scheduled process every `every_minutes`, reading its secrets.
    Cron {
        vault: usize,
        secrets: Vec<usize>,
        every_minutes: f64,
    },
    /// A nightly job at a local hour.
    Nightly {
        vault: usize,
        secrets: Vec<usize>,
        zone: Zone,
        local_hour: f64,
    },
    /// App Service Key Vault references: daily refresh plus restarts.
    References { vault: usize, secrets: Vec<usize> },
    /// A long-running client polling secrets (certificates) every `every_minutes`.
    Poll {
        vault: usize,
        secrets: Vec<usize>,
        every_minutes: f64,
    },
    /// A customer-managed key in use: wrap/unwrap all day, occasional KeyGet.
    Crypto {
        vault: usize,
        key: usize,
        per_hour: f64,
        wrap_share: f64,
    },
    /// Disk encryption: unwraps when VMs boot (mostly in the morning scale-out).
    Disks {
        vault: usize,
        key: usize,
        boots_per_workday: f64,
    },
    /// The nightly backup of every object of these vaults.
    Backup {
        vaults: Vec<usize>,
        zone: Zone,
        local_hour: f64,
    },
    /// The deploy pipeline: reads most application secrets a few times a week.
    Deploy { vaults: Vec<usize>, per_week: f64 },
}

/// A service principal or managed identity and its behaviour.
#[derive(Debug, Clone)]
pub(crate) struct Workload {
    /// Name (app registration, resource or identity name).
    pub name: &'static str,
    /// What it is, for `_tenant.json`.
    pub description: &'static str,
    /// Its identity.
    pub principal: AppPrincipal,
    /// Where it calls from.
    pub network: Network,
    /// `clientInfo`.
    pub client_info: &'static str,
    /// `tlsVersion`.
    pub tls: &'static str,
    /// Data-plane api-version.
    pub api: &'static str,
    /// Token lifetime in seconds (SP about an hour, managed identities a day).
    pub token_seconds: i64,
    /// Behaviour.
    pub job: Job,
}

/// The payments subnet's ARM id.
pub(crate) fn payments_subnet(subscription: &str) -> String {
    format!("/subscriptions/{subscription}/resourceGroups/rg-prod-net/providers/Microsoft.Network/virtualNetworks/vnet-prod/subnets/snet-payments")
}

fn azure_ips(rng: &mut SimRng, pool: &str, n: usize) -> Vec<IpAddr> {
    (0..n)
        .map(|_| IpAddr::V4(places::address_in(pool_named(pool), rng)))
        .collect()
}

fn indexes(vault: &Vault, names: &[&str]) -> Vec<usize> {
    vault
        .secrets
        .iter()
        .enumerate()
        .filter(|(_, s)| names.iter().any(|n| s.name.starts_with(n)))
        .map(|(i, _)| i)
        .collect()
}

/// Builds the workloads of the tenant.
pub(crate) fn roster(
    rng: &mut SimRng,
    tenant: &str,
    subs: &[String; 2],
    vaults: &[Vault],
    with_hsm: bool,
) -> Vec<Workload> {
    use super::tenant::{APP, CERTS, DATA, HSM, PAY};
    let mirid = |rg: &str, provider: &str, name: &str| {
        Some(format!(
            "/subscriptions/{}/resourcegroups/{rg}/providers/{provider}/{name}",
            subs[0]
        ))
    };
    let app = |rng: &mut SimRng, acr: &'static str, mi: Option<String>| AppPrincipal {
        oid: ids::guid(rng),
        appid: ids::guid(rng),
        appidacr: acr,
        tenant: tenant.to_owned(),
        mirid: mi,
    };
    let dc = IpAddr::V4(places::address_in(pool_named("fr-dc-paris"), rng));
    let paris = Zone::Europe(60);
    let net_sdk =
        "azsdk-net-Security.KeyVault.Secrets/4.7.0 (.NET 8.0.20; Microsoft Windows 10.0.20348)";
    let keys_sdk = "azsdk-net-Security.KeyVault.Keys/4.6.0 (.NET Framework 4.8.9290.0; Microsoft Windows 10.0.20348 )";
    let w =
        |name, description, principal, network, client_info, api, token_seconds, job| Workload {
            name,
            description,
            principal,
            network,
            client_info,
            tls: "TLS1_3",
            api,
            token_seconds,
            job,
        };
    let mut list = vec![
        w("orders-api", "service principal (certificate) of the orders API on AKS; reads its secrets when pods start", app(rng, "2", None), Network::Azure(azure_ips(rng, "azure-westeurope", 2)), "azsdk-net-Security.KeyVault.Secrets/4.7.0 (.NET 8.0.20; Ubuntu 22.04.5 LTS)", "7.5", 4_500, Job::Restarts { vault: APP, secrets: indexes(&vaults[APP], &["orders-", "SendGrid"]), per_day: 3.0, refresh_hours: 8.0, pods: 3 }),
        w("billing-worker", "service principal (client secret) of an on-premises billing job, hourly", app(rng, "1", None), Network::OnPrem(dc), "azsdk-python-keyvault-secrets/4.9.0 Python/3.11.9 (Linux-5.15.0-140-generic-x86_64-with-glibc2.35)", "7.5", 4_500, Job::Cron { vault: APP, secrets: indexes(&vaults[APP], &["billing-"]).into_iter().take(3).collect(), every_minutes: 60.0 }),
        w("reporting-etl", "service principal (client secret) of the nightly on-premises reporting ETL", app(rng, "1", None), Network::OnPrem(dc), "azsdk-java-azure-security-keyvault-secrets/4.9.4 (17.0.12; Windows Server 2022; 10.0)", "7.5", 4_500, Job::Nightly { vault: DATA, secrets: indexes(&vaults[DATA], &["reporting-", "dwh-"]), zone: paris, local_hour: 1.5 }),
        w("gh-deploy-prod", "GitHub Actions deploy pipeline (federated credential) on hosted runners", app(rng, "2", None), Network::Runners(vec!["azure-eastus", "azure-centralus", "azure-westus2"]), "AZURECLI/2.78.0 (DEB) azsdk-python-core/1.35.0 Python/3.12.3 (Linux-6.11.0-1018-azure-x86_64-with-glibc2.39)", "7.5", 4_500, Job::Deploy { vaults: vec![APP, CERTS], per_week: 3.5 }),
        w("backup-automation", "Azure Automation runbook (certificate) backing up every object nightly", app(rng, "2", None), Network::Azure(azure_ips(rng, "azure-westeurope", 1)), "AzurePowershell/v12.5.0 PSVersion/v7.2.24 Az.KeyVault/6.3.1", "7.5", 4_500, Job::Backup { vaults: vec![APP, DATA, CERTS], zone: paris, local_hour: 2.0 }),
        w("func-orders-prod", "system-assigned identity of the orders Function App (Key Vault references)", app(rng, "2", mirid("rg-prod-app", "Microsoft.Web/sites", "func-orders-prod")), Network::Azure(azure_ips(rng, "azure-westeurope", 4)), "azsdk-net-Security.KeyVault.Secrets/4.6.0 (.NET 8.0.20; Microsoft Windows 10.0.20348)", "7.5", 86_399, Job::References { vault: APP, secrets: indexes(&vaults[APP], &["orders-", "checkout-"]).into_iter().take(4).collect() }),
        w("id-payments-api", "user-assigned identity of the payments API, inside the payments subnet", app(rng, "2", mirid("rg-prod-payments", "Microsoft.ManagedIdentity/userAssignedIdentities", "id-payments-api")), Network::Vnet((0..3).map(|_| IpAddr::V4(places::address_in(pool_named("vnet-prod"), rng))).collect(), payments_subnet(&subs[0])), net_sdk, "7.5", 86_399, Job::Poll { vault: PAY, secrets: vec![0, 1, 5], every_minutes: 30.0 }),
        w("id-appgw-prod", "user-assigned identity of the application gateway fetching TLS certificates", app(rng, "2", mirid("rg-prod-shared", "Microsoft.ManagedIdentity/userAssignedIdentities", "id-appgw-prod")), Network::Azure(azure_ips(rng, "azure-westeurope", 2)), "azsdk-net-Security.KeyVault.Secrets/4.5.0 (.NET 6.0.36; Microsoft Windows 10.0.17763)", "7.3", 86_399, Job::Poll { vault: CERTS, secrets: vec![0, 1, 2, 3], every_minutes: 240.0 }),
        w("stfabproddata", "system-assigned identity of a storage account encrypted with a customer-managed key", app(rng, "2", mirid("rg-prod-data", "Microsoft.Storage/storageAccounts", "stfabproddata")), Network::Azure(azure_ips(rng, "azure-westeurope", 6)), keys_sdk, "7.4", 86_399, Job::Crypto { vault: DATA, key: 0, per_hour: 24.0, wrap_share: 0.05 }),
        w("sql-fab-prod", "system-assigned identity of the SQL server (TDE protector)", app(rng, "2", mirid("rg-prod-data", "Microsoft.Sql/servers", "sql-fab-prod")), Network::Azure(azure_ips(rng, "azure-westeurope", 3)), "azsdk-net-Security.KeyVault.Keys/4.5.0 (.NET 6.0.36; Microsoft Windows 10.0.20348)", "7.4", 86_399, Job::Crypto { vault: DATA, key: 1, per_hour: 12.0, wrap_share: 0.3 }),
        w("id-des-prod", "user-assigned identity of the disk encryption set (VM disks)", app(rng, "2", mirid("rg-prod-data", "Microsoft.ManagedIdentity/userAssignedIdentities", "id-des-prod")), Network::Azure(azure_ips(rng, "azure-westeurope", 8)), keys_sdk, "7.4", 86_399, Job::Disks { vault: DATA, key: 2, boots_per_workday: 60.0 }),
    ];
    if with_hsm {
        list.push(w(
            "stfabarchive",
            "system-assigned identity of the archive storage account (key in the Managed HSM)",
            app(
                rng,
                "2",
                mirid(
                    "rg-prod-data",
                    "Microsoft.Storage/storageAccounts",
                    "stfabarchive",
                ),
            ),
            Network::Azure(azure_ips(rng, "azure-westeurope", 4)),
            keys_sdk,
            "7.4",
            86_399,
            Job::Crypto {
                vault: HSM,
                key: 0,
                per_hour: 12.0,
                wrap_share: 0.1,
            },
        ));
    }
    list
}

/// A caller for `w` at `t` (fresh token, one of its addresses).
pub(crate) fn caller(rng: &mut SimRng, w: &Workload, t: Tick) -> Arc<Caller> {
    let (ip, subnet) = match &w.network {
        Network::Azure(ips) => (
            *ids::pick(rng, ips).unwrap_or(&IpAddr::from([20, 50, 0, 1])),
            None,
        ),
        Network::OnPrem(ip) => (*ip, None),
        Network::Vnet(ips, subnet) => (
            *ids::pick(rng, ips).unwrap_or(&IpAddr::from([10, 20, 0, 4])),
            Some(subnet.clone()),
        ),
        Network::Runners(pools) => {
            let pool = ids::pick(rng, pools).copied().unwrap_or("azure-eastus");
            (IpAddr::V4(places::address_in(pool_named(pool), rng)), None)
        }
    };
    let token = AppToken::issue(rng, &w.principal, t, w.token_seconds);
    Arc::new(Caller {
        identity: Identity::App(token),
        ip,
        client_info: w.client_info.to_owned(),
        subnet,
        tls: w.tls,
    })
}

/// The SDK challenge: the same request, unauthenticated, just before the real one.
pub(crate) fn challenge(
    rng: &mut SimRng,
    t: Tick,
    vault: usize,
    caller: &Arc<Caller>,
    target: Target,
    api: &'static str,
) -> Request {
    let anonymous = Arc::new(Caller {
        identity: Identity::None,
        ..(**caller).clone()
    });
    Request::new(
        rng,
        t,
        vault,
        "Authentication",
        Outcome::Challenge,
        &anonymous,
        target,
        api,
        Style::Sdk,
    )
}

/// SecretGet targets (index into the vault's secrets), plus one missing name.
pub(crate) fn targets(
    vault: &Vault,
    secrets: &[usize],
    missing: Option<&str>,
) -> Vec<(Target, bool)> {
    let mut list: Vec<(Target, bool)> = secrets
        .iter()
        .filter_map(|i| vault.secrets.get(*i))
        .map(|s| {
            (
                request::object(ObjKind::Secret, &s.name, Some(&s.version), Verb::Read),
                true,
            )
        })
        .collect();
    if let Some(name) = missing {
        list.push((
            request::object(ObjKind::Secret, name, None, Verb::Read),
            false,
        ));
    }
    list
}

/// A client session: optional challenge, then one SecretGet per target.
#[allow(clippy::too_many_arguments)]
pub(crate) fn session(
    rng: &mut SimRng,
    w: &Workload,
    caller: &Arc<Caller>,
    t: Tick,
    vault: usize,
    targets: Vec<(Target, bool)>,
    with_challenge: bool,
    out: &mut Vec<Request>,
) {
    let mut t = t;
    if with_challenge {
        if let Some((first, _)) = targets.first() {
            out.push(challenge(rng, t, vault, caller, first.clone(), w.api));
            t += request::gap(rng, 30, 400);
        }
    }
    for (target, exists) in targets {
        let outcome = if exists {
            Outcome::Ok
        } else {
            Outcome::NotFound
        };
        out.push(Request::new(
            rng,
            t,
            vault,
            "SecretGet",
            outcome,
            caller,
            target,
            w.api,
            Style::Sdk,
        ));
        t += request::gap(rng, 15, 350);
    }
}
