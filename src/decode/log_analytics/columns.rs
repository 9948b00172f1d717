//! Log Analytics column names → what they feed, shared by every container.
//!
//! JSON rows, `{"tables":…}` responses, `{"value":…}` responses and CSV exports all
//! carry the same columns; they differ only in how a cell is spelled (a JSON value or
//! CSV text). A column name is classified once ([`classify`]: per table for tables
//! and CSV, per key for JSON rows) into a [`Spec`]; `row.rs` then applies each cell.
//! The two tables are read with one mapping, names matched case-insensitively:
//!
//! - `AzureDiagnostics` flattens `properties.*` and `identity.claim.*` into columns
//!   with type suffixes (`id_s`, `httpStatusCode_d`, `identity_claim_oid_g`,
//!   `properties_sku_Name_s`, `addedAccessPolicy_Permissions_keys_s` …);
//! - `AZKVAuditLogs` has typed PascalCase columns (`HttpStatusCode`, `Identity`,
//!   `Properties`, `Sku`, `NetworkAcls` …) and no `Category`; a row carrying one of
//!   them is marked `typed`, which decides its shape when `Type` is absent.

use super::activity_columns::{classify_activity, ActivityColumn};
use crate::decode::raw::ClaimKey;

/// What a column feeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Column {
    /// `TimeGenerated`.
    Time,
    /// `ResourceId` (upper case in `AzureDiagnostics`).
    ResourceId,
    /// `_ResourceId` (lower case; the only resource column of `AZKVAuditLogs`).
    LowerResourceId,
    /// `Resource`: the vault name.
    Resource,
    /// `Category`.
    Category,
    /// `OperationName`.
    OperationName,
    /// `OperationVersion`.
    OperationVersion,
    /// `ResultSignature`.
    ResultSignature,
    /// `ResultDescription`.
    ResultDescription,
    /// `CorrelationId`.
    CorrelationId,
    /// `CallerIPAddress` / `CallerIpAddress`.
    CallerIp,
    /// `DurationMs`.
    DurationMs,
    /// `Type`: the table the row came from.
    Type,
    /// `AdditionalFields`: overflow columns, as an object or JSON text.
    AdditionalFields,
    /// A `properties.*` field (`id_s` or `Id` …).
    Prop(Prop),
    /// An identity claim (`identity_claim_<name>_<t>`).
    Claim(ClaimKey),
    /// `Identity` (dynamic): the identity object.
    Identity,
    /// `Properties` (dynamic): the raw properties object.
    Properties,
    /// `VaultProperties` (dynamic): the vault configuration object.
    VaultProperties,
    /// A vault configuration field (`properties_<field>_<t>`, `Sku`, `EnableSoftDelete` …).
    Vault(VaultField),
    /// A firewall field (`properties_networkAcls_<field>_<t>`).
    Acl(AclField),
    /// An access-policy field (`addedAccessPolicy_*`, `removedAccessPolicy_*`).
    Policy(Side, PolicyField),
    /// An `AzureActivity` (Activity Log) column.
    Activity(ActivityColumn),
    /// Anything else: skipped without allocation.
    Ignored,
}

/// A classified column: what it feeds, and whether only `AZKVAuditLogs` has it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Spec {
    /// What the column feeds.
    pub column: Column,
    /// The column exists only in `AZKVAuditLogs` (marks a row of that table).
    pub typed: bool,
}

impl Spec {
    /// A column to skip.
    pub const IGNORED: Spec = Spec {
        column: Column::Ignored,
        typed: false,
    };

    fn common(column: Column) -> Spec {
        Spec {
            column,
            typed: false,
        }
    }

    fn typed(column: Column) -> Spec {
        Spec {
            column,
            typed: true,
        }
    }
}

/// `properties.*` fields that [`RawProperties`] keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Prop {
    Id,
    RequestUri,
    ClientInfo,
    HttpStatus,
    AccessPolicyMatch,
    RbacAuthorized,
    AddressAuthorized,
    SubnetId,
    TlsVersion,
}

impl Prop {
    fn from_name(name: &str) -> Option<Prop> {
        const TABLE: &[(&str, Prop)] = &[
            ("id", Prop::Id),
            ("requestUri", Prop::RequestUri),
            ("clientInfo", Prop::ClientInfo),
            ("httpStatusCode", Prop::HttpStatus),
            ("isAccessPolicyMatch", Prop::AccessPolicyMatch),
            ("isRbacAuthorized", Prop::RbacAuthorized),
            ("isAddressAuthorized", Prop::AddressAuthorized),
            ("subnetId", Prop::SubnetId),
            ("tlsVersion", Prop::TlsVersion),
        ];
        lookup(TABLE, name)
    }
}

/// The [`VaultConfig`] fields, by their camelCase JSON names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum VaultField {
    Sku,
    TenantId,
    NetworkAcls,
    PublicNetworkAccess,
    EnabledForDeployment,
    EnabledForDiskEncryption,
    EnabledForTemplateDeployment,
    EnableSoftDelete,
    SoftDeleteRetentionInDays,
    EnableRbacAuthorization,
    EnablePurgeProtection,
}

impl VaultField {
    const ALL: [(&'static str, VaultField); 11] = [
        ("sku", VaultField::Sku),
        ("tenantId", VaultField::TenantId),
        ("networkAcls", VaultField::NetworkAcls),
        ("publicNetworkAccess", VaultField::PublicNetworkAccess),
        ("enabledForDeployment", VaultField::EnabledForDeployment),
        (
            "enabledForDiskEncryption",
            VaultField::EnabledForDiskEncryption,
        ),
        (
            "enabledForTemplateDeployment",
            VaultField::EnabledForTemplateDeployment,
        ),
        ("enableSoftDelete", VaultField::EnableSoftDelete),
        (
            "softDeleteRetentionInDays",
            VaultField::SoftDeleteRetentionInDays,
        ),
        (
            "enableRbacAuthorization",
            VaultField::EnableRbacAuthorization,
        ),
        ("enablePurgeProtection", VaultField::EnablePurgeProtection),
    ];

    /// The field a name spells, case-insensitively.
    pub(crate) fn from_name(name: &str) -> Option<VaultField> {
        lookup(&Self::ALL, name)
    }

    /// The JSON name [`VaultConfig`] reads.
    pub(crate) fn key(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, f)| *f == self)
            .map_or("", |(k, _)| k)
    }
}

/// The [`NetworkAcls`](crate::event::NetworkAcls) fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AclField {
    Bypass,
    DefaultAction,
    IpRules,
    VirtualNetworkRules,
}

impl AclField {
    const ALL: [(&'static str, AclField); 4] = [
        ("bypass", AclField::Bypass),
        ("defaultAction", AclField::DefaultAction),
        ("ipRules", AclField::IpRules),
        ("virtualNetworkRules", AclField::VirtualNetworkRules),
    ];

    /// The JSON name [`NetworkAcls`](crate::event::NetworkAcls) reads.
    pub(crate) fn key(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, f)| *f == self)
            .map_or("", |(k, _)| k)
    }
}

/// `addedAccessPolicy` or `removedAccessPolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    Added,
    Removed,
}

/// An [`AccessPolicyEntry`] field, as `AzureDiagnostics` flattens it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PolicyField {
    /// The whole entry as JSON text.
    Whole,
    ObjectId,
    TenantId,
    ApplicationId,
    /// The whole permissions object as JSON text.
    Permissions,
    /// One permission list (`keys`, `secrets`, `certificates`, `storage`).
    PermissionList(&'static str),
}

fn lookup<T: Copy>(table: &[(&str, T)], name: &str) -> Option<T> {
    table
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|&(_, v)| v)
}

/// Strips a case-insensitive ASCII prefix.
fn strip_prefix_ci<'n>(name: &'n str, prefix: &str) -> Option<&'n str> {
    let head = name.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &name[prefix.len()..])
}

/// `httpStatusCode_d` → `httpStatusCode`: the `AzureDiagnostics` type suffixes.
fn strip_type_suffix(name: &str) -> Option<&str> {
    let b = name.as_bytes();
    let n = b.len();
    (n > 2
        && b[n - 2] == b'_'
        && matches!(
            b[n - 1].to_ascii_lowercase(),
            b's' | b'g' | b'd' | b'b' | b't'
        ))
    .then(|| &name[..n - 2])
}

/// Classifies a column name (case-insensitive; an unknown name is [`Spec::IGNORED`]).
pub(crate) fn classify(name: &str) -> Spec {
    let name = strip_unit(name.trim());
    if let Some(column) = classify_activity(name) {
        return Spec::common(Column::Activity(column));
    }
    if let Some(spec) = classify_plain(name) {
        return spec;
    }
    let Some(base) = strip_type_suffix(name) else {
        return Spec::IGNORED;
    };
    Spec::common(classify_flattened(base).unwrap_or(Column::Ignored))
}

/// Drops a trailing bracketed unit: the portal's export names `TimeGenerated [UTC]`.
fn strip_unit(name: &str) -> &str {
    match name.strip_suffix(']').and_then(|n| n.rfind(" [")) {
        Some(i) => name[..i].trim_end(),
        None => name,
    }
}

/// Columns without a type suffix: the common ones and the `AZKVAuditLogs` ones.
fn classify_plain(name: &str) -> Option<Spec> {
    let eq = |want: &str| name.eq_ignore_ascii_case(want);
    let common = Spec::common;
    let typed = Spec::typed;
    Some(match name.len() {
        2 if eq("Id") => typed(Column::Prop(Prop::Id)),
        4 if eq("Type") => common(Column::Type),
        3 if eq("Sku") => typed(Column::Vault(VaultField::Sku)),
        8 if eq("Category") => common(Column::Category),
        8 if eq("Resource") => common(Column::Resource),
        8 if eq("Identity") => typed(Column::Identity),
        8 if eq("SubnetId") => typed(Column::Prop(Prop::SubnetId)),
        10 if eq("ResourceId") => common(Column::ResourceId),
        10 if eq("DurationMs") => common(Column::DurationMs),
        10 if eq("Properties") => typed(Column::Properties),
        10 if eq("ClientInfo") => typed(Column::Prop(Prop::ClientInfo)),
        10 if eq("RequestUri") => typed(Column::Prop(Prop::RequestUri)),
        10 if eq("Tlsversion") => typed(Column::Prop(Prop::TlsVersion)),
        11 if eq("_ResourceId") => common(Column::LowerResourceId),
        11 if eq("NetworkAcls") => typed(Column::Vault(VaultField::NetworkAcls)),
        13 if eq("TimeGenerated") => common(Column::Time),
        13 if eq("OperationName") => common(Column::OperationName),
        13 if eq("CorrelationId") => common(Column::CorrelationId),
        14 if eq("HttpStatusCode") => typed(Column::Prop(Prop::HttpStatus)),
        15 if eq("ResultSignature") => common(Column::ResultSignature),
        15 if eq("CallerIPAddress") => common(Column::CallerIp),
        15 if eq("VaultProperties") => typed(Column::VaultProperties),
        16 if eq("OperationVersion") => common(Column::OperationVersion),
        16 if eq("AdditionalFields") => common(Column::AdditionalFields),
        16 if eq("IsRbacAuthorized") => typed(Column::Prop(Prop::RbacAuthorized)),
        17 if eq("ResultDescription") => common(Column::ResultDescription),
        19 if eq("IsAccessPolicyMatch") => typed(Column::Prop(Prop::AccessPolicyMatch)),
        19 if eq("IsAddressAuthorized") => typed(Column::Prop(Prop::AddressAuthorized)),
        _ => {
            // EnabledForDeployment, EnableSoftDelete, SoftDeleteRetentionInDays …
            let field = VaultField::from_name(name)
                .filter(|f| !matches!(f, VaultField::TenantId | VaultField::PublicNetworkAccess))?;
            typed(Column::Vault(field))
        }
    })
}

/// `AzureDiagnostics` flattened names, with the type suffix removed.
fn classify_flattened(base: &str) -> Option<Column> {
    if let Some(claim) = strip_prefix_ci(base, "identity_claim_") {
        return ClaimKey::from_name(claim).map(Column::Claim);
    }
    if let Some(field) = strip_prefix_ci(base, "properties_networkAcls_") {
        return lookup(&AclField::ALL, field).map(Column::Acl);
    }
    if let Some(field) = strip_prefix_ci(base, "properties_") {
        if field.eq_ignore_ascii_case("sku_Name") || field.eq_ignore_ascii_case("sku") {
            return Some(Column::Vault(VaultField::Sku));
        }
        return VaultField::from_name(field)
            .filter(|f| *f != VaultField::Sku)
            .map(Column::Vault);
    }
    for (prefix, side) in [
        ("addedAccessPolicy", Side::Added),
        ("removedAccessPolicy", Side::Removed),
    ] {
        if let Some(rest) = strip_prefix_ci(base, prefix) {
            return policy_field(rest).map(|f| Column::Policy(side, f));
        }
    }
    Prop::from_name(base).map(Column::Prop)
}

fn policy_field(rest: &str) -> Option<PolicyField> {
    if rest.is_empty() {
        return Some(PolicyField::Whole);
    }
    let field = strip_prefix_ci(rest, "_")?;
    if let Some(kind) = strip_prefix_ci(field, "Permissions_") {
        const KINDS: [(&str, &str); 4] = [
            ("keys", "keys"),
            ("secrets", "secrets"),
            ("certificates", "certificates"),
            ("storage", "storage"),
        ];
        return lookup(&KINDS, kind).map(PolicyField::PermissionList);
    }
    const FIELDS: [(&str, PolicyField); 4] = [
        ("ObjectId", PolicyField::ObjectId),
        ("TenantId", PolicyField::TenantId),
        ("ApplicationId", PolicyField::ApplicationId),
        ("Permissions", PolicyField::Permissions),
    ];
    lookup(&FIELDS, field)
}
