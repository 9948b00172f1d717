//! Detector state metrics: how many principals the baselines track and how many
//! bytes that state takes, per detector.
//!
//! Baselines grow with the tenant (every new principal, address and vault pair), and
//! an operator needs to see that growth before it turns into an out-of-memory kill or
//! an eviction storm. The detectors know their sizes (`Pipeline::memory`); whoever
//! runs the pipeline hands that report to [`StateMetrics::record`] from time to time
//! (the replay at its end, the live service at each checkpoint).

use std::sync::{Arc, Mutex};

use prometheus::{IntCounterVec, IntGaugeVec, Opts, Registry};

use super::labels::{LabelCap, LabelForm};
use crate::detect::engine::EngineMemory;

/// The `detector` label of the shared baselines.
pub const BASELINES: &str = "baselines";

/// The most detectors counted under their own label.
const MAX_DETECTOR_LABELS: usize = 100;

/// The state families.
#[derive(Clone)]
pub struct StateMetrics {
    principals: IntGaugeVec,
    bytes: IntGaugeVec,
    evicted: IntCounterVec,
    /// The engine's eviction totals (idle, capacity) at the last `record`.
    evicted_seen: Arc<Mutex<(u64, u64)>>,
    detectors: LabelCap,
}

impl StateMetrics {
    /// Creates the families and registers them.
    pub fn register(r: &Registry) -> prometheus::Result<Self> {
        let principals = IntGaugeVec::new(
            Opts::new(
                "kvwatch_principals_tracked",
                "Principals whose baselines a detector keeps.",
            ),
            &["detector"],
        )?;
        r.register(Box::new(principals.clone()))?;
        let bytes = IntGaugeVec::new(
            Opts::new(
                "kvwatch_state_bytes",
                "Approximate bytes of a detector's state (baselines, windows).",
            ),
            &["detector"],
        )?;
        r.register(Box::new(bytes.clone()))?;
        let evicted = IntCounterVec::new(
            Opts::new(
                "kvwatch_principals_evicted_total",
                "Principals whose baselines were dropped, by reason: idle (quiet for forget_after) or capacity (over max_principals, longest-idle first).",
            ),
            &["reason"],
        )?;
        r.register(Box::new(evicted.clone()))?;
        for reason in ["idle", "capacity"] {
            evicted.with_label_values(&[reason]);
        }
        Ok(StateMetrics {
            principals,
            bytes,
            evicted,
            evicted_seen: Arc::default(),
            detectors: LabelCap::new(LabelForm::Identifier, MAX_DETECTOR_LABELS),
        })
    }

    /// The families for one of several engines in a process (the partitions of a
    /// balanced `kvwatch run`): evictions counted in the shared counter from this
    /// engine's own totals, the gauges its own (unregistered) for the owner to sum
    /// up ([`StateMetrics::sum_up`]).
    pub fn for_partition(&self) -> prometheus::Result<StateMetrics> {
        Ok(StateMetrics {
            principals: IntGaugeVec::new(
                Opts::new("kvwatch_principals_tracked", "One partition's principals."),
                &["detector"],
            )?,
            bytes: IntGaugeVec::new(
                Opts::new("kvwatch_state_bytes", "One partition's state."),
                &["detector"],
            )?,
            evicted: self.evicted.clone(),
            evicted_seen: Arc::default(),
            detectors: self.detectors.clone(),
        })
    }

    /// Sets the shared gauges to the sum of the partitions' own, detector by
    /// detector; a detector no partition reports any more is set to 0.
    pub fn sum_up(&self, parts: &[&StateMetrics]) {
        let principals: Vec<&IntGaugeVec> = parts.iter().map(|p| &p.principals).collect();
        sum_by_detector(&self.principals, &principals);
        let bytes: Vec<&IntGaugeVec> = parts.iter().map(|p| &p.bytes).collect();
        sum_by_detector(&self.bytes, &bytes);
    }

    fn detector(&self, name: &str) -> Arc<str> {
        self.detectors.label(name)
    }

    /// Sets how many principals `detector` tracks.
    pub fn set_principals(&self, detector: &str, principals: u64) {
        self.principals
            .with_label_values(&[&*self.detector(detector)])
            .set(i64::try_from(principals).unwrap_or(i64::MAX));
    }

    /// Sets how many bytes `detector`'s state takes.
    pub fn set_bytes(&self, detector: &str, bytes: u64) {
        self.bytes
            .with_label_values(&[&*self.detector(detector)])
            .set(i64::try_from(bytes).unwrap_or(i64::MAX));
    }

    /// Sets both at once.
    pub fn set(&self, detector: &str, principals: u64, bytes: u64) {
        self.set_principals(detector, principals);
        self.set_bytes(detector, bytes);
    }

    /// Sets every gauge from the engine's memory report: the shared baselines as
    /// `detector="baselines"` (principals tracked, principal + pair + population
    /// bytes), each detector's learned entries and its learned + transient bytes.
    pub fn record(&self, memory: &EngineMemory) {
        let b = &memory.baselines;
        self.count_evictions(b.evicted_idle, b.evicted_capacity);
        self.set(
            BASELINES,
            b.principals as u64,
            (b.principal_bytes + b.pair_bytes + b.population_bytes) as u64,
        );
        for (name, m) in &memory.detectors {
            self.set(
                name,
                m.learned_entries as u64,
                (m.learned_bytes + m.transient_bytes) as u64,
            );
        }
    }

    /// Adds the evictions since the last call to the counters. The engine's totals
    /// start again from zero when it does (a restart, a restored state): then the
    /// new totals are all new.
    fn count_evictions(&self, idle: u64, capacity: u64) {
        let mut seen = self
            .evicted_seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let new = |now: u64, before: u64| if now >= before { now - before } else { now };
        self.evicted
            .with_label_values(&["idle"])
            .inc_by(new(idle, seen.0));
        self.evicted
            .with_label_values(&["capacity"])
            .inc_by(new(capacity, seen.1));
        *seen = (idle, capacity);
    }
}

/// Sets each `detector` series of `shared` to the sum of that series in `parts`
/// (0 for a series no part has any more).
fn sum_by_detector(shared: &IntGaugeVec, parts: &[&IntGaugeVec]) {
    use prometheus::core::Collector;
    let mut sums = std::collections::BTreeMap::<String, i64>::new();
    for (vec, counts) in std::iter::once((shared, false)).chain(parts.iter().map(|p| (*p, true))) {
        for family in vec.collect() {
            for m in family.get_metric() {
                let Some(label) = m.get_label().first() else {
                    continue;
                };
                let sum = sums.entry(label.value().to_owned()).or_default();
                if counts {
                    // Whole numbers: these gauges are set from integers.
                    #[allow(clippy::cast_possible_truncation)]
                    let value = m.get_gauge().get_value() as i64;
                    *sum += value;
                }
            }
        }
    }
    for (label, sum) in sums {
        shared.with_label_values(&[label.as_str()]).set(sum);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Evictions count the engine's new evictions at each report, and start
    /// again (rather than going backwards) when the engine's totals do.
    #[test]
    fn evictions_count_what_is_new_since_the_last_report() {
        let registry = Registry::new();
        let metrics = StateMetrics::register(&registry).expect("registers");
        let value = |reason: &str| metrics.evicted.with_label_values(&[reason]).get();
        assert_eq!((value("idle"), value("capacity")), (0, 0));
        metrics.count_evictions(3, 2);
        metrics.count_evictions(5, 2);
        assert_eq!((value("idle"), value("capacity")), (5, 2));
        // The engine restarted from a snapshot: its totals start from zero.
        metrics.count_evictions(1, 4);
        assert_eq!((value("idle"), value("capacity")), (6, 4));
    }
}
