//! `kvwatch replay`: the live pipeline over archived files, driven by event time.
//!
//! Inputs are read in the order [`source::files::plan`] gives (non-layout files,
//! then Storage blobs hour by hour); the watermark moves only between groups, so all
//! blobs of one arrival hour are ordered together, and a lateness margin covers
//! records Azure delivered an hour late. The same records replayed as Event Hubs
//! bodies or as Storage blobs therefore give the same alerts in the same order.

use std::fs::File;
use std::io::{BufWriter, IsTerminal, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::{Context, Result};

use super::metrics::{MetricsOptions, RunMetrics};
use super::delivery::{DeliveryRuntime, DrainReport};
use super::progress::Progress;
use super::summary::{RejectLog, Summary, SummaryObserver};
use crate::config::Config;
use crate::decode::Format;
use crate::detect::Engine;
use crate::metrics::checks;
use crate::pipeline::{EventFilter, Observers, Origin, Pipeline, PipelineSettings};
use crate::sink::enqueue::Tee;
use crate::sink::json_lines::JsonLinesSink;
use crate::sink::AlertSink;
use crate::source::files::{plan, read_input, Input};

/// Everything a replay needs, validated.
#[derive(Debug, Clone)]
pub struct ReplayOptions {
    /// Files, folders, or `-`.
    pub paths: Vec<PathBuf>,
    /// The input format (`Auto` detects per input).
    pub format: Format,
    /// The configuration.
    pub config: Config,
    /// Which events to keep.
    pub filter: EventFilter,
    /// Where alerts go (`None`: standard output).
    pub output: Option<PathBuf>,
    /// Where the JSON summary goes, if anywhere.
    pub summary: Option<PathBuf>,
    /// Stop at the first rejected record.
    pub strict: bool,
    /// Show a progress line (when standard error is a terminal).
    pub progress: bool,
    /// The metrics endpoint and snapshot (`--metrics-listen`, `--metrics-out`).
    pub metrics: MetricsOptions,
}

/// How a replay ended.
#[derive(Debug)]
pub struct ReplayOutcome {
    /// The counts.
    pub summary: Summary,
    /// How alert delivery ended (with `[[sinks]]` only): what is still waiting.
    pub delivery: Option<DrainReport>,
    /// The run's metrics, when asked for; [`RunMetrics::linger`] keeps serving them.
    pub metrics: Option<RunMetrics>,
}

/// Runs a replay to completion.
pub fn replay(opts: ReplayOptions) -> Result<ReplayOutcome> {
    let started = Instant::now();
    let run_metrics = RunMetrics::start(&opts.metrics, &opts.config)?;
    let groups = plan(&opts.paths).context("cannot plan the replay; check the paths")?;
    let summary = Arc::new(Mutex::new(Summary::default()));
    let mut observers = Observers::default();
    observers.push(Box::new(SummaryObserver(summary.clone())));
    let reject_log = RejectLog::new(5);
    let hidden = reject_log.hidden.clone();
    observers.push(Box::new(reject_log));
    if opts.progress && std::io::stderr().is_terminal() {
        observers.push(Box::new(Progress::new()));
    }
    let engine = Engine::from_config(&opts.config).context("cannot load the detectors")?;
    if let Some(m) = &run_metrics {
        observers.push(Box::new(m.observer()));
        m.ready(checks::SOURCES_CONNECTED);
        m.ready(checks::STATE_LOADED);
    }
    let settings = PipelineSettings {
        lateness: opts.config.pipeline.lateness.as_chrono(),
        dedup_window: opts.config.pipeline.dedup_window.as_std(),
        reorder_capacity: opts.config.pipeline.reorder_capacity,
        limits: opts.config.limits(),
        strict: opts.strict,
        filter: opts.filter.clone(),
    };
    // With [[sinks]], alerts also go to the durable outbox and its delivery workers.
    let delivery_observers = run_metrics.iter().map(|m| m.metrics().delivery_observer()).collect();
    let delivery = DeliveryRuntime::start(&opts.config, delivery_observers)?;
    if let (Some(m), Some(_)) = (&run_metrics, &delivery) {
        m.ready(checks::OUTBOX_WRITABLE);
    }
    let output = open_output(opts.output.as_ref())?;
    let sink: Box<dyn AlertSink> = match &delivery {
        Some(d) => Box::new(Tee(vec![output, d.sink(&opts.config)])),
        None => output,
    };
    let mut pipeline = Pipeline::new(settings, engine, sink, observers);

    let mut inputs = 0u64;
    let mut unreadable = 0u64;
    for group in &groups {
        for input in &group.inputs {
            let origin = match input {
                Input::File(p) => Origin::File(p.clone()),
                Input::Stdin => Origin::Stdin,
            };
            match read_input(input, opts.config.pipeline.max_decompressed_bytes) {
                Ok(bytes) => {
                    inputs += 1;
                    pipeline.ingest(&origin, &bytes, opts.format)?;
                }
                Err(e) if opts.strict => return Err(e.into()),
                Err(e) => {
                    unreadable += 1;
                    tracing::error!("{e}; skipping this input");
                }
            }
        }
        pipeline.advance_by_lateness()?;
    }
    pipeline.finish()?;
    // `finish` committed the outbox: the replay is complete. Give the sinks up to the
    // drain timeout; what is left goes out with the next run.
    let drained = match delivery {
        Some(d) => Some(d.finish(opts.config.outbox.drain_timeout.as_std())?),
        None => None,
    };

    let mut summary = summary.lock().map(|s| s.clone()).unwrap_or_default();
    summary.inputs = inputs;
    summary.unreadable_inputs = unreadable;
    summary.elapsed_seconds = started.elapsed().as_secs_f64();
    summary.records_per_second = summary.records as f64 / summary.elapsed_seconds.max(1e-9);
    let hidden = hidden.lock().map(|h| *h).unwrap_or(0);
    if hidden > 0 {
        tracing::warn!("{hidden} more rejected records not shown");
    }
    if let Some(path) = &opts.summary {
        let json = serde_json::to_vec_pretty(&summary)?;
        std::fs::write(path, json).with_context(|| format!("cannot write the summary to {}", path.display()))?;
    }
    if let Some(m) = &run_metrics {
        m.write_snapshot()?;
    }
    Ok(ReplayOutcome { delivery: drained, summary, metrics: run_metrics })
}

fn open_output(path: Option<&PathBuf>) -> Result<Box<dyn AlertSink>> {
    Ok(match path {
        Some(p) => {
            let file = File::create(p).with_context(|| format!("cannot create {}", p.display()))?;
            let out: Box<dyn Write + Send> = Box::new(BufWriter::new(file));
            Box::new(JsonLinesSink::new(p.display().to_string(), out))
        }
        None => Box::new(JsonLinesSink::new("standard output", Box::new(BufWriter::new(std::io::stdout())))),
    })
}
