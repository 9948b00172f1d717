//! The simulated tenant, "Fabrikam": its vaults, people and workloads.
//!
//! The roster is fixed (so the README can describe it) while every identifier
//! (tenant, subscriptions, object ids, versions, addresses) comes from the seed. The
//! shape follows what a mid-size Azure customer runs: an RBAC vault for application
//! secrets, an access-policy vault holding the customer-managed keys of storage, SQL
//! and disk encryption, a firewalled payments vault reached through a VNet, a dev
//! vault, a certificate vault polled by an Application Gateway and, optionally, a
//! Managed HSM. Behaviour lives elsewhere: [`super::users`] and [`super::workloads`].

use std::net::IpAddr;

use rand::RngExt;

use super::clock::Zone;
use super::ids::{self, SimRng};
use super::places::{self, pool_named};
use super::request::AppPrincipal;
use super::vaults::{Config, Firewall, Kind, Object, Vault};
pub(crate) use super::workloads::Workload;

/// Vault indexes (the HSM is last and optional).
pub(crate) const APP: usize = 0;
/// Customer-managed keys and data-platform secrets (access policies).
pub(crate) const DATA: usize = 1;
/// The firewalled payments vault.
pub(crate) const PAY: usize = 2;
/// Developers' vault (access policies).
pub(crate) const DEV: usize = 3;
/// TLS certificates.
pub(crate) const CERTS: usize = 4;
/// The Managed HSM, when simulated.
pub(crate) const HSM: usize = 5;

/// Well-known first-party application ids.
pub(crate) mod appid {
    /// Azure Portal, data-plane calls.
    pub const PORTAL_DATA: &str = "3686488a-04fc-4d8a-b967-61f98ec41efe";
    /// Azure Portal, ARM calls.
    pub const PORTAL_ARM: &str = "c44b4083-3bb0-49c1-b47d-974e53cbdf3c";
    /// Azure CLI.
    pub const CLI: &str = "04b07795-8ddb-461a-bbee-02f9e1bf7b46";
    /// Azure PowerShell.
    pub const POWERSHELL: &str = "1950a258-227b-4e31-a9cf-717495945fc2";
    /// Azure Resource Graph.
    pub const RESOURCE_GRAPH: &str = "509e4652-da8d-478d-a730-e9d4a1996ca4";
    /// Microsoft Policy Insights Provider Data Plane.
    pub const POLICY_INSIGHTS: &str = "8cae6e77-e04e-42ce-b5cb-50d82bce26b1";
}

/// What a person does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// Writes code, reads dev and app secrets.
    Developer,
    /// Runs production.
    Operations,
    /// Cloud administrator: changes vault settings.
    Admin,
    /// Security analyst: mostly reads configuration.
    Security,
}

/// A person's operating system (shapes user agents).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Os {
    /// Windows 11.
    Windows,
    /// macOS.
    Mac,
    /// Linux.
    Linux,
}

/// One employee.
#[derive(Debug, Clone)]
pub(crate) struct User {
    /// Display name.
    pub name: &'static str,
    /// `upn`.
    pub upn: String,
    /// Object id.
    pub oid: String,
    /// Job.
    pub role: Role,
    /// Time zone.
    pub zone: Zone,
    /// Home broadband address.
    pub home_ip: IpAddr,
    /// The office egress pool.
    pub office_pool: &'static str,
    /// Share of workdays spent at the office.
    pub office_share: f64,
    /// Vaults used in daily work.
    pub vaults: Vec<usize>,
    /// Weights of portal, CLI and PowerShell sessions.
    pub tools: [f64; 3],
    /// Operating system.
    pub os: Os,
    /// Signs in with MFA.
    pub mfa: bool,
    /// Mean sessions per workday.
    pub sessions: f64,
    /// First workday (day index of the period; 0 for staff already there).
    pub start_day: u32,
}

/// A first-party Microsoft service that reads vault configuration through ARM.
#[derive(Debug, Clone)]
pub(crate) struct FirstParty {
    /// Display name.
    pub name: &'static str,
    /// Its service principal's object id in this tenant.
    pub oid: String,
    /// Its application id.
    pub appid: &'static str,
}

/// The whole tenant.
#[derive(Debug, Clone)]
pub(crate) struct Tenant {
    /// Entra tenant id.
    pub tenant_id: String,
    /// The company's DNS domain (UPN suffix).
    pub domain: &'static str,
    /// Production and development subscriptions.
    pub subscriptions: [String; 2],
    /// Vaults (indexes above).
    pub vaults: Vec<Vault>,
    /// Employees, including those who join during the period.
    pub users: Vec<User>,
    /// Applications and managed identities.
    pub workloads: Vec<Workload>,
    /// Azure Resource Graph and Policy Insights.
    pub first_party: Vec<FirstParty>,
}

type Person = (&'static str, Role, &'static str, &'static str, f64, &'static [usize], [f64; 3], Os, bool, f64);

/// name, role, home pool, office pool, office share, vaults, tools, os, mfa, sessions/day.
const STAFF: &[Person] = &[
    ("Camille Martin", Role::Admin, "fr-home-paris-a", "fr-office-paris", 0.6, &[APP, DATA, PAY, DEV, CERTS], [0.6, 0.3, 0.1], Os::Windows, true, 4.0),
    ("Julien Bernard", Role::Developer, "fr-home-paris-b", "fr-office-paris", 0.5, &[DEV, APP], [0.2, 0.8, 0.0], Os::Linux, true, 4.0),
    ("Sophie Dubois", Role::Developer, "fr-home-lyon", "fr-office-paris", 0.1, &[DEV, APP], [0.4, 0.6, 0.0], Os::Mac, true, 3.0),
    ("Thomas Petit", Role::Operations, "fr-home-paris-a", "fr-office-paris", 0.6, &[APP, DATA, CERTS, DEV], [0.4, 0.5, 0.1], Os::Mac, true, 4.0),
    ("Lea Moreau", Role::Developer, "fr-home-paris-b", "fr-office-paris", 0.7, &[PAY, DEV], [0.5, 0.5, 0.0], Os::Windows, true, 3.0),
    ("Nicolas Laurent", Role::Developer, "fr-home-paris-a", "fr-office-paris", 0.5, &[DATA, DEV], [0.2, 0.3, 0.5], Os::Windows, false, 3.0),
    ("Hannah Schmidt", Role::Developer, "de-home-berlin", "de-office-berlin", 0.5, &[DEV, APP], [0.3, 0.7, 0.0], Os::Linux, true, 3.0),
    ("Lukas Weber", Role::Operations, "de-home-berlin", "de-office-berlin", 0.6, &[APP, DATA, CERTS], [0.5, 0.5, 0.0], Os::Linux, true, 3.0),
    ("Oliver Smith", Role::Security, "gb-home-london", "gb-office-london", 0.5, &[APP, DATA, PAY, DEV, CERTS], [0.9, 0.1, 0.0], Os::Windows, true, 2.0),
    ("Emily Jones", Role::Operations, "gb-home-london", "gb-office-london", 0.8, &[PAY, APP], [0.6, 0.4, 0.0], Os::Mac, true, 3.0),
    ("Michael Johnson", Role::Admin, "us-home-seattle", "us-home-seattle", 0.0, &[APP, DATA, PAY, DEV, CERTS], [0.5, 0.1, 0.4], Os::Windows, true, 3.0),
    ("Sarah Williams", Role::Developer, "us-home-newyork", "us-home-newyork", 0.0, &[DEV, APP], [0.3, 0.7, 0.0], Os::Mac, true, 3.0),
    ("Priya Sharma", Role::Developer, "in-home-bangalore", "in-home-bangalore", 0.0, &[DEV, APP], [0.3, 0.7, 0.0], Os::Linux, true, 3.0),
    ("Manon Roux", Role::Developer, "fr-home-paris-b", "fr-office-paris", 0.8, &[DEV], [0.5, 0.5, 0.0], Os::Windows, true, 3.0),
    ("Hugo Fontaine", Role::Developer, "fr-home-paris-a", "fr-office-paris", 0.8, &[DATA, DEV], [0.3, 0.4, 0.3], Os::Windows, true, 3.0),
];

/// Index of the first of the two employees who join during the period.
pub(crate) const FIRST_NEW_HIRE: usize = 13;

fn zone_of(home_pool: &str) -> Zone {
    match &home_pool[..2] {
        "gb" => Zone::Europe(0),
        "us" if home_pool.contains("seattle") => Zone::UsPacific,
        "us" => Zone::UsEastern,
        "in" => Zone::Fixed(330),
        _ => Zone::Europe(60),
    }
}

impl Tenant {
    /// Builds the tenant for `seed`; new hires start at `days * 0.4` and `days * 0.6`.
    pub(crate) fn build(seed: u64, days: u32, with_hsm: bool) -> Tenant {
        let mut rng = ids::stream(seed, "tenant", 0);
        let tenant_id = ids::guid(&mut rng);
        let subscriptions = [ids::guid(&mut rng), ids::guid(&mut rng)];
        let vaults = build_vaults(&mut rng, &tenant_id, &subscriptions, with_hsm);
        let domain = "fabrikam.com";
        let users = STAFF
            .iter()
            .enumerate()
            .map(|(i, &(name, role, home, office, share, vaults, tools, os, mfa, sessions))| {
                let first = name.split(' ').next().unwrap_or(name).to_ascii_lowercase();
                let last = name.rsplit(' ').next().unwrap_or(name).to_ascii_lowercase();
                let start_day = match i.checked_sub(FIRST_NEW_HIRE) {
                    Some(k) => ((f64::from(days) * (0.4 + 0.2 * k as f64)) as u32).max(1),
                    None => 0,
                };
                User {
                    name,
                    upn: format!("{first}.{last}@{domain}"),
                    oid: ids::guid(&mut rng),
                    role,
                    zone: zone_of(home),
                    home_ip: IpAddr::V4(places::address_in(pool_named(home), &mut rng)),
                    office_pool: office,
                    office_share: share,
                    vaults: vaults.iter().copied().filter(|v| *v < vault_count(with_hsm)).collect(),
                    tools,
                    os,
                    mfa,
                    sessions,
                    start_day,
                }
            })
            .collect();
        let workloads = super::workloads::roster(&mut rng, &tenant_id, &subscriptions, &vaults, with_hsm);
        let first_party = vec![
            FirstParty { name: "Azure Resource Graph", oid: ids::guid(&mut rng), appid: appid::RESOURCE_GRAPH },
            FirstParty { name: "Microsoft Policy Insights Provider Data Plane", oid: ids::guid(&mut rng), appid: appid::POLICY_INSIGHTS },
        ];
        Tenant { tenant_id, domain, subscriptions, vaults, users, workloads, first_party }
    }

    /// An application principal of this tenant with fresh ids.
    pub(crate) fn new_app(&self, rng: &mut SimRng, appidacr: &'static str, mirid: Option<String>) -> AppPrincipal {
        AppPrincipal { oid: ids::guid(rng), appid: ids::guid(rng), appidacr, tenant: self.tenant_id.clone(), mirid }
    }
}

fn vault_count(with_hsm: bool) -> usize {
    if with_hsm { 6 } else { 5 }
}

const SERVICES: &[&str] = &["orders", "billing", "inventory", "shipping", "catalog", "checkout", "notifications", "search", "identity", "reporting", "loyalty", "pricing"];
const SECRET_KINDS: &[&str] = &["db-connection", "api-key", "servicebus-connection", "storage-key", "jwt-signing-key", "redis-password", "client-secret", "webhook-secret"];

fn objects(rng: &mut SimRng, names: Vec<String>, expiring_share: f64, period_start_hint: i64) -> Vec<Object> {
    names
        .into_iter()
        .map(|name| {
            let expires = rng.random_bool(expiring_share).then(|| period_start_hint + rng.random_range(20..400) * 86_400);
            Object { name, version: ids::version(rng), expires }
        })
        .collect()
}

fn service_secrets(rng: &mut SimRng, count: usize, extra: &[&str]) -> Vec<String> {
    let mut names: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
    let mut i = 0usize;
    while names.len() < count {
        let service = SERVICES[i % SERVICES.len()];
        let kind = SECRET_KINDS[(i * 5 + i / SERVICES.len()) % SECRET_KINDS.len()];
        let name = format!("{service}-{kind}");
        if !names.contains(&name) {
            names.push(name);
        }
        i += 1;
        if i > 10 * count + 100 {
            names.push(format!("app-secret-{}", rng.random_range(100..999)));
        }
    }
    names
}

fn base_config(tenant: &str, rbac: bool, purge: bool, soft_delete_days: u32) -> Config {
    Config {
        sku: "standard",
        tenant_id: tenant.to_owned(),
        firewall: None,
        for_deployment: false,
        for_disk_encryption: false,
        for_template_deployment: false,
        soft_delete_days,
        rbac,
        purge_protection: purge,
    }
}

fn build_vaults(rng: &mut SimRng, tenant: &str, subs: &[String; 2], with_hsm: bool) -> Vec<Vault> {
    // Expiry dates are relative to a fixed hint; notifications are planned from them.
    let hint = 1_790_000_000;
    let vault = |name: &str, sub: &str, rg: &str, location, purpose, initial: Config| Vault {
        name: name.to_owned(),
        lower: name.to_ascii_lowercase(),
        kind: Kind::Vault,
        subscription: sub.to_owned(),
        resource_group: rg.to_owned(),
        location,
        purpose,
        secrets: vec![],
        keys: vec![],
        certificates: vec![],
        initial,
    };
    let mut app = vault("fab-prod-app-kv", &subs[0], "rg-prod-app", "westeurope", "application secrets (RBAC)", base_config(tenant, true, true, 90));
    let names = service_secrets(rng, 45, &["SendGridApiKey", "orders-db-password"]);
    app.secrets = objects(rng, names, 0.15, hint);
    let mut data_config = base_config(tenant, false, true, 90);
    data_config.for_disk_encryption = true;
    let mut data = vault("fab-prod-data-kv", &subs[0], "rg-prod-data", "westeurope", "customer-managed keys and data-platform secrets (access policies)", data_config);
    data.keys = objects(rng, ["storage-cmk", "sql-tde-protector", "disk-kek", "backup-signing-key"].map(String::from).to_vec(), 0.0, hint);
    data.secrets = objects(rng, ["sql-admin-password", "reporting-db-user", "reporting-db-password", "reporting-warehouse-conn", "etl-sftp-password", "datalake-sas", "synapse-admin", "cosmos-primary-key", "adf-linked-service", "powerbi-gateway-key", "dwh-readonly-password", "kafka-sasl-password", "legacy-erp-conn", "databricks-token", "snowflake-key"].map(String::from).to_vec(), 0.1, hint);
    let office = pool_named("fr-office-paris").net.to_string();
    let london = pool_named("gb-office-london").net.to_string();
    let mut pay_config = base_config(tenant, true, true, 90);
    pay_config.firewall = Some(Firewall {
        bypass: "AzureServices",
        deny: true,
        ip_rules: vec![office, london],
        vnet_rules: vec![super::workloads::payments_subnet(&subs[0]).to_ascii_lowercase()],
    });
    let mut pay = vault("fabPaymentsKV", &subs[0], "rg-prod-payments", "francecentral", "payment-provider credentials; firewall Deny, office IP rules and the payments subnet (RBAC)", pay_config);
    pay.secrets = objects(rng, ["psp-api-key", "psp-webhook-secret", "card-vault-token", "acquirer-sftp-key", "fraud-api-key", "payments-db-password", "settlement-pgp-key", "3ds-signing-secret", "refunds-api-key", "payouts-client-secret", "psp-sandbox-key", "chargeback-portal-pass"].map(String::from).to_vec(), 0.2, hint);
    let mut dev = vault("fab-dev-kv", &subs[1], "rg-dev-shared", "westeurope", "development and test secrets (access policies)", base_config(tenant, false, false, 7));
    let names = service_secrets(rng, 30, &["dev-db-password", "test-user-password"]).into_iter().map(|s| format!("dev-{s}").replace("dev-dev-", "dev-")).collect();
    dev.secrets = objects(rng, names, 0.1, hint);
    let mut certs = vault("fab-shared-certs-kv", &subs[0], "rg-prod-shared", "westeurope", "TLS certificates for the application gateway (RBAC)", base_config(tenant, true, true, 90));
    let cert_names: Vec<String> = ["www-fabrikam-com", "api-fabrikam-com", "shop-fabrikam-com", "partners-fabrikam-com", "internal-wildcard", "mtls-client-ca"].map(String::from).to_vec();
    certs.certificates = objects(rng, cert_names.clone(), 0.3, hint);
    certs.secrets = certs.certificates.iter().map(|c| Object { name: c.name.clone(), version: c.version.clone(), expires: c.expires }).collect();
    let mut vaults = vec![app, data, pay, dev, certs];
    if with_hsm {
        let mut hsm = vault("fab-prod-hsm", &subs[0], "rg-prod-data", "westeurope", "Managed HSM holding the archive storage key (local RBAC)", base_config(tenant, true, true, 90));
        hsm.kind = Kind::ManagedHsm;
        hsm.initial.sku = "Standard_B1";
        hsm.keys = objects(rng, vec!["archive-cmk".into(), "signing-hsm-key".into()], 0.0, hint);
        vaults.push(hsm);
    }
    vaults
}
