//! One Log Analytics row being assembled, whatever container it came in.
//!
//! The cells of a row (applied by `cells.rs`, in any order) fill a [`Row`]: the
//! plain fields go straight into its [`RawRecord`], while identity, `Properties`,
//! vault-configuration and access-policy cells are gathered on the side.
//! [`Row::finish`] then assembles them (the vault configuration from
//! `VaultProperties` and its columns, the policy entries from their flattened
//! columns, `Properties` filling what the columns lacked), picks the row's shape from
//! `Type` or its typed columns, and normalises it with the one set of rules every
//! shape shares.

use std::borrow::Cow;

use serde_json::{Map, Value};

use super::columns::VaultField;
use crate::decode::raw::{RawProperties, RawRecord};
use crate::decode::reject::{Refusal, RejectReason, SkipReason};
use crate::decode::{normalise, Shape};
use crate::event::{AccessPolicyEntry, AuditEvent, VaultConfig};

/// The table a row names in its `Type` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Table {
    AzureDiagnostics,
    AzkvAuditLogs,
    AzureActivity,
    Other,
}

/// One row being assembled from its cells.
#[derive(Debug, Default)]
pub(crate) struct Row<'a> {
    pub(super) raw: RawRecord<'a>,
    pub(super) lower_resource_id: Option<Cow<'a, str>>,
    pub(super) table: Option<Table>,
    pub(super) typed: bool,
    /// The row has a column only Activity Log rows have.
    pub(super) activity: bool,
    /// `VaultProperties` (an object, or JSON text).
    pub(super) vault_base: Option<Value>,
    /// Vault fields from their own columns, by camelCase name.
    pub(super) vault: Option<Map<String, Value>>,
    /// `properties_networkAcls_*`.
    pub(super) acls: Option<Map<String, Value>>,
    pub(super) added: Option<Map<String, Value>>,
    pub(super) removed: Option<Map<String, Value>>,
    /// The `Properties` column of `AZKVAuditLogs`.
    pub(super) properties: Option<RawProperties<'a>>,
}

impl<'a> Row<'a> {
    /// The shape the row's columns say it has.
    pub(crate) fn shape(&self) -> Shape {
        match self.table {
            Some(Table::AzkvAuditLogs) => Shape::AzkvAuditLogs,
            Some(Table::AzureActivity) => Shape::AzureActivity,
            Some(Table::AzureDiagnostics | Table::Other) => Shape::AzureDiagnostics,
            None if self.activity => Shape::AzureActivity,
            None if self.typed => Shape::AzkvAuditLogs,
            None => Shape::AzureDiagnostics,
        }
    }

    /// Assembles the raw record and normalises it.
    pub(crate) fn finish(self) -> (Shape, Result<AuditEvent<'a>, Refusal>) {
        let shape = self.shape();
        if self.table == Some(Table::Other) {
            // A row of another table (a union query): not a Key Vault audit event.
            return (shape, Err(SkipReason::OtherCategory.into()));
        }
        let mut raw = self.raw;
        if raw.resource_id.is_none() {
            raw.resource_id = self.lower_resource_id;
        }
        if let Some(map) = self.added {
            raw.props.added_policy = policy_entry(map).map(Box::new);
        }
        if let Some(map) = self.removed {
            raw.props.removed_policy = policy_entry(map).map(Box::new);
        }
        if let Some(config) = vault_config(self.vault_base, self.vault, self.acls) {
            raw.props.vault_config = Some(Box::new(config));
        }
        if let Some(props) = self.properties {
            fill_missing(&mut raw.props, props);
        }
        (shape, normalise(raw))
    }
}

/// Builds the vault configuration from `VaultProperties` and the vault columns
/// (columns win); `None` when the row has neither.
fn vault_config(
    base: Option<Value>,
    fields: Option<Map<String, Value>>,
    acls: Option<Map<String, Value>>,
) -> Option<VaultConfig> {
    if base.is_none() && fields.is_none() && acls.is_none() {
        return None;
    }
    let mut map = Map::new();
    let base = match base {
        Some(Value::String(text)) => serde_json::from_str(&text).ok(),
        other => other,
    };
    if let Some(Value::Object(base)) = base {
        // Canonical names only, so `Sku` and `sku` cannot both reach serde.
        for (key, value) in base {
            if let Some(field) = VaultField::from_name(&key) {
                map.insert(field.key().to_owned(), value);
            }
        }
    }
    if let Some(acls) = acls {
        map.insert(
            VaultField::NetworkAcls.key().to_owned(),
            Value::Object(acls),
        );
    }
    map.extend(fields.unwrap_or_default());
    serde_json::from_value(Value::Object(map)).ok()
}

fn policy_entry(map: Map<String, Value>) -> Option<AccessPolicyEntry> {
    serde_json::from_value(Value::Object(map)).ok()
}

/// Fills the fields `into` lacks from `from` (the `Properties` column).
pub(super) fn fill_missing<'a>(into: &mut RawProperties<'a>, from: RawProperties<'a>) {
    macro_rules! fill {
        ($($f:ident),+) => { $(if into.$f.is_none() { into.$f = from.$f; })+ };
    }
    fill!(
        id,
        request_uri,
        client_info,
        http_status,
        is_access_policy_match,
        is_rbac_authorized,
        is_address_authorized,
        subnet_id,
        tls_version,
        vault_config,
        added_policy,
        removed_policy
    );
    crate::decode::activity::raw::fill_missing_props(&mut into.activity, from.activity);
}

/// A row that is not an object cannot be read.
pub(crate) fn not_a_row() -> Refusal {
    RejectReason::UnknownShape.into()
}
