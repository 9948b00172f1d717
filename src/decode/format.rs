//! Which decoder an input needs, detected from its first bytes or forced by the user.

use std::fmt;
use std::str::FromStr;

/// The input formats `--format` accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// Detect per input.
    #[default]
    Auto,
    /// One resource-log record per line (Storage `PT1H.json`, any JSON Lines).
    JsonLines,
    /// Event Hubs bodies `{"records":[…]}`, one per line or pretty-printed.
    EventHubs,
    /// Log Analytics rows as JSON: lines, an array, `{"tables":…}` or `{"value":…}`.
    LogAnalyticsJson,
    /// A Log Analytics CSV export.
    LogAnalyticsCsv,
}

impl Format {
    /// The names `--format` accepts.
    pub const NAMES: &'static [&'static str] = &[
        "auto",
        "json-lines",
        "event-hubs",
        "log-analytics-json",
        "log-analytics-csv",
    ];
}

impl FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "auto" => Format::Auto,
            "json-lines" | "jsonl" => Format::JsonLines,
            "event-hubs" | "records" => Format::EventHubs,
            "log-analytics-json" => Format::LogAnalyticsJson,
            "log-analytics-csv" | "csv" => Format::LogAnalyticsCsv,
            other => {
                return Err(format!(
                    "unknown format {other:?}; expected one of {}",
                    Format::NAMES.join(", ")
                ))
            }
        })
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Format::Auto => "auto",
            Format::JsonLines => "json-lines",
            Format::EventHubs => "event-hubs",
            Format::LogAnalyticsJson => "log-analytics-json",
            Format::LogAnalyticsCsv => "log-analytics-csv",
        };
        f.write_str(name)
    }
}

/// Detects the format of a decompressed input from its first JSON value or line.
///
/// - `[` starts a JSON array: Log Analytics rows unless its first element looks like
///   a resource-log record;
/// - `{` starts an object: its first key decides (`records` → Event Hubs bodies,
///   `tables`/`value` → a Log Analytics query response); otherwise Log Analytics
///   column names (`TimeGenerated`, `Type`, `_ResourceId`) mean JSON rows, and
///   anything else is resource-log JSON Lines;
/// - anything else is CSV (a header row).
///
/// A byte-order mark, white space and NUL padding before the first value are skipped.
pub fn detect_format(buf: &[u8]) -> Format {
    let start = skip_bom_and_space(buf);
    let rest = &buf[start..];
    match rest.first() {
        None => Format::JsonLines,
        Some(b'[') => match probe_first_object(rest) {
            Some(Hint::Row) => Format::LogAnalyticsJson,
            Some(Hint::ResourceLog) => Format::JsonLines,
            _ if looks_like_log_analytics(rest) || !looks_like_resource_log(rest) => {
                Format::LogAnalyticsJson
            }
            _ => Format::JsonLines,
        },
        Some(b'{') => match first_key(rest) {
            Some(k) if k.eq_ignore_ascii_case("records") => Format::EventHubs,
            Some(k) if k.eq_ignore_ascii_case("tables") || k.eq_ignore_ascii_case("value") => {
                Format::LogAnalyticsJson
            }
            _ => match probe_first_object(rest) {
                Some(Hint::Records) => Format::EventHubs,
                Some(Hint::Container | Hint::Row) => Format::LogAnalyticsJson,
                Some(Hint::ResourceLog) => Format::JsonLines,
                None if looks_like_log_analytics(first_line(rest)) => Format::LogAnalyticsJson,
                None => Format::JsonLines,
            },
        },
        Some(_) => Format::LogAnalyticsCsv,
    }
}

fn skip_bom_and_space(buf: &[u8]) -> usize {
    let mut i = if buf.starts_with(&[0xEF, 0xBB, 0xBF]) {
        3
    } else {
        0
    };
    while i < buf.len() && super::framing::is_blank(buf[i]) {
        i += 1;
    }
    i
}

fn first_line(buf: &[u8]) -> &[u8] {
    let end = buf.iter().position(|&b| b == b'\n').unwrap_or(buf.len());
    &buf[..end.min(64 * 1024)]
}

/// The first key of an object, read without parsing the object.
fn first_key(obj: &[u8]) -> Option<&str> {
    let mut i = 1;
    while i < obj.len() && obj[i].is_ascii_whitespace() {
        i += 1;
    }
    if obj.get(i) != Some(&b'"') {
        return None;
    }
    let start = i + 1;
    let len = obj[start..].iter().take(64).position(|&b| b == b'"')?;
    std::str::from_utf8(&obj[start..start + len]).ok()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}

/// What the first decisive top-level key of an object says about its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hint {
    /// `records`: an Event Hubs body.
    Records,
    /// `tables` or `value`: a Log Analytics query response.
    Container,
    /// `TimeGenerated` or `_ResourceId`: a Log Analytics row.
    Row,
    /// `time` or `resourceId`: a resource-log record.
    ResourceLog,
}

fn hint_for_key(key: &str) -> Option<Hint> {
    let eq = |want: &str| key.eq_ignore_ascii_case(want);
    if eq("records") {
        Some(Hint::Records)
    } else if eq("tables") || eq("value") {
        Some(Hint::Container)
    } else if eq("TimeGenerated") || eq("_ResourceId") {
        Some(Hint::Row)
    } else if eq("time") || key == "resourceId" || key == "resourceid" {
        // Not `ResourceId`: that is also an `AzureDiagnostics` column.
        Some(Hint::ResourceLog)
    } else {
        None
    }
}

/// Reads the top-level keys of the first object (the first element, for an array),
/// within the first 64 KiB, until one is decisive. Pretty-printed inputs put their
/// keys on later lines, so the first line alone cannot tell.
fn probe_first_object(buf: &[u8]) -> Option<Hint> {
    let head = &buf[..buf.len().min(64 * 1024)];
    let mut hint = None;
    let mut de = serde_json::Deserializer::from_slice(head);
    // A cut-off head ends in a syntax error; the keys read before it still count.
    let _ = serde::Deserializer::deserialize_any(
        &mut de,
        KeyProbe {
            hint: &mut hint,
            in_array: false,
        },
    );
    hint
}

struct KeyProbe<'h> {
    hint: &'h mut Option<Hint>,
    in_array: bool,
}

impl<'de> serde::de::Visitor<'de> for KeyProbe<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object or an array of objects")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<super::lenient::Key<'de>>()? {
            if let Some(hint) = hint_for_key(&key) {
                *self.hint = Some(hint);
                return Ok(());
            }
            map.next_value::<serde::de::IgnoredAny>()?;
        }
        Ok(())
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        if !self.in_array {
            seq.next_element_seed(KeyProbe {
                hint: self.hint,
                in_array: true,
            })?;
        }
        Ok(())
    }
}

impl<'de> serde::de::DeserializeSeed<'de> for KeyProbe<'_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

fn looks_like_log_analytics(head: &[u8]) -> bool {
    let head = &head[..head.len().min(64 * 1024)];
    contains(head, b"\"TimeGenerated\"") || contains(head, b"\"_ResourceId\"")
}

fn looks_like_resource_log(head: &[u8]) -> bool {
    let head = &head[..head.len().min(64 * 1024)];
    contains(head, b"\"resourceId\"") && contains(head, b"\"time\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detection_table() {
        let table: &[(&str, Format)] = &[
            (r#"{"time":"t","resourceId":"r"}"#, Format::JsonLines),
            ("\u{feff}\n  {\"records\": [", Format::EventHubs),
            ("{\n    \"records\": [\n", Format::EventHubs),
            (
                r#"{"tables":[{"name":"PrimaryResult"}]}"#,
                Format::LogAnalyticsJson,
            ),
            (
                r#"{ "value": [ {"TimeGenerated":"x"} ] }"#,
                Format::LogAnalyticsJson,
            ),
            (
                r#"{"TenantId":"x","TimeGenerated":"y"}"#,
                Format::LogAnalyticsJson,
            ),
            (
                r#"[{"TimeGenerated":"y","OperationName":"SecretGet"}]"#,
                Format::LogAnalyticsJson,
            ),
            (r#"[{"time":"t","resourceId":"r"}]"#, Format::JsonLines),
            (
                "TenantId,TimeGenerated [UTC],OperationName\n",
                Format::LogAnalyticsCsv,
            ),
            ("", Format::JsonLines),
            (
                "{\n \"TenantId\": \"x\",\n \"TimeGenerated\": \"y\"\n}\n",
                Format::LogAnalyticsJson,
            ),
            (
                "{\n \"category\": \"AuditEvent\",\n \"time\": \"y\"\n}\n",
                Format::JsonLines,
            ),
            (
                r#"{"@odata.context":"x","value":[{"TimeGenerated":"y"}]}"#,
                Format::LogAnalyticsJson,
            ),
            (
                r#"{"Category":"AuditEvent","_ResourceId":"/subscriptions/s"}"#,
                Format::LogAnalyticsJson,
            ),
            (
                "[\n {\n  \"Category\": \"AuditEvent\",\n  \"TimeGenerated\": \"y\"\n }\n]",
                Format::LogAnalyticsJson,
            ),
            (
                r#"[{"records":[{"time":"t","resourceId":"r"}]}]"#,
                Format::JsonLines,
            ),
            (
                r#"{"CallerIPAddress":"x","ResourceId":"/S","TimeGenerated":"y"}"#,
                Format::LogAnalyticsJson,
            ),
            (
                r#"{"category":"AuditEvent","resourceid":"/S","time":"y"}"#,
                Format::JsonLines,
            ),
            (
                "TimeGenerated [UTC],OperationName\n",
                Format::LogAnalyticsCsv,
            ),
        ];
        for (input, want) in table {
            assert_eq!(detect_format(input.as_bytes()), *want, "{input}");
        }
    }

    #[test]
    fn names_parse() {
        for name in Format::NAMES {
            let f: Format = name.parse().unwrap();
            assert_eq!(f.to_string(), *name);
        }
        assert!("xml".parse::<Format>().is_err());
    }
}
