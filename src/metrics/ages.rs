//! Gauges whose value is "now minus a remembered time", computed when scraped.
//!
//! Event-time lag, checkpoint age and the outbox's oldest age must keep growing while
//! nothing happens: that is exactly when they matter (a stalled consumer, a stuck
//! outbox). A plain gauge set by the code that moves the time would freeze at its last
//! value. These collectors keep the time and subtract it from the injected
//! [`Clock`] at every scrape, so tests and replays can fix "now".

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;
use prometheus::{Gauge, GaugeVec, Opts};

use crate::clock::Clock;

const UNSET: i64 = i64::MIN;

fn seconds_between(earlier_micros: i64, now: DateTime<Utc>) -> f64 {
    (now.timestamp_micros().saturating_sub(earlier_micros)) as f64 / 1e6
}

/// The newest event time seen, exported as `<name>_timestamp_seconds`-style stamp and
/// as an age (now minus it). Updating is one atomic `fetch_max`, cheap enough for
/// every event; nothing is exported before the first update.
#[derive(Clone)]
pub struct NewestAge {
    newest: Arc<AtomicI64>,
    clock: Arc<dyn Clock>,
    age: Gauge,
    stamp: Gauge,
}

impl NewestAge {
    /// A pair of gauges: the age (`age_opts`) and the stamp (`stamp_opts`).
    pub fn new(
        age_opts: Opts,
        stamp_opts: Opts,
        clock: Arc<dyn Clock>,
    ) -> prometheus::Result<Self> {
        Ok(NewestAge {
            newest: Arc::new(AtomicI64::new(UNSET)),
            clock,
            age: Gauge::with_opts(age_opts)?,
            stamp: Gauge::with_opts(stamp_opts)?,
        })
    }

    /// Remembers `time` if it is newer than what is remembered.
    pub fn saw(&self, time: DateTime<Utc>) {
        self.newest
            .fetch_max(time.timestamp_micros(), Ordering::Relaxed);
    }

    /// The newest time seen.
    pub fn newest(&self) -> Option<DateTime<Utc>> {
        match self.newest.load(Ordering::Relaxed) {
            UNSET => None,
            micros => DateTime::from_timestamp_micros(micros),
        }
    }
}

impl Collector for NewestAge {
    fn desc(&self) -> Vec<&Desc> {
        let mut d = self.age.desc();
        d.extend(self.stamp.desc());
        d
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let micros = self.newest.load(Ordering::Relaxed);
        if micros == UNSET {
            return Vec::new();
        }
        self.age.set(seconds_between(micros, self.clock.now()));
        self.stamp.set(micros as f64 / 1e6);
        let mut out = self.age.collect();
        out.extend(self.stamp.collect());
        out
    }
}

/// A labelled family of ages: each label set remembers a time (a checkpoint, the
/// oldest outbox entry) and exports now minus it, clamped at zero.
#[derive(Clone)]
pub struct AgeVec {
    gauges: GaugeVec,
    since: Arc<Mutex<HashMap<Vec<String>, i64>>>,
    clock: Arc<dyn Clock>,
}

impl AgeVec {
    /// A family with the given label names.
    pub fn new(opts: Opts, labels: &[&str], clock: Arc<dyn Clock>) -> prometheus::Result<Self> {
        Ok(AgeVec {
            gauges: GaugeVec::new(opts, labels)?,
            since: Arc::new(Mutex::new(HashMap::new())),
            clock,
        })
    }

    /// Sets the remembered time of one label set (values in label-name order).
    pub fn set(&self, labels: &[&str], since: DateTime<Utc>) {
        if let Ok(mut map) = self.since.lock() {
            map.insert(
                labels.iter().map(|s| (*s).to_owned()).collect(),
                since.timestamp_micros(),
            );
        }
    }

    /// Forgets one label set: its series disappears (nothing waits, nothing is owned).
    pub fn clear(&self, labels: &[&str]) {
        if let Ok(mut map) = self.since.lock() {
            let key: Vec<String> = labels.iter().map(|s| (*s).to_owned()).collect();
            if map.remove(&key).is_some() {
                let _ = self.gauges.remove_label_values(labels);
            }
        }
    }
}

impl Collector for AgeVec {
    fn desc(&self) -> Vec<&Desc> {
        self.gauges.desc()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let now = self.clock.now();
        if let Ok(map) = self.since.lock() {
            for (labels, micros) in map.iter() {
                self.gauges
                    .with_label_values(labels)
                    .set(seconds_between(*micros, now).max(0.0));
            }
        }
        self.gauges.collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default()
    }

    fn value(families: &[MetricFamily], name: &str) -> Option<f64> {
        families
            .iter()
            .find(|f| f.name() == name)
            .map(|f| f.get_metric()[0].get_gauge().get_value())
    }

    #[test]
    fn newest_age_follows_the_clock_and_starts_empty() {
        let clock = ManualClock::new(at("2024-04-08T12:00:00Z"));
        let age = NewestAge::new(
            Opts::new("lag_seconds", "h"),
            Opts::new("newest_timestamp_seconds", "h"),
            Arc::new(clock.clone()),
        )
        .unwrap();
        assert!(age.collect().is_empty());
        age.saw(at("2024-04-08T11:59:00Z"));
        age.saw(at("2024-04-08T11:58:00Z"));
        assert_eq!(value(&age.collect(), "lag_seconds"), Some(60.0));
        clock.advance(chrono::Duration::seconds(30));
        let families = age.collect();
        assert_eq!(value(&families, "lag_seconds"), Some(90.0));
        assert_eq!(
            value(&families, "newest_timestamp_seconds"),
            Some(at("2024-04-08T11:59:00Z").timestamp() as f64)
        );
    }

    #[test]
    fn age_vec_grows_until_cleared() {
        let clock = ManualClock::new(at("2024-04-08T12:00:00Z"));
        let ages = AgeVec::new(
            Opts::new("age_seconds", "h"),
            &["sink"],
            Arc::new(clock.clone()),
        )
        .unwrap();
        ages.set(&["soc"], at("2024-04-08T11:59:50Z"));
        clock.advance(chrono::Duration::seconds(5));
        assert_eq!(value(&ages.collect(), "age_seconds"), Some(15.0));
        ages.clear(&["soc"]);
        assert!(ages.collect().iter().all(|f| f.get_metric().is_empty()));
    }
}
