//! Batch jobs that read many objects at once: the nightly backup and the deploy pipeline.
//!
//! Both are benign and both look like bulk retrieval to a naive rule: the backup
//! exports every secret, key and certificate of three vaults at 02:00 Paris time
//! from the same Azure Automation address; the pipeline reads the same 25 secrets
//! in about a minute, a few times a week, from a different GitHub-hosted runner
//! address each time. Detectors must learn them as the identities' normal.

use std::sync::Arc;

use rand::RngExt;

use super::clock::Tick;
use super::ids::{self, SimRng};
use super::request::{self, Caller, Extra, Outcome, Request, Style, Verb};
use super::vaults::{ObjKind, Vault};
use super::workloads::{challenge, Workload};

fn ops(kind: ObjKind) -> (&'static str, &'static str) {
    match kind {
        ObjKind::Secret => ("SecretList", "SecretBackup"),
        ObjKind::Key => ("KeyList", "KeyBackup"),
        ObjKind::Certificate => ("CertificateList", "CertificateBackup"),
    }
}

/// The nightly backup of every object of `list` (certificate-backed secrets are
/// exported as certificates).
pub(crate) fn backup(
    rng: &mut SimRng,
    w: &Workload,
    caller: &Arc<Caller>,
    start: Tick,
    vaults: &[Vault],
    list: &[usize],
    out: &mut Vec<Request>,
) {
    let mut t = start;
    for &v in list {
        let vault = &vaults[v];
        let has_certs = !vault.certificates.is_empty();
        let kinds: Vec<ObjKind> = [ObjKind::Secret, ObjKind::Key, ObjKind::Certificate]
            .into_iter()
            .filter(|k| !(vault.objects(*k).is_empty() || (*k == ObjKind::Secret && has_certs)))
            .collect();
        if let Some(kind) = kinds.first() {
            out.push(challenge(
                rng,
                t,
                v,
                caller,
                request::collection(*kind),
                w.api,
            ));
            t += request::gap(rng, 100, 600);
        }
        for kind in kinds {
            let (list_op, backup_op) = ops(kind);
            out.push(Request::new(
                rng,
                t,
                v,
                list_op,
                Outcome::Ok,
                caller,
                request::collection(kind),
                w.api,
                Style::Sdk,
            ));
            t += request::gap(rng, 200, 900);
            for o in vault.objects(kind) {
                let extra = if kind == ObjKind::Key {
                    Extra::KeyProperties
                } else {
                    Extra::None
                };
                let target = request::object(kind, &o.name, None, Verb::Backup);
                out.push(
                    Request::new(
                        rng,
                        t,
                        v,
                        backup_op,
                        Outcome::Ok,
                        caller,
                        target,
                        w.api,
                        Style::Sdk,
                    )
                    .with_extra(extra),
                );
                t += request::gap(rng, 150, 900);
            }
        }
        t += request::gap(rng, 2_000, 9_000);
    }
}

/// One deployment: the pipeline's variable groups (the same 25 secrets every run),
/// three certificates, and now and then a rotated secret written back.
pub(crate) fn deploy(
    rng: &mut SimRng,
    w: &Workload,
    caller: &Arc<Caller>,
    start: Tick,
    vaults: &[Vault],
    list: &[usize],
    out: &mut Vec<Request>,
) {
    let mut t = start;
    for &v in list {
        let vault = &vaults[v];
        let certs = !vault.certificates.is_empty();
        let kind = if certs {
            ObjKind::Certificate
        } else {
            ObjKind::Secret
        };
        out.push(challenge(
            rng,
            t,
            v,
            caller,
            request::collection(kind),
            w.api,
        ));
        t += request::gap(rng, 200, 800);
        if certs {
            for c in vault.certificates.iter().take(3) {
                let target = request::object(kind, &c.name, Some(&c.version), Verb::Read);
                out.push(Request::new(
                    rng,
                    t,
                    v,
                    "CertificateGet",
                    Outcome::Ok,
                    caller,
                    target,
                    w.api,
                    Style::Sdk,
                ));
                t += request::gap(rng, 300, 1_500);
            }
            continue;
        }
        out.push(Request::new(
            rng,
            t,
            v,
            "SecretList",
            Outcome::Ok,
            caller,
            request::collection(kind),
            w.api,
            Style::Sdk,
        ));
        for s in vault.secrets.iter().take(25) {
            t += request::gap(rng, 200, 2_500);
            let target = request::object(kind, &s.name, Some(&s.version), Verb::Read);
            out.push(Request::new(
                rng,
                t,
                v,
                "SecretGet",
                Outcome::Ok,
                caller,
                target,
                w.api,
                Style::Sdk,
            ));
        }
        if rng.random_bool(0.15) {
            if let Some(s) = ids::pick(rng, &vault.secrets) {
                t += request::gap(rng, 500, 3_000);
                let fresh = ids::version(rng);
                let target = request::object(kind, &s.name, Some(&fresh), Verb::Write);
                out.push(Request::new(
                    rng,
                    t,
                    v,
                    "SecretSet",
                    Outcome::Ok,
                    caller,
                    target,
                    w.api,
                    Style::Sdk,
                ));
            }
        }
    }
}
