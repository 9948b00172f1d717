//! The Activity Log's own fields, gathered while a record is parsed.
//!
//! The resource-log deserializer ([`RecordVisitor`](crate::decode::raw)) reads every
//! record once, whatever its log. Fields only the Activity Log has (the REST shape's
//! `status`, `subStatus`, `caller`, `authorization`, `httpRequest`; the
//! `AzureActivity` columns; `properties.requestbody` …) go into a [`RawActivity`] or
//! [`RawActivityProps`], boxed and allocated only when such a field appears, so an
//! AuditEvent record never pays for them. Text stays borrowed from the input unless
//! it arrives as JSON text inside a string (Log Analytics dynamic columns).

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

use crate::decode::lenient::{nested_json, Key, LenientStr};

/// Top-level Activity Log fields (resource-log, REST and `AzureActivity` spellings).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct RawActivity<'a> {
    /// `OperationNameValue` (Log Analytics; wins over the localized `OperationName`).
    pub operation_value: Option<Cow<'a, str>>,
    /// `CategoryValue` (Log Analytics; wins over `Category`).
    pub category_value: Option<Cow<'a, str>>,
    /// `status.value` (REST) or `ActivityStatusValue` (Log Analytics).
    pub status: Option<Cow<'a, str>>,
    /// `subStatus.value` (REST) or `ActivitySubstatusValue` (Log Analytics).
    pub sub_status: Option<Cow<'a, str>>,
    /// `eventTimestamp` (REST).
    pub event_timestamp: Option<Cow<'a, str>>,
    /// `caller` (REST, Log Analytics): a UPN or an object id.
    pub caller: Option<Cow<'a, str>>,
    /// `identity.authorization`, `authorization` (REST) or `Authorization_d`.
    pub authorization: Option<RawAuthorization<'a>>,
    /// `httpRequest.clientIpAddress` (REST) or `HTTPRequest` (Log Analytics).
    pub client_ip: Option<Cow<'a, str>>,
    /// `Hierarchy` (Log Analytics column).
    pub hierarchy: Option<Cow<'a, str>>,
}

/// The Activity Log members of `properties`.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct RawActivityProps<'a> {
    /// `statusCode`: `OK`, `Created`, `Conflict` …
    pub status_code: Option<Cow<'a, str>>,
    /// `statusMessage`: JSON text of the error of a failure.
    pub status_message: Option<Cow<'a, str>>,
    /// `entity`: the resource acted on.
    pub entity: Option<Cow<'a, str>>,
    /// `hierarchy`: tenant, management groups, subscription.
    pub hierarchy: Option<Cow<'a, str>>,
    /// `requestbody`: JSON text of the request.
    pub request_body: Option<Cow<'a, str>>,
    /// `responseBody`: JSON text of the response.
    pub response_body: Option<Cow<'a, str>>,
}

/// `authorization` with its `evidence` flattened in.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct RawAuthorization<'a> {
    /// `action`.
    pub action: Option<Cow<'a, str>>,
    /// `scope`.
    pub scope: Option<Cow<'a, str>>,
    /// `evidence.role`.
    pub role: Option<Cow<'a, str>>,
    /// `evidence.roleAssignmentScope`.
    pub role_assignment_scope: Option<Cow<'a, str>>,
    /// `evidence.roleAssignmentId`.
    pub role_assignment_id: Option<Cow<'a, str>>,
    /// `evidence.roleDefinitionId`.
    pub role_definition_id: Option<Cow<'a, str>>,
    /// `evidence.principalId`.
    pub principal_id: Option<Cow<'a, str>>,
    /// `evidence.principalType`.
    pub principal_type: Option<Cow<'a, str>>,
}

/// Reads one Activity Log member of `properties` into `p`; `false` when the key is
/// not one (the caller skips the value).
pub fn apply_activity_property<'de, A: MapAccess<'de>>(
    p: &mut Option<Box<RawActivityProps<'de>>>,
    key: &str,
    map: &mut A,
) -> Result<bool, A::Error> {
    let eq = |want: &str| key.eq_ignore_ascii_case(want);
    type Field<'d> = for<'p> fn(&'p mut RawActivityProps<'d>) -> &'p mut Option<Cow<'d, str>>;
    let field: Field<'de> = if eq("statusCode") {
        |p| &mut p.status_code
    } else if eq("statusMessage") {
        |p| &mut p.status_message
    } else if eq("entity") {
        |p| &mut p.entity
    } else if eq("hierarchy") {
        |p| &mut p.hierarchy
    } else if eq("requestbody") {
        |p| &mut p.request_body
    } else if eq("responseBody") {
        |p| &mut p.response_body
    } else {
        return Ok(false);
    };
    let value = map.next_value::<LenientStr<'de>>()?.0;
    *field(p.get_or_insert_default()) = value;
    Ok(true)
}

/// Copies what `from` has and `into` lacks.
pub fn fill_missing_props<'a>(
    into: &mut Option<Box<RawActivityProps<'a>>>,
    from: Option<Box<RawActivityProps<'a>>>,
) {
    let Some(from) = from else { return };
    let Some(into) = into.as_mut() else {
        *into = Some(from);
        return;
    };
    let from = *from;
    macro_rules! fill {
        ($($f:ident),+) => { $(if into.$f.is_none() { into.$f = from.$f; })+ };
    }
    fill!(
        status_code,
        status_message,
        entity,
        hierarchy,
        request_body,
        response_body
    );
}

/// Detaches properties read from JSON text.
pub fn owned_props(p: Option<Box<RawActivityProps<'_>>>) -> Option<Box<RawActivityProps<'static>>> {
    p.map(|p| {
        Box::new(RawActivityProps {
            status_code: own(p.status_code),
            status_message: own(p.status_message),
            entity: own(p.entity),
            hierarchy: own(p.hierarchy),
            request_body: own(p.request_body),
            response_body: own(p.response_body),
        })
    })
}

fn own(v: Option<Cow<'_, str>>) -> Option<Cow<'static, str>> {
    v.map(|s| Cow::Owned(s.into_owned()))
}

impl<'a> RawAuthorization<'a> {
    /// Detaches from the input.
    pub fn into_owned(self) -> RawAuthorization<'static> {
        RawAuthorization {
            action: own(self.action),
            scope: own(self.scope),
            role: own(self.role),
            role_assignment_scope: own(self.role_assignment_scope),
            role_assignment_id: own(self.role_assignment_id),
            role_definition_id: own(self.role_definition_id),
            principal_id: own(self.principal_id),
            principal_type: own(self.principal_type),
        }
    }

    fn slot<'s>(&'s mut self, key: &str) -> AuthSlot<'s, 'a> {
        let eq = |want: &str| key.eq_ignore_ascii_case(want);
        AuthSlot::Text(if eq("action") {
            &mut self.action
        } else if eq("scope") {
            &mut self.scope
        } else if eq("role") {
            &mut self.role
        } else if eq("roleAssignmentScope") {
            &mut self.role_assignment_scope
        } else if eq("roleAssignmentId") {
            &mut self.role_assignment_id
        } else if eq("roleDefinitionId") {
            &mut self.role_definition_id
        } else if eq("principalId") {
            &mut self.principal_id
        } else if eq("principalType") {
            &mut self.principal_type
        } else if eq("evidence") {
            return AuthSlot::Evidence;
        } else {
            return AuthSlot::Skip;
        })
    }
}

enum AuthSlot<'s, 'a> {
    Text(&'s mut Option<Cow<'a, str>>),
    Evidence,
    Skip,
}

/// `authorization`: an object (evidence nested), JSON text of one, or anything else
/// (no authorization).
pub struct AuthorizationField<'a>(pub Option<RawAuthorization<'a>>);

impl<'de: 'a, 'a> Deserialize<'de> for AuthorizationField<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut auth = RawAuthorization::default();
        let seen = d.deserialize_any(AuthVisitor { auth: &mut auth })?;
        Ok(AuthorizationField(seen.then_some(auth)))
    }
}

struct AuthVisitor<'r, 'a> {
    auth: &'r mut RawAuthorization<'a>,
}

impl<'de> Visitor<'de> for AuthVisitor<'_, 'de> {
    /// Whether an object was read.
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an authorization object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        while let Some(key) = map.next_key::<Key<'de>>()? {
            match self.auth.slot(&key) {
                AuthSlot::Text(slot) => {
                    if let Some(v) = map.next_value::<LenientStr<'de>>()?.0 {
                        *slot = Some(v);
                    }
                }
                AuthSlot::Evidence => {
                    map.next_value_seed(EvidenceSeed {
                        auth: &mut *self.auth,
                    })?;
                }
                AuthSlot::Skip => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(true)
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<bool, E> {
        // JSON text (Log Analytics `Authorization`): parsed and detached.
        match nested_json::<OwnedAuthorization, E>(v)? {
            Some(OwnedAuthorization(Some(owned))) => {
                *self.auth = owned;
                Ok(true)
            }
            _ => Ok(false),
        }
    }
    fn visit_unit<E>(self) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_none<E>(self) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_bool<E>(self, _: bool) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_i64<E>(self, _: i64) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_u64<E>(self, _: u64) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_f64<E>(self, _: f64) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<bool, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(false)
    }
}

/// `evidence`: its members land in the same authorization.
struct EvidenceSeed<'r, 'a> {
    auth: &'r mut RawAuthorization<'a>,
}

impl<'de> serde::de::DeserializeSeed<'de> for EvidenceSeed<'_, 'de> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        let mut evidence = RawAuthorization::default();
        if d.deserialize_any(AuthVisitor {
            auth: &mut evidence,
        })? {
            macro_rules! take {
                ($($f:ident),+) => { $(if evidence.$f.is_some() { self.auth.$f = evidence.$f; })+ };
            }
            take!(
                role,
                role_assignment_scope,
                role_assignment_id,
                role_definition_id,
                principal_id,
                principal_type
            );
        }
        Ok(())
    }
}

/// An authorization read from JSON text, detached from it.
struct OwnedAuthorization(Option<RawAuthorization<'static>>);

impl<'de> Deserialize<'de> for OwnedAuthorization {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        AuthorizationField::deserialize(d)
            .map(|a| OwnedAuthorization(a.0.map(RawAuthorization::into_owned)))
    }
}

/// `httpRequest`: `{"clientIpAddress": …}` or JSON text of it; the address.
pub struct HttpRequestField<'a>(pub Option<Cow<'a, str>>);

impl<'de: 'a, 'a> Deserialize<'de> for HttpRequestField<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(HttpRequestVisitor).map(HttpRequestField)
    }
}

struct HttpRequestVisitor;

impl<'de> Visitor<'de> for HttpRequestVisitor {
    type Value = Option<Cow<'de, str>>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an HTTP request object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut ip = None;
        while let Some(key) = map.next_key::<Key<'de>>()? {
            if key.eq_ignore_ascii_case("clientIpAddress") {
                ip = map.next_value::<LenientStr<'de>>()?.0;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(ip)
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(nested_json::<OwnedHttpRequest, E>(v)?.and_then(|r| r.0))
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }
}

struct OwnedHttpRequest(Option<Cow<'static, str>>);

impl<'de> Deserialize<'de> for OwnedHttpRequest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        HttpRequestField::deserialize(d).map(|r| OwnedHttpRequest(own(r.0)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorization_in_every_spelling() {
        let object = r#"{"action":"Microsoft.Authorization/roleAssignments/write","scope":"/subscriptions/s",
            "evidence":{"role":"Owner","roleAssignmentId":"ra","principalType":"User","principalId":"p","extra":[1]}}"#;
        let text = serde_json::to_string(object).unwrap();
        for input in [object.to_owned(), text] {
            let AuthorizationField(auth) = serde_json::from_str(&input).unwrap();
            let auth = auth.expect("an authorization");
            assert_eq!(auth.scope.as_deref(), Some("/subscriptions/s"));
            assert_eq!(auth.role.as_deref(), Some("Owner"));
            assert_eq!(auth.role_assignment_id.as_deref(), Some("ra"));
            assert_eq!(auth.principal_id.as_deref(), Some("p"));
        }
        for odd in ["null", "7", "[1,2]", r#""not json""#, r#"{"evidence":"x"}"#] {
            let AuthorizationField(auth) = serde_json::from_str(odd).unwrap();
            assert!(auth.is_none_or(|a| a.role.is_none()), "{odd}");
        }
    }

    #[test]
    fn client_addresses() {
        for (input, want) in [
            (
                r#"{"clientRequestId":"x","clientIpAddress":"10.1.2.3","method":"PUT"}"#,
                Some("10.1.2.3"),
            ),
            (r#""{\"clientIpAddress\":\"10.1.2.4\"}""#, Some("10.1.2.4")),
            ("null", None),
            (r#""""#, None),
        ] {
            let HttpRequestField(ip) = serde_json::from_str(input).unwrap();
            assert_eq!(ip.as_deref(), want, "{input}");
        }
    }
}
