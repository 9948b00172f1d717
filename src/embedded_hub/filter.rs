//! The Event Hubs selector filter, which picks where a receiver starts.
//!
//! A receiver's source carries an `apache.org:selector-filter:string` entry
//! whose value is an expression such as `amqp.annotation.x-opt-offset > '-1'`.
//! The Rust SDK writes `>'5'` and `>='5'` (no blank) for explicit positions
//! and `> '-1'` / `> '@latest'` for earliest and latest, so blanks around the
//! operator are optional here.

use fe2o3_amqp::types::{messaging::Source, primitives::Value};

const OFFSET: &str = "amqp.annotation.x-opt-offset";
const SEQUENCE_NUMBER: &str = "amqp.annotation.x-opt-sequence-number";
const ENQUEUED_TIME: &str = "amqp.annotation.x-opt-enqueued-time";
const LATEST: &str = "@latest";

/// Where a receiver starts, as its filter asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StartFilter {
    /// Only events stored after the receiver attached.
    Latest,
    /// Events whose offset is after (or at, when inclusive) `offset`.
    /// `-1` therefore means the start of the partition.
    Offset { offset: i64, inclusive: bool },
    /// Events whose sequence number is after (or at) `sequence_number`.
    SequenceNumber {
        sequence_number: i64,
        inclusive: bool,
    },
    /// Events enqueued after (or at) `millis` since the Unix epoch.
    EnqueuedTime { millis: i64, inclusive: bool },
}

/// Why a filter expression was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unsupported selector filter `{0}`")]
pub(crate) struct FilterError(pub(crate) String);

impl StartFilter {
    /// Reads the start position from a receiver's source.
    ///
    /// A source without a selector filter starts at the latest event; the
    /// SDK always sends one.
    pub(crate) fn from_source(source: Option<&Source>) -> Result<Self, FilterError> {
        let filters = source.and_then(|source| source.filter.as_ref());
        let Some(filters) = filters else {
            return Ok(Self::Latest);
        };
        match filters.values().find_map(selector_expression) {
            Some(expression) => Self::parse(expression),
            None => Ok(Self::Latest),
        }
    }

    /// Parses one selector expression.
    pub(crate) fn parse(expression: &str) -> Result<Self, FilterError> {
        let refuse = || FilterError(expression.to_string());
        let (annotation, rest) = expression.split_once('>').ok_or_else(refuse)?;
        let (inclusive, quoted) = match rest.strip_prefix('=') {
            Some(quoted) => (true, quoted),
            None => (false, rest),
        };
        let value = quoted
            .trim()
            .strip_prefix('\'')
            .and_then(|v| v.strip_suffix('\''))
            .ok_or_else(refuse)?;
        let number = || value.parse::<i64>().map_err(|_| refuse());
        match annotation.trim() {
            OFFSET if value == LATEST => Ok(Self::Latest),
            OFFSET => Ok(Self::Offset {
                offset: number()?,
                inclusive,
            }),
            SEQUENCE_NUMBER => Ok(Self::SequenceNumber {
                sequence_number: number()?,
                inclusive,
            }),
            ENQUEUED_TIME => Ok(Self::EnqueuedTime {
                millis: number()?,
                inclusive,
            }),
            _ => Err(refuse()),
        }
    }
}

/// Returns the expression of a filter-set entry if it is a selector filter.
///
/// The entry is normally described (`apache.org:selector-filter:string`), but
/// a bare string is accepted too, as some clients send the legacy form.
fn selector_expression(value: &Value) -> Option<&str> {
    let inner = match value {
        Value::Described(described) => &described.value,
        other => other,
    };
    match inner {
        Value::String(expression) if expression.trim_start().starts_with("amqp.annotation.") => {
            Some(expression.as_str())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_form_the_sdk_writes() {
        assert_eq!(
            StartFilter::parse("amqp.annotation.x-opt-offset > '-1'"),
            Ok(StartFilter::Offset {
                offset: -1,
                inclusive: false
            })
        );
        assert_eq!(
            StartFilter::parse("amqp.annotation.x-opt-offset > '@latest'"),
            Ok(StartFilter::Latest)
        );
        assert_eq!(
            StartFilter::parse("amqp.annotation.x-opt-sequence-number >='12'"),
            Ok(StartFilter::SequenceNumber {
                sequence_number: 12,
                inclusive: true
            })
        );
        assert_eq!(
            StartFilter::parse("amqp.annotation.x-opt-enqueued-time >'1700000000000'"),
            Ok(StartFilter::EnqueuedTime {
                millis: 1_700_000_000_000,
                inclusive: false
            })
        );
        assert_eq!(
            StartFilter::parse("amqp.annotation.x-opt-offset >='640'"),
            Ok(StartFilter::Offset {
                offset: 640,
                inclusive: true
            })
        );
    }

    #[test]
    fn refuses_what_it_does_not_understand() {
        assert!(StartFilter::parse("amqp.annotation.x-opt-offset = '5'").is_err());
        assert!(StartFilter::parse("amqp.annotation.x-opt-offset > 5").is_err());
        assert!(StartFilter::parse("amqp.annotation.other > '5'").is_err());
    }
}
