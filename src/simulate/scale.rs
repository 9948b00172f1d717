//! Scale mode: many extra low-activity principals, for memory benchmarks.
//!
//! `--principals N` adds N users and service principals that each make a handful
//! of requests (two to six SecretGet or SecretList calls) over the period, so the
//! number of distinct principals kvwatch must keep baselines for grows without the
//! record volume exploding. Nothing about a principal is stored: its identity,
//! home, vault and secrets are pure functions of (seed, index), and the only state
//! is the sorted schedule of (second, principal) pairs, eight bytes per request.

use std::net::IpAddr;
use std::sync::Arc;

use rand::{RngExt, SeedableRng};

use super::clock::{Tick, DAY, SECOND};
use super::ids::{self, mix, SimRng};
use super::places::{host, pool_named};
use super::request::{self, AppToken, Caller, Identity, Outcome, Request, Style, UserToken, Verb};
use super::tenant::{appid, Tenant, APP, DATA, DEV};
use super::vaults::ObjKind;

const SALT: u64 = 0x5ca1_e000;
const HOMES: &[&str] = &[
    "fr-home-paris-a",
    "fr-home-paris-b",
    "fr-home-lyon",
    "de-home-berlin",
    "gb-home-london",
    "us-home-seattle",
    "us-home-newyork",
    "in-home-bangalore",
];
const CLOUDS: &[&str] = &[
    "azure-westeurope",
    "azure-northeurope",
    "azure-francecentral",
];

/// The extra principals' schedule.
#[derive(Debug, Default)]
pub(crate) struct Scale {
    seed: u64,
    start: Tick,
    /// (seconds since the period start, principal index), time-ordered.
    schedule: Vec<(u32, u32)>,
    next: usize,
}

impl Scale {
    /// Schedules `count` principals over `days` days from `start`.
    pub(crate) fn new(count: u64, seed: u64, start: Tick, days: u32) -> Self {
        let period = u64::from(days) * 86_400;
        let mut schedule = Vec::with_capacity((count * 4) as usize);
        for i in 0..count {
            let h = mix(seed ^ SALT, i);
            let requests = 2 + h % 5;
            let user = h % 10 < 7;
            for j in 0..requests {
                let r = mix(h, j + 1);
                let second = if user {
                    // Working hours, 07:00-19:00 UTC, on any day.
                    let day = (r % u64::from(days.max(1))) * 86_400;
                    day + 7 * 3600 + (r >> 20) % (12 * 3600)
                } else {
                    r % period.max(1)
                };
                schedule.push((second.min(period.saturating_sub(1)) as u32, i as u32));
            }
        }
        schedule.sort_unstable();
        Scale {
            seed,
            start,
            schedule,
            next: 0,
        }
    }

    /// The number of scheduled requests.
    pub(crate) fn len(&self) -> usize {
        self.schedule.len()
    }

    /// Appends the requests with times before `until`.
    pub(crate) fn until(&mut self, until: Tick, tenant: &Tenant, out: &mut Vec<Request>) {
        while let Some(&(second, index)) = self.schedule.get(self.next) {
            let t = self.start + Tick::from(second) * SECOND;
            if t >= until {
                break;
            }
            self.next += 1;
            out.push(self.request(t, u64::from(index), tenant));
        }
    }

    fn request(&self, t: Tick, i: u64, tenant: &Tenant) -> Request {
        let h = mix(self.seed ^ SALT, i);
        let mut rng = SimRng::seed_from_u64(mix(h, t as u64));
        let user = h % 10 < 7;
        let fixed = mix(h, 99);
        let (caller, vault) = if user {
            let pool = pool_named(HOMES[(fixed % HOMES.len() as u64) as usize]);
            let ip = IpAddr::V4(host(pool, (fixed >> 16) as u32));
            let token = UserToken {
                oid: ids::guid_of(self.seed, "scale-user", i),
                upn: format!("scale.user{i:07}@{}", tenant.domain),
                appid: appid::CLI,
                ipaddr: ip.to_string(),
                amr: "pwd mfa",
            };
            let client = "AZURECLI/2.78.0 (MSI) azsdk-python-core/1.35.0 Python/3.12.10 (Windows-11-10.0.26100-SP0)";
            let caller = Caller {
                identity: Identity::User(token),
                ip,
                client_info: client.into(),
                subnet: None,
                tls: "TLS1_3",
            };
            (caller, if fixed % 3 == 0 { APP } else { DEV })
        } else {
            let pool = pool_named(CLOUDS[(fixed % CLOUDS.len() as u64) as usize]);
            let ip = IpAddr::V4(host(pool, (fixed >> 16) as u32));
            let issued = super::clock::epoch_seconds(t) - rng.random_range(0..3000);
            let token = AppToken {
                oid: ids::guid_of(self.seed, "scale-sp", i),
                appid: ids::guid_of(self.seed, "scale-app", i),
                appidacr: "1",
                tenant: tenant.tenant_id.clone(),
                mirid: None,
                uti: ids::uti(&mut rng),
                issued,
                expires: issued + 4_500,
            };
            let client =
                "azsdk-net-Security.KeyVault.Secrets/4.7.0 (.NET 8.0.20; Ubuntu 22.04.5 LTS)";
            let caller = Caller {
                identity: Identity::App(token),
                ip,
                client_info: client.into(),
                subnet: None,
                tls: "TLS1_3",
            };
            (caller, if fixed % 2 == 0 { APP } else { DATA })
        };
        let caller = Arc::new(caller);
        let secrets = &tenant.vaults[vault].secrets;
        let pick = ((fixed >> 8) + (t as u64 / (DAY as u64)) % 2) as usize % secrets.len().max(1);
        match secrets.get(pick) {
            Some(s) if rng.random_bool(0.85) => {
                let target =
                    request::object(ObjKind::Secret, &s.name, Some(&s.version), Verb::Read);
                Request::new(
                    &mut rng,
                    t,
                    vault,
                    "SecretGet",
                    Outcome::Ok,
                    &caller,
                    target,
                    "7.5",
                    Style::Sdk,
                )
            }
            _ => Request::new(
                &mut rng,
                t,
                vault,
                "SecretList",
                Outcome::Ok,
                &caller,
                request::collection(ObjKind::Secret),
                "7.5",
                Style::Sdk,
            ),
        }
    }
}

/// The principal keys of the first `count` scale principals (tests).
#[cfg(test)]
pub(crate) fn principal_keys(seed: u64, count: u64) -> Vec<String> {
    (0..count)
        .map(|i| {
            let h = mix(seed ^ SALT, i);
            if h % 10 < 7 {
                ids::guid_of(seed, "scale-user", i)
            } else {
                ids::guid_of(seed, "scale-sp", i)
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_principal_is_scheduled_two_to_six_times_in_order() {
        let scale = Scale::new(1000, 9, 0, 3);
        assert!((2000..=6000).contains(&scale.len()), "{}", scale.len());
        assert!(scale.schedule.windows(2).all(|w| w[0] <= w[1]));
        let mut seen: Vec<u32> = scale.schedule.iter().map(|(_, p)| *p).collect();
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), 1000);
        assert!(scale.schedule.iter().all(|(s, _)| *s < 3 * 86_400));
        let keys = principal_keys(9, 1000);
        let mut distinct = keys.clone();
        distinct.sort();
        distinct.dedup();
        assert_eq!(distinct.len(), 1000);
    }
}
