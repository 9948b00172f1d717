//! Lenient serde helpers for fields whose JSON type varies between log shapes.
//!
//! Real Key Vault data disagrees with itself: `durationMs` is a string in resource
//! logs and a number in Log Analytics, booleans arrive as `"True"` in CSV-derived
//! JSON, permission lists are arrays in one shape and JSON text in another, and the
//! Activity Log REST shape wraps names in `{"value": …}`. These helpers accept every
//! spelling we have seen and never fail on a type mismatch: an unusable value is
//! simply absent, so one odd field never costs a whole record.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeOwned, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

/// A string that may arrive as a string, number, boolean, array of strings (joined
/// with spaces) or `{"value": "…"}`; `null` and other objects give `None`.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct LenientStr<'a>(pub Option<Cow<'a, str>>);

impl<'de: 'a, 'a> Deserialize<'de> for LenientStr<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(LenientStrVisitor).map(LenientStr)
    }
}

struct LenientStrVisitor;

impl<'de> Visitor<'de> for LenientStrVisitor {
    type Value = Option<Cow<'de, str>>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string-like value")
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Some(Cow::Borrowed(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Some(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(Some(Cow::Owned(v)))
    }
    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Some(Cow::Borrowed(if v { "true" } else { "false" })))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Some(Cow::Owned(v.to_string())))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Some(Cow::Owned(v.to_string())))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Some(Cow::Owned(v.to_string())))
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut joined = String::new();
        while let Some(LenientStr(item)) = seq.next_element::<LenientStr<'de>>()? {
            if let Some(item) = item {
                if !joined.is_empty() {
                    joined.push(' ');
                }
                joined.push_str(&item);
            }
        }
        Ok((!joined.is_empty()).then_some(Cow::Owned(joined)))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = None;
        while let Some(key) = map.next_key::<Key<'de>>()? {
            if key.eq_ignore_ascii_case("value") {
                out = map.next_value::<LenientStr<'de>>()?.0;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(out)
    }
}

/// A map key borrowed from the input when it has no escapes.
///
/// serde's own `Cow<str>` always allocates an owned `String`; keys are read for
/// every member of every record, so this type keeps them borrowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key<'a>(pub Cow<'a, str>);

impl std::ops::Deref for Key<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Key<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

/// A number that may arrive as a number or as numeric text (`"78"`, `"14.2187"`).
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct LenientNum(pub Option<f64>);

impl<'de> Deserialize<'de> for LenientNum {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(LenientNumVisitor).map(LenientNum)
    }
}

struct LenientNumVisitor;

impl<'de> Visitor<'de> for LenientNumVisitor {
    type Value = Option<f64>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a number or numeric text")
    }
    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Some(v as f64))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Some(v as f64))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Some(v).filter(|v| v.is_finite()))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(parse_num(v))
    }
    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(None)
    }
}

/// Parses numeric text leniently.
pub fn parse_num(text: &str) -> Option<f64> {
    // Small integers (`"78"`, status codes) are the common case: no float parser.
    let b = text.as_bytes();
    if !b.is_empty() && b.len() <= 9 && b.iter().all(u8::is_ascii_digit) {
        return Some(
            b.iter()
                .fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0'))
                .into(),
        );
    }
    text.trim().parse::<f64>().ok().filter(|v| v.is_finite())
}

/// A boolean that may arrive as a boolean, `"true"`/`"True"`/`"1"` or a number.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct LenientBool(pub Option<bool>);

impl<'de> Deserialize<'de> for LenientBool {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(LenientBoolVisitor).map(LenientBool)
    }
}

struct LenientBoolVisitor;

impl<'de> Visitor<'de> for LenientBoolVisitor {
    type Value = Option<bool>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a boolean or boolean text")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Some(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(match v {
            0 => Some(false),
            1 => Some(true),
            _ => None,
        })
    }
    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(match v {
            0 => Some(false),
            1 => Some(true),
            _ => None,
        })
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(parse_bool(v))
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(None)
    }
}

/// A nested object that may also arrive as JSON text (Log Analytics dynamic
/// columns), read straight into `T`; an unusable value gives `None`.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectOrJson<T>(pub Option<T>);

impl<'de, T: DeserializeOwned> Deserialize<'de> for ObjectOrJson<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: DeserializeOwned> Visitor<'de> for V<T> {
            type Value = Option<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object or JSON text")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                // Read straight into `T`: the types used here (vault configuration,
                // access-policy entries) take every field leniently, so a field of an
                // unexpected type cannot fail the record.
                T::deserialize(de::value::MapAccessDeserializer::new(map)).map(Some)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                nested_json(v)
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
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
        d.deserialize_any(V(std::marker::PhantomData))
            .map(ObjectOrJson)
    }
}

/// The message of the error that refuses JSON text (inside a string value) nested
/// past serde_json's recursion limit; [`super::reject::reason_for_json_error`] and
/// the CSV decoder turn it into `too_deep`.
pub const TOO_DEEP: &str = "recursion limit exceeded in JSON text";

/// Whether an error is serde_json's recursion limit (or [`TOO_DEEP`]).
pub fn is_too_deep(message: &impl fmt::Display) -> bool {
    message.to_string().contains("recursion limit")
}

/// Parses JSON text found inside a string value (Log Analytics dynamic columns,
/// identity or properties as text): `None` when it is unusable, as lenient fields
/// are, but an error when it nests past the recursion limit, so that hostile nesting
/// is refused as `too_deep` whether it arrives as JSON or as JSON text.
pub fn nested_json<T: DeserializeOwned, E: de::Error>(text: &str) -> Result<Option<T>, E> {
    match serde_json::from_str(text) {
        Ok(value) => Ok(Some(value)),
        Err(e) if is_too_deep(&e) => Err(E::custom(TOO_DEEP)),
        Err(_) => Ok(None),
    }
}

/// Parses boolean text leniently.
pub fn parse_bool(text: &str) -> Option<bool> {
    match text.trim() {
        t if t.eq_ignore_ascii_case("true") || t == "1" => Some(true),
        t if t.eq_ignore_ascii_case("false") || t == "0" => Some(false),
        _ => None,
    }
}

/// `deserialize_with` for an optional owned string.
pub fn opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(LenientStr::deserialize(d)?
        .0
        .map(Cow::into_owned)
        .filter(|s| !s.is_empty()))
}

/// `deserialize_with` for an optional lower-cased owned string (GUIDs).
pub fn opt_lower_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(opt_string(d)?.map(|s| s.to_ascii_lowercase()))
}

/// `deserialize_with` for an optional boolean.
pub fn opt_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    Ok(LenientBool::deserialize(d)?.0)
}

/// `deserialize_with` for an optional small count.
pub fn opt_u32<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    Ok(LenientNum::deserialize(d)?
        .0
        .filter(|v| *v >= 0.0 && *v <= f64::from(u32::MAX))
        .map(|v| v as u32))
}

/// `deserialize_with` for the SKU: `{"Family":"A","Name":"standard"}` or a name.
pub fn sku_name<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let value = serde_json::Value::deserialize(d)?;
    Ok(match value {
        serde_json::Value::String(s) if s.trim_start().starts_with('{') => {
            serde_json::from_str::<serde_json::Value>(&s)
                .ok()
                .and_then(|v| sku_from_object(&v))
        }
        serde_json::Value::String(s) => Some(s),
        other => sku_from_object(&other),
    })
}

fn sku_from_object(v: &serde_json::Value) -> Option<String> {
    let map = v.as_object()?;
    map.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("name"))
        .and_then(|(_, v)| v.as_str())
        .map(str::to_owned)
}

/// `deserialize_with` for a nested object that may also arrive as JSON text (Log
/// Analytics dynamic columns); anything unusable gives `None`.
pub fn opt_object_or_json<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    let value = serde_json::Value::deserialize(d)?;
    Ok(object_or_json(value))
}

/// Converts an object, or JSON text holding one, into `T`.
pub fn object_or_json<T: DeserializeOwned>(value: serde_json::Value) -> Option<T> {
    match value {
        serde_json::Value::Null => None,
        serde_json::Value::String(text) => serde_json::from_str(&text).ok(),
        other => serde_json::from_value(other).ok(),
    }
}

/// `deserialize_with` for access-policy permissions: an object, or JSON text of one.
pub fn permissions<'de, D: Deserializer<'de>>(d: D) -> Result<crate::event::Permissions, D::Error> {
    Ok(ObjectOrJson::<crate::event::Permissions>::deserialize(d)?
        .0
        .unwrap_or_default())
}

/// `deserialize_with` for firewall rules: `[{"value":"1.2.3.4/32"}]`, `["1.2.3.4"]`,
/// `[{"id":"/subscriptions/…/subnets/x"}]` or JSON text of any of these.
pub fn rule_values<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let value = serde_json::Value::deserialize(d)?;
    Ok(string_list(value, &["value", "id"]))
}

/// `deserialize_with` for permission lists: an array, JSON text of an array, or a
/// comma/space separated string; lower-cased.
pub fn permission_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let value = serde_json::Value::deserialize(d)?;
    let mut list = string_list(value, &[]);
    list.iter_mut().for_each(|p| p.make_ascii_lowercase());
    Ok(list)
}

/// Flattens a JSON value into a list of strings.
pub fn string_list(value: serde_json::Value, object_keys: &[&str]) -> Vec<String> {
    use serde_json::Value;
    match value {
        Value::Array(items) => items
            .into_iter()
            .filter_map(|item| match item {
                Value::String(s) => Some(s),
                Value::Object(map) => map
                    .iter()
                    .find(|(k, _)| object_keys.iter().any(|want| k.eq_ignore_ascii_case(want)))
                    .and_then(|(_, v)| v.as_str().map(str::to_owned)),
                _ => None,
            })
            .collect(),
        Value::String(text) => {
            let trimmed = text.trim();
            if trimmed.starts_with('[') {
                serde_json::from_str::<Value>(trimmed)
                    .map(|v| string_list(v, object_keys))
                    .unwrap_or_default()
            } else {
                trimmed
                    .split([',', ' '])
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            }
        }
        _ => Vec::new(),
    }
}

/// Skips a value of any type.
pub fn skip<'de, A: MapAccess<'de>>(map: &mut A) -> Result<(), A::Error> {
    map.next_value::<IgnoredAny>().map(|_| ())
}

/// An error for a value of the wrong shape, for decoders that must fail.
pub fn invalid<E: de::Error>(what: &str) -> E {
    E::custom(format_args!("invalid {what}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenient_values() {
        let s: LenientStr = serde_json::from_str(r#""abc""#).unwrap();
        assert!(matches!(s.0, Some(Cow::Borrowed("abc"))));
        let s: LenientStr =
            serde_json::from_str(r#"{"value":"Administrative","localizedValue":"x"}"#).unwrap();
        assert_eq!(s.0.as_deref(), Some("Administrative"));
        let s: LenientStr = serde_json::from_str(r#"["pwd","mfa"]"#).unwrap();
        assert_eq!(s.0.as_deref(), Some("pwd mfa"));
        let n: LenientNum = serde_json::from_str(r#""14.2187""#).unwrap();
        assert_eq!(n.0, Some(14.2187));
        let n: LenientNum = serde_json::from_str("200").unwrap();
        assert_eq!(n.0, Some(200.0));
        let n: LenientNum = serde_json::from_str(r#""x""#).unwrap();
        assert_eq!(n.0, None);
        let b: LenientBool = serde_json::from_str(r#""True""#).unwrap();
        assert_eq!(b.0, Some(true));
        let b: LenientBool = serde_json::from_str("null").unwrap();
        assert_eq!(b.0, None);
    }

    #[test]
    fn lists_in_every_spelling() {
        let v = |s: &str| serde_json::from_str::<serde_json::Value>(s).unwrap();
        assert_eq!(string_list(v(r#"["get","list"]"#), &[]), ["get", "list"]);
        assert_eq!(
            string_list(v(r#""[\"get\",\"list\"]""#), &[]),
            ["get", "list"]
        );
        assert_eq!(string_list(v(r#""get, list""#), &[]), ["get", "list"]);
        assert_eq!(
            string_list(v(r#"[{"value":"1.2.3.4/32"}]"#), &["value"]),
            ["1.2.3.4/32"]
        );
        assert!(string_list(v("null"), &[]).is_empty());
    }
}
