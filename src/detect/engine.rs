//! The engine: enrichment once per event, every detector, then the baselines learn,
//! then suppressions, then incidents.
//!
//! The order matters. Detectors compare an event with the history *before* it, so
//! the baselines learn only after all detectors have looked. Suppressions act on
//! findings, not events, so allow-listed traffic still teaches the baselines.
//!
//! An engine is built from the configuration by `Engine::from_config`, which lives
//! with the detector registry (`registry.rs`): the engine runs detectors, it does not
//! know which ones exist.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use std::collections::BTreeMap;

use serde_json::value::RawValue;
use serde_json::Value;

use super::baseline::{BaselineSettings, Baselines, MemoryReport};
use super::detector::{Detector, DetectorError, DetectorMemory};
use super::enrichment::Enricher;
use super::finding::Finding;
use super::incident::{IncidentPolicy, Incidents};
use super::observation::Observation;
use super::snapshot;
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

    /// Runs every detector over one event, arrival rules and ordered rules at once
    /// (the event is both arriving and released); alerts go to `out`.
    pub fn process(&mut self, event: &AuditEvent<'_>, out: &mut dyn FnMut(Alert)) {
        self.arrive(event, out);
        self.release(event, out);
    }

    /// Whether any detector reads `event` on arrival ([`Detector::on_arrival`]).
    pub fn reads_on_arrival(&self, event: &AuditEvent<'_>) -> bool {
        self.detectors.iter().any(|d| d.on_arrival(event))
    }

    /// Runs the rules that alert on arrival ([`Detector::on_arrival`]) over an event
    /// that has just arrived, before the watermark orders it; alerts go to `out`.
    /// The event must later be handed to [`Engine::release`]. Most events interest
    /// no detector here: that costs one cheap test per detector.
    pub fn arrive(&mut self, event: &AuditEvent<'_>, out: &mut dyn FnMut(Alert)) {
        if !self.reads_on_arrival(event) {
            return;
        }
        let geo = self.enricher.geo(event.caller_ip);
        let obs = Observation::new(event, &geo, &self.baselines);
        for d in &mut self.detectors {
            if d.on_arrival(event) {
                d.arrive(&obs, &mut self.scratch);
            }
        }
        self.drain(Some(event), out);
    }

    /// Runs the ordered rules over one event the watermark released (in event-time
    /// order, late events excepted), then lets the baselines learn from it; alerts
    /// go to `out`.
    pub fn release(&mut self, event: &AuditEvent<'_>, out: &mut dyn FnMut(Alert)) {
        // Control-plane events (the Activity Log) go to every detector: control_plane
        // reads them, destructive_operations counts vault deletions, failed_auth
        // counts denied attempts. They do not teach the baselines: an ARM call has
        // no vault for most scopes, and its Start and Success records are one change
        // (the rules read the Success alone), so counting them would skew the
        // per-vault and per-class rates AuditEvent builds.
        let control = event.control_plane().is_some();
        let geo = self.enricher.geo(event.caller_ip);
        let (principal, vault, now) = {
            let obs = Observation::new(event, &geo, &self.baselines);
            for d in &mut self.detectors {
                d.observe(&obs, &mut self.scratch);
            }
            (obs.principal, obs.vault, obs.now)
        };
        if !control {
            self.baselines.learn(event, &geo, principal, vault, now);
        }
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

    /// Serialises the baselines, the open incidents and every detector's state
    /// (see [`super::snapshot`] for the format).
    pub fn save(&self) -> Vec<u8> {
        let written = snapshot::write_snapshot(|w| {
            self.baselines.save_into(w)?;
            w.bytes(&serde_json::to_vec(&self.incidents.save())?)?;
            w.value(&(self.detectors.len() as u32))?;
            for d in &self.detectors {
                w.value(d.name())?;
                w.bytes(&d.save())?;
            }
            Ok(())
        });
        written.unwrap_or_else(|e| {
            tracing::error!("cannot write the detection state: {e}");
            Vec::new()
        })
    }

    /// Restores an [`Engine::save`] snapshot (or one older builds wrote as JSON);
    /// detectors absent from it start empty.
    pub fn restore(&mut self, bytes: &[u8]) -> Result<(), DetectorError> {
        if !snapshot::is_binary(bytes) {
            return self.restore_json(bytes);
        }
        self.restore_binary(bytes)
    }

    /// As [`Engine::restore`], consuming the snapshot: its memory is given back
    /// while the state is rebuilt, so a restore peaks near the state plus a slice of
    /// the snapshot rather than both whole.
    pub fn restore_owned(&mut self, bytes: Vec<u8>) -> Result<(), DetectorError> {
        if !snapshot::is_binary(&bytes) {
            return self.restore_json(&bytes);
        }
        self.restore_binary(snapshot::Draining::new(bytes))
    }

    /// Restores a format 2 snapshot read from `input`.
    fn restore_binary(&mut self, input: impl std::io::Read) -> Result<(), DetectorError> {
        let names = self.detector_names();
        let Engine {
            baselines,
            incidents,
            detectors,
            ..
        } = self;
        // Each detector restores straight from the stream (or from its part's
        // bytes, read one part at a time), never from every part held at once.
        let read = snapshot::read_snapshot_from(input, |r| {
            baselines.restore_from(r)?;
            let saved_incidents: Value = serde_json::from_slice(&r.bytes()?)?;
            let count: u32 = r.value()?;
            for _ in 0..count {
                let name: String = r.value()?;
                match detectors.iter_mut().find(|d| d.name() == name) {
                    // A failure leaves the stream somewhere in the part: stop.
                    Some(d) => {
                        if let Err(e) = d.restore_from(r) {
                            return Ok((saved_incidents, Some(e)));
                        }
                    }
                    // A detector this build does not run: skip its part.
                    None => drop(r.bytes()?),
                }
            }
            Ok((saved_incidents, None))
        });
        let (saved_incidents, failed) = read.map_err(|e| restore_err("engine", &e))?;
        if let Some(e) = failed {
            return Err(e);
        }
        incidents
            .restore(&saved_incidents, &names)
            .map_err(|e| restore_err("incidents", &e))?;
        Ok(())
    }

    /// Restores a snapshot of format 1 (JSON, each part as its owner wrote it).
    fn restore_json(&mut self, bytes: &[u8]) -> Result<(), DetectorError> {
        let snap: SavedEngine =
            serde_json::from_slice(bytes).map_err(|e| restore_err("engine", &e))?;
        if snap.version != 1 {
            let unknown = format!(
                "unknown state version {} (this build reads 1 and 2)",
                snap.version
            );
            return Err(restore_err("engine", &unknown));
        }
        if let Some(b) = &snap.baselines {
            self.baselines
                .restore_json(b.get().as_bytes())
                .map_err(|e| restore_err("baselines", &e))?;
        }
        if let Some(open) = &snap.incidents {
            let names = self.detector_names();
            self.incidents
                .restore(open, &names)
                .map_err(|e| restore_err("incidents", &e))?;
        }
        for d in &mut self.detectors {
            if let Some(Some(state)) = snap.detectors.get(d.name()) {
                d.restore(state.get().as_bytes())?;
            }
        }
        Ok(())
    }
}

fn restore_err(detector: &str, e: &dyn std::fmt::Display) -> DetectorError {
    DetectorError::Restore {
        detector: detector.to_owned(),
        message: e.to_string(),
    }
}

/// The shape of a format 1 snapshot (JSON): each part as the JSON its owner wrote.
#[derive(serde::Deserialize)]
struct SavedEngine {
    version: u32,
    baselines: Option<Box<RawValue>>,
    #[serde(default)]
    detectors: BTreeMap<String, Option<Box<RawValue>>>,
    incidents: Option<Value>,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::baseline::keys::principal_key;

    /// A record of a principal whose object id, as a 128-bit key, is above
    /// `u64::MAX`, at `minute` past 09:00.
    fn record(minute: u32, status: u16) -> String {
        format!(
            r#"{{"time":"2026-03-02T09:{minute:02}:00Z","category":"AuditEvent","operationName":"SecretGet","resultType":"Success","callerIpAddress":"81.2.69.160","identity":{{"claim":{{"oid":"f0e1d2c3-b4a5-4968-8776-655443322110","appid":"04b07795-8ddb-461a-bbee-02f9e1bf7b46"}}}},"properties":{{"id":"https://kv1.vault.azure.net/secrets/s{minute}","httpStatusCode":{status}}},"resourceId":"/SUBSCRIPTIONS/S/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.KEYVAULT/VAULTS/KV1"}}"#
        )
    }

    #[test]
    fn a_saved_engine_restores_to_the_same_state() {
        let config = Config::default();
        let mut engine = Engine::from_config(&config).expect("default detectors");
        for minute in 0..40 {
            let line = record(minute, if minute % 3 == 0 { 403 } else { 200 });
            let event = crate::decode::decode_record(line.as_bytes()).expect("a valid record");
            engine.process(&event, &mut |_| {});
        }
        let saved = engine.save();
        assert!(snapshot::is_binary(&saved), "the binary format");
        let mut restored = Engine::from_config(&config).expect("default detectors");
        restored.restore(&saved).expect("the snapshot restores");
        assert_eq!(
            restored.save(),
            saved,
            "save, restore, save gives the same bytes"
        );
        let key = principal_key("f0e1d2c3-b4a5-4968-8776-655443322110");
        assert!(key > u128::from(u64::MAX));
        assert!(
            restored.baselines().principal(key).is_some(),
            "the principal is back"
        );
        assert_eq!(restored.baselines().memory().principals, 1);
    }

    #[test]
    fn a_corrupt_snapshot_is_a_clear_error() {
        let mut engine = Engine::from_config(&Config::default()).expect("default detectors");
        let err = engine
            .restore(br#"{"version":1,"baselines":{"principals":[[1.5e38,{}]]}}"#)
            .expect_err("a float is not a principal key");
        assert!(err.to_string().contains("baselines"), "{err}");
    }
}
