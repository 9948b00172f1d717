//! Reading archived logs through the shared pipeline: what `kvwatch replay` and
//! `kvwatch report` have in common.
//!
//! Both commands plan the inputs the same way (non-layout files, then Storage blobs
//! hour by hour), build the pipeline from the same settings, count the run with the
//! same summary observer, and move the watermark only between groups of inputs. Only
//! what they do with the alerts and the events differs (print them, or aggregate them
//! into a report), so that part stays in each command and this module holds the rest:
//! a report over some logs sees exactly the alerts a replay of them prints.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::{Context, Result};

use super::progress::Progress;
use super::summary::{RejectLog, Summary, SummaryObserver};
use crate::config::Config;
use crate::decode::Format;
use crate::pipeline::{EventFilter, Observers, Origin, Pipeline, PipelineSettings};
use crate::source::files::{plan, read_input, Group, Input};

/// The inputs of a run over archived logs, and how to read them (validated).
#[derive(Debug, Clone)]
pub struct InputOptions {
    /// Files, folders, or `-`.
    pub paths: Vec<PathBuf>,
    /// The input format (`Auto` detects per input).
    pub format: Format,
    /// The configuration.
    pub config: Config,
    /// Which events to keep.
    pub filter: EventFilter,
    /// Stop at the first rejected record or unreadable input.
    pub strict: bool,
    /// Show a progress line (when standard error is a terminal).
    pub progress: bool,
}

/// A planned run: the input groups, and the observers every run has (the summary,
/// the log of the first rejected records, the progress line).
pub struct Ingest {
    /// The inputs, grouped by arrival hour.
    pub groups: Vec<Group>,
    /// The observers to hand the pipeline (add a command's own before building it).
    pub observers: Observers,
    summary: Arc<Mutex<Summary>>,
    hidden: Arc<Mutex<u64>>,
    started: Instant,
}

/// What reading the inputs did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Fed {
    /// Inputs read.
    pub inputs: u64,
    /// Inputs that could not be read (skipped, unless `--strict`).
    pub unreadable: u64,
}

impl Ingest {
    /// Plans the inputs and sets up the common observers; the clock of the run
    /// (its summary's elapsed time) starts now.
    pub fn plan(opts: &InputOptions) -> Result<Ingest> {
        let started = Instant::now();
        let groups = plan(&opts.paths).context("cannot plan the run; check the paths")?;
        let summary = Arc::new(Mutex::new(Summary::default()));
        let mut observers = Observers::default();
        observers.push(Box::new(SummaryObserver(summary.clone())));
        let reject_log = RejectLog::new(5);
        let hidden = reject_log.hidden.clone();
        observers.push(Box::new(reject_log));
        if opts.progress && std::io::stderr().is_terminal() {
            observers.push(Box::new(Progress::new()));
        }
        Ok(Ingest {
            groups,
            observers,
            summary,
            hidden,
            started,
        })
    }

    /// The pipeline settings the config and the options ask for.
    pub fn settings(opts: &InputOptions) -> PipelineSettings {
        let config = &opts.config;
        PipelineSettings {
            lateness: config.pipeline.lateness.as_chrono(),
            dedup_window: config.pipeline.dedup_window.as_std(),
            reorder_capacity: config.pipeline.reorder_capacity,
            limits: config.limits(),
            strict: opts.strict,
            filter: opts.filter.clone(),
        }
    }

    /// Reads every input into `pipeline`, moving the watermark after each group, and
    /// finishes the pipeline (its sink is flushed when this returns).
    pub fn feed(groups: &[Group], pipeline: &mut Pipeline, opts: &InputOptions) -> Result<Fed> {
        let mut fed = Fed::default();
        let pipeline_config = &opts.config.pipeline;
        for group in groups {
            for input in &group.inputs {
                let origin = match input {
                    Input::File(p) => Origin::File(p.clone()),
                    Input::Stdin => Origin::Stdin,
                };
                match read_input(
                    input,
                    pipeline_config.max_input_bytes,
                    pipeline_config.max_decompressed_bytes,
                ) {
                    Ok(bytes) => {
                        fed.inputs += 1;
                        pipeline.ingest(&origin, &bytes, opts.format)?;
                    }
                    Err(e) if opts.strict => return Err(e.into()),
                    Err(e) => {
                        fed.unreadable += 1;
                        tracing::error!("{e}; skipping this input");
                    }
                }
            }
            pipeline.advance_by_lateness()?;
        }
        pipeline.finish()?;
        Ok(fed)
    }

    /// The run's summary: the observers' counts plus the inputs and the wall-clock
    /// time; warns when rejected records were left out of the log.
    pub fn summary(&self, fed: Fed) -> Summary {
        let mut summary = self.summary.lock().map(|s| s.clone()).unwrap_or_default();
        summary.inputs = fed.inputs;
        summary.unreadable_inputs = fed.unreadable;
        summary.elapsed_seconds = self.started.elapsed().as_secs_f64();
        summary.records_per_second = summary.records as f64 / summary.elapsed_seconds.max(1e-9);
        let hidden = self.hidden.lock().map(|h| *h).unwrap_or(0);
        if hidden > 0 {
            tracing::warn!("{hidden} more rejected records not shown");
        }
        summary
    }
}
