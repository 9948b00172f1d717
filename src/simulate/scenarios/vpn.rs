//! The split-tunnel VPN user, and the attack that must still be seen through her.
//!
//! - The routine (a confounder, labelled `confounder` for `unusual_geo`): Emily
//!   Jones works from the London office with a split-tunnel VPN, so her traffic
//!   leaves by turns through the office line and through the VPN egress, a fixed
//!   address in a hosting provider's range in Frankfurt, 640 km away, many times an
//!   hour on every working day of the period. Each hop between the two is faster
//!   than anyone travels; after her first day the pair is part of her baseline and
//!   must raise nothing. Each working day from the second on carries a label over
//!   that day's alternation.
//! - `vpn_user_far_sign_in` (attack): on the last working day of a week once the
//!   pair is usual, her replayed token (its `ipaddr` still the office) reads secrets
//!   at night from a hosting range in Singapore, a third place 10 000 km away:
//!   impossible travel that must still alert. (A Friday night, so that her next
//!   call from London, the way back, comes after the weekend, beyond the travel
//!   window, and does not fall in a routine day's confounder label. That day's own
//!   routine label is dropped: the attack's alert spans from her last routine call.)

use std::net::IpAddr;

use rand::RngExt;

use super::super::clock::{Tick, Zone, DAY, MINUTE};
use super::super::ids::{self, SimRng};
use super::super::plan::{Ctx, Plan};
use super::super::request::{self, Caller, Outcome, Request, Style, Verb};
use super::super::tenant::APP;
use super::super::users;
use super::super::vaults::ObjKind;
use super::{at, ip, tools, user, user_caller, CLI};

/// The VPN user.
const VPN_USER: &str = "Emily Jones";

fn read(rng: &mut SimRng, ctx: &Ctx<'_>, t: Tick, caller: &std::sync::Arc<Caller>) -> Request {
    let v = &ctx.tenant.vaults[APP];
    // The few secrets she works with.
    let o = &v.secrets[rng.random_range(0..v.secrets.len().clamp(1, 3))];
    Request::new(
        rng,
        t,
        APP,
        "SecretGet",
        Outcome::Ok,
        caller,
        request::object(ObjKind::Secret, &o.name, Some(&o.version), Verb::Read),
        users::data_api(),
        Style::Sdk,
    )
}

fn working_day(ctx: &Ctx<'_>, d: u32) -> bool {
    !super::super::clock::is_weekend(ctx.date(d))
}

/// Plans the VPN user's alternation between the office and the VPN egress on every
/// working day (benign: labelled `confounder` from her second working day).
pub(crate) fn split_tunnel_routine(ctx: &Ctx<'_>, plan: &mut Plan) {
    let tenant = ctx.tenant;
    let u = user(tenant, VPN_USER);
    if tenant.users.get(u).is_none_or(|x| x.name != VPN_USER)
        || tenant.vaults[APP].secrets.is_empty()
    {
        return;
    }
    let mut rng = ids::stream(ctx.seed, "split-tunnel-vpn", 0);
    let egress = ip(&mut rng, "de-hosting-frankfurt");
    let mut worked = 0;
    for d in (0..ctx.days).filter(|d| working_day(ctx, *d)) {
        let mut rng = ids::stream(ctx.seed, "split-tunnel-vpn", u64::from(d) + 1);
        let rng = &mut rng;
        let office_ip = ip(rng, "gb-office-london");
        let office = user_caller(tenant, u, CLI, office_ip, office_ip, tools::CLI_LINUX);
        let vpn = user_caller(tenant, u, CLI, egress, office_ip, tools::CLI_LINUX);
        let mark = plan.mark();
        let mut t = at(rng, ctx, d, Zone::Europe(0), 8.5, 9.0);
        let end = at(rng, ctx, d, Zone::Europe(0), 17.0, 17.5);
        let (first, mut last) = (t, t);
        while t < end {
            plan.requests.push(read(rng, ctx, t, &office));
            let back = t + rng.random_range(3..12) * MINUTE;
            plan.requests.push(read(rng, ctx, back, &vpn));
            last = back;
            t = back + rng.random_range(8..25) * MINUTE;
        }
        worked += 1;
        if worked > 1 {
            let text = format!(
                "{} works from the London office behind a split-tunnel VPN: her calls alternate between the office line and the VPN egress {egress} (hosting, Frankfurt, 640 km away) all day; a usual pair of places by now, no alert",
                tenant.users[u].upn
            );
            plan.label(
                mark,
                "confounder",
                "split_tunnel_vpn",
                "unusual_geo",
                &tenant.users[u].oid,
                "*",
                Some((first, last)),
                text,
            );
        }
    }
}

/// `vpn_user_far_sign_in`: the VPN user's token replayed at night from Singapore, on
/// the last working day of a week (from `day` on) after her office/VPN pair is usual.
pub(super) fn far_sign_in(
    ctx: &Ctx<'_>,
    rng: &mut SimRng,
    day: u32,
    _instance: u32,
    plan: &mut Plan,
) {
    let tenant = ctx.tenant;
    let u = user(tenant, VPN_USER);
    if tenant.vaults[APP].secrets.is_empty() {
        return;
    }
    let week_end =
        |d: &u32| working_day(ctx, *d) && (*d + 1 >= ctx.days || !working_day(ctx, *d + 1));
    let Some(d) = (day.max(3)..ctx.days)
        .find(week_end)
        .or_else(|| (0..ctx.days).rev().find(week_end))
    else {
        return;
    };
    let office: IpAddr = ip(rng, "gb-office-london");
    let far = ip(rng, "sg-hosting-singapore");
    let caller = user_caller(tenant, u, CLI, far, office, tools::PYTHON_SDK);
    let mut t = at(rng, ctx, d, Zone::Europe(0), 21.0, 22.5);
    let mark = plan.mark();
    let reads = rng.random_range(3..6);
    for _ in 0..reads {
        plan.requests.push(read(rng, ctx, t, &caller));
        t += request::gap(rng, 2_000, 40_000);
    }
    // The impossible-travel alert spans from her last call of the day, inside the
    // routine's label of that day, which therefore no longer says "nothing here".
    let oid = tenant.users[u].oid.to_ascii_lowercase();
    let day_start = ctx.start + i64::from(d) * DAY;
    plan.labels.retain(|l| {
        !(l.scenario == "split_tunnel_vpn"
            && l.identity == oid
            && (day_start..t).contains(&l.start))
    });
    let text = format!("{}'s token (issued at the office, {office}) reads {reads} secrets at night from a hosting range in Singapore ({far}): a third place 10 000 km from her usual office/VPN pair", tenant.users[u].upn);
    plan.label(
        mark,
        "attack",
        "vpn_user_far_sign_in",
        "unusual_geo",
        &tenant.users[u].oid,
        &tenant.vaults[APP].lower,
        None,
        text,
    );
}
