//! The raw record: every shape's fields gathered under one name, still borrowed.
//!
//! Each decoder (resource-log JSON, Log Analytics rows, CSV) fills a [`RawRecord`];
//! [`super::normalise`] then turns it into an [`AuditEvent`](crate::event::AuditEvent)
//! with one set of rules. This file also holds the hot-path deserializer for the
//! resource-log shape (Event Hubs, Storage): top-level keys match case-insensitively,
//! unknown keys are skipped without allocation, and text is borrowed from the input.
//! The same deserializer reads Activity Log records (resource-log and REST shapes):
//! their own fields go to a boxed [`RawActivity`], allocated only when one appears.

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;

use super::activity::raw::{
    apply_activity_property, owned_props, AuthorizationField, HttpRequestField, RawActivity,
    RawActivityProps, RawAuthorization,
};
use super::lenient::{skip, LenientBool, LenientNum, LenientStr, ObjectOrJson};
use crate::event::{AccessPolicyEntry, Claims, VaultConfig};

/// The fields of one record, as the source spelled them.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct RawRecord<'a> {
    /// `time` / `TimeGenerated`.
    pub time: Option<Cow<'a, str>>,
    /// `resourceId` / `ResourceId` / `_ResourceId`.
    pub resource_id: Option<Cow<'a, str>>,
    /// Log Analytics `Resource` (the vault name, upper case).
    pub resource: Option<Cow<'a, str>>,
    /// `category` / `Category`.
    pub category: Option<Cow<'a, str>>,
    /// `operationName`.
    pub operation_name: Option<Cow<'a, str>>,
    /// `operationVersion`.
    pub operation_version: Option<Cow<'a, str>>,
    /// `resultSignature` (the HTTP reason phrase; `Succeeded.Created` in the Activity Log).
    pub result_signature: Option<Cow<'a, str>>,
    /// `resultType` (always `Success` in AuditEvent; `Start`, `Accept`, `Success` or
    /// `Failure` in the Activity Log).
    pub result_type: Option<Cow<'a, str>>,
    /// `resultDescription`.
    pub result_description: Option<Cow<'a, str>>,
    /// `correlationId`.
    pub correlation_id: Option<Cow<'a, str>>,
    /// `callerIpAddress`.
    pub caller_ip: Option<Cow<'a, str>>,
    /// `durationMs`.
    pub duration_ms: Option<f64>,
    /// `identity.claim.*`, whatever the spelling.
    pub claims: Claims<'a>,
    /// `properties.*`.
    pub props: RawProperties<'a>,
    /// Fields only the Activity Log has; `None` until one appears.
    pub activity: Option<Box<RawActivity<'a>>>,
}

impl<'a> RawRecord<'a> {
    /// The Activity Log fields, created on first use.
    pub fn activity_mut(&mut self) -> &mut RawActivity<'a> {
        self.activity.get_or_insert_default()
    }
}

/// The `properties` object of a record.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct RawProperties<'a> {
    /// `id`: the object URL.
    pub id: Option<Cow<'a, str>>,
    /// `requestUri`.
    pub request_uri: Option<Cow<'a, str>>,
    /// `clientInfo`.
    pub client_info: Option<Cow<'a, str>>,
    /// `httpStatusCode`.
    pub http_status: Option<f64>,
    /// `isAccessPolicyMatch`.
    pub is_access_policy_match: Option<bool>,
    /// `isRbacAuthorized`.
    pub is_rbac_authorized: Option<bool>,
    /// `isAddressAuthorized`.
    pub is_address_authorized: Option<bool>,
    /// `subnetId`.
    pub subnet_id: Option<Cow<'a, str>>,
    /// `tlsVersion`.
    pub tls_version: Option<Cow<'a, str>>,
    /// `properties.properties`: the vault configuration.
    pub vault_config: Option<Box<VaultConfig>>,
    /// `addedAccessPolicy`.
    pub added_policy: Option<Box<AccessPolicyEntry>>,
    /// `removedAccessPolicy`.
    pub removed_policy: Option<Box<AccessPolicyEntry>>,
    /// The Activity Log members (`statusCode`, `requestbody` …); `None` until one appears.
    pub activity: Option<Box<RawActivityProps<'a>>>,
}

/// A claim [`Claims`] keeps, named once so a per-table column plan can hold it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimKey {
    /// `oid`.
    Oid,
    /// The URI `objectidentifier` claim.
    ObjectIdentifier,
    /// `upn` (short or URI).
    Upn,
    /// `unique_name`.
    UniqueName,
    /// `appid`.
    Appid,
    /// `idtyp`.
    Idtyp,
    /// `xms_mirid`.
    XmsMirid,
    /// `amr` or the URI `authnmethodsreferences` claim.
    Amr,
    /// `scp` or the URI `scope` claim.
    Scp,
    /// `appidacr`.
    Appidacr,
    /// `tid` or the URI `tenantid` claim.
    TenantId,
    /// `iss`.
    Iss,
}

impl ClaimKey {
    /// The claim a name (short, URI or Log-Analytics-flattened) stands for.
    pub fn from_name(name: &str) -> Option<Self> {
        let canonical = canonical_claim_name(name);
        let eq = |want: &str| canonical.eq_ignore_ascii_case(want);
        Some(if eq("oid") {
            Self::Oid
        } else if eq("objectidentifier") {
            Self::ObjectIdentifier
        } else if eq("upn") {
            Self::Upn
        } else if eq("unique_name") {
            Self::UniqueName
        } else if eq("appid") {
            Self::Appid
        } else if eq("idtyp") {
            Self::Idtyp
        } else if eq("xms_mirid") {
            Self::XmsMirid
        } else if eq("amr") || eq("authnmethodsreferences") {
            Self::Amr
        } else if eq("scp") || eq("scope") {
            Self::Scp
        } else if eq("appidacr") {
            Self::Appidacr
        } else if eq("tid") || eq("tenantid") {
            Self::TenantId
        } else if eq("iss") {
            Self::Iss
        } else {
            return None;
        })
    }

    /// The field of `claims` this claim fills.
    pub fn slot<'c, 'a>(self, claims: &'c mut Claims<'a>) -> &'c mut Option<Cow<'a, str>> {
        match self {
            Self::Oid => &mut claims.oid,
            Self::ObjectIdentifier => &mut claims.object_identifier,
            Self::Upn => &mut claims.upn,
            Self::UniqueName => &mut claims.unique_name,
            Self::Appid => &mut claims.appid,
            Self::Idtyp => &mut claims.idtyp,
            Self::XmsMirid => &mut claims.xms_mirid,
            Self::Amr => &mut claims.amr,
            Self::Scp => &mut claims.scp,
            Self::Appidacr => &mut claims.appidacr,
            Self::TenantId => &mut claims.tenant_id,
            Self::Iss => &mut claims.iss,
        }
    }
}

/// Which claim a claim name (short, URI or Log-Analytics-flattened) fills.
pub fn claim_slot<'c, 'a>(
    claims: &'c mut Claims<'a>,
    name: &str,
) -> Option<&'c mut Option<Cow<'a, str>>> {
    // The short claims of data-plane tokens, exactly spelled: the common case.
    match name {
        "oid" => return Some(&mut claims.oid),
        "upn" => return Some(&mut claims.upn),
        "appid" => return Some(&mut claims.appid),
        "idtyp" => return Some(&mut claims.idtyp),
        "amr" => return Some(&mut claims.amr),
        "scp" => return Some(&mut claims.scp),
        "iss" => return Some(&mut claims.iss),
        "tid" => return Some(&mut claims.tenant_id),
        "appidacr" => return Some(&mut claims.appidacr),
        "unique_name" => return Some(&mut claims.unique_name),
        "xms_mirid" => return Some(&mut claims.xms_mirid),
        "ipaddr" | "xms_az_nwperimid" | "aud" | "iat" | "exp" | "nbf" | "uti" | "name" => {
            return None
        }
        _ => {}
    }
    let canonical = canonical_claim_name(name);
    let eq = |want: &str| canonical.eq_ignore_ascii_case(want);
    Some(if eq("oid") {
        &mut claims.oid
    } else if eq("objectidentifier") {
        &mut claims.object_identifier
    } else if eq("upn") {
        &mut claims.upn
    } else if eq("unique_name") {
        &mut claims.unique_name
    } else if eq("appid") {
        &mut claims.appid
    } else if eq("idtyp") {
        &mut claims.idtyp
    } else if eq("xms_mirid") {
        &mut claims.xms_mirid
    } else if eq("amr") || eq("authnmethodsreferences") {
        &mut claims.amr
    } else if eq("scp") || eq("scope") {
        &mut claims.scp
    } else if eq("appidacr") {
        &mut claims.appidacr
    } else if eq("tid") || eq("tenantid") {
        &mut claims.tenant_id
    } else if eq("iss") {
        &mut claims.iss
    } else {
        return None;
    })
}

/// `http://schemas.microsoft.com/identity/claims/objectidentifier` and
/// `http_schemas_microsoft_com_identity_claims_objectidentifier` → `objectidentifier`.
fn canonical_claim_name(name: &str) -> &str {
    if let Some(i) = name.rfind('/') {
        return &name[i + 1..];
    }
    // `get`: byte 5 of an arbitrary claim name may fall inside a character.
    if name.len() > 5
        && name
            .get(..5)
            .is_some_and(|head| head.eq_ignore_ascii_case("http_"))
    {
        if let Some(i) = name.rfind("_claims_") {
            return &name[i + "_claims_".len()..];
        }
    }
    name
}

/// Top-level keys of the resource-log shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TopKey {
    Time,
    ResourceId,
    Category,
    OperationName,
    OperationVersion,
    ResultSignature,
    ResultDescription,
    CorrelationId,
    CallerIp,
    DurationMs,
    Identity,
    Properties,
    ResultType,
    /// REST `status` (an object with `value`).
    Status,
    /// REST `subStatus`.
    SubStatus,
    /// REST `eventTimestamp`.
    EventTimestamp,
    /// REST `caller`.
    Caller,
    /// REST top-level `claims`.
    Claims,
    /// REST top-level `authorization`.
    Authorization,
    /// REST `httpRequest`.
    HttpRequest,
    Ignored,
}

fn top_key(k: &str) -> TopKey {
    // Azure's own spelling first: one jump on length, one memcmp.
    match k {
        "time" => return TopKey::Time,
        "category" => return TopKey::Category,
        "identity" => return TopKey::Identity,
        "resourceId" => return TopKey::ResourceId,
        "properties" => return TopKey::Properties,
        "durationMs" => return TopKey::DurationMs,
        "operationName" => return TopKey::OperationName,
        "correlationId" => return TopKey::CorrelationId,
        "resultSignature" => return TopKey::ResultSignature,
        "callerIpAddress" => return TopKey::CallerIp,
        "operationVersion" => return TopKey::OperationVersion,
        "resultDescription" => return TopKey::ResultDescription,
        "resultType" => return TopKey::ResultType,
        "level" | "location" | "tenantId" => return TopKey::Ignored,
        _ => {}
    }
    let eq = |want: &str| k.eq_ignore_ascii_case(want);
    match k.len() {
        4 if eq("time") => TopKey::Time,
        8 if eq("category") => TopKey::Category,
        8 if eq("identity") => TopKey::Identity,
        10 if eq("resourceId") => TopKey::ResourceId,
        10 if eq("properties") => TopKey::Properties,
        10 if eq("durationMs") => TopKey::DurationMs,
        13 if eq("operationName") => TopKey::OperationName,
        13 if eq("correlationId") => TopKey::CorrelationId,
        15 if eq("resultSignature") => TopKey::ResultSignature,
        15 if eq("callerIpAddress") => TopKey::CallerIp,
        16 if eq("operationVersion") => TopKey::OperationVersion,
        17 if eq("resultDescription") => TopKey::ResultDescription,
        // The Activity Log's REST shape (never in an AuditEvent record).
        10 if eq("resultType") => TopKey::ResultType,
        6 if eq("status") => TopKey::Status,
        9 if eq("subStatus") => TopKey::SubStatus,
        14 if eq("eventTimestamp") => TopKey::EventTimestamp,
        6 if eq("caller") => TopKey::Caller,
        6 if eq("claims") => TopKey::Claims,
        13 if eq("authorization") => TopKey::Authorization,
        11 if eq("httpRequest") => TopKey::HttpRequest,
        _ => TopKey::Ignored,
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for RawRecord<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(RecordVisitor)
    }
}

pub(crate) struct RecordVisitor;

impl<'de> Visitor<'de> for RecordVisitor {
    type Value = RawRecord<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a Key Vault audit record object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut rec = RawRecord::default();
        while let Some(key) = map.next_key::<super::lenient::Key<'de>>()? {
            let text = |map: &mut A| map.next_value::<LenientStr<'de>>().map(|v| v.0);
            match top_key(&key) {
                TopKey::Time => rec.time = text(&mut map)?,
                TopKey::ResourceId => rec.resource_id = text(&mut map)?,
                TopKey::Category => rec.category = text(&mut map)?,
                TopKey::OperationName => rec.operation_name = text(&mut map)?,
                TopKey::OperationVersion => rec.operation_version = text(&mut map)?,
                TopKey::ResultSignature => rec.result_signature = text(&mut map)?,
                TopKey::ResultDescription => rec.result_description = text(&mut map)?,
                TopKey::CorrelationId => rec.correlation_id = text(&mut map)?,
                TopKey::CallerIp => rec.caller_ip = text(&mut map)?,
                TopKey::DurationMs => rec.duration_ms = map.next_value::<LenientNum>()?.0,
                TopKey::Identity => {
                    let IdentityField(claims, authorization) = map.next_value()?;
                    rec.claims = claims;
                    if let Some(authorization) = authorization {
                        rec.activity_mut().authorization = Some(*authorization);
                    }
                }
                TopKey::Properties => rec.props = map.next_value::<PropertiesField<'de>>()?.0,
                TopKey::ResultType => rec.result_type = text(&mut map)?,
                TopKey::Status => rec.activity_mut().status = text(&mut map)?,
                TopKey::SubStatus => rec.activity_mut().sub_status = text(&mut map)?,
                TopKey::EventTimestamp => rec.activity_mut().event_timestamp = text(&mut map)?,
                TopKey::Caller => rec.activity_mut().caller = text(&mut map)?,
                TopKey::Claims => {
                    let IdentityField(claims, _) = map.next_value()?;
                    merge_claims(&mut rec.claims, claims);
                }
                TopKey::Authorization => {
                    let AuthorizationField(authorization) = map.next_value()?;
                    if authorization.is_some() {
                        rec.activity_mut().authorization = authorization;
                    }
                }
                TopKey::HttpRequest => {
                    rec.activity_mut().client_ip = map.next_value::<HttpRequestField<'de>>()?.0;
                }
                TopKey::Ignored => skip(&mut map)?,
            }
        }
        Ok(rec)
    }
}

/// `identity`: `{"claim":{…}}`, `{}`, a flat claims object, JSON text, or missing;
/// the Activity Log's `{"claims":{…},"authorization":{…}}` too.
pub struct IdentityField<'a>(pub Claims<'a>, pub Option<Box<RawAuthorization<'a>>>);

impl<'de: 'a, 'a> Deserialize<'de> for IdentityField<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(IdentityVisitor)
            .map(|(claims, auth)| IdentityField(claims, auth))
    }
}

struct IdentityVisitor;

impl<'de> Visitor<'de> for IdentityVisitor {
    type Value = (Claims<'de>, Option<Box<RawAuthorization<'de>>>);

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an identity object")
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
        // Identity as JSON text (Log Analytics dynamic columns, some forwarders).
        Ok(super::lenient::nested_json::<OwnedIdentity, E>(v)?
            .map(|f| (f.0, f.1))
            .unwrap_or_default())
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Default::default())
    }
    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(Default::default())
    }
    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Default::default())
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Default::default())
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Default::default())
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Default::default())
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
        Ok(Default::default())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut claims = Claims::default();
        let mut authorization = None;
        while let Some(key) = map.next_key::<super::lenient::Key<'de>>()? {
            if key.eq_ignore_ascii_case("claim") || key.eq_ignore_ascii_case("claims") {
                let inner = map.next_value::<ClaimsObject<'de>>()?.0;
                merge_claims(&mut claims, inner);
            } else if let Some(slot) = claim_slot(&mut claims, &key) {
                *slot = map.next_value::<LenientStr<'de>>()?.0;
            } else if key.eq_ignore_ascii_case("authorization") {
                authorization = map.next_value::<AuthorizationField<'de>>()?.0.map(Box::new);
            } else {
                skip(&mut map)?;
            }
        }
        Ok((claims, authorization))
    }
}

/// The `claim` object: every key is a claim name.
struct ClaimsObject<'a>(Claims<'a>);

impl<'de: 'a, 'a> Deserialize<'de> for ClaimsObject<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // A flat map of claims is exactly what IdentityVisitor reads.
        d.deserialize_any(IdentityVisitor)
            .map(|(claims, _)| ClaimsObject(claims))
    }
}

/// Copies every claim `from` carries into `into` (a claim in both: `from` wins).
pub(crate) fn merge_claims<'a>(into: &mut Claims<'a>, from: Claims<'a>) {
    macro_rules! take {
        ($($f:ident),+) => { $(if from.$f.is_some() { into.$f = from.$f; })+ };
    }
    take!(
        oid,
        object_identifier,
        upn,
        unique_name,
        appid,
        idtyp,
        xms_mirid,
        amr,
        scp,
        appidacr,
        tenant_id,
        iss
    );
}

fn owned_claims(c: Claims<'_>) -> Claims<'static> {
    let own = |v: Option<Cow<'_, str>>| v.map(|s| Cow::Owned(s.into_owned()));
    Claims {
        oid: own(c.oid),
        object_identifier: own(c.object_identifier),
        upn: own(c.upn),
        unique_name: own(c.unique_name),
        appid: own(c.appid),
        idtyp: own(c.idtyp),
        xms_mirid: own(c.xms_mirid),
        amr: own(c.amr),
        scp: own(c.scp),
        appidacr: own(c.appidacr),
        tenant_id: own(c.tenant_id),
        iss: own(c.iss),
    }
}

/// Identity claims read from JSON text, detached from it.
struct OwnedIdentity(Claims<'static>, Option<Box<RawAuthorization<'static>>>);

impl<'de> Deserialize<'de> for OwnedIdentity {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        IdentityField::deserialize(d)
            .map(|f| OwnedIdentity(owned_claims(f.0), f.1.map(|a| Box::new(a.into_owned()))))
    }
}

/// Properties read from JSON text, detached from it.
struct OwnedProperties(RawProperties<'static>);

impl<'de> Deserialize<'de> for OwnedProperties {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        PropertiesField::deserialize(d).map(|p| OwnedProperties(owned_properties(p.0)))
    }
}

/// `properties`: a known-key object (or JSON text of one, from Log Analytics).
pub struct PropertiesField<'a>(pub RawProperties<'a>);

impl<'de: 'a, 'a> Deserialize<'de> for PropertiesField<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(PropertiesVisitor).map(PropertiesField)
    }
}

struct PropertiesVisitor;

impl<'de> Visitor<'de> for PropertiesVisitor {
    type Value = RawProperties<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a properties object")
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(super::lenient::nested_json::<OwnedProperties, E>(v)?
            .map(|p| p.0)
            .unwrap_or_default())
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(RawProperties::default())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut p = RawProperties::default();
        while let Some(key) = map.next_key::<super::lenient::Key<'de>>()? {
            apply_property(&mut p, &key, &mut map)?;
        }
        Ok(p)
    }
}

/// Reads one `properties` member into `p` (shared with the Log Analytics decoder,
/// whose `Properties` column holds the same object).
pub fn apply_property<'de, A: MapAccess<'de>>(
    p: &mut RawProperties<'de>,
    key: &str,
    map: &mut A,
) -> Result<(), A::Error> {
    let text = |map: &mut A| map.next_value::<LenientStr<'de>>().map(|v| v.0);
    let flag = |map: &mut A| map.next_value::<LenientBool>().map(|v| v.0);
    // Azure's own spelling first; other casings fall through to the slow path.
    match key {
        "id" => p.id = text(map)?,
        "requestUri" => p.request_uri = text(map)?,
        "clientInfo" => p.client_info = text(map)?,
        "httpStatusCode" => p.http_status = map.next_value::<LenientNum>()?.0,
        "isAccessPolicyMatch" => p.is_access_policy_match = flag(map)?,
        "isRbacAuthorized" => p.is_rbac_authorized = flag(map)?,
        "tlsVersion" => p.tls_version = text(map)?,
        "keyProperties"
        | "secretProperties"
        | "certificateProperties"
        | "certificatePolicyProperties" => skip(map)?,
        _ => return apply_property_slow(p, key, map),
    }
    Ok(())
}

fn apply_property_slow<'de, A: MapAccess<'de>>(
    p: &mut RawProperties<'de>,
    key: &str,
    map: &mut A,
) -> Result<(), A::Error> {
    let eq = |want: &str| key.eq_ignore_ascii_case(want);
    let text = |map: &mut A| map.next_value::<LenientStr<'de>>().map(|v| v.0);
    let flag = |map: &mut A| map.next_value::<LenientBool>().map(|v| v.0);
    if eq("id") {
        p.id = text(map)?;
    } else if eq("requestUri") {
        p.request_uri = text(map)?;
    } else if eq("clientInfo") {
        p.client_info = text(map)?;
    } else if eq("httpStatusCode") {
        p.http_status = map.next_value::<LenientNum>()?.0;
    } else if eq("isAccessPolicyMatch") {
        p.is_access_policy_match = flag(map)?;
    } else if eq("isRbacAuthorized") {
        p.is_rbac_authorized = flag(map)?;
    } else if eq("isAddressAuthorized") {
        p.is_address_authorized = flag(map)?;
    } else if eq("subnetId") {
        p.subnet_id = text(map)?;
    } else if eq("tlsVersion") {
        p.tls_version = text(map)?;
    } else if eq("properties") {
        p.vault_config = map
            .next_value::<ObjectOrJson<VaultConfig>>()?
            .0
            .map(Box::new);
    } else if eq("addedAccessPolicy") {
        p.added_policy = map
            .next_value::<ObjectOrJson<AccessPolicyEntry>>()?
            .0
            .map(Box::new);
    } else if eq("removedAccessPolicy") {
        p.removed_policy = map
            .next_value::<ObjectOrJson<AccessPolicyEntry>>()?
            .0
            .map(Box::new);
    } else if !apply_activity_property(&mut p.activity, key, map)? {
        skip(map)?;
    }
    Ok(())
}

fn owned_properties(p: RawProperties<'_>) -> RawProperties<'static> {
    let own = |v: Option<Cow<'_, str>>| v.map(|s| Cow::Owned(s.into_owned()));
    RawProperties {
        id: own(p.id),
        request_uri: own(p.request_uri),
        client_info: own(p.client_info),
        http_status: p.http_status,
        is_access_policy_match: p.is_access_policy_match,
        is_rbac_authorized: p.is_rbac_authorized,
        is_address_authorized: p.is_address_authorized,
        subnet_id: own(p.subnet_id),
        tls_version: own(p.tls_version),
        vault_config: p.vault_config,
        added_policy: p.added_policy,
        removed_policy: p.removed_policy,
        activity: owned_props(p.activity),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claim_names_in_every_spelling() {
        let table = [
            ("oid", "oid"),
            (
                "http://schemas.microsoft.com/identity/claims/objectidentifier",
                "objectidentifier",
            ),
            (
                "http_schemas_microsoft_com_identity_claims_objectidentifier",
                "objectidentifier",
            ),
            (
                "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn",
                "upn",
            ),
            (
                "http_schemas_xmlsoap_org_ws_2005_05_identity_claims_upn",
                "upn",
            ),
            ("xms_mirid", "xms_mirid"),
            (
                "http_schemas_microsoft_com_claims_authnmethodsreferences",
                "authnmethodsreferences",
            ),
        ];
        for (name, want) in table {
            assert_eq!(canonical_claim_name(name), want);
        }
        // A multi-byte character across byte 5 is not a prefix match (and no panic).
        assert_eq!(canonical_claim_name("abcdéfgh"), "abcdéfgh");
    }

    #[test]
    fn keys_match_case_insensitively_and_text_is_borrowed() {
        let json = r#"{"TIME":"2024-01-01T00:00:00Z","resourceid":"/X/VAULTS/V","OperationName":"SecretGet",
            "identity":{"claim":{"oid":"o1","http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn":"u@x"}},
            "properties":{"httpStatusCode":"403","isRbacAuthorized":false,"id":"https://v.vault.azure.net/secrets/s"},
            "durationMs":"14.5","extra":{"deep":[1,2,3]}}"#;
        let rec: RawRecord = serde_json::from_str(json).unwrap();
        assert!(matches!(rec.time, Some(Cow::Borrowed(_))));
        assert_eq!(rec.resource_id.as_deref(), Some("/X/VAULTS/V"));
        assert_eq!(rec.claims.oid.as_deref(), Some("o1"));
        assert_eq!(rec.claims.upn.as_deref(), Some("u@x"));
        assert_eq!(rec.props.http_status, Some(403.0));
        assert_eq!(rec.props.is_rbac_authorized, Some(false));
        assert_eq!(rec.duration_ms, Some(14.5));
    }

    #[test]
    fn identity_shapes() {
        for (json, oid) in [
            (r#"{"identity":{}}"#, None),
            (r#"{"identity":"{\"claim\":{\"oid\":\"a\"}}"}"#, Some("a")),
            (r#"{"identity":"someone"}"#, None),
            (r#"{"identity":null}"#, None),
            (r#"{"identity":{"oid":"b"}}"#, Some("b")),
            (r#"{"identity":[1]}"#, None),
        ] {
            let rec: RawRecord = serde_json::from_str(json).unwrap();
            assert_eq!(rec.claims.oid.as_deref(), oid, "{json}");
        }
    }
}
