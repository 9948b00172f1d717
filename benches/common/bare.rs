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
    pub time: Cow<'a, str>,
    #[serde(borrow, rename = "resourceId")]
    pub resource_id: Cow<'a, str>,
    #[serde(borrow, rename = "operationName")]
    pub operation_name: Cow<'a, str>,
    #[serde(borrow, default)]
    pub category: Option<Cow<'a, str>>,
    #[serde(borrow, default, rename = "resultSignature")]
    pub result_signature: Option<Cow<'a, str>>,
    #[serde(borrow, default, rename = "resultDescription")]
    pub result_description: Option<Cow<'a, str>>,
    #[serde(borrow, default, rename = "correlationId")]
    pub correlation_id: Option<Cow<'a, str>>,
    #[serde(borrow, default, rename = "callerIpAddress")]
    pub caller_ip: Option<Cow<'a, str>>,
    #[serde(borrow, default, rename = "durationMs")]
    pub duration_ms: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub identity: Option<BareIdentity<'a>>,
    #[serde(borrow, default)]
    pub properties: Option<BareProperties<'a>>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
pub struct BareIdentity<'a> {
    #[serde(borrow, default)]
    pub claim: Option<BareClaims<'a>>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
pub struct BareClaims<'a> {
    #[serde(borrow, default)]
    pub oid: Option<Cow<'a, str>>,
    #[serde(
        borrow,
        default,
        rename = "http://schemas.microsoft.com/identity/claims/objectidentifier"
    )]
    pub object_identifier: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub upn: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub appid: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub idtyp: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub xms_mirid: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
pub struct BareProperties<'a> {
    #[serde(borrow, default)]
    pub id: Option<Cow<'a, str>>,
    #[serde(borrow, default, rename = "requestUri")]
    pub request_uri: Option<Cow<'a, str>>,
    #[serde(borrow, default, rename = "clientInfo")]
    pub client_info: Option<Cow<'a, str>>,
    #[serde(default, rename = "httpStatusCode")]
    pub http_status: Option<u16>,
    #[serde(default, rename = "isAccessPolicyMatch")]
    pub is_access_policy_match: Option<bool>,
    #[serde(default, rename = "isRbacAuthorized")]
    pub is_rbac_authorized: Option<bool>,
}
