//! The tenant's Azure Activity Log (`kvwatch simulate --activity-log`).
//!
//! On RBAC vaults, access changes through role assignments, which only the
//! subscription's Activity Log records; so does deleting a vault's diagnostic
//! setting or the vault itself. This module writes that log for the simulated
//! tenant, RBAC vaults and access-policy vaults side by side, in the Storage layout a
//! subscription's diagnostic setting produces:
//! `insights-activity-logs/resourceId=/SUBSCRIPTIONS/<SUB>/y=/m=/d=/h=/m=00/PT1H.json`.
//!
//! Routine traffic ([`routine`]): the deploy pipeline re-applies its role
//! assignments every day (most re-written as they are, a third refused with
//! `RoleAssignmentExists`), Azure Policy's identity re-writes the vaults' diagnostic
//! settings, admins grant roles to new hires and remove a leaver's, and every
//! `VaultPut`/`VaultPatch` of the AuditEvent log gets its `vaults/write` twin. Every
//! write is a `Start` and a `Success` (or `Failure`) record sharing a correlation id.
//! Labelled attacks ([`attacks`]), by attack class: a self-grant of Key Vault Secrets
//! Officer then a dump of the vault (the dump is in AuditEvent), a subscription-wide
//! grant to a guest who then reads secrets, a diagnostic setting deleted before a
//! dump, and a vault deleted then purged.
//!
//! Nothing here draws from the AuditEvent generator's random streams (every stream
//! is named `activity-…`), and nothing runs without the flag, so the AuditEvent
//! output for a seed is byte-identical to a run without the Activity Log.

mod attacks;
mod record;
mod routine;

use std::collections::BTreeMap;
use std::path::Path;

use super::clock::{self, Tick};
use super::ids::{self, SimRng};
use super::plan::{Ctx, Plan};
use super::tenant::Tenant;
use super::vaults::{Kind, Vault};
use super::SimulateError;
use record::Actor;

/// Where the Activity Log goes under the output folder.
pub(crate) const FOLDER: &str = "insights-activity-logs";

/// One rendered Activity Log record.
#[derive(Debug, Clone)]
pub(crate) struct ActivityRecord {
    /// Event time.
    pub time: Tick,
    /// Index of its subscription in the tenant.
    pub subscription: usize,
    /// The JSON line.
    pub text: String,
}

/// The Activity Log of a simulation.
#[derive(Debug, Default)]
pub(crate) struct ActivityLog {
    /// Its records, in generation order.
    pub records: Vec<ActivityRecord>,
}

/// Plans the Activity Log: adds its attacks' AuditEvent requests, labels and actors
/// to `plan` and returns its own records.
pub(crate) fn plan(ctx: &Ctx<'_>, plan: &mut Plan, attacks: bool) -> ActivityLog {
    let mut log = ActivityLog::default();
    routine::vault_write_twins(ctx, plan, &mut log);
    routine::iac_reapplies(ctx, &mut log);
    routine::policy_diagnostic_settings(ctx, &mut log);
    routine::admin_grants(ctx, plan, &mut log);
    if attacks {
        attacks::plan(ctx, plan, &mut log);
    }
    log.records
        .retain(|r| (ctx.start..ctx.end()).contains(&r.time));
    log
}

impl ActivityLog {
    /// Renders one call's two records into the log.
    pub(crate) fn push(
        &mut self,
        rng: &mut SimRng,
        call: &record::ArmCall<'_>,
        subscription: usize,
    ) {
        for (time, text) in call.records(rng) {
            self.records.push(ActivityRecord {
                time,
                subscription,
                text,
            });
        }
    }
}

/// Writes the log in the Storage layout, one blob per subscription and arrival hour
/// (Azure's export delay applied); returns the number of records written.
pub(crate) fn write(
    root: &Path,
    tenant: &Tenant,
    log: &ActivityLog,
    seed: u64,
) -> Result<u64, SimulateError> {
    let mut delays = ids::stream(seed, "activity-export-delay", 0);
    let mut blobs: BTreeMap<(usize, Tick), Vec<(Tick, usize)>> = BTreeMap::new();
    for (i, r) in log.records.iter().enumerate() {
        let arrival = r.time + super::output::export_delay(&mut delays);
        let hour = arrival - arrival.rem_euclid(clock::HOUR);
        blobs
            .entry((r.subscription, hour))
            .or_default()
            .push((arrival, i));
    }
    for ((sub, hour), mut lines) in blobs {
        lines.sort_unstable();
        let (y, m, d, h) = clock::ymdh(hour);
        let sub_id = tenant.subscriptions.get(sub).map_or("", String::as_str);
        let dir = root
            .join(FOLDER)
            .join("resourceId=")
            .join("SUBSCRIPTIONS")
            .join(sub_id.to_ascii_uppercase())
            .join(format!("y={y:04}/m={m:02}/d={d:02}/h={h:02}/m=00"));
        std::fs::create_dir_all(&dir).map_err(|source| SimulateError::Io {
            path: dir.clone(),
            source,
        })?;
        let text: String = lines
            .iter()
            .map(|(_, i)| log.records[*i].text.clone() + "\n")
            .collect();
        super::output::write_file(&dir.join("PT1H.json"), text.as_bytes())?;
    }
    Ok(log.records.len() as u64)
}

/// A vault's ARM id as created (mixed case).
pub(crate) fn vault_id(v: &Vault) -> String {
    let kind = match v.kind {
        Kind::Vault => "vaults",
        Kind::ManagedHsm => "managedHSMs",
    };
    format!(
        "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.KeyVault/{kind}/{}",
        v.subscription, v.resource_group, v.name
    )
}

/// A resource group's ARM id.
pub(crate) fn group_id(v: &Vault) -> String {
    format!(
        "/subscriptions/{}/resourceGroups/{}",
        v.subscription, v.resource_group
    )
}

/// The index of a vault's subscription in the tenant.
pub(crate) fn subscription_of(tenant: &Tenant, v: &Vault) -> usize {
    tenant
        .subscriptions
        .iter()
        .position(|s| s.eq_ignore_ascii_case(&v.subscription))
        .unwrap_or(0)
}

/// `<tenant>/<management groups>/<subscription>`: `properties.hierarchy`.
pub(crate) fn hierarchy(tenant: &Tenant, sub: usize) -> String {
    let group = if sub == 0 {
        "mg-fabrikam-prod"
    } else {
        "mg-fabrikam-dev"
    };
    format!(
        "{}/mg-fabrikam/{group}/{}",
        tenant.tenant_id,
        tenant.subscriptions.get(sub).map_or("", String::as_str)
    )
}

/// A user of the roster as an ARM caller (through the Azure CLI).
pub(crate) fn user_actor(tenant: &Tenant, u: usize, appid: &'static str) -> Actor {
    let user = &tenant.users[u];
    Actor::User {
        oid: user.oid.clone(),
        upn: user.upn.clone(),
        name: user.name.to_owned(),
        appid,
        mfa: user.mfa,
    }
}

/// Built-in role definition GUIDs used here (checked against Microsoft's list in
/// `detectors/roles/azure_roles.toml`).
pub(crate) mod role {
    /// Key Vault Administrator.
    pub const KV_ADMINISTRATOR: &str = "00482a5a-887f-4fb3-b363-3b7fe8e74483";
    /// Key Vault Secrets Officer.
    pub const KV_SECRETS_OFFICER: &str = "b86a8fe4-44ce-4948-aee5-eccb2c155cd7";
    /// Key Vault Secrets User.
    pub const KV_SECRETS_USER: &str = "4633458b-17de-408a-b874-0445c86b69e6";
    /// Key Vault Certificate User.
    pub const KV_CERTIFICATE_USER: &str = "db79e9a7-68ee-4b58-9aeb-b90e7c24fcba";
    /// Key Vault Certificates Officer.
    pub const KV_CERTIFICATES_OFFICER: &str = "a4417e6f-fecd-4de8-b567-7b0420556985";
    /// Key Vault Crypto Service Encryption User.
    pub const KV_CRYPTO_SERVICE_ENCRYPTION: &str = "e147488a-f6f5-4113-8e2d-b22465e65bf6";
    /// Key Vault Reader.
    pub const KV_READER: &str = "21090545-7ca7-4776-b22c-e363652d74d2";
    /// Owner.
    pub const OWNER: &str = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635";
    /// Contributor.
    pub const CONTRIBUTOR: &str = "b24988ac-6180-42a0-ab88-20f7382dd24c";
    /// Role Based Access Control Administrator.
    pub const RBAC_ADMINISTRATOR: &str = "f58310d9-a9f6-439a-9e8d-f62e7b41a168";
}

/// The random stream of one part of the Activity Log.
pub(crate) fn stream(seed: u64, part: &str, n: u64) -> SimRng {
    ids::stream(seed, &format!("activity-{part}"), n)
}
