//! Writes a resource-log record as the rows Log Analytics would hold for it.
//!
//! The simulator and the tests need the same Key Vault record in every shape an
//! analyst can bring, so this module applies Log Analytics' own rules to a
//! resource-log record (a `serde_json::Value`):
//!
//! - [`azure_diagnostics_row`]: the legacy `AzureDiagnostics` row. Common fields become
//!   PascalCase columns (`CallerIPAddress`, `DurationMs` as a whole number), the ARM
//!   parts of the resource id get their own columns (`_ResourceId` lower case,
//!   `Resource` upper case), and `properties.*` and `identity.*` are flattened with
//!   `_` separators and a type suffix: `_s` text, `_g` GUID, `_d` double (so
//!   `httpStatusCode_d` is `200.0`), `_b` bool, `_t` date-time. Arrays become JSON
//!   text in `_s` columns, nulls become no column, and claim URIs are flattened
//!   (`identity_claim_http_schemas_microsoft_com_identity_claims_objectidentifier_g`).
//!   [`azure_diagnostics_row_with_limit`] also moves the columns past a limit into the
//!   `AdditionalFields` bag, as a workspace does past 500 columns.
//! - [`azkv_audit_logs_row`]: the resource-specific `AZKVAuditLogs` row (typed
//!   columns, `Identity` / `Properties` / `VaultProperties` as dynamic objects, the
//!   vault configuration split into `Sku`, `NetworkAcls`, `Enable…` columns).
//! - [`azure_activity_row`] (in `activity.rs`): an Activity Log record as the
//!   `AzureActivity` row.
//! - [`query_response`] and [`to_csv`] (in `text.rs`): rows of any table as a
//!   query-API response `{"tables":[…]}` (dynamic cells as JSON text) or as CSV text.

mod activity;
mod text;

use chrono::DateTime;
use serde_json::{Map, Number, Value};

pub use activity::azure_activity_row;
pub use text::{query_response, to_csv, CsvStyle};

/// Why a record could not be exported.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The record is not a JSON object.
    #[error("a resource-log record must be a JSON object")]
    NotAnObject,
    /// The CSV writer failed.
    #[error("writing CSV: {0}")]
    Csv(#[from] csv::Error),
    /// The CSV writer could not be flushed.
    #[error("writing CSV: {0}")]
    Io(#[from] std::io::Error),
    /// The CSV text is not UTF-8 (cannot happen: every cell is text).
    #[error("CSV output is not UTF-8")]
    Utf8(#[from] std::string::FromUtf8Error),
}

/// The common columns both tables take from the top level of a record.
const TOP_COLUMNS: &[(&str, &str)] = &[
    ("time", "TimeGenerated"),
    ("operationName", "OperationName"),
    ("operationVersion", "OperationVersion"),
    ("resultType", "ResultType"),
    ("resultSignature", "ResultSignature"),
    ("resultDescription", "ResultDescription"),
    ("correlationId", "CorrelationId"),
];

/// The `AzureDiagnostics` row for a resource-log record.
pub fn azure_diagnostics_row(record: &Value) -> Result<Value, ExportError> {
    let rec = record.as_object().ok_or(ExportError::NotAnObject)?;
    let mut row = Map::new();
    for (from, to) in TOP_COLUMNS {
        put_text(&mut row, to, get(rec, from));
    }
    put_text(&mut row, "Category", get(rec, "category"));
    put_text(&mut row, "CallerIPAddress", get(rec, "callerIpAddress"));
    if let Some(ms) = get(rec, "durationMs").and_then(whole_number) {
        row.insert("DurationMs".into(), ms.into());
    }
    if let Some(rid) = get(rec, "resourceId").and_then(Value::as_str) {
        row.insert("ResourceId".into(), rid.to_ascii_uppercase().into());
        row.insert("_ResourceId".into(), rid.to_ascii_lowercase().into());
        resource_parts(rid, &mut row);
    }
    if let Some(identity) = get(rec, "identity") {
        flatten("identity", identity, &mut row);
    }
    if let Some(Value::Object(props)) = get(rec, "properties") {
        for (key, value) in props {
            flatten(&flat_name(key), value, &mut row);
        }
    }
    row.insert("SourceSystem".into(), "Azure".into());
    row.insert("Type".into(), "AzureDiagnostics".into());
    Ok(Value::Object(row))
}

/// Like [`azure_diagnostics_row`], with at most `max_columns` columns: the flattened
/// columns past the limit (in name order) move into `AdditionalFields`.
pub fn azure_diagnostics_row_with_limit(
    record: &Value,
    max_columns: usize,
) -> Result<Value, ExportError> {
    let Value::Object(mut row) = azure_diagnostics_row(record)? else {
        return Err(ExportError::NotAnObject);
    };
    if row.len() <= max_columns {
        return Ok(Value::Object(row));
    }
    // Common columns (no type suffix) always stay; flattened ones overflow.
    let flattened: Vec<String> = row.keys().filter(|k| has_type_suffix(k)).cloned().collect();
    let fixed = row.len() - flattened.len() + 1; // + AdditionalFields itself
    let keep = max_columns.saturating_sub(fixed);
    let mut overflow = Map::new();
    for key in flattened.into_iter().skip(keep) {
        if let Some(v) = row.remove(&key) {
            overflow.insert(key, v);
        }
    }
    row.insert("AdditionalFields".into(), Value::Object(overflow));
    Ok(Value::Object(row))
}

/// `properties.*` keys that have their own `AZKVAuditLogs` column.
const AZKV_PROPERTY_COLUMNS: &[(&str, &str)] = &[
    ("id", "Id"),
    ("requestUri", "RequestUri"),
    ("clientInfo", "ClientInfo"),
    ("isAccessPolicyMatch", "IsAccessPolicyMatch"),
    ("isRbacAuthorized", "IsRbacAuthorized"),
    ("appliedAssignmentId", "AppliedAssignmentId"),
    ("isAddressAuthorized", "IsAddressAuthorized"),
    ("addressAuthorizationType", "AddressAuthorizationType"),
    ("subnetId", "SubnetId"),
    ("trustedService", "TrustedService"),
    ("tlsVersion", "Tlsversion"),
    ("nsp", "Nsp"),
    ("algorithm", "Algorithm"),
    ("keyProperties", "KeyProperties"),
    ("secretProperties", "SecretProperties"),
    ("certificateProperties", "CertificateProperties"),
    ("certificatePolicyProperties", "CertificatePolicyProperties"),
    ("certificateIssuerProperties", "CertificateIssuerProperties"),
    (
        "certificateRequestProperties",
        "CertificateRequestProperties",
    ),
    ("storageAccountProperties", "StorageAccountProperties"),
    (
        "storageSasDefinitionProperties",
        "StorageSasDefinitionProperties",
    ),
    ("hsmPoolResourceId", "HsmPoolResourceId"),
];

/// Vault configuration fields with their own `AZKVAuditLogs` column.
const AZKV_VAULT_COLUMNS: &[(&str, &str)] = &[
    ("sku", "Sku"),
    ("networkAcls", "NetworkAcls"),
    ("enabledForDeployment", "EnabledForDeployment"),
    ("enabledForDiskEncryption", "EnabledForDiskEncryption"),
    (
        "enabledForTemplateDeployment",
        "EnabledForTemplateDeployment",
    ),
    ("enablePurgeProtection", "EnablePurgeProtection"),
    ("enableRbacAuthorization", "EnableRbacAuthorization"),
    ("enableSoftDelete", "EnableSoftDelete"),
    ("softDeleteRetentionInDays", "SoftDeleteRetentionInDays"),
];

/// The `AZKVAuditLogs` row for a resource-log record (the table has no `Category`:
/// every row is an `AuditEvent`).
pub fn azkv_audit_logs_row(record: &Value) -> Result<Value, ExportError> {
    let rec = record.as_object().ok_or(ExportError::NotAnObject)?;
    let mut row = Map::new();
    for (from, to) in TOP_COLUMNS {
        put_text(&mut row, to, get(rec, from));
    }
    put_text(&mut row, "CallerIpAddress", get(rec, "callerIpAddress"));
    if let Some(ms) = get(rec, "durationMs").and_then(whole_number) {
        row.insert("DurationMs".into(), ms.into());
    }
    if let Some(identity) = get(rec, "identity").filter(|v| !v.is_null()) {
        row.insert("Identity".into(), identity.clone());
    }
    if let Some(rid) = get(rec, "resourceId").and_then(Value::as_str) {
        row.insert("_ResourceId".into(), rid.to_ascii_lowercase().into());
        if let Some(sub) = segment_after(rid, "subscriptions") {
            row.insert("_SubscriptionId".into(), sub.to_ascii_lowercase().into());
        }
    }
    let mut rest = Map::new();
    if let Some(Value::Object(props)) = get(rec, "properties") {
        for (key, value) in props {
            if value.is_null() {
                continue;
            }
            if key.eq_ignore_ascii_case("httpStatusCode") {
                match whole_number(value) {
                    Some(code) => row.insert("HttpStatusCode".into(), code.into()),
                    None => rest.insert(key.clone(), value.clone()),
                };
            } else if key.eq_ignore_ascii_case("properties") {
                vault_columns(value, &mut row);
            } else if let Some(column) = column_for(AZKV_PROPERTY_COLUMNS, key) {
                row.insert(column.into(), value.clone());
            } else {
                rest.insert(key.clone(), value.clone());
            }
        }
    }
    if !rest.is_empty() {
        row.insert("Properties".into(), Value::Object(rest));
    }
    row.insert("SourceSystem".into(), "Azure".into());
    row.insert("Type".into(), "AZKVAuditLogs".into());
    Ok(Value::Object(row))
}

fn vault_columns(config: &Value, row: &mut Map<String, Value>) {
    let Value::Object(fields) = config else {
        return;
    };
    row.insert("VaultProperties".into(), config.clone());
    for (key, value) in fields {
        if let Some(column) = column_for(AZKV_VAULT_COLUMNS, key).filter(|_| !value.is_null()) {
            row.insert(column.into(), value.clone());
        }
    }
}

fn column_for(table: &[(&str, &'static str)], key: &str) -> Option<&'static str> {
    table
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|&(_, c)| c)
}

/// A key looked up case-insensitively (records disagree on `resourceId` case).
fn get<'v>(rec: &'v Map<String, Value>, key: &str) -> Option<&'v Value> {
    rec.get(key).or_else(|| {
        rec.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

fn put_text(row: &mut Map<String, Value>, column: &str, value: Option<&Value>) {
    match value {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) => {
            row.insert(column.into(), Value::String(s.clone()));
        }
        Some(other) => {
            row.insert(column.into(), Value::String(other.to_string()));
        }
    }
}

/// `"78"`, `78`, `"14.2"` → a whole number (Log Analytics `bigint` / `int`).
fn whole_number(v: &Value) -> Option<i64> {
    let f = match v {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => s.trim().parse::<f64>().ok()?,
        _ => return None,
    };
    (f.is_finite() && f.abs() < 9.0e15).then_some(f.trunc() as i64)
}

/// `/SUBSCRIPTIONS/S/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.KEYVAULT/VAULTS/V` → the
/// `SubscriptionId`, `ResourceGroup`, `ResourceProvider`, `ResourceType`, `Resource`
/// columns.
fn resource_parts(rid: &str, row: &mut Map<String, Value>) {
    if let Some(sub) = segment_after(rid, "subscriptions") {
        row.insert("SubscriptionId".into(), sub.to_ascii_lowercase().into());
    }
    if let Some(rg) = segment_after(rid, "resourcegroups") {
        row.insert("ResourceGroup".into(), rg.to_ascii_uppercase().into());
    }
    let segments: Vec<&str> = rid.split('/').filter(|s| !s.is_empty()).collect();
    if let Some(p) = segments
        .iter()
        .rposition(|s| s.eq_ignore_ascii_case("providers"))
    {
        if let [provider, kind, name, ..] = &segments[p + 1..] {
            row.insert(
                "ResourceProvider".into(),
                provider.to_ascii_uppercase().into(),
            );
            row.insert("ResourceType".into(), kind.to_ascii_uppercase().into());
            row.insert("Resource".into(), name.to_ascii_uppercase().into());
        }
    }
}

fn segment_after<'r>(rid: &'r str, name: &str) -> Option<&'r str> {
    let mut parts = rid.split('/');
    parts.find(|s| s.eq_ignore_ascii_case(name))?;
    parts.next().filter(|s| !s.is_empty())
}

/// A key as a column-name part: runs of characters other than letters and digits
/// become one `_` (`http://schemas.microsoft.com/x` → `http_schemas_microsoft_com_x`).
fn flat_name(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    let mut gap = false;
    for c in key.chars() {
        if c.is_ascii_alphanumeric() {
            if gap && !out.is_empty() {
                out.push('_');
            }
            gap = false;
            out.push(c);
        } else {
            gap = true;
        }
    }
    out
}

/// Flattens `value` under `path`: objects recurse with `_`, leaves get a type suffix.
fn flatten(path: &str, value: &Value, row: &mut Map<String, Value>) {
    match value {
        Value::Null => {}
        Value::Object(map) => {
            for (key, inner) in map {
                flatten(&format!("{path}_{}", flat_name(key)), inner, row);
            }
        }
        Value::Array(_) => {
            row.insert(format!("{path}_s"), Value::String(value.to_string()));
        }
        Value::Bool(b) => {
            row.insert(format!("{path}_b"), Value::Bool(*b));
        }
        Value::Number(n) => {
            let double = n
                .as_f64()
                .and_then(Number::from_f64)
                .map_or(Value::Null, Value::Number);
            row.insert(format!("{path}_d"), double);
        }
        Value::String(s) => {
            let suffix = if is_guid(s) {
                "g"
            } else if is_datetime(s) {
                "t"
            } else {
                "s"
            };
            row.insert(format!("{path}_{suffix}"), Value::String(s.clone()));
        }
    }
}

fn has_type_suffix(name: &str) -> bool {
    let b = name.as_bytes();
    b.len() > 2
        && b[b.len() - 2] == b'_'
        && matches!(b[b.len() - 1], b's' | b'g' | b'd' | b'b' | b't')
}

/// `8-4-4-4-12` hexadecimal digits.
fn is_guid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

fn is_datetime(s: &str) -> bool {
    s.len() >= 20 && s.as_bytes()[4] == b'-' && DateTime::parse_from_rfc3339(s).is_ok()
}

#[cfg(test)]
mod tests;
