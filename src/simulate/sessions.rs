//! What a person does in one sitting: a portal visit or a CLI/PowerShell session.
//!
//! A portal visit reads the vault through ARM, lists it on the data plane and
//! reveals a few values; a tool session starts with the SDK challenge, then lists
//! or reads, now and then writes a new version. The honest mistakes live here: a
//! typo (404), an operation the role lacks (403), the payments firewall from home.

use std::sync::Arc;

use rand::RngExt;

use super::clock::{Tick, SECOND};
use super::ids::{self, SimRng};
use super::request::{self, Caller, Extra, Outcome, Request, Style, Verb};
use super::tenant::{Role, User, CERTS, DATA, PAY};
use super::users::{data_api, portal_arm_api, UserCallers};
use super::vaults::{ObjKind, Vault};
use super::workloads::challenge;

pub(crate) fn session(
    rng: &mut SimRng,
    user: &User,
    vaults: &[Vault],
    c: &UserCallers,
    at_office: bool,
    t: Tick,
    out: &mut Vec<Request>,
) {
    let mut vault = *ids::pick(rng, &user.vaults).unwrap_or(&super::tenant::DEV);
    // Payments engineers only reach the firewalled vault from the office; at home
    // they mostly pick other work, and once in a while forget the VPN.
    let mut forgot_vpn = false;
    if vault == PAY && !at_office {
        if rng.random_bool(0.12) {
            forgot_vpn = true;
        } else {
            vault = *user
                .vaults
                .iter()
                .find(|v| **v != PAY)
                .unwrap_or(&super::tenant::DEV);
        }
    }
    let draw: f64 = rng.random_range(0.0..user.tools.iter().sum::<f64>().max(1e-9));
    let tool = if draw < user.tools[0] {
        0
    } else if draw < user.tools[0] + user.tools[1] {
        1
    } else {
        2
    };
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
    if vault == CERTS {
        ObjKind::Certificate
    } else if vault == DATA && !v.keys.is_empty() && v.secrets.is_empty() {
        ObjKind::Key
    } else {
        ObjKind::Secret
    }
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
fn portal(
    rng: &mut SimRng,
    user: &User,
    v: &Vault,
    vault: usize,
    c: &UserCallers,
    blocked: bool,
    t: Tick,
    out: &mut Vec<Request>,
) {
    let mut t = t;
    out.push(
        Request::new(
            rng,
            t,
            vault,
            "VaultGet",
            Outcome::Ok,
            &c.arm,
            request::arm(),
            portal_arm_api(),
            Style::Portal,
        )
        .with_extra(Extra::Arm {
            added: None,
            removed: None,
        }),
    );
    t += request::gap(rng, 1_500, 8_000);
    let kind = if vault == DATA && rng.random_bool(0.4) {
        ObjKind::Key
    } else {
        kind_for(v, vault)
    };
    let outcome = if blocked {
        Outcome::Firewall
    } else {
        Outcome::Ok
    };
    out.push(Request::new(
        rng,
        t,
        vault,
        list_op(kind),
        outcome,
        &c.portal,
        request::collection(kind),
        data_api(),
        Style::Portal,
    ));
    if blocked {
        return;
    }
    let reveals = if user.role == Role::Security {
        rng.random_range(0..=1)
    } else {
        rng.random_range(0..=3)
    };
    for _ in 0..reveals {
        let Some(o) = ids::pick(rng, v.objects(kind)) else {
            break;
        };
        t += request::gap(rng, 3_000, 40_000);
        let extra = if kind == ObjKind::Key {
            Extra::KeyProperties
        } else {
            Extra::None
        };
        out.push(
            Request::new(
                rng,
                t,
                vault,
                get_op(kind),
                Outcome::Ok,
                &c.portal,
                request::object(kind, &o.name, Some(&o.version), Verb::Read),
                data_api(),
                Style::Portal,
            )
            .with_extra(extra),
        );
    }
}

fn tool_session(
    rng: &mut SimRng,
    v: &Vault,
    vault: usize,
    caller: &Arc<Caller>,
    blocked: bool,
    t: Tick,
    out: &mut Vec<Request>,
) {
    let kind = kind_for(v, vault);
    let objects = v.objects(kind);
    let Some(first) = ids::pick(rng, objects) else {
        return;
    };
    let listing = rng.random_bool(0.35);
    let first_target = if listing {
        request::collection(kind)
    } else {
        request::object(kind, &first.name, None, Verb::Read)
    };
    let mut t = t;
    out.push(challenge(
        rng,
        t,
        vault,
        caller,
        first_target.clone(),
        data_api(),
    ));
    t += request::gap(rng, 60, 500);
    if blocked {
        let op = if listing { list_op(kind) } else { get_op(kind) };
        out.push(Request::new(
            rng,
            t,
            vault,
            op,
            Outcome::Firewall,
            caller,
            first_target,
            data_api(),
            Style::Sdk,
        ));
        return;
    }
    if listing {
        out.push(Request::new(
            rng,
            t,
            vault,
            list_op(kind),
            Outcome::Ok,
            caller,
            request::collection(kind),
            data_api(),
            Style::Sdk,
        ));
        t += request::gap(rng, 2_000, 20_000);
    }
    let reads = rng.random_range(1..=3);
    for i in 0..reads {
        let o = if i == 0 {
            first
        } else {
            ids::pick(rng, objects).unwrap_or(first)
        };
        let typo = kind == ObjKind::Secret && rng.random_bool(0.05);
        let (target, outcome) = if typo {
            (
                request::object(kind, &format!("{}-old", o.name), None, Verb::Read),
                Outcome::NotFound,
            )
        } else {
            (
                request::object(kind, &o.name, Some(&o.version), Verb::Read),
                Outcome::Ok,
            )
        };
        let extra = if kind == ObjKind::Key {
            Extra::KeyProperties
        } else {
            Extra::None
        };
        out.push(
            Request::new(
                rng,
                t,
                vault,
                get_op(kind),
                outcome,
                caller,
                target,
                data_api(),
                Style::Sdk,
            )
            .with_extra(extra),
        );
        t += request::gap(rng, 1_000, 25_000);
    }
    if kind == ObjKind::Secret && vault != PAY && rng.random_bool(0.08) {
        let fresh = ids::version(rng);
        out.push(Request::new(
            rng,
            t,
            vault,
            "SecretSet",
            Outcome::Ok,
            caller,
            request::object(kind, &first.name, Some(&fresh), Verb::Write),
            data_api(),
            Style::Sdk,
        ));
    }
}

/// A permission slip: one operation the user's role does not allow.
fn slip(
    rng: &mut SimRng,
    user: &User,
    vaults: &[Vault],
    c: &UserCallers,
    t: Tick,
    out: &mut Vec<Request>,
) {
    let vault = *ids::pick(rng, &user.vaults).unwrap_or(&super::tenant::DEV);
    if vault == PAY {
        return;
    }
    let v = &vaults[vault];
    let kind = kind_for(v, vault);
    let Some(o) = ids::pick(rng, v.objects(kind)) else {
        return;
    };
    let (op, verb) = match kind {
        ObjKind::Secret => ("SecretDelete", Verb::Delete),
        ObjKind::Key => ("KeyDelete", Verb::Delete),
        ObjKind::Certificate => ("CertificateDelete", Verb::Delete),
    };
    out.push(Request::new(
        rng,
        t,
        vault,
        op,
        Outcome::Denied,
        &c.portal,
        request::object(kind, &o.name, None, verb),
        data_api(),
        Style::Portal,
    ));
}

/// A request by `user` (used by scenarios that borrow the daily-life shapes).
pub(crate) fn portal_read(
    rng: &mut SimRng,
    vault: usize,
    v: &Vault,
    c: &UserCallers,
    t: Tick,
    reveals: usize,
    out: &mut Vec<Request>,
) -> Tick {
    let mut t = t;
    out.push(
        Request::new(
            rng,
            t,
            vault,
            "VaultGet",
            Outcome::Ok,
            &c.arm,
            request::arm(),
            portal_arm_api(),
            Style::Portal,
        )
        .with_extra(Extra::Arm {
            added: None,
            removed: None,
        }),
    );
    t += request::gap(rng, 1_500, 6_000);
    out.push(Request::new(
        rng,
        t,
        vault,
        "SecretList",
        Outcome::Ok,
        &c.portal,
        request::collection(ObjKind::Secret),
        data_api(),
        Style::Portal,
    ));
    for _ in 0..reveals {
        let Some(o) = ids::pick(rng, &v.secrets) else {
            break;
        };
        t += request::gap(rng, 3_000, 30_000);
        out.push(Request::new(
            rng,
            t,
            vault,
            "SecretGet",
            Outcome::Ok,
            &c.portal,
            request::object(ObjKind::Secret, &o.name, Some(&o.version), Verb::Read),
            data_api(),
            Style::Portal,
        ));
    }
    t
}
