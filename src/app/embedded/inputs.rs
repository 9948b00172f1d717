//! The records an embedded run publishes: read from files and folders as replay reads
//! them, each record's text kept as it is, its event time and log category read
//! cheaply, then sorted by event time.
//!
//! The records are published as Azure Monitor would export them, so only the shapes
//! Event Hubs carries are taken: resource-log records one per line (Storage archives,
//! JSON Lines) and Event Hubs bodies (`{"records":[…]}`), gzipped or not. Log Analytics
//! exports are query results, not an export stream: replay reads those. A record's
//! `category` picks its hub, as a diagnostic setting does: `AuditEvent` goes to
//! `insights-logs-auditevent`, the Activity Log's categories to
//! `insights-activity-logs`, any other category `C` to `insights-logs-c`. Records are
//! not decoded here: a malformed one is published as it is, and the live pipeline
//! counts it as replay would.
//!
//! Everything is held in memory to be sorted: this is for samples and simulations (the
//! bundled sample is 3 417 records), not for months of archives.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::config::Config;
use crate::decode::{detect_format, Format};
use crate::source::files::{open_input, plan, Input, InputError};

/// The hub Azure names for the Key Vault audit log category.
pub const AUDIT_HUB: &str = "insights-logs-auditevent";
/// The hub Azure names for the Activity Log (every category).
pub const ACTIVITY_HUB: &str = "insights-activity-logs";
/// The Activity Log's categories.
const ACTIVITY_CATEGORIES: &[&str] = &[
    "Administrative",
    "Security",
    "ServiceHealth",
    "Alert",
    "Recommendation",
    "Policy",
    "Autoscale",
    "ResourceHealth",
];

/// Why the inputs cannot be published.
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    /// An input cannot be read.
    #[error(transparent)]
    Input(#[from] InputError),
    /// An input holds a shape Event Hubs does not carry.
    #[error("{path}: a {format} export is not what Azure Monitor streams to Event Hubs; read it with `kvwatch replay`")]
    NotAnExport {
        /// The input.
        path: String,
        /// Its shape.
        format: Format,
    },
    /// Standard input is not taken (a run reads its inputs before it starts).
    #[error("--embedded publishes files and folders, not standard input")]
    Stdin,
}

/// One record to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedRecord {
    /// Its event time, when it has a readable one.
    pub time: Option<DateTime<Utc>>,
    /// The index of its hub in [`Feed::hubs`].
    pub hub: usize,
    /// The record's JSON text, as read.
    pub text: Box<str>,
}

/// The records of the inputs, in event-time order (records without a readable time
/// first, in reading order).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Feed {
    /// The hubs the records go to.
    pub hubs: Vec<String>,
    /// The records.
    pub records: Vec<FeedRecord>,
    /// How many inputs were read.
    pub inputs: usize,
}

impl Feed {
    /// Reads `paths` (files and folders, as replay walks them; gzip expanded within
    /// the config's decompression ratio).
    pub fn load(paths: &[PathBuf], config: &Config) -> Result<Feed, FeedError> {
        let mut feed = Feed::default();
        for group in plan(paths)?.groups {
            for input in &group.inputs {
                let Input::File(path) = input else {
                    return Err(FeedError::Stdin);
                };
                let mut opened = open_input(input, config.pipeline.max_expansion_ratio)?;
                let mut bytes = Vec::new();
                std::io::Read::read_to_end(&mut opened.reader, &mut bytes).map_err(|source| {
                    InputError::Read {
                        path: opened.name.clone(),
                        source,
                    }
                })?;
                feed.add(path, &bytes)?;
                feed.inputs += 1;
            }
        }
        // Stable: records of equal time keep their reading order.
        feed.records.sort_by_key(|r| r.time);
        Ok(feed)
    }

    /// Adds the records of one input.
    pub fn add(&mut self, path: &Path, bytes: &[u8]) -> Result<(), FeedError> {
        let text = String::from_utf8_lossy(bytes);
        match detect_format(bytes) {
            Format::Auto | Format::JsonLines => {
                for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
                    self.push(line);
                }
            }
            Format::EventHubs => self.add_bodies(&text),
            format @ (Format::LogAnalyticsJson | Format::LogAnalyticsCsv) => {
                return Err(FeedError::NotAnExport {
                    path: path.display().to_string(),
                    format,
                })
            }
        }
        Ok(())
    }

    /// Adds the records of Event Hubs bodies, one after the other or one per line. A
    /// body that does not parse is published whole, as one record.
    fn add_bodies(&mut self, text: &str) {
        #[derive(Deserialize)]
        struct Body<'a> {
            #[serde(borrow)]
            records: Vec<&'a RawValue>,
        }
        let mut stream = serde_json::Deserializer::from_str(text).into_iter::<Body<'_>>();
        loop {
            let start = stream.byte_offset();
            match stream.next() {
                None => break,
                Some(Ok(body)) => body.records.iter().for_each(|r| self.push(r.get())),
                Some(Err(_)) => {
                    let rest = text.get(start..).unwrap_or_default().trim();
                    if !rest.is_empty() {
                        self.push(rest);
                    }
                    break;
                }
            }
        }
    }

    fn push(&mut self, text: &str) {
        let probe = serde_json::from_str::<Probe<'_>>(text).ok();
        let time = probe
            .as_ref()
            .and_then(|p| p.time.as_deref().or(p.event_timestamp.as_deref()))
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.to_utc());
        let category = probe
            .as_ref()
            .and_then(|p| p.category.as_ref())
            .map(Category::name);
        let name = hub_for(category);
        let hub = match self.hubs.iter().position(|h| *h == name) {
            Some(index) => index,
            None => {
                self.hubs.push(name);
                self.hubs.len() - 1
            }
        };
        self.records.push(FeedRecord {
            time,
            hub,
            text: text.into(),
        });
    }
}

/// The hub a record of `category` goes to.
pub fn hub_for(category: Option<&str>) -> String {
    match category {
        None => AUDIT_HUB.to_owned(),
        Some(c) if c.eq_ignore_ascii_case("AuditEvent") => AUDIT_HUB.to_owned(),
        Some(c)
            if ACTIVITY_CATEGORIES
                .iter()
                .any(|a| a.eq_ignore_ascii_case(c)) =>
        {
            ACTIVITY_HUB.to_owned()
        }
        Some(c) => format!("insights-logs-{}", c.to_lowercase()),
    }
}

/// The two fields read from every record.
#[derive(Deserialize)]
struct Probe<'a> {
    #[serde(borrow, default)]
    time: Option<Cow<'a, str>>,
    #[serde(borrow, default, rename = "eventTimestamp")]
    event_timestamp: Option<Cow<'a, str>>,
    #[serde(borrow, default, alias = "Category")]
    category: Option<Category<'a>>,
}

/// A category as a string, or as the Activity Log's `{"value": …}`.
#[derive(Deserialize)]
#[serde(untagged)]
enum Category<'a> {
    Text(#[serde(borrow)] Cow<'a, str>),
    Localized {
        #[serde(borrow)]
        value: Cow<'a, str>,
    },
}

impl Category<'_> {
    fn name(&self) -> &str {
        match self {
            Category::Text(name) | Category::Localized { value: name } => name,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_go_to_their_category_hub_in_event_time_order() {
        let mut feed = Feed::default();
        let lines = concat!(
            r#"{"time":"2026-11-02T10:00:02Z","category":"AuditEvent","operationName":"SecretGet"}"#,
            "\n",
            r#"{"time":"2026-11-02T10:00:01Z","category":"Administrative","operationName":"x"}"#,
            "\n\n",
            r#"{"time":"2026-11-02T09:59:59.1234567Z","category":"AuditEvent"}"#,
            "\n",
            r#"not json"#,
            "\n"
        );
        feed.add(Path::new("a.jsonl"), lines.as_bytes()).unwrap();
        let body = r#"{"records":[{"time":"2026-11-02T10:00:00Z","category":{"value":"Policy"}},{"time":"2026-11-02T10:00:03Z","category":"NewCategory"}]}"#;
        feed.add(Path::new("b.json"), body.as_bytes()).unwrap();
        feed.records.sort_by_key(|r| r.time);
        let got: Vec<(&str, Option<String>)> = feed
            .records
            .iter()
            .map(|r| {
                (
                    feed.hubs[r.hub].as_str(),
                    r.time.map(|t| t.format("%H:%M:%S").to_string()),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (AUDIT_HUB, None),
                (AUDIT_HUB, Some("09:59:59".into())),
                (ACTIVITY_HUB, Some("10:00:00".into())),
                (ACTIVITY_HUB, Some("10:00:01".into())),
                (AUDIT_HUB, Some("10:00:02".into())),
                ("insights-logs-newcategory", Some("10:00:03".into())),
            ]
        );
        assert_eq!(&*feed.records[0].text, "not json", "published as it is");
    }

    #[test]
    fn log_analytics_exports_are_refused() {
        let mut feed = Feed::default();
        let csv = "TimeGenerated [UTC],OperationName,ResultType\n2026-11-02,SecretGet,Success\n";
        assert!(matches!(
            feed.add(Path::new("export.csv"), csv.as_bytes()),
            Err(FeedError::NotAnExport { .. })
        ));
    }
}
