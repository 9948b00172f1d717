//! Publishes a [`Feed`] into the embedded hub in event-time order, as Azure Monitor
//! would export it: records in `{"records":[…]}` bodies, each body to the next
//! partition of its hub in turn, either as fast as possible or at the pace of event
//! time (real time multiplied by a speed).
//!
//! Paced, a record is due `(its time − the first record's time) / speed` after the
//! start; the records due together (within a pacing tick) leave as one body per hub.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::inputs::Feed;
use crate::embedded_hub::{EmbeddedHub, HubError};

/// The most records in one body (Azure Monitor's bodies hold tens to hundreds).
const MAX_RECORDS_PER_BODY: usize = 100;
/// The most bytes of records in one body (the service takes 1 MiB).
const MAX_BODY_BYTES: usize = 256 * 1024;
/// Records due within this much wall time leave together.
const TICK: Duration = Duration::from_millis(50);

/// How fast event time passes while publishing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Speed {
    /// As fast as the hub takes them.
    Max,
    /// Real time multiplied by this (1 is real time, 3600 an hour a second).
    Times(f64),
}

impl std::str::FromStr for Speed {
    type Err = String;

    fn from_str(text: &str) -> Result<Speed, String> {
        if text.eq_ignore_ascii_case("max") {
            return Ok(Speed::Max);
        }
        match text.trim_end_matches(['x', 'X']).parse::<f64>() {
            Ok(n) if n.is_finite() && n > 0.0 => Ok(Speed::Times(n)),
            _ => Err(format!(
                "--speed {text:?}: give `max` or a positive multiple of real time (1, 60, 3600)"
            )),
        }
    }
}

impl Speed {
    /// When a record of time `at` is due, after the start, given the first record's time.
    pub fn due(self, first: DateTime<Utc>, at: DateTime<Utc>) -> Duration {
        match self {
            Speed::Max => Duration::ZERO,
            Speed::Times(n) => {
                let seconds = (at - first).num_milliseconds().max(0) as f64 / 1000.0 / n;
                Duration::try_from_secs_f64(seconds).unwrap_or(Duration::MAX)
            }
        }
    }
}

/// What has been published so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Published {
    /// Records published.
    pub records: u64,
    /// Bodies (events) published.
    pub bodies: u64,
    /// The event time of the last record published.
    pub event_time: Option<DateTime<Utc>>,
    /// Whether every record is published.
    pub done: bool,
}

/// Publishes `feed` into `hub` (whose hubs include the feed's) at `speed`, reporting on
/// `progress`, until done or `cancel`.
pub async fn publish(
    feed: Arc<Feed>,
    hub: Arc<EmbeddedHub>,
    speed: Speed,
    progress: watch::Sender<Published>,
    cancel: CancellationToken,
) -> Result<Published, HubError> {
    let mut dealer = Dealer::new(&feed, &hub)?;
    let first = feed.records.iter().find_map(|r| r.time);
    let start = tokio::time::Instant::now();
    let mut published = Published::default();
    let mut next = 0;
    while next < feed.records.len() {
        let due = match (first, feed.records[next].time) {
            (Some(first), Some(at)) => speed.due(first, at),
            _ => Duration::ZERO,
        };
        tokio::select! {
            () = cancel.cancelled() => return Ok(published),
            () = tokio::time::sleep_until(start + due) => {}
        }
        // Everything due by the end of this tick leaves now.
        let horizon = due + TICK;
        let mut bodies: Vec<Vec<&str>> = vec![Vec::new(); feed.hubs.len()];
        while let Some(record) = feed.records.get(next) {
            let record_due = match (first, record.time) {
                (Some(first), Some(at)) => speed.due(first, at),
                _ => Duration::ZERO,
            };
            if speed != Speed::Max && record_due > horizon {
                break;
            }
            let body = &mut bodies[record.hub];
            body.push(&record.text);
            if body.len() >= MAX_RECORDS_PER_BODY || size(body) >= MAX_BODY_BYTES {
                published.bodies += dealer.send(&hub, record.hub, std::mem::take(body))?;
            }
            published.records += 1;
            published.event_time = record.time.or(published.event_time);
            next += 1;
        }
        for (index, body) in bodies.into_iter().enumerate() {
            published.bodies += dealer.send(&hub, index, body)?;
        }
        progress.send_replace(published);
    }
    published.done = true;
    progress.send_replace(published);
    Ok(published)
}

fn size(records: &[&str]) -> usize {
    records.iter().map(|r| r.len() + 1).sum()
}

/// Deals bodies to each hub's partitions in turn.
struct Dealer {
    hubs: Vec<(String, Vec<String>, usize)>,
}

impl Dealer {
    fn new(feed: &Feed, hub: &EmbeddedHub) -> Result<Dealer, HubError> {
        let hubs = feed
            .hubs
            .iter()
            .map(|name| Ok((name.clone(), hub.partition_ids(name)?, 0)))
            .collect::<Result<_, HubError>>()?;
        Ok(Dealer { hubs })
    }

    /// Publishes one body of `records` to hub `index`; returns 1, or 0 when empty.
    fn send(
        &mut self,
        hub: &EmbeddedHub,
        index: usize,
        records: Vec<&str>,
    ) -> Result<u64, HubError> {
        if records.is_empty() {
            return Ok(0);
        }
        let Some((name, partitions, turn)) = self.hubs.get_mut(index) else {
            return Ok(0);
        };
        let Some(partition) = partitions.get(*turn % partitions.len().max(1)) else {
            return Err(HubError::UnknownHub(name.clone()));
        };
        *turn += 1;
        let body = format!("{{\"records\":[{}]}}", records.join(","));
        hub.publish(name, partition, body.into_bytes())?;
        Ok(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().to_utc()
    }

    #[test]
    fn speeds_parse_and_schedule_records_by_event_time() {
        assert_eq!("max".parse(), Ok(Speed::Max));
        assert_eq!("60".parse(), Ok(Speed::Times(60.0)));
        assert_eq!("3600x".parse(), Ok(Speed::Times(3600.0)));
        for bad in ["0", "-2", "fast", "inf", "NaN"] {
            assert!(bad.parse::<Speed>().is_err(), "{bad}");
        }
        let first = at("2026-11-02T00:00:00Z");
        let hour_later = at("2026-11-02T01:00:00Z");
        assert_eq!(
            Speed::Times(3600.0).due(first, hour_later),
            Duration::from_secs(1)
        );
        assert_eq!(
            Speed::Times(1.0).due(first, hour_later),
            Duration::from_secs(3600)
        );
        assert_eq!(Speed::Max.due(first, hour_later), Duration::ZERO);
        assert_eq!(Speed::Times(60.0).due(hour_later, first), Duration::ZERO);
    }
}
