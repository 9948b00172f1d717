//! The statistics baselines keep and detectors test against.
//!
//! * [`LogHist`]: a log-spaced histogram of per-window counts (distinct objects read
//!   in ten minutes, say), for "its usual is ≤ 3 (p99)". Bucket upper bounds make
//!   quantiles conservative: a quantile is never below the true one.
//! * [`Decayed`]: exponentially decayed event counts per counter (operation classes,
//!   denials), giving rates that follow a principal's habits as they change.
//! * [`super::day::DayProfile`] (its own module): hour-of-day and day-of-week
//!   activity, to scale a rate to the hour it is tested at.
//! * [`count_tail`]: the probability of seeing at least `k` events in a window given
//!   a learned rate, from a Gamma-Poisson (negative binomial) predictive: a principal
//!   with little history has a wide predictive, so two reads by a rare principal are
//!   never "infinitely anomalous". Detectors also demand minimum absolute counts.

use serde::{Deserialize, Serialize};
use statrs::distribution::{DiscreteCDF, NegativeBinomial};

/// Bucket upper bounds (inclusive) of [`LogHist`].
pub const BOUNDS: [u32; 20] = [
    1, 2, 3, 4, 5, 6, 8, 10, 12, 16, 20, 25, 32, 40, 50, 64, 96, 128, 256, 512,
];

/// A log-spaced histogram of positive counts, with the maximum seen.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LogHist {
    counts: [u16; 20],
    max: u16,
}

impl LogHist {
    /// Records one window's count (zero counts are not recorded).
    pub fn record(&mut self, v: u32) {
        if v == 0 {
            return;
        }
        let i = BOUNDS
            .iter()
            .position(|&b| v <= b)
            .unwrap_or(BOUNDS.len() - 1);
        if self.counts[i] == u16::MAX {
            for c in &mut self.counts {
                *c /= 2;
            }
        }
        self.counts[i] += 1;
        self.max = self.max.max(v.min(u32::from(u16::MAX)) as u16);
    }

    /// Windows recorded.
    pub fn total(&self) -> u32 {
        self.counts.iter().map(|&c| u32::from(c)).sum()
    }

    /// The largest count recorded.
    pub fn max(&self) -> u32 {
        u32::from(self.max)
    }

    /// The `q` quantile, as the upper bound of its bucket (capped at the maximum);
    /// 0 when nothing was recorded.
    pub fn quantile(&self, q: f64) -> u32 {
        let total = self.total();
        if total == 0 {
            return 0;
        }
        let want = (q * f64::from(total)).ceil().max(1.0) as u32;
        let mut seen = 0;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += u32::from(c);
            if seen >= want {
                return BOUNDS[i].min(self.max());
            }
        }
        self.max()
    }

    /// Halves every count (ageing).
    pub fn halve(&mut self) {
        for c in &mut self.counts {
            *c /= 2;
        }
    }
}

/// Counters kept per principal: the operation classes, then denials.
pub const COUNTERS: usize = 9;
/// The counter of denials (authentication failures and 403s).
pub const DENIALS: usize = 8;

/// Exponentially decayed counts of several counters sharing one clock.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Decayed {
    n: [f32; COUNTERS],
    last: u32,
}

impl Decayed {
    fn decay_to(&mut self, now: u32, tau_secs: f32) {
        if now > self.last {
            let f = (-((now - self.last) as f32) / tau_secs).exp();
            for v in &mut self.n {
                *v *= f;
            }
            self.last = now;
        }
    }

    /// Adds one to `counter` at `now`.
    pub fn add(&mut self, counter: usize, now: u32, tau_secs: f32) {
        self.decay_to(now, tau_secs);
        if let Some(v) = self.n.get_mut(counter) {
            *v += 1.0;
        }
    }

    /// The decayed count of `counter` as of `now`.
    pub fn count(&self, counter: usize, now: u32, tau_secs: f32) -> f32 {
        let f = (-(now.saturating_sub(self.last) as f32) / tau_secs).exp();
        self.n.get(counter).copied().unwrap_or(0.0) * f
    }
}

/// The decayed exposure (hours) matching [`Decayed`] counts for a history of `age` seconds.
pub fn exposure_hours(age_secs: u32, tau_secs: f32) -> f64 {
    let tau = f64::from(tau_secs);
    tau * (1.0 - (-f64::from(age_secs) / tau).exp()) / 3600.0
}

/// P(X ≥ k) for the count `X` in a window of `window_h` hours, given `events`
/// observed over `exposure_h` hours and a prior rate (`prior_rate` per hour, worth
/// `prior_h` hours of evidence): the Gamma-Poisson predictive.
pub fn count_tail(
    k: u64,
    events: f64,
    exposure_h: f64,
    window_h: f64,
    prior_rate: f64,
    prior_h: f64,
) -> f64 {
    if k == 0 {
        return 1.0;
    }
    let a = (prior_rate * prior_h + events).max(0.05);
    let b = (prior_h + exposure_h).max(1e-6);
    let p = b / (b + window_h.max(1e-9));
    NegativeBinomial::new(a, p).map_or(1.0, |d| d.sf(k - 1))
}

/// The expected count in `window_h` hours under the same posterior as [`count_tail`].
pub fn expected_count(
    events: f64,
    exposure_h: f64,
    window_h: f64,
    prior_rate: f64,
    prior_h: f64,
) -> f64 {
    let a = (prior_rate * prior_h + events).max(0.05);
    let b = (prior_h + exposure_h).max(1e-6);
    a / b * window_h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_conservative() {
        let mut h = LogHist::default();
        for _ in 0..99 {
            h.record(2);
        }
        h.record(300);
        assert_eq!(h.quantile(0.5), 2);
        assert_eq!(h.quantile(0.99), 2);
        assert_eq!(h.quantile(1.0), 300);
        assert_eq!(h.max(), 300);
        h.record(7);
        assert_eq!(h.quantile(0.985), 8);
    }

    #[test]
    fn tail_is_wide_without_history_and_tight_with_it() {
        // No history, low prior: 2 events are unusual but far from impossible.
        let p_new = count_tail(2, 0.0, 0.0, 1.0, 0.05, 24.0);
        assert!(p_new > 1e-3, "{p_new}");
        // 0.1/h over two weeks: 30 in ten minutes is extraordinary.
        let p_old = count_tail(30, 34.0, 336.0, 1.0 / 6.0, 0.05, 24.0);
        assert!(p_old < 1e-12, "{p_old}");
        assert!((expected_count(10.0, 100.0, 1.0, 0.0, 0.0) - 0.1).abs() < 1e-9);
    }

    #[test]
    fn decayed_counts() {
        let mut d = Decayed::default();
        let tau = 3600.0;
        d.add(0, 1000, tau);
        d.add(0, 1000, tau);
        assert!((d.count(0, 1000 + 3600, tau) - 2.0 / std::f32::consts::E).abs() < 1e-3);
    }
}
