//! One UTC day of each workload's job: restarts, schedules, polling, key use.
//!
//! Each job kind has its own generator; all draw from the workload's random stream
//! for that day, so days are independent. Machine traffic (restarts, polling,
//! crypto) is scaled by the spec's `volume`; schedules people rely on (the nightly
//! ETL, the backup, deployments) are not. The batch jobs that read many objects
//! (backup, deploy) live in [`super::batch`].

use rand::RngExt;

use super::batch;
use super::clock::{self, Tick, DAY, HOUR, MINUTE, SECOND};
use super::ids::{self, SimRng};
use super::request::{self, Extra, Outcome, Request, Style, Verb};
use super::vaults::{ObjKind, Vault};
use super::workloads::{caller, challenge, session, targets, Job, Workload};

/// What every job generator gets.
struct Day<'a> {
    w: &'a Workload,
    vaults: &'a [Vault],
    t0: Tick,
    volume: f64,
}

impl Day<'_> {
    fn uniform(&self, rng: &mut SimRng) -> Tick {
        self.t0 + rng.random_range(0..DAY)
    }

    fn every(&self, minutes: f64) -> Tick {
        ((minutes / self.volume.max(0.05)) * MINUTE as f64) as Tick
    }

    fn date(&self) -> chrono::NaiveDate {
        clock::to_datetime(self.t0 + 12 * HOUR).date_naive()
    }

    fn contains(&self, t: Tick) -> bool {
        (self.t0..self.t0 + DAY).contains(&t)
    }
}

/// Generates one UTC day `[t0, t0 + DAY)` of a workload's requests.
pub(crate) fn day(
    w: &Workload,
    vaults: &[Vault],
    seed: u64,
    day: u64,
    t0: Tick,
    volume: f64,
    out: &mut Vec<Request>,
) {
    let mut rng = ids::stream(seed, w.name, day);
    let d = Day {
        w,
        vaults,
        t0,
        volume,
    };
    let rng = &mut rng;
    match &w.job {
        Job::Restarts {
            vault,
            secrets,
            per_day,
            refresh_hours,
            pods,
        } => restarts(
            &d,
            rng,
            *vault,
            secrets,
            (*per_day, *refresh_hours, *pods),
            out,
        ),
        Job::Cron {
            vault,
            secrets,
            every_minutes,
        } => cron(&d, rng, *vault, secrets, *every_minutes, out),
        Job::Nightly {
            vault,
            secrets,
            zone,
            local_hour,
        } => {
            let t = zone.at(d.date(), *local_hour) + rng.random_range(0..4 * MINUTE);
            if d.contains(t) {
                let caller = caller(rng, w, t);
                session(
                    rng,
                    w,
                    &caller,
                    t,
                    *vault,
                    targets(&vaults[*vault], secrets, None),
                    true,
                    out,
                );
            }
        }
        Job::References { vault, secrets } => {
            for _ in 0..1 + ids::poisson(rng, 0.4 * volume) {
                let t = d.uniform(rng);
                let caller = caller(rng, w, t);
                session(
                    rng,
                    w,
                    &caller,
                    t,
                    *vault,
                    targets(&vaults[*vault], secrets, None),
                    true,
                    out,
                );
            }
        }
        Job::Poll {
            vault,
            secrets,
            every_minutes,
        } => poll(&d, rng, *vault, secrets, *every_minutes, out),
        Job::Crypto {
            vault,
            key,
            per_hour,
            wrap_share,
        } => crypto(&d, rng, *vault, *key, *per_hour, *wrap_share, out),
        Job::Disks {
            vault,
            key,
            boots_per_workday,
        } => disks(&d, rng, *vault, *key, *boots_per_workday, out),
        Job::Backup {
            vaults: list,
            zone,
            local_hour,
        } => {
            let start = zone.at(d.date(), *local_hour) + rng.random_range(0..3 * MINUTE);
            if d.contains(start) {
                let caller = caller(rng, w, start);
                batch::backup(rng, w, &caller, start, vaults, list, out);
            }
        }
        Job::Deploy {
            vaults: list,
            per_week,
        } => {
            if !clock::is_weekend(d.date()) && rng.random_bool((per_week / 5.0).min(1.0)) {
                let t = clock::Zone::Europe(60).at(d.date(), rng.random_range(9.5..17.0));
                let caller = caller(rng, w, t);
                batch::deploy(rng, w, &caller, t, vaults, list, out);
            }
        }
    }
}

/// Pods restarting (mostly in working hours) and refreshing their secrets.
fn restarts(
    d: &Day<'_>,
    rng: &mut SimRng,
    vault: usize,
    secrets: &[usize],
    (per_day, refresh_hours, pods): (f64, f64, u32),
    out: &mut Vec<Request>,
) {
    for _ in 0..ids::poisson(rng, per_day * d.volume) {
        let t = if rng.random_bool(0.7) {
            d.t0 + rng.random_range(7 * HOUR..18 * HOUR)
        } else {
            d.uniform(rng)
        };
        // Now and then a release references a secret nobody created yet: 404s.
        let missing = rng.random_bool(0.1).then_some("orders-feature-flags-key");
        for pod in 0..pods {
            let start = t + Tick::from(pod) * rng.random_range(5..90) * SECOND;
            let caller = caller(rng, d.w, start);
            session(
                rng,
                d.w,
                &caller,
                start,
                vault,
                targets(&d.vaults[vault], secrets, missing),
                true,
                out,
            );
        }
    }
    let every = d.every(refresh_hours * 60.0).max(1);
    let mut t = d.t0 + rng.random_range(0..every);
    while t < d.t0 + DAY {
        let caller = caller(rng, d.w, t);
        session(
            rng,
            d.w,
            &caller,
            t,
            vault,
            targets(&d.vaults[vault], secrets, None),
            false,
            out,
        );
        t += every;
    }
}

/// A process started by a scheduler every few minutes.
fn cron(
    d: &Day<'_>,
    rng: &mut SimRng,
    vault: usize,
    secrets: &[usize],
    every_minutes: f64,
    out: &mut Vec<Request>,
) {
    let every = d.every(every_minutes).max(MINUTE);
    let mut t = d.t0 + 5 * MINUTE + rng.random_range(0..30 * SECOND);
    while t < d.t0 + DAY {
        let at = t + rng.random_range(0..20 * SECOND);
        let caller = caller(rng, d.w, at);
        session(
            rng,
            d.w,
            &caller,
            at,
            vault,
            targets(&d.vaults[vault], secrets, None),
            true,
            out,
        );
        t += every;
    }
}

/// A long-running client polling its secrets (the challenge once a day).
fn poll(
    d: &Day<'_>,
    rng: &mut SimRng,
    vault: usize,
    secrets: &[usize],
    every_minutes: f64,
    out: &mut Vec<Request>,
) {
    let every = d.every(every_minutes).max(MINUTE);
    let mut t = d.t0 + rng.random_range(0..every);
    let mut first = true;
    while t < d.t0 + DAY {
        let caller = caller(rng, d.w, t);
        session(
            rng,
            d.w,
            &caller,
            t,
            vault,
            targets(&d.vaults[vault], secrets, None),
            first,
            out,
        );
        first = false;
        t += every + rng.random_range(0..20 * SECOND);
    }
}

/// A customer-managed key in use all day (wrap/unwrap), KeyGet every six hours.
fn crypto(
    d: &Day<'_>,
    rng: &mut SimRng,
    vault: usize,
    key: usize,
    per_hour: f64,
    wrap_share: f64,
    out: &mut Vec<Request>,
) {
    let Some(k) = d.vaults[vault].keys.get(key) else {
        return;
    };
    let target = |verb| request::object(ObjKind::Key, &k.name, Some(&k.version), verb);
    for _ in 0..ids::poisson(rng, per_hour * 24.0 * d.volume) {
        let t = d.uniform(rng);
        let caller = caller(rng, d.w, t);
        let (op, verb) = if rng.random_bool(wrap_share) {
            ("KeyWrap", Verb::Wrap)
        } else {
            ("KeyUnwrap", Verb::Unwrap)
        };
        out.push(Request::new(
            rng,
            t,
            vault,
            op,
            Outcome::Ok,
            &caller,
            target(verb),
            d.w.api,
            Style::Sdk,
        ));
    }
    for h in [3, 9, 15, 21] {
        let t = d.t0 + h * HOUR + rng.random_range(0..HOUR);
        let caller = caller(rng, d.w, t);
        if rng.random_bool(0.5) {
            let before = t - request::gap(rng, 40, 400);
            out.push(challenge(
                rng,
                before,
                vault,
                &caller,
                request::object(ObjKind::Key, &k.name, None, Verb::Read),
                d.w.api,
            ));
        }
        out.push(
            Request::new(
                rng,
                t,
                vault,
                "KeyGet",
                Outcome::Ok,
                &caller,
                target(Verb::Read),
                d.w.api,
                Style::Sdk,
            )
            .with_extra(Extra::KeyProperties),
        );
    }
}

/// Disk encryption: unwraps when VMs boot, mostly in the morning scale-out.
fn disks(
    d: &Day<'_>,
    rng: &mut SimRng,
    vault: usize,
    key: usize,
    boots_per_workday: f64,
    out: &mut Vec<Request>,
) {
    let Some(k) = d.vaults[vault].keys.get(key) else {
        return;
    };
    let factor = if clock::is_weekend(d.date()) {
        0.2
    } else {
        1.0
    };
    for _ in 0..ids::poisson(rng, boots_per_workday * factor * d.volume) {
        let t = if rng.random_bool(0.6) {
            d.t0 + rng.random_range(6 * HOUR..8 * HOUR)
        } else {
            d.uniform(rng)
        };
        let caller = caller(rng, d.w, t);
        for disk in 0..rng.random_range(1..=2) {
            let (op, verb) = if rng.random_bool(0.08) {
                ("KeyWrap", Verb::Wrap)
            } else {
                ("KeyUnwrap", Verb::Unwrap)
            };
            let at = t + disk * request::gap(rng, 50, 900);
            out.push(Request::new(
                rng,
                at,
                vault,
                op,
                Outcome::Ok,
                &caller,
                request::object(ObjKind::Key, &k.name, Some(&k.version), verb),
                d.w.api,
                Style::Sdk,
            ));
        }
    }
}
