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

mod clock;
mod describe;
mod ids;
mod json;
mod output;
mod places;
mod plan;
mod platform;
mod render;
mod request;
mod scale;
mod scenarios;
mod tenant;
mod users;
mod vaults;
mod workloads;

use std::path::PathBuf;
use std::time::Instant;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use clock::{Tick, DAY, HOUR};
pub use plan::Label;

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
            return bad(format!("at most 20,000,000 extra principals, not {}", self.principals));
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
        )
    }
}

/// The names of the attack scenarios in the catalogue.
pub fn scenario_names() -> Vec<&'static str> {
    scenarios::names()
}

/// Runs a simulation and writes it to `spec.out`.
pub fn simulate(spec: &SimulationSpec) -> Result<SimulationReport, SimulateError> {
    spec.check()?;
    let started = Instant::now();
    output::prepare(&spec.out, spec.overwrite)?;
    let tenant = tenant::Tenant::build(spec.seed, spec.days, spec.managed_hsm);
    let start = clock::midnight(spec.start);
    let ctx = plan::Ctx { tenant: &tenant, seed: spec.seed, start_date: spec.start, start, days: spec.days };
    let mut plan = plan::Plan::default();
    platform::admin_changes(&ctx, &mut plan);
    platform::business_trip(&ctx, &mut plan);
    platform::expiry_notifications(&ctx, &mut plan);
    if spec.scenarios == ScenarioSet::All {
        scenarios::plan_attacks(&ctx, &mut plan);
    }
    platform::follow_changes(&ctx, &mut plan);
    plan.finish(&ctx);
    let history = vaults::ConfigHistory::build(&tenant.vaults, &plan.changes);
    let renderer = render::Renderer::new(&tenant.vaults, &history, &tenant.tenant_id);

    let hubs_dir = match spec.shape {
        OutputShape::Storage => None,
        OutputShape::EventHubs => Some("eventhubs"),
        OutputShape::Both => Some("_eventhubs"),
    };
    let resource_ids = (0..tenant.vaults.len()).map(|v| renderer.resource_id(v).to_owned()).collect();
    let mut writer = output::Writer::new(&spec.out, spec.shape != OutputShape::EventHubs, hubs_dir, resource_ids, spec.seed);
    let mut scale = scale::Scale::new(spec.principals, spec.seed, start, spec.days);
    let planned_records = plan.requests.len() as u64;
    let scale_records = scale.len() as u64;
    let end = start + i64::from(spec.days) * DAY;
    let mut future: Vec<request::Request> = std::mem::take(&mut plan.requests);
    let mut delays = ids::stream(spec.seed, "export-delay", 0);
    let mut pending: Vec<output::Line> = Vec::new();
    let mut seq = 0u64;
    let mut batch = Vec::new();
    for day in 0..spec.days {
        let t0 = start + i64::from(day) * DAY;
        let mut generated = Vec::new();
        for (i, u) in tenant.users.iter().enumerate() {
            users::day(i, u, &tenant.vaults, spec.seed, spec.start, t0, &plan.trips, &mut generated);
        }
        for w in &tenant.workloads {
            workloads::day(w, &tenant.vaults, spec.seed, u64::from(day), t0, spec.volume, &mut generated);
        }
        platform::day(&tenant, spec.seed, u64::from(day), t0, &mut generated);
        generated.retain(|r| r.time >= t0 && r.time < end);
        future.extend(generated);
        future.sort_by_key(|r| r.time);
        for hour in 0..24 {
            let h0 = t0 + hour * HOUR;
            let h1 = h0 + HOUR;
            let ready = future.partition_point(|r| r.time < h1);
            batch.extend(future.drain(..ready));
            scale.until(h1, &tenant, &mut batch);
            for r in batch.drain(..) {
                let mut text = String::with_capacity(1400);
                renderer.render(&r, &mut text);
                pending.push(output::Line { arrival: r.time + output::export_delay(&mut delays), seq, vault: r.vault, text });
                seq += 1;
            }
            flush(&mut writer, &mut pending, h0, h1)?;
        }
    }
    let mut h0 = end;
    while !pending.is_empty() {
        flush(&mut writer, &mut pending, h0, h0 + HOUR)?;
        h0 += HOUR;
    }
    writer.finish()?;

    let labels: String = plan.labels.iter().map(|l| l.to_json() + "\n").collect();
    output::write_file(&spec.out.join("_labels.jsonl"), labels.as_bytes())?;
    output::write_file(&spec.out.join("_tenant.json"), &describe::tenant_json(spec, &tenant, &plan))?;
    let epoch = u64::try_from(clock::epoch_seconds(start)).unwrap_or(0);
    output::write_file(&spec.out.join("_geoip.mmdb"), &places::geoip_database(epoch)?)?;

    let declared = tenant.users.len() + tenant.workloads.len() + tenant.first_party.len() + plan.actors.len();
    let w = writer.written;
    Ok(SimulationReport {
        out: spec.out.clone(),
        start: clock::to_datetime(start),
        end: clock::to_datetime(end),
        records: w.records,
        scale_records,
        planned_records,
        labels: plan.labels.len(),
        attack_labels: plan.labels.iter().filter(|l| l.kind == "attack").count(),
        principals: declared as u64 + spec.principals,
        vaults: tenant.vaults.len(),
        blobs: w.blobs,
        event_hub_bodies: w.bodies,
        duplicate_bodies: w.duplicates,
        bytes: w.bytes,
        elapsed_seconds: started.elapsed().as_secs_f64(),
    })
}

/// Writes the records that arrived before `h1` (their arrival hour is complete:
/// every record generated later has an event time, hence an arrival, after `h1`).
fn flush(writer: &mut output::Writer, pending: &mut Vec<output::Line>, h0: Tick, h1: Tick) -> Result<(), SimulateError> {
    pending.sort_by_key(|l| (l.arrival, l.seq));
    let ready = pending.partition_point(|l| l.arrival < h1);
    let lines: Vec<output::Line> = pending.drain(..ready).collect();
    writer.hour(h0, &lines)
}
