//! Validates `kvwatch simulate` arguments into a [`SimulationSpec`].

use anyhow::{bail, Context, Result};
use chrono::NaiveDate;

use super::args::RawSimulateArgs;
use crate::simulate::{OutputShape, ScenarioSet, SimulationSpec};

/// Turns raw arguments into a simulation spec, or says what to fix.
pub fn validate(raw: RawSimulateArgs) -> Result<SimulationSpec> {
    let start = NaiveDate::parse_from_str(raw.start.trim(), "%Y-%m-%d")
        .with_context(|| format!("--start {:?}: write a date such as 2026-11-01", raw.start))?;
    let shape = match raw.shape.as_str() {
        "storage" => OutputShape::Storage,
        "event-hubs" | "eventhubs" => OutputShape::EventHubs,
        "both" => OutputShape::Both,
        other => bail!("--shape {other:?}: expected storage, event-hubs or both"),
    };
    let scenarios = match raw.scenarios.as_str() {
        "all" => ScenarioSet::All,
        "none" => ScenarioSet::None,
        other => bail!("--scenarios {other:?}: expected all or none"),
    };
    if !(1..=366).contains(&raw.days) {
        bail!("--days {}: simulate between 1 and 366 days", raw.days);
    }
    if !(raw.volume > 0.0 && raw.volume <= 20.0) {
        bail!(
            "--volume {}: expected a factor above 0 and at most 20",
            raw.volume
        );
    }
    if raw.out.is_file() {
        bail!("--out {}: is a file; give a folder", raw.out.display());
    }
    Ok(SimulationSpec {
        out: raw.out,
        start,
        days: raw.days,
        seed: raw.seed,
        principals: raw.principals,
        shape,
        scenarios,
        volume: raw.volume,
        managed_hsm: !raw.no_hsm,
        activity_log: raw.activity_log,
        overwrite: raw.overwrite,
    })
}
