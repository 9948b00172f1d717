//! One set of rules from a [`RawRecord`] (any shape) to an [`AuditEvent`].
//!
//! Every shape-specific decoder stops at `RawRecord`; everything that decides what a
//! record *means* (category, vault name, status, outcome, principal, object) lives
//! here, so the shapes cannot drift apart. A record's category decides its rules:
//! `AuditEvent` records are read here, Activity Log records (`Administrative`) by
//! [`super::activity`], so both logs can be mixed in one input and one replay.

use std::borrow::Cow;

use compact_str::CompactString;

use super::raw::RawRecord;
use super::reject::{Refusal, RejectReason, SkipReason};
use super::time::parse_event_time;
use crate::event::address::parse_caller_ip;
use crate::event::object::{object_from, vault_from_host};
use crate::event::outcome::{classify, status_from_reason, OutcomeFacts};
use crate::event::text::non_empty;
use crate::event::{
    AccessFlags, AuditEvent, KnownOperation, LogSource, Operation, PolicyChange, Principal,
    VaultKind, VaultName,
};

/// Turns a raw record into an event, or says why not.
pub fn normalise(raw: RawRecord<'_>) -> Result<AuditEvent<'_>, Refusal> {
    match log_of(&raw)? {
        LogSource::AuditEvent => normalise_audit_event(raw),
        LogSource::ActivityLog => super::activity::normalise_activity(raw),
    }
}

/// An `AuditEvent` record.
fn normalise_audit_event(raw: RawRecord<'_>) -> Result<AuditEvent<'_>, Refusal> {
    let operation_name = non_empty(raw.operation_name).ok_or(RejectReason::MissingOperation)?;
    let time_text = non_empty(raw.time).ok_or(RejectReason::MissingTime)?;
    let time = parse_event_time(&time_text).ok_or(RejectReason::BadTime)?;
    let (vault, vault_kind) = vault_of(
        raw.resource_id.as_deref(),
        raw.resource.as_deref(),
        raw.props.id.as_ref(),
    )?;
    let status = status_of(raw.props.http_status, raw.result_signature.as_deref())?;

    let operation = Operation::parse(operation_name);
    let class = operation.class();
    let claims = raw.claims.without_blanks();
    let has_identity = !claims.is_empty();
    let principal = if has_identity {
        Principal::from_claims(claims)
    } else {
        Principal::anonymous()
    };
    let access = AccessFlags {
        access_policy_match: raw.props.is_access_policy_match,
        rbac_authorized: raw.props.is_rbac_authorized,
        address_authorized: raw.props.is_address_authorized,
    };
    let result_description = non_empty(raw.result_description);
    let outcome = classify(&OutcomeFacts {
        status,
        is_authentication: operation.is(KnownOperation::Authentication),
        has_identity,
        rbac_authorized: access.rbac_authorized,
        access_policy_match: access.access_policy_match,
        address_authorized: access.address_authorized,
        description: result_description.as_deref(),
    });
    let object = object_from(raw.props.id.as_ref(), raw.props.request_uri.as_ref());
    let policy_change = PolicyChange {
        added: raw.props.added_policy.map(|p| *p),
        removed: raw.props.removed_policy.map(|p| *p),
    };
    let policy_change = (!policy_change.is_empty()).then(|| Box::new(policy_change));
    Ok(AuditEvent {
        time,
        vault,
        vault_kind,
        operation,
        class,
        status,
        outcome,
        caller_ip: raw.caller_ip.as_deref().and_then(parse_caller_ip),
        principal,
        object,
        client_info: non_empty(raw.props.client_info),
        access,
        vault_config: raw.props.vault_config,
        policy_change,
        correlation_id: non_empty(raw.correlation_id),
        result_description,
        subnet_id: non_empty(raw.props.subnet_id),
        operation_version: non_empty(raw.operation_version),
        tls_version: non_empty(raw.props.tls_version),
        duration_ms: raw
            .duration_ms
            .filter(|d| *d >= 0.0)
            .map(|d| d.min(f64::from(u32::MAX)) as u32),
    })
}

/// Which log a record belongs to, by its category: `AuditEvent`, or the Activity
/// Log's `Administrative` (and `Write`/`Delete`/`Action`, which some exports use).
/// Other categories (the Activity Log's `Policy`, `Security` …, other resource logs)
/// are skipped.
fn log_of(raw: &RawRecord<'_>) -> Result<LogSource, Refusal> {
    let category = raw
        .activity
        .as_ref()
        .and_then(|a| a.category_value.as_deref())
        .or(raw.category.as_deref())
        .map(str::trim)
        .unwrap_or("");
    if category.eq_ignore_ascii_case("AuditEvent") {
        return Ok(LogSource::AuditEvent);
    }
    let administrative = ["Administrative", "Write", "Delete", "Action"];
    if administrative
        .iter()
        .any(|c| category.eq_ignore_ascii_case(c))
    {
        return Ok(LogSource::ActivityLog);
    }
    if !category.is_empty() {
        return Err(SkipReason::OtherCategory.into());
    }
    // Without a category, an ARM operation (`Microsoft.KeyVault/vaults/write`)
    // marks an Activity Log record.
    let arm = raw
        .activity
        .as_ref()
        .and_then(|a| a.operation_value.as_deref())
        .or(raw.operation_name.as_deref())
        .is_some_and(|op| op.contains('/'));
    Ok(if arm {
        LogSource::ActivityLog
    } else {
        LogSource::AuditEvent
    })
}

/// The vault from `resourceId` (…/VAULTS/<name> or …/MANAGEDHSMS/<name>), else the
/// Log Analytics `Resource` column, else the host of the object URL.
fn vault_of(
    resource_id: Option<&str>,
    resource: Option<&str>,
    id: Option<&Cow<'_, str>>,
) -> Result<(VaultName, VaultKind), Refusal> {
    if let Some(rid) = resource_id.map(str::trim).filter(|r| !r.is_empty()) {
        return vault_from_resource_id(rid).ok_or(Refusal::Skipped(SkipReason::NotKeyVault));
    }
    if let Some(name) = resource.map(str::trim).filter(|r| !r.is_empty()) {
        return Ok((lower_name(name), VaultKind::Vault));
    }
    id.and_then(vault_from_host)
        // `https://.vault.azure.net/…` names no vault.
        .filter(|name| !name.trim().is_empty())
        .map(|name| {
            let kind = if id.is_some_and(|u| u.contains(".managedhsm.")) {
                VaultKind::ManagedHsm
            } else {
                VaultKind::Vault
            };
            (lower_name(&name), kind)
        })
        .ok_or(RejectReason::MissingVault.into())
}

/// `/SUBSCRIPTIONS/…/PROVIDERS/MICROSOFT.KEYVAULT/VAULTS/NAME` → `name`.
pub fn vault_from_resource_id(rid: &str) -> Option<(VaultName, VaultKind)> {
    let rid = rid.trim_end_matches('/');
    let (rest, name) = rid.rsplit_once('/')?;
    let (rest, kind_segment) = rest.rsplit_once('/')?;
    let provider = rest.rsplit_once('/').map_or(rest, |(_, p)| p);
    let name = name.trim();
    if !provider.eq_ignore_ascii_case("microsoft.keyvault") || name.is_empty() {
        return None;
    }
    let kind = if kind_segment.eq_ignore_ascii_case("vaults") {
        VaultKind::Vault
    } else if kind_segment.eq_ignore_ascii_case("managedhsms") {
        VaultKind::ManagedHsm
    } else {
        return None;
    };
    Some((lower_name(name), kind))
}

fn lower_name(name: &str) -> VaultName {
    let mut out = CompactString::from(name);
    out.make_ascii_lowercase();
    out
}

fn status_of(http_status: Option<f64>, reason: Option<&str>) -> Result<u16, RejectReason> {
    http_status
        .filter(|s| (100.0..1000.0).contains(s))
        .map(|s| s as u16)
        // A numeric `resultSignature` is taken as the status only when it is one
        // (fuzzing found `"16"` becoming status 16).
        .or_else(|| {
            reason
                .and_then(status_from_reason)
                .filter(|s| (100..1000).contains(s))
        })
        .ok_or(RejectReason::MissingStatus)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vault_names_from_resource_ids() {
        let table = [
            ("/SUBSCRIPTIONS/S/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.KEYVAULT/VAULTS/CONTOSOKEYVAULT", Some(("contosokeyvault", VaultKind::Vault))),
            ("/subscriptions/s/resourcegroups/rg/providers/microsoft.keyvault/managedhsms/Hsm1", Some(("hsm1", VaultKind::ManagedHsm))),
            ("/SUBSCRIPTIONS/S/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.STORAGE/STORAGEACCOUNTS/X", None),
            ("/SUBSCRIPTIONS/S/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.KEYVAULT/VAULTS/V/", Some(("v", VaultKind::Vault))),
            ("garbage", None),
            ("/P/MICROSOFT.KEYVAULT/VAULTS/ /", None),
            ("/P/MICROSOFT.KEYVAULT/VAULTS/\tKV ", Some(("kv", VaultKind::Vault))),
        ];
        for (rid, want) in table {
            let got = vault_from_resource_id(rid);
            assert_eq!(got.as_ref().map(|(n, k)| (n.as_str(), *k)), want, "{rid}");
        }
    }

    #[test]
    fn status_prefers_http_status_code() {
        assert_eq!(status_of(Some(200.0), Some("Forbidden")), Ok(200));
        assert_eq!(status_of(None, Some("Forbidden")), Ok(403));
        assert_eq!(status_of(Some(0.0), Some("Not Found")), Ok(404));
        assert_eq!(status_of(None, None), Err(RejectReason::MissingStatus));
        assert_eq!(status_of(None, Some("404")), Ok(404));
        for odd in ["16", "0", "99", "1000", "65535"] {
            assert_eq!(
                status_of(None, Some(odd)),
                Err(RejectReason::MissingStatus),
                "{odd}"
            );
        }
    }
}
