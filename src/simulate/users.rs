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

use super::clock::{self, Tick, DAY, SECOND};
use super::ids::{self, SimRng};
use super::places::{self, pool_named};
use super::request::{self, Caller, Extra, Identity, Outcome, Request, Style, UserToken, Verb};
use super::tenant::{appid, Os, Role, User, CERTS, DATA, PAY};
use super::vaults::{ObjKind, Vault};
use super::workloads::challenge;

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
    let token = |appid| Identity::User(UserToken { oid: user.oid.clone(), upn: user.upn.clone(), appid, ipaddr: token_ip.to_string(), amr });
    let make = |identity, client_info: &str| Arc::new(Caller { identity, ip, client_info: client_info.to_owned(), subnet: None, tls: "TLS1_3" });
    UserCallers {
        arm: make(Identity::ArmUser { oid: user.oid.clone(), upn: user.upn.clone(), appid: appid::PORTAL_ARM }, "Mozilla/5.0"),
        portal: make(token(appid::PORTAL_DATA), browser(user.os)),
        cli: make(token(appid::CLI), cli(user.os)),
        powershell: make(token(appid::POWERSHELL), POWERSHELL),
    }
}

/// Generates the sessions of `user` starting in the UTC day `[t0, t0 + DAY)`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn day(user_index: usize, user: &User, vaults: &[Vault], seed: u64, start: NaiveDate, t0: Tick, trips: &[Trip], out: &mut Vec<Request>) {
    let first = clock::to_datetime(t0).date_naive();
    for offset in [-1i64, 0, 1] {
        let Some(date) = first.checked_add_signed(chrono::Duration::days(offset)) else { continue };
        let day_index = (date - start).num_days();
        if day_index < i64::from(user.start_day) {
            continue;
        }
        let mut rng = ids::stream(seed, &user.upn, chrono::Datelike::num_days_from_ce(&date) as u64);
        let sessions = plan_day(&mut rng, user, date);
        let trip = trips.iter().find(|t| t.user == user_index && (i64::from(t.days.0)..=i64::from(t.days.1)).contains(&day_index));
        let at_office = trip.is_some() || rng.random_bool(user.office_share);
        let ip = match trip {
            Some(t) => IpAddr::V4(places::address_in(pool_named(t.pool), &mut rng)),
            None if at_office => IpAddr::V4(places::address_in(pool_named(user.office_pool), &mut rng)),
            None => user.home_ip,
        };
        let callers = callers(user, ip, ip);
        let office_ip = at_office && trip.is_none();
        for t in sessions.into_iter().filter(|t| (t0..t0 + DAY).contains(t)) {
            session(&mut rng, user, vaults, &callers, office_ip, t, out);
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
    let count = if weekend { 1 } else { ids::poisson(rng, user.sessions) };
    let mut times: Vec<Tick> = (0..count).map(|_| user.zone.at(date, rng.random_range(begin..end))).collect();
    times.sort_unstable();
    times
}

fn session(rng: &mut SimRng, user: &User, vaults: &[Vault], c: &UserCallers, at_office: bool, t: Tick, out: &mut Vec<Request>) {
    let mut vault = *ids::pick(rng, &user.vaults).unwrap_or(&super::tenant::DEV);
    // Payments engineers only reach the firewalled vault from the office; at home
    // they mostly pick other work, and once in a while forget the VPN.
    let mut forgot_vpn = false;
    if vault == PAY && !at_office {
        if rng.random_bool(0.12) {
            forgot_vpn = true;
        } else {
            vault = *user.vaults.iter().find(|v| **v != PAY).unwrap_or(&super::tenant::DEV);
        }
    }
    let draw: f64 = rng.random_range(0.0..user.tools.iter().sum::<f64>().max(1e-9));
    let tool = if draw < user.tools[0] { 0 } else if draw < user.tools[0] + user.tools[1] { 1 } else { 2 };
    let v = &vaults[vault];
    if tool == 0 {
        portal(rng, user, v, vault, c, forgot_vpn, t, out);
    } else {
        let caller = if tool == 1 { &c.cli } else { &c.powershell };
        tool_session(rng, v, vault, caller, forgot_vpn, t, out);
    }
    if rng.random_bool(0.04) {
        slip(rng, user, vaults, c, t + 2 * 60 * SECOND, out);
    }
}

fn kind_for(v: &Vault, vault: usize) -> ObjKind {
    if vault == CERTS { ObjKind::Certificate } else if vault == DATA && !v.keys.is_empty() && v.secrets.is_empty() { ObjKind::Key } else { ObjKind::Secret }
}

fn list_op(kind: ObjKind) -> &'static str {
    match kind {
        ObjKind::Secret => "SecretList",
        ObjKind::Key => "KeyList",
        ObjKind::Certificate => "CertificateList",
    }
}

fn get_op(kind: ObjKind) -> &'static str {
    match kind {
        ObjKind::Secret => "SecretGet",
        ObjKind::Key => "KeyGet",
        ObjKind::Certificate => "CertificateGet",
    }
}

#[allow(clippy::too_many_arguments)]
fn portal(rng: &mut SimRng, user: &User, v: &Vault, vault: usize, c: &UserCallers, blocked: bool, t: Tick, out: &mut Vec<Request>) {
    let mut t = t;
    out.push(Request::new(rng, t, vault, "VaultGet", Outcome::Ok, &c.arm, request::arm(), PORTAL_ARM_API, Style::Portal).with_extra(Extra::Arm { added: None, removed: None }));
    t += request::gap(rng, 1_500, 8_000);
    let kind = if vault == DATA && rng.random_bool(0.4) { ObjKind::Key } else { kind_for(v, vault) };
    let outcome = if blocked { Outcome::Firewall } else { Outcome::Ok };
    out.push(Request::new(rng, t, vault, list_op(kind), outcome, &c.portal, request::collection(kind), DATA_API, Style::Portal));
    if blocked {
        return;
    }
    let reveals = if user.role == Role::Security { rng.random_range(0..=1) } else { rng.random_range(0..=3) };
    for _ in 0..reveals {
        let Some(o) = ids::pick(rng, v.objects(kind)) else { break };
        t += request::gap(rng, 3_000, 40_000);
        let extra = if kind == ObjKind::Key { Extra::KeyProperties } else { Extra::None };
        out.push(Request::new(rng, t, vault, get_op(kind), Outcome::Ok, &c.portal, request::object(kind, &o.name, Some(&o.version), Verb::Read), DATA_API, Style::Portal).with_extra(extra));
    }
}

fn tool_session(rng: &mut SimRng, v: &Vault, vault: usize, caller: &Arc<Caller>, blocked: bool, t: Tick, out: &mut Vec<Request>) {
    let kind = kind_for(v, vault);
    let objects = v.objects(kind);
    let Some(first) = ids::pick(rng, objects) else { return };
    let listing = rng.random_bool(0.35);
    let first_target = if listing { request::collection(kind) } else { request::object(kind, &first.name, None, Verb::Read) };
    let mut t = t;
    out.push(challenge(rng, t, vault, caller, first_target.clone(), DATA_API));
    t += request::gap(rng, 60, 500);
    if blocked {
        let op = if listing { list_op(kind) } else { get_op(kind) };
        out.push(Request::new(rng, t, vault, op, Outcome::Firewall, caller, first_target, DATA_API, Style::Sdk));
        return;
    }
    if listing {
        out.push(Request::new(rng, t, vault, list_op(kind), Outcome::Ok, caller, request::collection(kind), DATA_API, Style::Sdk));
        t += request::gap(rng, 2_000, 20_000);
    }
    let reads = rng.random_range(1..=3);
    for i in 0..reads {
        let o = if i == 0 { first } else { ids::pick(rng, objects).unwrap_or(first) };
        let typo = kind == ObjKind::Secret && rng.random_bool(0.05);
        let (target, outcome) = if typo {
            (request::object(kind, &format!("{}-old", o.name), None, Verb::Read), Outcome::NotFound)
        } else {
            (request::object(kind, &o.name, Some(&o.version), Verb::Read), Outcome::Ok)
        };
        let extra = if kind == ObjKind::Key { Extra::KeyProperties } else { Extra::None };
        out.push(Request::new(rng, t, vault, get_op(kind), outcome, caller, target, DATA_API, Style::Sdk).with_extra(extra));
        t += request::gap(rng, 1_000, 25_000);
    }
    if kind == ObjKind::Secret && vault != PAY && rng.random_bool(0.08) {
        let fresh = ids::version(rng);
        out.push(Request::new(rng, t, vault, "SecretSet", Outcome::Ok, caller, request::object(kind, &first.name, Some(&fresh), Verb::Write), DATA_API, Style::Sdk));
    }
}

/// A permission slip: one operation the user's role does not allow.
fn slip(rng: &mut SimRng, user: &User, vaults: &[Vault], c: &UserCallers, t: Tick, out: &mut Vec<Request>) {
    let vault = *ids::pick(rng, &user.vaults).unwrap_or(&super::tenant::DEV);
    if vault == PAY {
        return;
    }
    let v = &vaults[vault];
    let kind = kind_for(v, vault);
    let Some(o) = ids::pick(rng, v.objects(kind)) else { return };
    let (op, verb) = match kind {
        ObjKind::Secret => ("SecretDelete", Verb::Delete),
        ObjKind::Key => ("KeyDelete", Verb::Delete),
        ObjKind::Certificate => ("CertificateDelete", Verb::Delete),
    };
    out.push(Request::new(rng, t, vault, op, Outcome::Denied, &c.portal, request::object(kind, &o.name, None, verb), DATA_API, Style::Portal));
}

/// A request by `user` (used by scenarios that borrow the daily-life shapes).
pub(crate) fn portal_read(rng: &mut SimRng, vault: usize, v: &Vault, c: &UserCallers, t: Tick, reveals: usize, out: &mut Vec<Request>) -> Tick {
    let mut t = t;
    out.push(Request::new(rng, t, vault, "VaultGet", Outcome::Ok, &c.arm, request::arm(), PORTAL_ARM_API, Style::Portal).with_extra(Extra::Arm { added: None, removed: None }));
    t += request::gap(rng, 1_500, 6_000);
    out.push(Request::new(rng, t, vault, "SecretList", Outcome::Ok, &c.portal, request::collection(ObjKind::Secret), DATA_API, Style::Portal));
    for _ in 0..reveals {
        let Some(o) = ids::pick(rng, &v.secrets) else { break };
        t += request::gap(rng, 3_000, 30_000);
        out.push(Request::new(rng, t, vault, "SecretGet", Outcome::Ok, &c.portal, request::object(ObjKind::Secret, &o.name, Some(&o.version), Verb::Read), DATA_API, Style::Portal));
    }
    t
}

/// The data-plane api-version of the user tools.
pub(crate) fn data_api() -> &'static str {
    DATA_API
}

/// The portal's ARM api-version.
pub(crate) fn portal_arm_api() -> &'static str {
    PORTAL_ARM_API
}
