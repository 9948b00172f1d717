//! `_tenant.json`: the simulated tenant described for humans and for reports.
//!
//! Evaluating a detector needs more than labels: an analyst reading a false alert
//! wants to know that `gh-deploy-prod` is the deploy pipeline that reads 25 secrets
//! three times a week, or that Julien was on a business trip. This file lists every
//! vault, person, workload and first-party caller with its ids, home and habits,
//! the principals that only scenarios introduce, and the notable benign activity.

use serde::Serialize;

use super::plan::{Actor, Plan};
use super::tenant::{Role, Tenant};
use super::vaults::Kind;
use super::workloads::{Job, Network};
use super::SimulationSpec;

#[derive(Serialize)]
struct TenantJson<'a> {
    tenant_id: &'a str,
    domain: &'a str,
    seed: u64,
    start: String,
    days: u32,
    subscriptions: &'a [String],
    vaults: Vec<VaultJson<'a>>,
    users: Vec<UserJson<'a>>,
    workloads: Vec<WorkloadJson<'a>>,
    first_party: Vec<FirstPartyJson<'a>>,
    scenario_principals: &'a [Actor],
    scale_principals: ScaleJson,
    notes: Vec<String>,
}

#[derive(Serialize)]
struct VaultJson<'a> {
    name: &'a str,
    resource_id: String,
    kind: &'a str,
    authorization: &'a str,
    location: &'a str,
    purpose: &'a str,
    firewall: Option<FirewallJson<'a>>,
    secrets: usize,
    keys: usize,
    certificates: usize,
}

#[derive(Serialize)]
struct FirewallJson<'a> {
    default_action: &'a str,
    ip_rules: &'a [String],
    virtual_network_rules: &'a [String],
}

#[derive(Serialize)]
struct UserJson<'a> {
    name: &'a str,
    upn: &'a str,
    oid: &'a str,
    role: &'a str,
    time_zone: &'a str,
    home: String,
    office: String,
    vaults: Vec<&'a str>,
    tools: [f64; 3],
    mfa: bool,
    first_day: u32,
}

#[derive(Serialize)]
struct WorkloadJson<'a> {
    name: &'a str,
    kind: &'a str,
    oid: &'a str,
    appid: &'a str,
    appidacr: &'a str,
    xms_mirid: Option<&'a str>,
    description: &'a str,
    addresses: Vec<String>,
    schedule: String,
}

#[derive(Serialize)]
struct FirstPartyJson<'a> {
    name: &'a str,
    oid: &'a str,
    appid: &'a str,
}

#[derive(Serialize)]
struct ScaleJson {
    count: u64,
    pattern: &'static str,
}

fn place(ip: std::net::IpAddr) -> String {
    match super::places::pool_of(ip) {
        Some(p) => format!("{ip} ({}, {})", p.city.name, p.city.iso),
        None => ip.to_string(),
    }
}

fn schedule(job: &Job) -> String {
    match job {
        Job::Restarts {
            per_day,
            refresh_hours,
            pods,
            ..
        } => format!("~{per_day} restarts/day x {pods} pods, refresh every {refresh_hours} h"),
        Job::Cron { every_minutes, .. } => format!("every {every_minutes} minutes"),
        Job::Nightly { local_hour, .. } => format!("nightly at {local_hour} h Paris time"),
        Job::References { .. } => "daily Key Vault reference refresh plus restarts".into(),
        Job::Poll { every_minutes, .. } => format!("polls every {every_minutes} minutes"),
        Job::Crypto { per_hour, .. } => {
            format!("~{per_hour} wrap/unwrap per hour, KeyGet every 6 h")
        }
        Job::Disks {
            boots_per_workday, ..
        } => format!("~{boots_per_workday} VM boots per workday (unwrap)"),
        Job::Backup { local_hour, .. } => {
            format!("backs up every object nightly at {local_hour} h Paris time")
        }
        Job::Deploy { per_week, .. } => format!("~{per_week} deployments a week, 25 secrets each"),
    }
}

/// Renders `_tenant.json`.
pub(crate) fn tenant_json(spec: &SimulationSpec, tenant: &Tenant, plan: &Plan) -> Vec<u8> {
    let vault_name = |i: &usize| tenant.vaults.get(*i).map_or("", |v| v.lower.as_str());
    let vaults = tenant
        .vaults
        .iter()
        .map(|v| VaultJson {
            name: &v.lower,
            resource_id: v.resource_id(),
            kind: if v.kind == Kind::ManagedHsm {
                "managed_hsm"
            } else {
                "vault"
            },
            authorization: if v.initial.rbac || v.kind == Kind::ManagedHsm {
                "rbac"
            } else {
                "access_policy"
            },
            location: v.location,
            purpose: v.purpose,
            firewall: v.initial.firewall.as_ref().map(|f| FirewallJson {
                default_action: if f.deny { "Deny" } else { "Allow" },
                ip_rules: &f.ip_rules,
                virtual_network_rules: &f.vnet_rules,
            }),
            secrets: v.secrets.len(),
            keys: v.keys.len(),
            certificates: v.certificates.len(),
        })
        .collect();
    let users = tenant
        .users
        .iter()
        .map(|u| UserJson {
            name: u.name,
            upn: &u.upn,
            oid: &u.oid,
            role: match u.role {
                Role::Developer => "developer",
                Role::Operations => "operations",
                Role::Admin => "admin",
                Role::Security => "security",
            },
            time_zone: u.zone.name(),
            home: place(u.home_ip),
            office: u.office_pool.to_owned(),
            vaults: u.vaults.iter().map(vault_name).collect(),
            tools: u.tools,
            mfa: u.mfa,
            first_day: u.start_day,
        })
        .collect();
    let workloads = tenant
        .workloads
        .iter()
        .map(|w| WorkloadJson {
            name: w.name,
            kind: if w.principal.mirid.is_some() {
                "managed_identity"
            } else {
                "service_principal"
            },
            oid: &w.principal.oid,
            appid: &w.principal.appid,
            appidacr: w.principal.appidacr,
            xms_mirid: w.principal.mirid.as_deref(),
            description: w.description,
            addresses: match &w.network {
                Network::Azure(ips) => ips.iter().map(|ip| place(*ip)).collect(),
                Network::OnPrem(ip) => vec![place(*ip)],
                Network::Vnet(ips, subnet) => {
                    ips.iter().map(|ip| format!("{ip} via {subnet}")).collect()
                }
                Network::Runners(pools) => pools
                    .iter()
                    .map(|p| format!("any address of {p}"))
                    .collect(),
            },
            schedule: schedule(&w.job),
        })
        .collect();
    let mut notes = plan.notes.clone();
    notes.push("benign: payments engineers working from home occasionally hit the payments firewall (403 isAddressAuthorized:false) before switching to the office network; not labelled".into());
    notes.push("benign: SDK challenge 401s (Authentication, identity {}) precede every SDK and CLI session; users make occasional permission slips (a single 403) and typos (404); not labelled".into());
    notes.push("benign: gh-deploy-prod reads the same 25 secrets in about a minute at every deployment, and backup-automation backs up every object at 02:00 Paris time; not labelled".into());
    let json = TenantJson {
        tenant_id: &tenant.tenant_id,
        domain: tenant.domain,
        seed: spec.seed,
        start: spec.start.to_string(),
        days: spec.days,
        subscriptions: &tenant.subscriptions,
        vaults,
        users,
        workloads,
        first_party: tenant.first_party.iter().map(|f| FirstPartyJson { name: f.name, oid: &f.oid, appid: f.appid }).collect(),
        scenario_principals: &plan.actors,
        scale_principals: ScaleJson { count: spec.principals, pattern: "scale.user<NNNNNNN>@fabrikam.com (70%, CLI from home ranges) and service principals (30%, from Azure) with 2-6 SecretGet/SecretList requests each" },
        notes,
    };
    serde_json::to_vec_pretty(&json).unwrap_or_default()
}
