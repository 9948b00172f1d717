//! The engine: enrichment once per event, every detector, then the baselines learn,
//! then suppressions, then incidents.
//!
//! The order matters. Detectors compare an event with the history *before* it, so
//! the baselines learn only after all detectors have looked. Suppressions act on
//! findings, not events, so allow-listed traffic still teaches the baselines.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use serde_json::{Map, Value};

use super::baseline::keys::{principal_key, secs, vault_key};
use super::baseline::{BaselineSettings, Baselines, MemoryReport};
use super::enrichment::Enricher;
use super::{
    Detector, DetectorError, DetectorMemory, Finding, IncidentPolicy, Incidents, Observation,
};
use crate::alert::Alert;
use crate::config::Config;
use crate::enrich::{AddressClass, Classifier, GeoIp};
use crate::event::AuditEvent;

/// The detectors plus enrichment, baselines, suppressions and the incident tracker.
pub struct Engine {
    detectors: Vec<Box<dyn Detector>>,
    incidents: Incidents,
    scratch: Vec<Finding>,
    enricher: Enricher,
    baselines: Baselines,
    suppressed: u64,
    last_expiry: Option<DateTime<Utc>>,
}

/// What the engine holds, for memory reports.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct EngineMemory {
    /// The shared baselines.
    pub baselines: MemoryReport,
    /// Each detector's own state.
    pub detectors: Vec<(&'static str, DetectorMemory)>,
}

impl Engine {
    /// An engine running `detectors` with the given incident policy, default
    /// baselines and no GeoIP database.
    pub fn new(detectors: Vec<Box<dyn Detector>>, policy: IncidentPolicy) -> Self {
        Engine {
            detectors,
            incidents: Incidents::new(policy),
            scratch: Vec::new(),
            enricher: Enricher::default(),
            baselines: Baselines::new(BaselineSettings::default()),
            suppressed: 0,
            last_expiry: None,
        }
    }

    /// Everything from the configuration: detector files, GeoIP, learning settings.
    pub fn from_config(config: &Config) -> Result<Self, DetectorError> {
        let detectors = super::build_detectors(config)?;
        let policy = IncidentPolicy {
            gap: config.incidents.gap.as_chrono(),
        };
        Ok(Engine::new(detectors, policy)
            .with_enricher(enricher_from_config(config)?)
            .with_baselines(BaselineSettings::from_config(&config.detectors)))
    }

    /// Uses this enrichment (GeoIP database and address ranges).
    pub fn with_enricher(mut self, enricher: Enricher) -> Self {
        self.enricher = enricher;
        self
    }

    /// Uses these baseline settings (forgets anything learned).
    pub fn with_baselines(mut self, settings: BaselineSettings) -> Self {
        self.baselines = Baselines::new(settings);
        self
    }

    /// The detectors' names.
    pub fn detector_names(&self) -> Vec<&'static str> {
        self.detectors.iter().map(|d| d.name()).collect()
    }

    /// The baselines.
    pub fn baselines(&self) -> &Baselines {
        &self.baselines
    }

    /// Findings dropped by a suppression so far.
    pub fn suppressed(&self) -> u64 {
        self.suppressed
    }

    /// Memory held by baselines and detectors.
    pub fn memory(&self) -> EngineMemory {
        EngineMemory {
            baselines: self.baselines.memory(),
            detectors: self
                .detectors
                .iter()
                .map(|d| (d.name(), d.memory()))
                .collect(),
        }
    }

    /// Runs every detector over one event; alerts go to `out`.
    pub fn process(&mut self, event: &AuditEvent<'_>, out: &mut dyn FnMut(Alert)) {
        let geo = self.enricher.geo(event.caller_ip);
        let principal = event.principal.key.as_deref().map(principal_key);
        let vault = vault_key(&event.vault);
        let now = secs(event.time);
        {
            let obs = Observation {
                event,
                geo: &geo,
                principal,
                vault,
                now,
                profile: principal.and_then(|k| self.baselines.principal(k)),
                pair: principal.and_then(|k| self.baselines.pair(k, vault)),
                baselines: &self.baselines,
            };
            for d in &mut self.detectors {
                d.observe(&obs, &mut self.scratch);
            }
        }
        self.baselines.learn(event, &geo, principal, vault, now);
        self.drain(Some(event), out);
        self.expire(event.time);
    }

    /// Moves event time forward (watermark, end of input).
    pub fn advance(&mut self, now: DateTime<Utc>, out: &mut dyn FnMut(Alert)) {
        for d in &mut self.detectors {
            d.advance(now, &mut self.scratch);
        }
        self.drain(None, out);
        self.expire(now);
    }

    fn expire(&mut self, now: DateTime<Utc>) {
        // Incidents close on the scale of minutes; checking every event is waste.
        if self
            .last_expiry
            .is_none_or(|t| now - t >= Duration::seconds(30))
        {
            self.incidents.expire(now);
            self.last_expiry = Some(now);
        }
    }

    fn drain(&mut self, event: Option<&AuditEvent<'_>>, out: &mut dyn FnMut(Alert)) {
        if self.scratch.is_empty() {
            return;
        }
        for mut finding in std::mem::take(&mut self.scratch) {
            let suppressor = self
                .detectors
                .iter()
                .find(|d| d.name() == finding.detector)
                .and_then(|d| d.suppressor());
            if let Some(s) = suppressor {
                if let Some(why) = s.matches(&finding, event) {
                    self.suppressed += 1;
                    tracing::debug!(detector = finding.detector, rule = %finding.rule, identity = %finding.identity, "suppressed: {why}");
                    continue;
                }
                finding.evidence.insert("suppressions_checked", s.checked());
            }
            if let Some(alert) = self.incidents.record(finding) {
                out(alert);
            }
        }
    }

    /// Serialises the baselines and every detector's state (JSON).
    pub fn save(&self) -> Vec<u8> {
        let mut detectors = Map::new();
        for d in &self.detectors {
            let v = serde_json::from_slice(&d.save()).unwrap_or(Value::Null);
            detectors.insert(d.name().to_owned(), v);
        }
        let baselines = serde_json::from_slice(&self.baselines.save()).unwrap_or(Value::Null);
        let incidents = self.incidents.save();
        serde_json::to_vec(&serde_json::json!({ "version": 1, "baselines": baselines, "detectors": detectors, "incidents": incidents }))
            .unwrap_or_default()
    }

    /// Restores an [`Engine::save`] snapshot; detectors absent from it start empty.
    pub fn restore(&mut self, bytes: &[u8]) -> Result<(), DetectorError> {
        let restore_err = |detector: &str, e: &dyn std::fmt::Display| DetectorError::Restore {
            detector: detector.to_owned(),
            message: e.to_string(),
        };
        let mut snap: Value =
            serde_json::from_slice(bytes).map_err(|e| restore_err("engine", &e))?;
        if let Some(b) = snap.get("baselines") {
            let raw = serde_json::to_vec(b).map_err(|e| restore_err("baselines", &e))?;
            self.baselines
                .restore(&raw)
                .map_err(|e| restore_err("baselines", &e))?;
        }
        if let Some(open) = snap.get("incidents") {
            let names = self.detector_names();
            self.incidents
                .restore(open, &names)
                .map_err(|e| restore_err("incidents", &e))?;
        }
        let detectors = snap.get_mut("detectors").and_then(Value::as_object_mut);
        if let Some(states) = detectors {
            for d in &mut self.detectors {
                if let Some(state) = states.remove(d.name()) {
                    let raw = serde_json::to_vec(&state).map_err(|e| restore_err(d.name(), &e))?;
                    d.restore(&raw)?;
                }
            }
        }
        Ok(())
    }
}

/// The enrichment the config asks for; warns when running without a database.
pub fn enricher_from_config(config: &Config) -> Result<Enricher, DetectorError> {
    let mut classifier = Classifier::new();
    classifier.add_ranges(
        config.geoip.azure_ranges.iter().copied(),
        AddressClass::AzureInternal,
    );
    classifier.add_ranges(
        config.geoip.private_ranges.iter().copied(),
        AddressClass::Private,
    );
    match &config.geoip.database {
        Some(path) => {
            let db = GeoIp::open(path)?.with_classifier(classifier);
            tracing::info!(path = %path.display(), kind = db.database_type(), "GeoIP database loaded");
            Ok(Enricher::with_database(Arc::new(db)))
        }
        None => {
            tracing::warn!(
                "no GeoIP database configured (--geoip or [geoip] database): unusual_geo falls back to \
                 new network prefixes (/24, /48) instead of countries, and impossible travel is off"
            );
            Ok(Enricher::without_database(classifier))
        }
    }
}
