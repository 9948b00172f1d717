//! How delivery retries and paces itself: exponential backoff with jitter, the
//! dead-letter rule (too many tries, too old, or a permanent refusal), and a per-sink
//! pace that spaces requests under each service's rate limit and pauses the whole
//! sink when a receiver answers 429 with `Retry-After`.
//!
//! All times come from the injected [`Clock`](crate::clock::Clock), so tests
//! can move time instead of waiting for it.

use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::RngExt;

use super::outbox::DeliveryState;
use super::transport::AttemptError;
use crate::config::OutboxConfig;

/// When to try again and when to give up.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Counted attempts before dead-lettering.
    pub max_tries: u32,
    /// Age (since enqueue) after which a failure dead-letters.
    pub max_age: Duration,
    /// The first retry delay.
    pub initial: Duration,
    /// The longest retry delay.
    pub max: Duration,
}

impl RetryPolicy {
    /// The policy `[outbox]` sets.
    pub fn from_config(c: &OutboxConfig) -> Self {
        RetryPolicy {
            max_tries: c.max_tries,
            max_age: c.max_age.as_std(),
            initial: c.backoff_initial.as_std(),
            max: c.backoff_max.as_std(),
        }
    }

    /// The delay after `tries` counted attempts: `initial × 2^(tries-1)`, capped at
    /// `max`, then "equal jitter" (between half and all of it), so a fleet of retries
    /// after an outage spreads out instead of arriving together.
    pub fn delay(&self, tries: u32) -> Duration {
        let exp = tries.saturating_sub(1).min(30);
        let base = self.initial.saturating_mul(1u32 << exp).min(self.max);
        let half = base / 2;
        let jitter =
            rand::rng().random_range(0..=half.as_micros().min(u128::from(u64::MAX)) as u64);
        half + Duration::from_micros(jitter)
    }

    /// What to do with a delivery whose attempt failed with `err` at `now`.
    pub fn decide(
        &self,
        state: &DeliveryState,
        err: &AttemptError,
        now: DateTime<Utc>,
    ) -> Decision {
        let tries = state.tries + u32::from(!err.rate_limited);
        let age = (now - state.enqueued()).to_std().unwrap_or(Duration::ZERO);
        if !err.retryable {
            return Decision::Dead {
                tries,
                reason: format!("refused (not retryable): {}", err.message),
            };
        }
        if tries >= self.max_tries {
            return Decision::Dead {
                tries,
                reason: format!("gave up after {tries} tries: {}", err.message),
            };
        }
        if age >= self.max_age {
            return Decision::Dead {
                tries,
                reason: format!(
                    "undelivered after {}: {}",
                    humantime::format_duration(Duration::from_secs(age.as_secs())),
                    err.message
                ),
            };
        }
        let backoff = if err.rate_limited && err.retry_after.is_some() {
            Duration::ZERO
        } else {
            self.delay(tries.max(1))
        };
        let delay = backoff.max(err.retry_after.unwrap_or(Duration::ZERO));
        Decision::Retry {
            tries,
            delay,
            at: now + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::MAX),
        }
    }
}

/// The outcome of a failed attempt.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Try again at `at`.
    Retry {
        /// Counted attempts so far.
        tries: u32,
        /// How long from now.
        delay: Duration,
        /// When.
        at: DateTime<Utc>,
    },
    /// Give up.
    Dead {
        /// Counted attempts.
        tries: u32,
        /// Why.
        reason: String,
    },
}

/// Spaces one sink's requests and holds them during a receiver-requested pause.
#[derive(Debug, Clone)]
pub struct Pace {
    interval: Option<chrono::Duration>,
    next: Option<DateTime<Utc>>,
}

impl Pace {
    /// At most `per_minute` requests a minute (`None`: as fast as answers come).
    pub fn new(per_minute: Option<u32>) -> Self {
        let interval = per_minute
            .filter(|n| *n > 0)
            .map(|n| chrono::Duration::microseconds(60_000_000 / i64::from(n)));
        Pace {
            interval,
            next: None,
        }
    }

    /// How long to wait before the next request may go (zero: go now).
    pub fn wait(&self, now: DateTime<Utc>) -> Duration {
        self.next.map_or(Duration::ZERO, |n| {
            (n - now).to_std().unwrap_or(Duration::ZERO)
        })
    }

    /// A request went at `now`.
    pub fn sent(&mut self, now: DateTime<Utc>) {
        if let Some(i) = self.interval {
            let next = now + i;
            self.next = Some(self.next.map_or(next, |n| n.max(next)));
        }
    }

    /// The receiver asked for a pause until `until`.
    pub fn pause_until(&mut self, until: DateTime<Utc>) {
        self.next = Some(self.next.map_or(until, |n| n.max(until)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_tries: 4,
            max_age: Duration::from_secs(3600),
            initial: Duration::from_secs(2),
            max: Duration::from_secs(60),
        }
    }

    fn state(tries: u32, enqueued: DateTime<Utc>) -> DeliveryState {
        DeliveryState {
            alert_id: "a".into(),
            tries,
            enqueued_at: enqueued.timestamp_micros(),
            next_at: 0,
            digest: false,
            dead: false,
            last_error: None,
        }
    }

    #[test]
    fn backoff_doubles_with_jitter_and_caps() {
        let p = policy();
        for _ in 0..200 {
            let d1 = p.delay(1);
            assert!(
                d1 >= Duration::from_secs(1) && d1 <= Duration::from_secs(2),
                "{d1:?}"
            );
            let d3 = p.delay(3);
            assert!(
                d3 >= Duration::from_secs(4) && d3 <= Duration::from_secs(8),
                "{d3:?}"
            );
            let d20 = p.delay(20);
            assert!(
                d20 >= Duration::from_secs(30) && d20 <= Duration::from_secs(60),
                "{d20:?}"
            );
        }
    }

    #[test]
    fn dead_letters_by_tries_age_and_refusal() {
        let p = policy();
        let t0 = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let soft = AttemptError::retryable("503");
        assert!(matches!(
            p.decide(&state(0, t0), &soft, t0),
            Decision::Retry { tries: 1, .. }
        ));
        assert!(matches!(
            p.decide(&state(3, t0), &soft, t0),
            Decision::Dead { tries: 4, .. }
        ));
        let late = t0 + chrono::Duration::hours(2);
        assert!(matches!(
            p.decide(&state(1, t0), &soft, late),
            Decision::Dead { .. }
        ));
        assert!(matches!(
            p.decide(&state(0, t0), &AttemptError::permanent("400"), t0),
            Decision::Dead { tries: 1, .. }
        ));
        let slow = AttemptError {
            retryable: true,
            rate_limited: true,
            retry_after: Some(Duration::from_secs(30)),
            message: "429".into(),
        };
        match p.decide(&state(3, t0), &slow, t0) {
            Decision::Retry { tries, delay, .. } => {
                assert_eq!((tries, delay), (3, Duration::from_secs(30)));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn pace_spaces_requests_and_honours_pauses() {
        let t0 = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let mut pace = Pace::new(Some(60));
        assert_eq!(pace.wait(t0), Duration::ZERO);
        pace.sent(t0);
        assert_eq!(pace.wait(t0), Duration::from_secs(1));
        pace.pause_until(t0 + chrono::Duration::seconds(30));
        assert_eq!(pace.wait(t0), Duration::from_secs(30));
        assert_eq!(Pace::new(None).wait(t0), Duration::ZERO);
    }
}
