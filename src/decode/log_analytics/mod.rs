//! Log Analytics exports: `AzureDiagnostics` and `AZKVAuditLogs` rows.
//!
//! (Being written: rows as JSON and CSV.)

use super::reject::RejectReason;
use super::{Limits, Location, Record, Shape};

/// Decodes Log Analytics rows given as JSON.
pub fn decode_json<'a>(_buf: &'a [u8], _limits: &Limits, sink: &mut dyn FnMut(Record<'a>)) {
    sink(Record { location: Location::default(), shape: Shape::AzureDiagnostics, raw: &[], result: Err(RejectReason::UnknownShape.into()) });
}

/// Decodes a Log Analytics CSV export.
pub fn decode_csv<'a>(_buf: &'a [u8], _limits: &Limits, sink: &mut dyn FnMut(Record<'a>)) {
    sink(Record { location: Location::default(), shape: Shape::AzureDiagnostics, raw: &[], result: Err(RejectReason::UnknownShape.into()) });
}
