//! The floor both decode benchmarks compare with: a bare serde_json parse of a record
//! into a struct of the fields kvwatch uses, borrowed, exact key names, no
//! normalisation. Included by `benches/decode.rs` and `benches/fortnight.rs`.

use std::borrow::Cow;

use serde::Deserialize;

/// The floor: the fields kvwatch uses, borrowed, exact key names, no normalisation.
#[derive(Deserialize)]
#[allow(dead_code)]
pub struct BareRecord<'a> {
    #[serde(borrow)]
    time: Cow<'a, str>,
    #[serde(borrow, rename = "resourceId")]
    resource_id: Cow<'a, str>,
    #[serde(borrow, rename = "operationName")]
    operation_name: Cow<'a, str>,
    #[serde(borrow, default)]
    category: Option<Cow<'a, str>>,
    #[serde(borrow, default, rename = "resultSignature")]
    result_signature: Option<Cow<'a, str>>,
    #[serde(borrow, default, rename = "resultDescription")]
    result_description: Option<Cow<'a, str>>,
    #[serde(borrow, default, rename = "correlationId")]
    correlation_id: Option<Cow<'a, str>>,
    #[serde(borrow, default, rename = "callerIpAddress")]
    caller_ip: Option<Cow<'a, str>>,
    #[serde(borrow, default, rename = "durationMs")]
    duration_ms: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    identity: Option<BareIdentity<'a>>,
    #[serde(borrow, default)]
    properties: Option<BareProperties<'a>>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
pub struct BareIdentity<'a> {
    #[serde(borrow, default)]
    claim: Option<BareClaims<'a>>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
pub struct BareClaims<'a> {
    #[serde(borrow, default)]
    oid: Option<Cow<'a, str>>,
    #[serde(
        borrow,
        default,
        rename = "http://schemas.microsoft.com/identity/claims/objectidentifier"
    )]
    object_identifier: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    upn: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    appid: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    idtyp: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    xms_mirid: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
pub struct BareProperties<'a> {
    #[serde(borrow, default)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow, default, rename = "requestUri")]
    request_uri: Option<Cow<'a, str>>,
    #[serde(borrow, default, rename = "clientInfo")]
    client_info: Option<Cow<'a, str>>,
    #[serde(default, rename = "httpStatusCode")]
    http_status: Option<u16>,
    #[serde(default, rename = "isAccessPolicyMatch")]
    is_access_policy_match: Option<bool>,
    #[serde(default, rename = "isRbacAuthorized")]
    is_rbac_authorized: Option<bool>,
}

