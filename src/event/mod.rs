//! The one normalised audit event every decoder produces and every detector reads.
//!
//! Key Vault audit records reach kvwatch in four shapes (Event Hubs bodies, Storage
//! `PT1H.json` lines, Log Analytics `AzureDiagnostics` and `AZKVAuditLogs` rows); all
//! of them normalise into [`AuditEvent`]. So do the control-plane changes of the
//! Azure Activity Log (role assignments, diagnostic settings, vault deletion …, in
//! its resource-log, REST and `AzureActivity` shapes): their detail rides in the
//! operation ([`Operation::Control`], see [`control`]), so one event type flows
//! through deduplication, reordering and detection. The event borrows its text from the input
//! buffer (`Cow<'a, str>`), so decoding copies only what must change (lower-casing,
//! JSON unescaping); [`AuditEvent::into_owned`] detaches it when a stage must keep it
//! beyond the buffer's life (the reorder window).

pub mod address;
pub mod control;
pub mod object;
pub mod operation;
pub mod outcome;
pub mod principal;
pub mod roles;
pub mod scope;
pub mod text;
pub mod vault_config;

use std::borrow::Cow;
use std::fmt;
use std::net::IpAddr;

use chrono::{DateTime, Utc};
use compact_str::CompactString;
use serde::{Serialize, Serializer};

pub use control::{
    ActivityStatus, CallerAuthorization, ChangeKind, ControlPlane, DiagnosticSetting, LogSource,
    RoleAssignment,
};
pub use object::{ObjectKind, ObjectRef};
pub use operation::{KnownOperation, Operation, OperationClass};
pub use outcome::Outcome;
pub use principal::{Claims, Principal, PrincipalKind};
pub use roles::{RoleAccess, RoleCatalog, RoleDef};
pub use scope::ScopeLevel;
pub use vault_config::{AccessPolicyEntry, NetworkAcls, Permissions, PolicyChange, VaultConfig};

/// A vault name: lower case, at most 24 characters for real vaults (kept inline).
pub type VaultName = CompactString;

/// Key Vault or Managed HSM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum VaultKind {
    /// `MICROSOFT.KEYVAULT/VAULTS`.
    #[default]
    Vault,
    /// `MICROSOFT.KEYVAULT/MANAGEDHSMS`.
    ManagedHsm,
}

/// How the service evaluated access (each flag is absent when not evaluated).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct AccessFlags {
    /// `isAccessPolicyMatch`: the access-policy model granted (true) or denied (false).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_policy_match: Option<bool>,
    /// `isRbacAuthorized`: RBAC granted (true) or denied (false).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rbac_authorized: Option<bool>,
    /// `isAddressAuthorized`: the firewall let the address in (true) or not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address_authorized: Option<bool>,
}

/// One Key Vault request, normalised.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEvent<'a> {
    /// When the request was served (event time, UTC).
    pub time: DateTime<Utc>,
    /// The vault or managed HSM name, lower case; empty for a control-plane change
    /// whose scope names no vault (a subscription-wide role assignment).
    pub vault: VaultName,
    /// Vault or managed HSM.
    pub vault_kind: VaultKind,
    /// The operation.
    #[serde(serialize_with = "display")]
    pub operation: Operation<'a>,
    /// The operation's class.
    pub class: OperationClass,
    /// `properties.httpStatusCode` (never `resultType`).
    pub status: u16,
    /// The outcome class.
    pub outcome: Outcome,
    /// The caller's address; `None` when absent, redacted or unparseable.
    pub caller_ip: Option<IpAddr>,
    /// Who called.
    pub principal: Principal<'a>,
    /// The object touched.
    pub object: Option<ObjectRef<'a>>,
    /// The client's user agent (`clientInfo`).
    pub client_info: Option<Cow<'a, str>>,
    /// Access evaluation flags.
    pub access: AccessFlags,
    /// The vault configuration after a VaultGet/VaultPut/VaultPatch.
    pub vault_config: Option<Box<VaultConfig>>,
    /// Access-policy entries added or removed.
    pub policy_change: Option<Box<PolicyChange>>,
    /// The client-supplied correlation id.
    pub correlation_id: Option<Cow<'a, str>>,
    /// The service's error text on failures.
    pub result_description: Option<Cow<'a, str>>,
    /// The virtual-network subnet the request came through.
    pub subnet_id: Option<Cow<'a, str>>,
    /// The REST api-version the client asked for.
    pub operation_version: Option<Cow<'a, str>>,
    /// `TLS1_2`, `TLS1_3`.
    pub tls_version: Option<Cow<'a, str>>,
    /// Server-side duration.
    pub duration_ms: Option<u32>,
}

fn display<T: fmt::Display, S: Serializer>(value: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(value)
}

impl<'a> AuditEvent<'a> {
    /// The identity alerts name: the principal key, `ip:<address>` for anonymous
    /// callers with an address, else `anonymous`.
    pub fn identity(&self) -> Cow<'_, str> {
        match (&self.principal.key, self.caller_ip) {
            (Some(key), _) => Cow::Borrowed(key.as_ref()),
            (None, Some(ip)) => Cow::Owned(format!("ip:{ip}")),
            (None, None) => Cow::Borrowed("anonymous"),
        }
    }

    /// The control-plane change, for an Activity Log event.
    pub fn control_plane(&self) -> Option<&ControlPlane<'a>> {
        self.operation.control_plane()
    }

    /// Which log the event came from.
    pub fn log(&self) -> LogSource {
        match self.operation {
            Operation::Control(_) => LogSource::ActivityLog,
            _ => LogSource::AuditEvent,
        }
    }

    /// Whether this is a vault write (`VaultPut` or `VaultPatch`).
    pub fn is_vault_write(&self) -> bool {
        self.operation.is(KnownOperation::VaultPut) || self.operation.is(KnownOperation::VaultPatch)
    }

    /// Whether this vault write changed nothing visible against `before`, the last
    /// configuration known for the vault (see [`vault_config::write_changes_nothing`]).
    pub fn write_changes_nothing(&self, before: Option<&VaultConfig>) -> bool {
        self.is_vault_write()
            && vault_config::write_changes_nothing(
                before,
                self.vault_config.as_deref(),
                self.policy_change.as_deref(),
            )
    }

    /// Whether this is the benign SDK challenge.
    pub fn is_challenge(&self) -> bool {
        self.outcome == Outcome::Challenge
    }

    /// Detaches the event from its input buffer.
    pub fn into_owned(self) -> AuditEvent<'static> {
        AuditEvent {
            time: self.time,
            vault: self.vault,
            vault_kind: self.vault_kind,
            operation: self.operation.into_owned(),
            class: self.class,
            status: self.status,
            outcome: self.outcome,
            caller_ip: self.caller_ip,
            principal: self.principal.into_owned(),
            object: self.object.map(ObjectRef::into_owned),
            client_info: own(self.client_info),
            access: self.access,
            vault_config: self.vault_config,
            policy_change: self.policy_change,
            correlation_id: own(self.correlation_id),
            result_description: own(self.result_description),
            subnet_id: own(self.subnet_id),
            operation_version: own(self.operation_version),
            tls_version: own(self.tls_version),
            duration_ms: self.duration_ms,
        }
    }
}

fn own(s: Option<Cow<'_, str>>) -> Option<Cow<'static, str>> {
    s.map(|v| Cow::Owned(v.into_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_control_plane_detail_costs_an_audit_event_nothing() {
        // The box rides in the operation's spare bits: the event did not grow.
        assert_eq!(std::mem::size_of::<Operation<'static>>(), 24);
        assert!(std::mem::size_of::<AuditEvent<'static>>() <= 512);
    }
}
