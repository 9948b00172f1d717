//! `kvwatch report`: a replay whose alerts are collected instead of printed, with the
//! report's collector watching the pipeline, rendered to HTML, Markdown or JSON.
//!
//! Planning, reading and the pipeline are the replay's own ([`super::ingest`]), with
//! the same detectors and config, so the report's incidents are exactly the alerts
//! `kvwatch replay` prints for the same inputs. Configured `[[sinks]]` are not used:
//! a report is for reading, not for paging anyone again.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};
use chrono::Utc;

use super::ingest::{Ingest, InputOptions};
use super::summary::Summary;
use crate::config::Config;
use crate::detect::engine::enricher_from_config;
use crate::detect::enrichment::Enricher;
use crate::detect::Engine;
use crate::enrich::{AddressClass, Classifier};
use crate::pipeline::Pipeline;
use crate::report::model::{Inputs, Scope};
use crate::report::{build, render, Build, Collector, ReportFormat};
use crate::sink::Collect;

/// Everything a report needs, validated.
#[derive(Debug, Clone)]
pub struct ReportOptions {
    /// The inputs and how to read them (as for replay).
    pub input: InputOptions,
    /// Principals to focus on (identity, object id, app id or UPN); empty: all.
    pub principals: Vec<String>,
    /// The output format.
    pub format: ReportFormat,
    /// Where the report goes (`None`: standard output).
    pub out: Option<PathBuf>,
}

/// How a report run ended.
#[derive(Debug)]
pub struct ReportOutcome {
    /// The run's counts.
    pub summary: Summary,
    /// Incidents in the report.
    pub incidents: usize,
    /// Findings in the report.
    pub findings: usize,
    /// Bytes written.
    pub bytes: usize,
}

/// Runs the pipeline over the inputs and writes the report.
pub fn report(opts: ReportOptions) -> Result<ReportOutcome> {
    let input = &opts.input;
    let config = &input.config;
    let mut ingest = Ingest::plan(input)?;
    let mut observers = std::mem::take(&mut ingest.observers);
    let engine = Engine::from_config(config).context("cannot load the detectors")?;
    let enricher = report_enricher(config)?;
    let collector = Collector::new(&config.report, enricher);
    let collected = collector.shared();
    observers.push(Box::new(collector));
    let alerts = Collect::default();
    let mut pipeline = Pipeline::new(
        Ingest::settings(input),
        engine,
        Box::new(alerts.clone()),
        observers,
    );
    let fed = Ingest::feed(&ingest.groups, &mut pipeline, input)?;
    drop(pipeline);
    let summary = ingest.summary(fed);

    let mut collected = collected
        .lock()
        .map_err(|_| anyhow::anyhow!("the report collector panicked"))?;
    let mut vaults: Vec<String> = input.filter.vaults.iter().cloned().collect();
    vaults.sort();
    let roles = crate::detect::registry::roles(&config.detectors)?;
    let model = build(
        &mut collected,
        Build {
            config: &config.report,
            roles: roles.as_ref(),
            alerts: alerts.alerts(),
            inputs: Inputs {
                inputs: summary.inputs,
                unreadable_inputs: summary.unreadable_inputs,
                records: summary.records,
                rejected: summary.rejected,
                skipped: summary.skipped,
                duplicates: summary.duplicates,
                filtered: summary.filtered,
                events: summary.processed,
            },
            scope: Scope {
                since: input.filter.since,
                until: input.filter.until,
                vaults,
                principals: opts.principals.clone(),
            },
            generated_at: Utc::now(),
        },
    );
    let text = render(&model, opts.format)?;
    match &opts.out {
        Some(path) => std::fs::write(path, &text)
            .with_context(|| format!("cannot write the report to {}", path.display()))?,
        None => {
            let mut stdout = std::io::stdout().lock();
            stdout
                .write_all(text.as_bytes())
                .context("cannot write the report to standard output")?;
            stdout.flush()?;
        }
    }
    Ok(ReportOutcome {
        summary,
        incidents: model.incidents.len(),
        findings: model.findings.len(),
        bytes: text.len(),
    })
}

/// The collector's geography: the engine's database when one is configured (opened
/// again, so the engine stays built exactly as replay builds it), else address
/// classes only (the engine has already warned that there is no database).
fn report_enricher(config: &Config) -> Result<Enricher> {
    if config.geoip.database.is_some() {
        return enricher_from_config(config).context("cannot load the GeoIP database");
    }
    let mut classifier = Classifier::new();
    classifier.add_ranges(
        config.geoip.azure_ranges.iter().copied(),
        AddressClass::AzureInternal,
    );
    classifier.add_ranges(
        config.geoip.private_ranges.iter().copied(),
        AddressClass::Private,
    );
    Ok(Enricher::without_database(classifier))
}
