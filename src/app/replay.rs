//! `kvwatch replay`: the live pipeline over archived files, driven by event time.
//!
//! Inputs are read in the order [`source::files::plan`] gives (non-layout files,
//! then Storage blobs hour by hour); the watermark moves only between groups, so all
//! blobs of one arrival hour are ordered together, and a lateness margin covers
//! records Azure delivered an hour late. The same records replayed as Event Hubs
//! bodies or as Storage blobs therefore give the same alerts in the same order.
//! Planning, reading and the common observers live in [`super::ingest`], shared
//! with `kvwatch report`.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::delivery::{DeliveryRuntime, DrainReport};
use super::ingest::{Ingest, InputOptions};
use super::metrics::{MetricsOptions, RunMetrics};
use super::summary::Summary;
use crate::detect::Engine;
use crate::metrics::checks;
use crate::pipeline::{Pipeline, SavedState};
use crate::sink::enqueue::Tee;
use crate::sink::json_lines::JsonLinesSink;
use crate::sink::AlertSink;
use crate::state::{Checkpoint, CheckpointMeta, StateStore};

/// Everything a replay needs, validated.
#[derive(Debug, Clone)]
pub struct ReplayOptions {
    /// The inputs and how to read them (shared with `kvwatch report`).
    pub input: InputOptions,
    /// Where alerts go (`None`: standard output).
    pub output: Option<PathBuf>,
    /// Where the JSON summary goes, if anywhere.
    pub summary: Option<PathBuf>,
    /// The metrics endpoint and snapshot (`--metrics-listen`, `--metrics-out`).
    pub metrics: MetricsOptions,
    /// Detector state loaded before and saved after the replay (`--state`).
    pub state: Option<PathBuf>,
    /// Ignore what the state file holds (`--reset-state`).
    pub reset_state: bool,
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
    let input = &opts.input;
    let config = &input.config;
    let run_metrics = RunMetrics::start(&opts.metrics, config)?;
    let mut ingest = Ingest::plan(input)?;
    let mut observers = std::mem::take(&mut ingest.observers);
    let engine = Engine::from_config(config).context("cannot load the detectors")?;
    if let Some(m) = &run_metrics {
        observers.push(Box::new(m.observer()));
        m.ready(checks::SOURCES_CONNECTED);
        m.ready(checks::STATE_LOADED);
    }
    // With [[sinks]], alerts also go to the durable outbox and its delivery workers.
    let delivery_observers = run_metrics
        .iter()
        .map(|m| m.metrics().delivery_observer())
        .collect();
    let delivery = DeliveryRuntime::start(config, delivery_observers)?;
    if let (Some(m), Some(_)) = (&run_metrics, &delivery) {
        m.ready(checks::OUTBOX_WRITABLE);
    }
    let output = open_output(opts.output.as_ref())?;
    let sink: Box<dyn AlertSink> = match &delivery {
        Some(d) => Box::new(Tee(vec![output, d.sink(config)])),
        None => output,
    };
    let mut pipeline = Pipeline::new(Ingest::settings(input), engine, sink, observers);
    let store = match &opts.state {
        Some(path) => Some(load_state(path, opts.reset_state, &mut pipeline)?),
        None => None,
    };
    let fed = Ingest::feed(&ingest.groups, &mut pipeline, input)?;
    if let Some(store) = &store {
        save_state(store, &pipeline)?;
    }
    if let Some(m) = &run_metrics {
        m.metrics().state().record(&pipeline.memory());
    }
    // `finish` committed the outbox: the replay is complete. Give the sinks up to the
    // drain timeout; what is left goes out with the next run.
    let drained = match delivery {
        Some(d) => Some(d.finish(config.outbox.drain_timeout.as_std())?),
        None => None,
    };

    let summary = ingest.summary(fed);
    if let Some(path) = &opts.summary {
        let json = serde_json::to_vec_pretty(&summary)?;
        std::fs::write(path, json)
            .with_context(|| format!("cannot write the summary to {}", path.display()))?;
    }
    if let Some(m) = &run_metrics {
        m.write_snapshot()?;
    }
    Ok(ReplayOutcome {
        delivery: drained,
        summary,
        metrics: run_metrics,
    })
}

/// Opens the `--state` file and restores the pipeline from it (unless reset).
fn load_state(path: &Path, reset: bool, pipeline: &mut Pipeline) -> Result<StateStore> {
    if reset && path.exists() {
        std::fs::remove_file(path)
            .with_context(|| format!("cannot reset the state file {}", path.display()))?;
    }
    let store = StateStore::open(path).context("cannot open the state file (--state)")?;
    let checkpoint = store.load().with_context(|| {
        format!(
            "cannot read the state in {} (--reset-state starts over)",
            path.display()
        )
    })?;
    if let Some(c) = checkpoint {
        let saved = SavedState {
            detectors: c.detectors,
            dedup: c.dedup,
        };
        pipeline
            .restore_state(saved, c.meta.released_up_to)
            .with_context(|| {
                format!(
                    "cannot restore the detector state from {} (--reset-state starts over)",
                    path.display()
                )
            })?;
        tracing::info!(released_up_to = ?c.meta.released_up_to, "loaded the state in {}", path.display());
    }
    Ok(store)
}

/// Saves the pipeline's state after the replay (everything is released by then).
fn save_state(store: &StateStore, pipeline: &Pipeline) -> Result<()> {
    let state = pipeline.save_state();
    let checkpoint = Checkpoint {
        meta: CheckpointMeta {
            watermark: pipeline.released_up_to(),
            released_up_to: pipeline.released_up_to(),
            written_at: Some(chrono::Utc::now()),
        },
        partitions: Default::default(),
        detectors: state.detectors,
        dedup: state.dedup,
    };
    store
        .commit(&checkpoint)
        .with_context(|| format!("cannot save the state to {}", store.path().display()))
}

fn open_output(path: Option<&PathBuf>) -> Result<Box<dyn AlertSink>> {
    Ok(match path {
        Some(p) => {
            let file = crate::state::private::create(p)
                .with_context(|| format!("cannot create {}", p.display()))?;
            let out: Box<dyn Write + Send> = Box::new(BufWriter::new(file));
            Box::new(JsonLinesSink::new(p.display().to_string(), out))
        }
        None => Box::new(JsonLinesSink::new(
            "standard output",
            Box::new(BufWriter::new(std::io::stdout())),
        )),
    })
}
