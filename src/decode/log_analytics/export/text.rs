//! Rows of either Log Analytics table as text: a query-API response or CSV.
//!
//! A query-API response (`{"tables":[…]}`) names its columns with types and writes
//! dynamic cells as JSON text; a CSV export writes every cell as text, dynamic ones as
//! JSON, and (from the portal) names date-time columns `TimeGenerated [UTC]` and
//! writes them `11/2/2024, 9:12:25.085 AM`. Both take the union of the rows' columns,
//! so rows of both tables (or sparse rows) can share one output.

use chrono::DateTime;
use serde_json::Value;

use super::ExportError;

/// How [`to_csv`] writes the CSV.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CsvStyle {
    /// Column names as they are, times as ISO-8601 (full precision).
    #[default]
    Plain,
    /// As the portal's "Export to CSV": date-time columns named `TimeGenerated [UTC]`
    /// and written `11/2/2024, 9:12:25.085 AM` (milliseconds only).
    Portal,
}

/// Rows of either table as a query-API response: one table `PrimaryResult`, its
/// columns the union of the rows' keys (first seen first) with inferred types, and
/// dynamic cells as JSON text, as the API returns them.
pub fn query_response(rows: &[Value]) -> Value {
    let columns = union_columns(rows);
    let descriptors: Vec<Value> = columns
        .iter()
        .map(|name| {
            let first = rows
                .iter()
                .filter_map(|r| r.get(name.as_str()))
                .find(|v| !v.is_null());
            serde_json::json!({ "name": name, "type": column_type(name, first) })
        })
        .collect();
    let cells: Vec<Value> = rows
        .iter()
        .map(|row| {
            let cells = columns.iter().map(|name| match row.get(name.as_str()) {
                None | Some(Value::Null) => Value::Null,
                Some(v @ (Value::Object(_) | Value::Array(_))) => Value::String(v.to_string()),
                Some(v) => v.clone(),
            });
            Value::Array(cells.collect())
        })
        .collect();
    serde_json::json!({ "tables": [{ "name": "PrimaryResult", "columns": descriptors, "rows": cells }] })
}

fn column_type(name: &str, first: Option<&Value>) -> &'static str {
    match first {
        _ if is_time_column(name) => "datetime",
        Some(Value::Bool(_)) => "bool",
        Some(Value::Number(n)) if n.is_f64() => "real",
        Some(Value::Number(_)) => "long",
        Some(Value::Object(_) | Value::Array(_)) => "dynamic",
        _ => "string",
    }
}

/// Rows of either table as CSV text: a header (the union of the rows' keys, first
/// seen first), then one line per row; missing cells are empty, dynamic cells are
/// JSON text.
pub fn to_csv(rows: &[Value], style: CsvStyle) -> Result<String, ExportError> {
    let columns = union_columns(rows);
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record(columns.iter().map(|name| match style {
        CsvStyle::Portal if is_time_column(name) => format!("{name} [UTC]"),
        _ => name.clone(),
    }))?;
    for row in rows {
        out.write_record(columns.iter().map(|name| {
            let cell = row.get(name.as_str());
            match (cell, style) {
                (Some(Value::String(s)), CsvStyle::Portal) if is_time_column(name) => {
                    portal_time(s)
                }
                (None | Some(Value::Null), _) => String::new(),
                (Some(Value::String(s)), _) => s.clone(),
                (Some(other), _) => other.to_string(),
            }
        }))?;
    }
    let bytes = out
        .into_inner()
        .map_err(|e| ExportError::Io(e.into_error()))?;
    Ok(String::from_utf8(bytes)?)
}

fn union_columns(rows: &[Value]) -> Vec<String> {
    let mut columns: Vec<String> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for row in rows.iter().filter_map(Value::as_object) {
        for key in row.keys() {
            if seen.insert(key.as_str()) {
                columns.push(key.clone());
            }
        }
    }
    columns
}

fn is_time_column(name: &str) -> bool {
    name.eq_ignore_ascii_case("TimeGenerated") || name.ends_with("_t")
}

/// `2024-11-02T09:12:25.0852453Z` → `11/2/2024, 9:12:25.085 AM` (the portal's export).
fn portal_time(iso: &str) -> String {
    match DateTime::parse_from_rfc3339(iso) {
        Ok(t) => t
            .naive_utc()
            .format("%-m/%-d/%Y, %-I:%M:%S%.3f %p")
            .to_string(),
        Err(_) => iso.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn times_csv_and_tables() {
        assert_eq!(
            portal_time("2024-11-02T21:12:25.0852453Z"),
            "11/2/2024, 9:12:25.085 PM"
        );
        // Keys whose insertion and sorted orders agree, so map ordering cannot matter.
        let rows = [
            json!({"Alpha": true, "TimeGenerated": "2024-11-02T09:12:25.0852453Z"}),
            json!({"Zeta": {"x": "a,b"}}),
        ];
        assert_eq!(to_csv(&rows, CsvStyle::Plain).unwrap(), "Alpha,TimeGenerated,Zeta\ntrue,2024-11-02T09:12:25.0852453Z,\n,,\"{\"\"x\"\":\"\"a,b\"\"}\"\n");
        assert_eq!(
            to_csv(&rows[..1], CsvStyle::Portal).unwrap(),
            "Alpha,TimeGenerated [UTC]\ntrue,\"11/2/2024, 9:12:25.085 AM\"\n"
        );
        let resp = query_response(&rows);
        assert_eq!(
            resp["tables"][0]["columns"][0],
            json!({"name": "Alpha", "type": "bool"})
        );
        assert_eq!(
            resp["tables"][0]["columns"][1],
            json!({"name": "TimeGenerated", "type": "datetime"})
        );
        assert_eq!(
            resp["tables"][0]["rows"][1],
            json!([null, null, "{\"x\":\"a,b\"}"])
        );
    }
}
