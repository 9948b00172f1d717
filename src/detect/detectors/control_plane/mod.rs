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
//! `monitoring_disabled` (and `audit_log_stopped`, its follow-up: the vault's
//! AuditEvent records then stopped), `lock_removed` and `elevate_access`.
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
//! `coverage.rs` (which vaults a scope reaches), `hours.rs` (when each principal
//! makes its changes), `grants.rs`, `chain.rs`, `tamper.rs` and `silence.rs` (the
//! rules), `wording.rs`, `rule.rs`.

mod chain;
pub mod coverage;
mod grants;
mod hours;
pub mod pulse;
pub mod rule;
pub mod settings;
pub mod silence;
pub mod state;
mod tamper;
pub mod wording;

use rule::NAME;
use settings::{File, Settings};
use state::State;

use crate::config::SuppressConfig;
use crate::detect::definition::{self, Registration, Source};
use crate::detect::detector::{Detector, DetectorError};
use crate::detect::finding::Finding;
use crate::detect::loader;
use crate::detect::observation::Observation;
use crate::detect::stateful::Rules;
use crate::event::{ActivityStatus, AuditEvent, ChangeKind, OperationClass, Outcome};

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
    loader::load(src, suppress, |f: &File| ControlPlaneRules {
        s: Settings::of(f, src.roles.clone()),
    })
}

/// The rules of `control_plane`.
#[derive(Debug, Clone)]
pub struct ControlPlaneRules {
    s: Settings,
}

impl Rules for ControlPlaneRules {
    const NAME: &'static str = NAME;
    type State = State;

    /// Every Activity Log change is read on arrival: its rules need the record and
    /// what earlier changes taught (known assignments, a scope's vaults, the last
    /// diagnostic setting), never the AuditEvent still waiting to be ordered.
    fn on_arrival(&self, e: &AuditEvent<'_>) -> bool {
        e.control_plane().is_some()
    }

    fn arrive(&self, state: &mut State, obs: &Observation<'_>, findings: &mut Vec<Finding>) {
        let Some(c) = obs.event.control_plane() else {
            return;
        };
        let s = &self.s;
        state.prune(
            obs.now,
            obs.baselines.settings().forget_secs,
            s.grant.max_known_assignments,
        );
        coverage::learn(state, c, obs.now);
        match c.change {
            ChangeKind::RoleAssignmentCreated => grants::created(s, state, obs, c, findings),
            ChangeKind::RoleAssignmentDeleted => grants::removed(s, state, obs, c, findings),
            ChangeKind::DiagnosticSettingDeleted
            | ChangeKind::DiagnosticSettingWritten
            | ChangeKind::LockRemoved
            | ChangeKind::ElevateAccess => tamper::observe(s, state, obs, c, findings),
            _ => {}
        }
        // Learnt after the rules read it: a change is judged against the hours
        // before it.
        if c.status == ActivityStatus::Success {
            if let Some(k) = obs.principal {
                state.hours.entry(k).or_default().add(obs.now);
            }
        }
    }

    /// Every released event, in event-time order: each vault's pulse and the
    /// watches of blinded vaults; AuditEvent reads: the chain to a waiting grant.
    fn observe(&self, state: &mut State, obs: &Observation<'_>, findings: &mut Vec<Finding>) {
        silence::observe(&self.s, state, obs, findings);
        let e = obs.event;
        if e.control_plane().is_some() {
            return;
        }
        let chain_window = definition::secs(self.s.grant.chain_window);
        state.prune_pending(obs.now, chain_window);
        // The hot path: an AuditEvent, and almost never a grant waiting.
        if state.pending.is_empty()
            || e.class != OperationClass::ReadValue
            || e.outcome != Outcome::Ok
        {
            return;
        }
        if let Some(key) = obs.principal {
            chain::observe(&self.s, state, obs, key, findings);
        }
    }

    /// The watermark moved: a blinded vault's silence is judged even when no other
    /// record comes.
    fn advance(&self, state: &mut State, now: u32, findings: &mut Vec<Finding>) {
        if now >= state.next_due {
            silence::judge_due(&self.s, state, now, findings);
        }
    }
}
