//! Log Analytics exports: `AzureDiagnostics`, `AZKVAuditLogs` and `AzureActivity`
//! rows, as JSON or CSV.
//!
//! Key Vault audit events land in a workspace in one of two tables: the legacy
//! `AzureDiagnostics` (flattened `properties_*` / `identity_claim_*` columns with type
//! suffixes) or the resource-specific `AZKVAuditLogs` (typed PascalCase columns).
//! Analysts export them as JSON ([`json`]: lines, arrays, query responses) or CSV
//! ([`mod@csv`]); both feed one column mapping (`columns.rs`, `cells.rs`, `row.rs`) into the same
//! [`RawRecord`](super::RawRecord) the resource-log decoders fill, so every shape
//! normalises by the same rules. [`export`] goes the other way, writing a resource-log
//! record as the rows Log Analytics would hold, for the simulator and the tests.
//!
//! Each row is reported on its own: a bad row is refused with its location and the
//! rest of the input goes on. A row's shape is `AZKVAuditLogs` when its `Type` column
//! says so or it carries columns only that table has, `AzureActivity` when it is an
//! Activity Log row (its `Type`, or its `OperationNameValue`, `Caller`, `Claims` …
//! columns: `activity_columns.rs`), else `AzureDiagnostics`. The row's category then
//! decides which rules normalise it, as for every shape.

mod activity_columns;
mod cells;
mod columns;
pub mod csv;
pub mod export;
pub mod json;
mod row;
mod tables;
#[cfg(test)]
mod tests;

use super::{Limits, Record};

/// Decodes Log Analytics rows given as JSON: JSON Lines, an array of rows, a query
/// response `{"tables":[…]}` or `{"value":[…]}`.
pub fn decode_json<'a>(buf: &'a [u8], limits: &Limits, sink: &mut dyn FnMut(Record<'a>)) {
    json::decode(buf, limits, sink);
}

/// Decodes a Log Analytics CSV export (a header row, then one row per record).
pub fn decode_csv<'a>(buf: &'a [u8], limits: &Limits, sink: &mut dyn FnMut(Record<'a>)) {
    csv::decode(buf, limits, sink);
}
