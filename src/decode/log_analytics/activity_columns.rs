//! The columns of Log Analytics' `AzureActivity` table (and the keys of the Activity
//! Log REST API's records, which a `{"value":[…]}` export holds as rows).
//!
//! `AzureActivity` names what the resource-log shape nests: `OperationNameValue`
//! (the ARM operation; `OperationName` is its localized text), `CategoryValue`,
//! `ActivityStatusValue` / `ActivitySubstatusValue` (with localized twins without
//! `Value`), `Caller`, and the `Claims`, `Authorization`, `Properties` and
//! `HTTPRequest` objects, as JSON text or as dynamic `_d` columns. The REST shape
//! spells the same fields `status`, `subStatus`, `caller`, `claims`,
//! `authorization`, `httpRequest` and `eventTimestamp`. A row carrying any of them is
//! an Activity Log row, whatever its `Type` says.

/// What an Activity Log column feeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ActivityColumn {
    /// `OperationNameValue`: the ARM operation.
    OperationValue,
    /// `CategoryValue`.
    CategoryValue,
    /// `ActivityStatusValue`, `status` (REST).
    Status,
    /// `ActivityStatus` (localized; used when the value column is absent).
    StatusFallback,
    /// `ActivitySubstatusValue`, `subStatus` (REST).
    Substatus,
    /// `ActivitySubstatus` (localized).
    SubstatusFallback,
    /// `eventTimestamp` (REST).
    EventTimestamp,
    /// `Caller`.
    Caller,
    /// `Claims`, `Claims_d`.
    Claims,
    /// `Authorization`, `Authorization_d`.
    Authorization,
    /// `HTTPRequest`.
    HttpRequest,
    /// `Hierarchy`.
    Hierarchy,
    /// `Properties_d` (the dynamic twin of `Properties`).
    Properties,
    /// `ResultType` (also an `AzureDiagnostics` column, so it marks no table).
    ResultType,
}

impl ActivityColumn {
    /// Whether only Activity Log rows have this column.
    pub(crate) fn marks_activity(self) -> bool {
        self != ActivityColumn::ResultType
    }
}

/// The Activity Log column a name (Log Analytics or REST spelling) stands for.
pub(crate) fn classify_activity(name: &str) -> Option<ActivityColumn> {
    use ActivityColumn::*;
    let eq = |want: &str| name.eq_ignore_ascii_case(want);
    Some(match name.len() {
        18 if eq("OperationNameValue") => OperationValue,
        13 if eq("CategoryValue") => CategoryValue,
        19 if eq("ActivityStatusValue") => Status,
        6 if eq("status") => Status,
        14 if eq("ActivityStatus") => StatusFallback,
        22 if eq("ActivitySubstatusValue") => Substatus,
        9 if eq("subStatus") => Substatus,
        17 if eq("ActivitySubstatus") => SubstatusFallback,
        14 if eq("eventTimestamp") => EventTimestamp,
        6 if eq("Caller") => Caller,
        6 if eq("Claims") => Claims,
        8 if eq("Claims_d") => Claims,
        13 if eq("Authorization") => Authorization,
        15 if eq("Authorization_d") => Authorization,
        11 if eq("HTTPRequest") => HttpRequest,
        9 if eq("Hierarchy") => Hierarchy,
        12 if eq("Properties_d") => Properties,
        10 if eq("ResultType") => ResultType,
        _ => return None,
    })
}
