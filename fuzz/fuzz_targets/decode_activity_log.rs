//! The Activity Log decoders. Any bytes go in three ways: as records (JSON Lines,
//! where the resource-log and REST shapes are read), as `AzureActivity` CSV rows
//! under a real header, and (when UTF-8) as the request body of a role assignment
//! and of a diagnostic setting, in the resource-log shape, as an `AzureActivity`
//! JSON row and as its CSV. Every record satisfies the record and event invariants;
//! a body in every shape means the same thing, and it is either read or refused as
//! `invalid_body`, `too_deep` or `too_large`, never anything else.
#![no_main]

use kvwatch::decode::log_analytics::export::{azure_activity_row, to_csv, CsvStyle};
use kvwatch::decode::{Format, Limits, Refusal, RejectReason};
use kvwatch_fuzz::{decode_checked, limits_for};
use libfuzzer_sys::fuzz_target;
use serde_json::json;

/// The columns of an `AzureActivity` CSV export.
const HEADER: &str = "TenantId,SourceSystem,CallerIpAddress,CategoryValue,CorrelationId,Authorization,Authorization_d,Claims,Claims_d,Level,OperationNameValue,Properties,Properties_d,Caller,EventDataId,EventSubmissionTimestamp,HTTPRequest,OperationId,ResourceGroup,ResourceProviderValue,ActivityStatusValue,ActivitySubstatusValue,Hierarchy,TimeGenerated,SubscriptionId,OperationName,ActivityStatus,ActivitySubstatus,Category,ResourceId,ResourceProvider,Resource,Type,_ResourceId";

fuzz_target!(|data: &[u8]| {
    let limits = limits_for(data);
    decode_checked(data, Format::JsonLines, &limits);
    let mut csv = Vec::with_capacity(HEADER.len() + 1 + data.len());
    csv.extend_from_slice(HEADER.as_bytes());
    csv.push(b'\n');
    csv.extend_from_slice(data);
    decode_checked(&csv, Format::LogAnalyticsCsv, &limits);
    if let Ok(text) = std::str::from_utf8(data) {
        for operation in [
            "MICROSOFT.AUTHORIZATION/ROLEASSIGNMENTS/WRITE",
            "MICROSOFT.INSIGHTS/DIAGNOSTICSETTINGS/WRITE",
        ] {
            body_in_every_shape(operation, text);
        }
    }
});

fn body_in_every_shape(operation: &str, body: &str) {
    let record = json!({
        "time": "2026-11-03T10:00:00.0000000Z",
        "resourceId": "/SUBSCRIPTIONS/S/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.KEYVAULT/VAULTS/KV-FUZZ/PROVIDERS/MICROSOFT.AUTHORIZATION/ROLEASSIGNMENTS/A1",
        "operationName": operation,
        "category": "Administrative",
        "resultType": "Success",
        "resultSignature": "Succeeded.Created",
        "identity": {"claims": {"http://schemas.microsoft.com/identity/claims/objectidentifier": "o1"}},
        "properties": {"requestbody": body, "responseBody": body, "statusMessage": body},
    });
    let row = azure_activity_row(&record).expect("a row");
    let csv = to_csv(std::slice::from_ref(&row), CsvStyle::Plain).expect("CSV");
    let limits = Limits::default();
    let mut outcomes = Vec::new();
    for (input, format) in [
        (record.to_string(), Format::JsonLines),
        (row.to_string(), Format::LogAnalyticsJson),
        (csv, Format::LogAnalyticsCsv),
    ] {
        let seen = decode_checked(input.as_bytes(), format, &limits);
        assert_eq!(seen.len(), 1, "{format}: {seen:?}");
        let outcome = seen[0].outcome.clone();
        assert!(
            matches!(
                outcome,
                Ok(_)
                    | Err(Refusal::Rejected(
                        RejectReason::InvalidBody | RejectReason::TooDeep | RejectReason::TooLarge
                    ))
            ),
            "{format}: {outcome:?}"
        );
        outcomes.push(outcome);
    }
    assert!(
        outcomes.windows(2).all(|w| w[0] == w[1]),
        "one body, different meanings: {outcomes:?}"
    );
}
