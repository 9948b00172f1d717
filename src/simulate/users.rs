//! People at work: portal, CLI and PowerShell sessions in working hours.
//!
//! Each employee works on weekdays in their own time zone (admins sometimes at
//! weekends), from the office or from home, and opens a few sessions a day against
//! the vaults of their job. A portal session reads the vault through ARM (URI
//! claims, appid `c44b4083…`) then lists and reveals secrets on the data plane
//! (appid `3686488a…`, a browser user agent); CLI and PowerShell sessions start with
//! the SDK challenge. The honest mistakes of real users are here too: a 403 for an
//! operation their role lacks, a 404 for a mistyped name, a firewall denial when a
//! payments engineer forgets the VPN.

use std::net::IpAddr;
use std::sync::Arc;

use chrono::NaiveDate;
use rand::RngExt;

use super::clock::{self, Tick, DAY};
use super::ids::{self, SimRng};
use super::places::{self, pool_named};
use super::request::{Caller, Identity, Request, UserToken};
use super::tenant::{appid, Os, Role, User};
use super::vaults::Vault;

/// A stay away from home: the user works from `pool` on these period days.
#[derive(Debug, Clone)]
pub(crate) struct Trip {
    /// Index of the user.
    pub user: usize,
    /// First and last day (period day indexes, inclusive).
    pub days: (u32, u32),
    /// Where they connect from.
    pub pool: &'static str,
}

/// Data-plane and ARM api-versions the tools use.
const DATA_API: &str = "7.5";
const PORTAL_ARM_API: &str = "2024-12-01-preview";

fn browser(os: Os) -> &'static str {
    match os {
        Os::Windows => "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0.0.0 Safari/537.36 Edg/142.0.0.0",
        Os::Mac => "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/19.1 Safari/605.1.15",
        Os::Linux => "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:145.0) Gecko/20100101 Firefox/145.0",
    }
}

fn cli(os: Os) -> &'static str {
    match os {
        Os::Windows => "AZURECLI/2.78.0 (MSI) azsdk-python-core/1.35.0 Python/3.12.10 (Windows-11-10.0.26100-SP0)",
        Os::Mac => "AZURECLI/2.78.0 (HOMEBREW) azsdk-python-core/1.35.0 Python/3.12.11 (macOS-15.6-arm64-arm-64bit)",
        Os::Linux => "AZURECLI/2.78.0 (DEB) azsdk-python-core/1.35.0 Python/3.12.3 (Linux-6.8.0-85-generic-x86_64-with-glibc2.39)",
    }
}

const POWERSHELL: &str = "AzurePowershell/v14.4.0 PSVersion/v7.5.3 Az.KeyVault/6.4.0";

/// The three callers of one user at one address: portal ARM, portal data plane, tool.
pub(crate) struct UserCallers {
    /// Portal through ARM.
    pub arm: Arc<Caller>,
    /// Portal data plane.
    pub portal: Arc<Caller>,
    /// Azure CLI.
    pub cli: Arc<Caller>,
    /// Azure PowerShell.
    pub powershell: Arc<Caller>,
}

/// Callers for `user` at `ip`; `token_ip` is where the token was issued.
pub(crate) fn callers(user: &User, ip: IpAddr, token_ip: IpAddr) -> UserCallers {
    let amr = if user.mfa { "pwd mfa" } else { "pwd" };
    let token = |appid| {
        Identity::User(UserToken {
            oid: user.oid.clone(),
            upn: user.upn.clone(),
            appid,
            ipaddr: token_ip.to_string(),
            amr,
        })
    };
    let make = |identity, client_info: &str| {
        Arc::new(Caller {
            identity,
            ip,
            client_info: client_info.to_owned(),
            subnet: None,
            tls: "TLS1_3",
        })
    };
    UserCallers {
        arm: make(
            Identity::ArmUser {
                oid: user.oid.clone(),
                upn: user.upn.clone(),
                appid: appid::PORTAL_ARM,
            },
            "Mozilla/5.0",
        ),
        portal: make(token(appid::PORTAL_DATA), browser(user.os)),
        cli: make(token(appid::CLI), cli(user.os)),
        powershell: make(token(appid::POWERSHELL), POWERSHELL),
    }
}

/// Generates the sessions of `user` starting in the UTC day `[t0, t0 + DAY)`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn day(
    user_index: usize,
    user: &User,
    vaults: &[Vault],
    seed: u64,
    start: NaiveDate,
    t0: Tick,
    trips: &[Trip],
    out: &mut Vec<Request>,
) {
    let first = clock::to_datetime(t0).date_naive();
    for offset in [-1i64, 0, 1] {
        let Some(date) = first.checked_add_signed(chrono::Duration::days(offset)) else {
            continue;
        };
        let day_index = (date - start).num_days();
        if day_index < i64::from(user.start_day) {
            continue;
        }
        let mut rng = ids::stream(
            seed,
            &user.upn,
            chrono::Datelike::num_days_from_ce(&date) as u64,
        );
        let sessions = plan_day(&mut rng, user, date);
        let trip = trips.iter().find(|t| {
            t.user == user_index && (i64::from(t.days.0)..=i64::from(t.days.1)).contains(&day_index)
        });
        let at_office = trip.is_some() || rng.random_bool(user.office_share);
        let ip = match trip {
            Some(t) => IpAddr::V4(places::address_in(pool_named(t.pool), &mut rng)),
            None if at_office => {
                IpAddr::V4(places::address_in(pool_named(user.office_pool), &mut rng))
            }
            None => user.home_ip,
        };
        let callers = callers(user, ip, ip);
        let office_ip = at_office && trip.is_none();
        for t in sessions.into_iter().filter(|t| (t0..t0 + DAY).contains(t)) {
            super::sessions::session(&mut rng, user, vaults, &callers, office_ip, t, out);
        }
    }
}

/// Session start times of one local date.
fn plan_day(rng: &mut SimRng, user: &User, date: NaiveDate) -> Vec<Tick> {
    let weekend = clock::is_weekend(date);
    let weekend_share = if user.role == Role::Admin { 0.2 } else { 0.04 };
    if weekend && !rng.random_bool(weekend_share) {
        return vec![];
    }
    let begin = ids::normal(rng, 8.8, 0.6, 7.0, 10.5);
    let end = ids::normal(rng, 17.9, 0.7, 16.0, 20.5);
    let count = if weekend {
        1
    } else {
        ids::poisson(rng, user.sessions)
    };
    let mut times: Vec<Tick> = (0..count)
        .map(|_| user.zone.at(date, rng.random_range(begin..end)))
        .collect();
    times.sort_unstable();
    times
}

/// The data-plane api-version of the user tools.
pub(crate) fn data_api() -> &'static str {
    DATA_API
}

/// The portal's ARM api-version.
pub(crate) fn portal_arm_api() -> &'static str {
    PORTAL_ARM_API
}
