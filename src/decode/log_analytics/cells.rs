//! Applying one cell of a classified column to a row, whatever the container.
//!
//! [`CellSeed`] is a serde seed: JSON cells (map values, table-row elements) are
//! read straight from the input and stay borrowed, and CSV cells (text) go through
//! the very same lenient readers, so `"True"`, `200.0`, JSON text of an array or an
//! object all mean what their JSON twins mean. `""` and `null` are absent values,
//! and a cell never clears what another cell set. `AdditionalFields` (overflow
//! columns, an object or JSON text) is merged back through the same mapping, and
//! [`RowVisitor`] reads a row given as a JSON object.

use std::borrow::Cow;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::activity_columns::ActivityColumn;
use super::columns::{classify, Column, PolicyField, Prop, Side, Spec};
use super::row::{fill_missing, Row, Table};
use crate::decode::activity::raw::{AuthorizationField, HttpRequestField};
use crate::decode::lenient::{Key, LenientBool, LenientNum, LenientStr};
use crate::decode::raw::{merge_claims, IdentityField, PropertiesField};

/// Fills a field from a cell that has a value. A cell never clears a field: a union
/// of rows can hold two columns for one field (`httpStatusCode_d` and `_s`, `oid_g`
/// and `oid_s`), and the empty one must not undo the other.
fn set<T>(field: &mut Option<T>, value: Option<T>) {
    if value.is_some() {
        *field = value;
    }
}

/// Text that is absent when empty: Log Analytics writes `""` for a missing value.
fn text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Cow<'de, str>>, D::Error> {
    Ok(LenientStr::deserialize(d)?
        .0
        .filter(|s| !s.trim().is_empty()))
}

/// A claim's text; an array, or JSON text of one (how `AzureDiagnostics` writes
/// arrays), is joined with spaces as in the resource-log shape.
fn claim_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Cow<'de, str>>, D::Error> {
    let Some(value) = text(d)? else {
        return Ok(None);
    };
    let trimmed = value.trim();
    if trimmed.starts_with('[') && trimmed.ends_with(']') {
        if let Ok(LenientStr(joined)) = serde_json::from_str::<LenientStr<'_>>(trimmed) {
            return Ok(joined.map(|j| Cow::Owned(j.into_owned())));
        }
    }
    Ok(Some(value))
}

/// A dynamic or object-valued cell, kept when it says anything.
fn value<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    let v = Value::deserialize(d)?;
    Ok(match &v {
        Value::Null => None,
        Value::String(s) if s.trim().is_empty() => None,
        _ => Some(v),
    })
}

/// Applies one cell to a row.
pub(crate) struct CellSeed<'r, 'a> {
    /// The row.
    pub row: &'r mut Row<'a>,
    /// The cell's column.
    pub spec: Spec,
}

impl<'de> DeserializeSeed<'de> for CellSeed<'_, 'de> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        let row = self.row;
        if self.spec.typed {
            row.typed = true;
        }
        let raw = &mut row.raw;
        let props = &mut raw.props;
        match self.spec.column {
            Column::Time => set(&mut raw.time, text(d)?),
            Column::ResourceId => set(&mut raw.resource_id, text(d)?),
            Column::LowerResourceId => set(&mut row.lower_resource_id, text(d)?),
            Column::Resource => set(&mut raw.resource, text(d)?),
            Column::Category => set(&mut raw.category, text(d)?),
            Column::OperationName => set(&mut raw.operation_name, text(d)?),
            Column::OperationVersion => set(&mut raw.operation_version, text(d)?),
            Column::ResultSignature => set(&mut raw.result_signature, text(d)?),
            Column::ResultDescription => set(&mut raw.result_description, text(d)?),
            Column::CorrelationId => set(&mut raw.correlation_id, text(d)?),
            Column::CallerIp => set(&mut raw.caller_ip, text(d)?),
            Column::DurationMs => set(&mut raw.duration_ms, LenientNum::deserialize(d)?.0),
            Column::Type => {
                let table = text(d)?.map(|t| {
                    if t.trim().eq_ignore_ascii_case("AzureDiagnostics") {
                        Table::AzureDiagnostics
                    } else if t.trim().eq_ignore_ascii_case("AZKVAuditLogs") {
                        Table::AzkvAuditLogs
                    } else if t.trim().eq_ignore_ascii_case("AzureActivity") {
                        Table::AzureActivity
                    } else {
                        Table::Other
                    }
                });
                set(&mut row.table, table);
            }
            Column::AdditionalFields => d.deserialize_any(AdditionalFields { row })?,
            Column::Prop(p) => match p {
                Prop::Id => set(&mut props.id, text(d)?),
                Prop::RequestUri => set(&mut props.request_uri, text(d)?),
                Prop::ClientInfo => set(&mut props.client_info, text(d)?),
                Prop::HttpStatus => set(&mut props.http_status, LenientNum::deserialize(d)?.0),
                Prop::AccessPolicyMatch => set(
                    &mut props.is_access_policy_match,
                    LenientBool::deserialize(d)?.0,
                ),
                Prop::RbacAuthorized => set(
                    &mut props.is_rbac_authorized,
                    LenientBool::deserialize(d)?.0,
                ),
                Prop::AddressAuthorized => set(
                    &mut props.is_address_authorized,
                    LenientBool::deserialize(d)?.0,
                ),
                Prop::SubnetId => set(&mut props.subnet_id, text(d)?),
                Prop::TlsVersion => set(&mut props.tls_version, text(d)?),
            },
            Column::Claim(key) => {
                if let Some(v) = claim_text(d)? {
                    *key.slot(&mut raw.claims) = Some(v);
                }
            }
            Column::Identity => {
                let mut claims = IdentityField::deserialize(d)?.0;
                merge_claims(&mut claims, std::mem::take(&mut raw.claims));
                raw.claims = claims;
            }
            Column::Properties => {
                let parsed = PropertiesField::deserialize(d)?.0;
                match &mut row.properties {
                    Some(existing) => fill_missing(existing, parsed),
                    None => row.properties = Some(parsed),
                }
            }
            Column::VaultProperties => {
                if let Some(v) = value(d)? {
                    row.vault_base = Some(v);
                }
            }
            Column::Vault(field) => {
                if let Some(v) = value(d)? {
                    row.vault
                        .get_or_insert_default()
                        .insert(field.key().to_owned(), v);
                }
            }
            Column::Acl(field) => {
                if let Some(v) = value(d)? {
                    row.acls
                        .get_or_insert_default()
                        .insert(field.key().to_owned(), v);
                }
            }
            Column::Policy(side, field) => {
                if let Some(v) = value(d)? {
                    let map = match side {
                        Side::Added => row.added.get_or_insert_default(),
                        Side::Removed => row.removed.get_or_insert_default(),
                    };
                    put_policy_field(map, field, v);
                }
            }
            Column::Activity(column) => activity_cell(row, column, d)?,
            Column::Ignored => {
                IgnoredAny::deserialize(d)?;
            }
        }
        Ok(())
    }
}

/// Applies one `AzureActivity` (or REST) cell.
fn activity_cell<'de, D: Deserializer<'de>>(
    row: &mut Row<'de>,
    column: ActivityColumn,
    d: D,
) -> Result<(), D::Error> {
    row.activity |= column.marks_activity();
    let raw = &mut row.raw;
    match column {
        ActivityColumn::ResultType => set(&mut raw.result_type, text(d)?),
        ActivityColumn::OperationValue => set(&mut raw.activity_mut().operation_value, text(d)?),
        ActivityColumn::CategoryValue => set(&mut raw.activity_mut().category_value, text(d)?),
        ActivityColumn::Status => set(&mut raw.activity_mut().status, text(d)?),
        ActivityColumn::Substatus => set(&mut raw.activity_mut().sub_status, text(d)?),
        ActivityColumn::StatusFallback => {
            let value = text(d)?;
            let status = &mut raw.activity_mut().status;
            if status.is_none() {
                *status = value;
            }
        }
        ActivityColumn::SubstatusFallback => {
            let value = text(d)?;
            let sub_status = &mut raw.activity_mut().sub_status;
            if sub_status.is_none() {
                *sub_status = value;
            }
        }
        ActivityColumn::EventTimestamp => set(&mut raw.activity_mut().event_timestamp, text(d)?),
        ActivityColumn::Caller => set(&mut raw.activity_mut().caller, text(d)?),
        ActivityColumn::Hierarchy => set(&mut raw.activity_mut().hierarchy, text(d)?),
        ActivityColumn::Claims => {
            let IdentityField(claims, _) = IdentityField::deserialize(d)?;
            merge_claims(&mut raw.claims, claims);
        }
        ActivityColumn::Authorization => {
            let AuthorizationField(auth) = AuthorizationField::deserialize(d)?;
            set(&mut raw.activity_mut().authorization, auth);
        }
        ActivityColumn::HttpRequest => {
            let HttpRequestField(ip) = HttpRequestField::deserialize(d)?;
            set(&mut raw.activity_mut().client_ip, ip);
        }
        ActivityColumn::Properties => {
            let parsed = PropertiesField::deserialize(d)?.0;
            match &mut row.properties {
                Some(existing) => fill_missing(existing, parsed),
                None => row.properties = Some(parsed),
            }
        }
    }
    Ok(())
}

fn put_policy_field(map: &mut Map<String, Value>, field: PolicyField, v: Value) {
    let key = match field {
        PolicyField::Whole => {
            let whole = match v {
                Value::String(text) => serde_json::from_str(&text).unwrap_or(Value::Null),
                other => other,
            };
            if let Value::Object(entries) = whole {
                for (k, v) in entries {
                    map.entry(k).or_insert(v);
                }
            }
            return;
        }
        PolicyField::ObjectId => "objectId",
        PolicyField::TenantId => "tenantId",
        PolicyField::ApplicationId => "applicationId",
        PolicyField::Permissions => {
            let whole = match v {
                Value::String(text) => serde_json::from_str(&text).unwrap_or(Value::Null),
                other => other,
            };
            if whole.is_object() {
                map.insert("permissions".to_owned(), whole);
            }
            return;
        }
        PolicyField::PermissionList(kind) => {
            let perms = map
                .entry("permissions")
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(perms) = perms {
                perms.insert(kind.to_owned(), v);
            }
            return;
        }
    };
    map.insert(key.to_owned(), v);
}

/// `AdditionalFields`: overflow columns, as an object or as JSON text of one.
struct AdditionalFields<'r, 'a> {
    row: &'r mut Row<'a>,
}

impl<'de> Visitor<'de> for AdditionalFields<'_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object of overflow columns")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<Key<'de>>()? {
            let mut spec = classify(&key);
            // Overflow columns never say which table the row is from, and a nested
            // bag is not followed.
            spec.typed = false;
            if spec.column == Column::AdditionalFields {
                spec.column = Column::Ignored;
            }
            map.next_value_seed(CellSeed {
                row: &mut *self.row,
                spec,
            })?;
        }
        Ok(())
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<(), E> {
        // JSON text: parsed into an owned value, which then feeds the same mapping
        // (text nested past the recursion limit refuses the row as `too_deep`).
        if let Some(value @ Value::Object(_)) = crate::decode::lenient::nested_json::<Value, E>(v)?
        {
            let _ = value.deserialize_map(self);
        }
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_none<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(())
    }
}

/// A row given as a JSON object: every key is a column.
pub(crate) struct RowVisitor<'r, 'a> {
    /// The row being filled.
    pub row: &'r mut Row<'a>,
}

impl<'de> Visitor<'de> for RowVisitor<'_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a Log Analytics row object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<Key<'de>>()? {
            let spec = classify(&key);
            map.next_value_seed(CellSeed {
                row: &mut *self.row,
                spec,
            })?;
        }
        Ok(())
    }
}
