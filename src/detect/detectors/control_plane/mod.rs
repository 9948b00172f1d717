//! `control_plane`: changes to who may reach a vault, and to whether anyone would
//! see it, made through Azure Resource Manager and seen only in the Activity Log.
//!
//! On a vault that uses Azure RBAC, "who may read its secrets" changes through a
//! role assignment, and the first move of a careful attacker is to delete the
//! vault's diagnostic setting. The rules: `role_grant` (a new role assignment that
//! reads Key Vault data or can give access, on a vault or a scope above vaults;
//! higher for privileged roles, broad scopes, a grantee never seen, a self-grant, a
//! guest granter), `grant_then_read` (the grantee reading data soon after: one
//! incident with the grant, critical), `role_removed` (low at most),
//! `monitoring_disabled`, `lock_removed` and `elevate_access`.
//!
//! Normal by construction: an operation's `Start` record (only its `Success`
//! counts), refused writes (`Failed.Conflict`: the assignment exists; denied
//! attempts are `failed_auth`'s), an infrastructure-as-code pipeline re-applying
//! assignments already in place, Azure Policy re-writing a diagnostic setting that
//! still sends AuditEvent, a routine granter giving a non-privileged role on one
//! vault (low). Vault deletion and purge from the Activity Log are
//! `destructive_operations`'; vault writes are `access_policy_change`'s (from
//! AuditEvent's `VaultPut`/`VaultPatch`, so one change is one alert).
//!
//! Files: `settings.rs` (the TOML file), `state.rs` (what it remembers),
//! `coverage.rs` (which vaults a scope reaches), `grants.rs`, `chain.rs` and
//! `tamper.rs` (the rules), `wording.rs`, `rule.rs`.

mod chain;
pub mod coverage;
mod grants;
pub mod rule;
pub mod settings;
pub mod state;
mod tamper;
pub mod wording;

use rule::NAME;
use settings::{File, Settings};
use state::State;

use crate::config::SuppressConfig;
use crate::detect::definition::{self, Registration, Source};
use crate::detect::detector::{Detector, DetectorError};
use crate::detect::examples;
use crate::detect::finding::Finding;
use crate::detect::observation::Observation;
use crate::detect::stateful::{Rules, Stateful};
use crate::event::{ChangeKind, OperationClass, Outcome};

/// `control_plane` in the registry.
pub const REGISTRATION: Registration = Registration {
    name: NAME,
    file: "detectors/control_plane.toml",
    text: include_str!("../../../../detectors/control_plane.toml"),
    load,
    next_steps: wording::NEXT_STEPS,
};

/// Loads, validates and checks the examples of a `control_plane` file.
pub fn load(src: &Source, suppress: &SuppressConfig) -> Result<Box<dyn Detector>, DetectorError> {
    let f: File = definition::parse(src)?;
    settings::validate(&f, src)?;
    let suppressor = definition::suppressor(src, suppress, &f.suppress)?;
    let rules = ControlPlaneRules {
        s: Settings::of(&f),
    };
    let make =
        || -> Box<dyn Detector> { Box::new(Stateful::new(rules.clone(), suppressor.clone())) };
    examples::check(&src.file, &f.example, &f.example_geo, &make)?;
    Ok(make())
}

/// The rules of `control_plane`.
#[derive(Debug, Clone)]
pub struct ControlPlaneRules {
    s: Settings,
}

impl Rules for ControlPlaneRules {
    const NAME: &'static str = NAME;
    type State = State;

    fn observe(&self, state: &mut State, obs: &Observation<'_>, findings: &mut Vec<Finding>) {
        let e = obs.event;
        let s = &self.s;
        state.prune(
            obs.now,
            definition::secs(s.grant.chain_window),
            obs.baselines.settings().forget_secs,
            s.grant.max_known_assignments,
        );
        match e.control_plane() {
            Some(c) => {
                coverage::learn(state, c, obs.now);
                match c.change {
                    ChangeKind::RoleAssignmentCreated => {
                        grants::created(s, state, obs, c, findings);
                    }
                    ChangeKind::RoleAssignmentDeleted => {
                        grants::removed(s, state, obs, c, findings);
                    }
                    ChangeKind::DiagnosticSettingDeleted
                    | ChangeKind::DiagnosticSettingWritten
                    | ChangeKind::LockRemoved
                    | ChangeKind::ElevateAccess => tamper::observe(s, state, obs, c, findings),
                    _ => {}
                }
            }
            // The hot path: an AuditEvent, and almost never a grant waiting.
            None if !state.pending.is_empty()
                && e.class == OperationClass::ReadValue
                && e.outcome == Outcome::Ok =>
            {
                if let Some(key) = obs.principal {
                    chain::observe(s, state, obs, key, findings);
                }
            }
            None => {}
        }
    }
}
