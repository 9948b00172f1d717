//! The pipeline observer that turns happenings into metric updates, cheaply.
//!
//! It runs on the pipeline's thread for every record, so it never formats a label or
//! hashes a label set on the hot path: counter handles for the closed sets (shapes ×
//! log categories) are resolved once, and the per-event counter
//! `kvwatch_events_total{vault, class, outcome, category}` is cached per vault as a
//! dense category × class × outcome table of handles, created on first use (so only
//! combinations that occur become series). The `category` label (`audit_event`,
//! `activity_log`, …) was added beside the existing ones, so every query that sums
//! or groups by the other labels reads as before. The vault label
//! itself goes through the registry's shared [`LabelCap`], so the vault cap holds
//! across observers. Vault writes that change nothing visible (the configuration
//! the record shows is the last one seen, see [`AuditEvent::write_changes_nothing`])
//! are counted per vault label; they are rare records, so remembering each vault's
//! last configuration costs nothing on the hot path.

use std::collections::HashMap;
use std::sync::Arc;

use prometheus::{Histogram, IntCounter, IntCounterVec, IntGauge};

use super::labels::{LabelCap, LabelForm, OTHER};
use super::pipeline::{PipelineMetrics, STAGE_ALERT_WRITTEN, STAGE_PROCESSED};
use super::Metrics;
use crate::decode::{LogCategory, Refusal, Shape};
use crate::event::{AuditEvent, LogSource, OperationClass, Outcome, VaultConfig, VaultName};
use crate::pipeline::{Happening, Observer};

const CLASSES: usize = OperationClass::ALL.len();
const OUTCOMES: usize = Outcome::ALL.len();
const SHAPES: usize = Shape::ALL.len();
const CATEGORIES: usize = LogCategory::ALL.len();
/// Events come from one of two logs.
const LOGS: usize = 2;

/// Counter handles per shape and category, created on first use (except the
/// AuditEvent ones, created up front so a fresh scrape shows every shape at 0).
struct PerShape {
    family: IntCounterVec,
    counters: [[Option<IntCounter>; CATEGORIES]; SHAPES],
}

impl PerShape {
    fn new(family: &IntCounterVec) -> Self {
        let mut counters: [[Option<IntCounter>; CATEGORIES]; SHAPES] = Default::default();
        for shape in Shape::ALL {
            counters[shape_index(shape)][LogCategory::AuditEvent.index()] =
                Some(family.with_label_values(&[shape.as_str(), LogCategory::AuditEvent.as_str()]));
        }
        PerShape {
            family: family.clone(),
            counters,
        }
    }

    fn inc(&mut self, shape: Shape, category: LogCategory) {
        self.counters[shape_index(shape)][category.index()]
            .get_or_insert_with(|| {
                self.family
                    .with_label_values(&[shape.as_str(), category.as_str()])
            })
            .inc();
    }
}

fn log_index(log: LogSource) -> usize {
    match log {
        LogSource::AuditEvent => 0,
        LogSource::ActivityLog => 1,
    }
}

/// The most vaults whose last configuration is remembered to judge writes.
const MAX_VAULT_CONFIGS: usize = 20_000;

/// The most detectors counted under their own label.
const MAX_DETECTOR_LABELS: usize = 100;
/// Overflow vault names remembered locally (beyond it they are looked up each time).
const MAX_REMEMBERED_OVERFLOW: usize = 4096;

/// One vault label's counter handles.
struct VaultSlot {
    label: Arc<str>,
    counters: [[[Option<IntCounter>; OUTCOMES]; CLASSES]; LOGS],
    unchanged_writes: Option<IntCounter>,
}

impl VaultSlot {
    fn counter(
        &mut self,
        family: &IntCounterVec,
        log: LogSource,
        class: OperationClass,
        outcome: Outcome,
    ) -> &IntCounter {
        self.counters[log_index(log)][class.index()][outcome.index()].get_or_insert_with(|| {
            family.with_label_values(&[
                &*self.label,
                class.as_str(),
                outcome.as_str(),
                log.as_str(),
            ])
        })
    }
}

/// Vault name → slot, with a one-entry cache for runs of events of one vault.
struct VaultSlots {
    cap: LabelCap,
    slots: Vec<VaultSlot>,
    by_label: HashMap<Arc<str>, usize>,
    by_name: HashMap<VaultName, usize>,
    last: Option<(VaultName, usize)>,
    overflow_remembered: usize,
    used: IntGauge,
}

impl VaultSlots {
    fn slot(&mut self, vault: &VaultName) -> usize {
        if let Some((name, slot)) = &self.last {
            if name == vault {
                return *slot;
            }
        }
        let slot = match self.by_name.get(vault) {
            Some(slot) => *slot,
            None => self.resolve(vault),
        };
        self.last = Some((vault.clone(), slot));
        slot
    }

    fn resolve(&mut self, vault: &VaultName) -> usize {
        // A control-plane change whose scope names no vault counts under an empty
        // vault label (no vault), not under the capped `other`.
        let label = if vault.is_empty() {
            Arc::from("")
        } else {
            self.cap.label(vault)
        };
        let slot = match self.by_label.get(&label) {
            Some(slot) => *slot,
            None => {
                self.slots.push(VaultSlot {
                    label: label.clone(),
                    counters: Default::default(),
                    unchanged_writes: None,
                });
                self.by_label.insert(label.clone(), self.slots.len() - 1);
                self.slots.len() - 1
            }
        };
        self.used
            .set(i64::try_from(self.cap.used()).unwrap_or(i64::MAX));
        let overflow = &*label == OTHER;
        if !overflow || self.overflow_remembered < MAX_REMEMBERED_OVERFLOW {
            self.overflow_remembered += usize::from(overflow);
            self.by_name.insert(vault.clone(), slot);
        }
        slot
    }
}

/// Feeds the pipeline families from happenings. Create it with
/// [`Metrics::observer`]; one per pipeline.
pub struct MetricsObserver {
    families: PipelineMetrics,
    received: PerShape,
    decoded: PerShape,
    latency_processed: Histogram,
    latency_alert: Histogram,
    vaults: VaultSlots,
    /// The last configuration seen per vault (successful VaultGet, VaultPut, VaultPatch).
    configs: HashMap<VaultName, VaultConfig>,
    detectors: LabelCap,
}

impl MetricsObserver {
    pub(super) fn new(metrics: &Metrics) -> Self {
        let families = metrics.pipeline().clone();
        MetricsObserver {
            received: PerShape::new(&families.received),
            decoded: PerShape::new(&families.decoded),
            latency_processed: families.latency.with_label_values(&[STAGE_PROCESSED]),
            latency_alert: families.latency.with_label_values(&[STAGE_ALERT_WRITTEN]),
            vaults: VaultSlots {
                cap: metrics.vault_labels().clone(),
                slots: Vec::new(),
                by_label: HashMap::new(),
                by_name: HashMap::new(),
                last: None,
                overflow_remembered: 0,
                used: families.vault_labels.clone(),
            },
            configs: HashMap::new(),
            detectors: LabelCap::new(LabelForm::Identifier, MAX_DETECTOR_LABELS),
            families,
        }
    }

    fn processed(&mut self, event: &AuditEvent<'_>, waited: std::time::Duration) {
        let slot = self.vaults.slot(&event.vault);
        self.vaults.slots[slot]
            .counter(
                &self.families.events,
                event.log(),
                event.class,
                event.outcome,
            )
            .inc();
        self.families.newest.saw(event.time);
        self.latency_processed.observe(waited.as_secs_f64());
        if event.outcome == Outcome::Ok && (event.vault_config.is_some() || event.is_vault_write())
        {
            self.vault_write(event, slot);
        }
    }

    /// Counts a write that changed nothing visible, and remembers the configuration.
    fn vault_write(&mut self, event: &AuditEvent<'_>, slot: usize) {
        if event.write_changes_nothing(self.configs.get(&event.vault)) {
            let family = &self.families.writes_without_change;
            let slot = &mut self.vaults.slots[slot];
            slot.unchanged_writes
                .get_or_insert_with(|| family.with_label_values(&[&*slot.label]))
                .inc();
        }
        if let Some(config) = event.vault_config.as_deref() {
            if self.configs.len() < MAX_VAULT_CONFIGS || self.configs.contains_key(&event.vault) {
                self.configs.insert(event.vault.clone(), config.clone());
            }
        }
    }
}

fn shape_index(shape: Shape) -> usize {
    shape as usize
}

impl Observer for MetricsObserver {
    fn observe(&mut self, what: &Happening<'_>) {
        match what {
            Happening::Received { shape, category } => {
                self.received.inc(*shape, *category);
                self.decoded.inc(*shape, *category);
            }
            Happening::Refused {
                refusal,
                shape,
                category,
                ..
            } => {
                self.received.inc(*shape, *category);
                let family = match refusal {
                    Refusal::Rejected(_) => &self.families.rejected,
                    Refusal::Skipped(_) => &self.families.skipped,
                };
                family
                    .with_label_values(&[shape.as_str(), refusal.as_str(), category.as_str()])
                    .inc();
            }
            Happening::Duplicate => self.families.duplicates.inc(),
            Happening::Filtered => self.families.filtered.inc(),
            Happening::Late { .. } => self.families.late.inc(),
            Happening::Processed { event, waited } => self.processed(event, *waited),
            Happening::Alerted { alert, latency } => {
                let detector = self.detectors.label(&alert.detector);
                self.families
                    .alerts
                    .with_label_values(&[&*detector, alert.severity.as_str()])
                    .inc();
                if let Some(latency) = latency {
                    self.latency_alert.observe(latency.as_secs_f64());
                }
            }
            Happening::Watermark { at, buffered } => {
                self.families
                    .watermark
                    .set(at.timestamp_millis() as f64 / 1000.0);
                self.families
                    .buffered
                    .set(i64::try_from(*buffered).unwrap_or(i64::MAX));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_index_their_table() {
        for (i, s) in Shape::ALL.iter().enumerate() {
            assert_eq!(shape_index(*s), i);
        }
        for (i, c) in OperationClass::ALL.iter().enumerate() {
            assert_eq!(c.index(), i);
        }
        for (i, o) in Outcome::ALL.iter().enumerate() {
            assert_eq!(o.index(), i);
        }
        for (i, c) in LogCategory::ALL.iter().enumerate() {
            assert_eq!(c.index(), i);
        }
    }
}
