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

use chrono::NaiveDate;

use super::clock::Zone;
use super::ids::{self, SimRng};
use super::places::{self, pool_named};
use super::request::AppPrincipal;
use super::vaults::Vault;
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

type Person = (
    &'static str,
    Role,
    &'static str,
    &'static str,
    f64,
    &'static [usize],
    [f64; 3],
    Os,
    bool,
    f64,
);

/// name, role, home pool, office pool, office share, vaults, tools, os, mfa, sessions/day.
#[rustfmt::skip]
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
    /// Builds the tenant for `seed`; new hires start on the first weekday at or
    /// after `days * 0.4` and `days * 0.6` (period day indexes from `start`).
    pub(crate) fn build(seed: u64, start: NaiveDate, days: u32, with_hsm: bool) -> Tenant {
        let mut rng = ids::stream(seed, "tenant", 0);
        let tenant_id = ids::guid(&mut rng);
        let subscriptions = [ids::guid(&mut rng), ids::guid(&mut rng)];
        let vaults = super::inventory::build_vaults(&mut rng, &tenant_id, &subscriptions, with_hsm);
        let domain = "fabrikam.com";
        let users = STAFF
            .iter()
            .enumerate()
            .map(
                |(i, &(name, role, home, office, share, vaults, tools, os, mfa, sessions))| {
                    let first = name.split(' ').next().unwrap_or(name).to_ascii_lowercase();
                    let last = name.rsplit(' ').next().unwrap_or(name).to_ascii_lowercase();
                    let start_day = match i.checked_sub(FIRST_NEW_HIRE) {
                        Some(k) => first_weekday(
                            start,
                            ((f64::from(days) * (0.4 + 0.2 * k as f64)) as u32).max(1),
                        ),
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
                        vaults: vaults
                            .iter()
                            .copied()
                            .filter(|v| *v < vault_count(with_hsm))
                            .collect(),
                        tools,
                        os,
                        mfa,
                        sessions,
                        start_day,
                    }
                },
            )
            .collect();
        let workloads =
            super::workloads::roster(&mut rng, &tenant_id, &subscriptions, &vaults, with_hsm);
        let first_party = vec![
            FirstParty {
                name: "Azure Resource Graph",
                oid: ids::guid(&mut rng),
                appid: appid::RESOURCE_GRAPH,
            },
            FirstParty {
                name: "Microsoft Policy Insights Provider Data Plane",
                oid: ids::guid(&mut rng),
                appid: appid::POLICY_INSIGHTS,
            },
        ];
        Tenant {
            tenant_id,
            domain,
            subscriptions,
            vaults,
            users,
            workloads,
            first_party,
        }
    }

    /// An application principal of this tenant with fresh ids.
    pub(crate) fn new_app(
        &self,
        rng: &mut SimRng,
        appidacr: &'static str,
        mirid: Option<String>,
    ) -> AppPrincipal {
        AppPrincipal {
            oid: ids::guid(rng),
            appid: ids::guid(rng),
            appidacr,
            tenant: self.tenant_id.clone(),
            mirid,
        }
    }
}

/// The first weekday at or after period day `day`.
fn first_weekday(start: NaiveDate, day: u32) -> u32 {
    (day..day + 3)
        .find(|d| {
            start
                .checked_add_days(chrono::Days::new(u64::from(*d)))
                .is_some_and(|date| !super::clock::is_weekend(date))
        })
        .unwrap_or(day)
}

fn vault_count(with_hsm: bool) -> usize {
    if with_hsm {
        6
    } else {
        5
    }
}
