//! `kvwatch simulate`: realistic multi-day Key Vault audit traffic with labelled attacks.
//!
//! Detectors are evaluated on hits, misses and false alerts per day, which needs a
//! tenant's whole life, not just attacks: people in their time zones, apps
//! restarting, pipelines and backups reading dozens of secrets, Azure's own
//! callers, SDK challenges, honest mistakes, and admins changing vaults. This
//! module generates that traffic deterministically from a seed, writes it the way
//! Azure delivers it (the Storage `PT1H.json` layout by arrival hour, and/or Event
//! Hubs bodies), and writes the ground truth next to it: `_labels.jsonl` (one
//! object per labelled scenario), `_tenant.json` and a `_geoip.mmdb` that locates
//! every public address used. Names starting with `_` are skipped by replay.
//!
//! Generation is streamed hour by hour: planned scenarios are merged with each
//! day's generated traffic, rendered, delayed by Azure's export latency and written
//! once their arrival hour is complete, so memory stays flat even with a million
//! extra principals (`principals`).

mod activity;
mod admin;
mod batch;
mod clock;
mod describe;
mod errors;
mod ids;
mod inventory;
mod jobs;
mod json;
mod output;
mod places;
mod plan;
mod platform;
mod render;
mod request;
mod run;
mod scale;
mod scenarios;
mod sessions;
mod tenant;
mod users;
mod vaults;
mod workloads;

use std::path::PathBuf;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

pub use plan::Label;
pub use run::simulate;

/// Which files to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutputShape {
    /// The Storage layout (`resourceId=/…/PT1H.json`).
    #[default]
    Storage,
    /// Event Hubs bodies under `eventhubs/`.
    EventHubs,
    /// Both; the Event Hubs copy goes under `_eventhubs/` so a replay of the folder
    /// reads each record once.
    Both,
}

/// Which attack scenarios to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ScenarioSet {
    /// Every scenario of the catalogue.
    #[default]
    All,
    /// Benign traffic only (admins' labelled access changes still happen).
    None,
}

/// What to simulate.
#[derive(Debug, Clone, PartialEq)]
pub struct SimulationSpec {
    /// The output folder.
    pub out: PathBuf,
    /// First day (UTC).
    pub start: NaiveDate,
    /// Number of days.
    pub days: u32,
    /// The random seed; the same spec gives byte-identical output.
    pub seed: u64,
    /// Extra low-activity principals (scale mode).
    pub principals: u64,
    /// Files to write.
    pub shape: OutputShape,
    /// Attack scenarios.
    pub scenarios: ScenarioSet,
    /// Multiplier of machine traffic (key operations, polling, restarts); people,
    /// backups, deployments and scenarios are not scaled.
    pub volume: f64,
    /// Include a Managed HSM.
    pub managed_hsm: bool,
    /// Also write the tenant's Activity Log (`insights-activity-logs/…`) and its
    /// attacks; the AuditEvent output without it is unchanged.
    pub activity_log: bool,
    /// Replace a previous simulation's output in `out`.
    pub overwrite: bool,
}

impl SimulationSpec {
    /// The defaults of `kvwatch simulate`: 14 days from 2026-11-01, seed 42.
    pub fn new(out: impl Into<PathBuf>) -> Self {
        SimulationSpec {
            out: out.into(),
            start: NaiveDate::from_ymd_opt(2026, 11, 1).unwrap_or_default(),
            days: 14,
            seed: 42,
            principals: 0,
            shape: OutputShape::Storage,
            scenarios: ScenarioSet::All,
            volume: 1.0,
            managed_hsm: true,
            activity_log: false,
            overwrite: false,
        }
    }

    fn check(&self) -> Result<(), SimulateError> {
        let bad = |m: String| Err(SimulateError::InvalidSpec(m));
        if !(1..=366).contains(&self.days) {
            return bad(format!("days must be between 1 and 366, not {}", self.days));
        }
        if !(self.volume.is_finite() && self.volume > 0.0 && self.volume <= 20.0) {
            return bad(format!("volume must be in (0, 20], not {}", self.volume));
        }
        if self.principals > 20_000_000 {
            return bad(format!(
                "at most 20,000,000 extra principals, not {}",
                self.principals
            ));
        }
        Ok(())
    }
}

/// Why a simulation failed.
#[derive(Debug, thiserror::Error)]
pub enum SimulateError {
    /// The spec makes no sense.
    #[error("invalid simulation: {0}")]
    InvalidSpec(String),
    /// The folder holds a previous simulation's output.
    #[error("{} already holds simulation output; choose another folder or pass --overwrite", path.display())]
    NotEmpty {
        /// The folder.
        path: PathBuf,
    },
    /// A file could not be written.
    #[error("cannot write {}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The GeoIP database could not be built.
    #[error("cannot build the GeoIP database: {0}")]
    Geo(#[from] crate::enrich::MmdbWriteError),
}

/// What a simulation wrote.
#[derive(Debug, Clone, Serialize)]
pub struct SimulationReport {
    /// The output folder.
    pub out: PathBuf,
    /// First instant simulated.
    pub start: DateTime<Utc>,
    /// End of the period (exclusive).
    pub end: DateTime<Utc>,
    /// Records written (each once; Event Hubs duplicates not counted).
    pub records: u64,
    /// Of which from scale-mode principals.
    pub scale_records: u64,
    /// Of which planned (scenarios, admin changes, notifications).
    pub planned_records: u64,
    /// Labels written.
    pub labels: usize,
    /// Labels of kind `attack`.
    pub attack_labels: usize,
    /// Principals declared in `_tenant.json` plus scale-mode principals.
    pub principals: u64,
    /// Vaults and managed HSMs.
    pub vaults: usize,
    /// Storage blobs written.
    pub blobs: u64,
    /// Event Hubs bodies written (duplicates included).
    pub event_hub_bodies: u64,
    /// Exact duplicate bodies among them.
    pub duplicate_bodies: u64,
    /// Bytes of record files.
    pub bytes: u64,
    /// Activity Log records written (`--activity-log`).
    pub activity_records: u64,
    /// Wall-clock seconds.
    pub elapsed_seconds: f64,
}

impl SimulationReport {
    /// A short human summary.
    pub fn render(&self) -> String {
        format!(
            "simulated {} to {} into {}: {} records ({} scale, {} planned), {} labels ({} attacks), {} principals, {} vaults, {} blobs, {} Event Hubs bodies ({} duplicates), {:.1} MB in {:.1} s",
            self.start.format("%Y-%m-%d"),
            self.end.format("%Y-%m-%d"),
            self.out.display(),
            self.records,
            self.scale_records,
            self.planned_records,
            self.labels,
            self.attack_labels,
            self.principals,
            self.vaults,
            self.blobs,
            self.event_hub_bodies,
            self.duplicate_bodies,
            self.bytes as f64 / 1e6,
            self.elapsed_seconds
        ) + &if self.activity_records > 0 {
            format!(
                "; {} Activity Log records under {}/",
                self.activity_records,
                activity::FOLDER
            )
        } else {
            String::new()
        }
    }
}

/// The names of the attack scenarios in the catalogue.
pub fn scenario_names() -> Vec<&'static str> {
    scenarios::names()
}
