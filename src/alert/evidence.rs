//! Alert evidence: a JSON object with conventional keys, bounded in size.
//!
//! Detectors describe what they saw with these keys where they apply: `observed`
//! (what happened), `baseline` (what was learned), `expected` (the threshold or
//! probability it broke), `objects`, `addresses`, `countries`, `places`,
//! `correlation_ids`, `operations`, `window`. Lists are capped at
//! [`MAX_LIST`] items (with a `…_total` count beside them) and strings at
//! [`MAX_TEXT`] characters, so one alert can never grow without bound.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The most items any evidence list keeps.
pub const MAX_LIST: usize = 10;
/// The most characters any evidence string keeps.
pub const MAX_TEXT: usize = 512;

/// The evidence object of an alert.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Evidence(pub Map<String, Value>);

impl Evidence {
    /// Empty evidence.
    pub fn new() -> Self {
        Evidence(Map::new())
    }

    /// Sets a key (bounded on the way in).
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.insert(key, value);
        self
    }

    /// Sets a key (bounded on the way in).
    pub fn insert(&mut self, key: &str, value: impl Into<Value>) {
        let value = value.into();
        if let Value::Array(items) = &value {
            if items.len() > MAX_LIST {
                self.0
                    .insert(format!("{key}_total"), Value::from(items.len()));
            }
        }
        self.0.insert(key.to_owned(), bound(value, 0));
    }

    /// A list of strings, capped.
    pub fn with_list<I, S>(self, key: &str, items: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let items: Vec<Value> = items.into_iter().map(|s| Value::String(s.into())).collect();
        self.with(key, Value::Array(items))
    }

    /// A value by key.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key)
    }
}

fn bound(value: Value, depth: usize) -> Value {
    match value {
        Value::String(s) => Value::String(truncate(s)),
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .take(MAX_LIST)
                .map(|v| bound(v, depth + 1))
                .collect(),
        ),
        Value::Object(map) if depth < 4 => Value::Object(
            map.into_iter()
                .take(4 * MAX_LIST)
                .map(|(k, v)| (k, bound(v, depth + 1)))
                .collect(),
        ),
        Value::Object(_) => Value::String("…".into()),
        other => other,
    }
}

fn truncate(mut s: String) -> String {
    if s.chars().count() > MAX_TEXT {
        let cut = s.char_indices().nth(MAX_TEXT).map_or(s.len(), |(i, _)| i);
        s.truncate(cut);
        s.push('…');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_and_text_are_bounded() {
        let e = Evidence::new()
            .with_list("objects", (0..25).map(|i| format!("secret/{i}")))
            .with("note", "x".repeat(2000));
        assert_eq!(
            e.get("objects").and_then(Value::as_array).map(Vec::len),
            Some(MAX_LIST)
        );
        assert_eq!(e.get("objects_total"), Some(&Value::from(25)));
        let note = e.get("note").and_then(Value::as_str).unwrap();
        assert_eq!(note.chars().count(), MAX_TEXT + 1);
    }
}
