//! Reading archived logs through the shared pipeline: what `kvwatch replay` and
//! `kvwatch report` have in common.
//!
//! Both commands plan the inputs the same way (non-layout files, then Storage blobs
//! hour by hour), build the pipeline from the same settings, count the run with the
//! same summary observer, and move the watermark only between groups of inputs. Only
//! what they do with the alerts and the events differs (print them, or aggregate them
//! into a report), so that part stays in each command and this module holds the rest:
//! a report over some logs sees exactly the alerts a replay of them prints.
//!
//! Inputs are streamed and decoded on every core ([`super::stream`]); this thread
//! runs the stateful stages on the decoded records in input order, so the alerts do
//! not depend on the number of threads.

use std::io::IsTerminal;
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::{Context, Result};

use super::progress::Progress;
use super::stream::{for_each_step, ReadSettings, Step};
use super::summary::{RejectLog, Summary, SummaryObserver};
use crate::config::Config;
use crate::decode::Format;
use crate::pipeline::{ArrivalMode, EventFilter, Observers, Origin, Pipeline, PipelineSettings};
use crate::source::files::{plan, Group};

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
    /// Decoding threads (`--threads`; the number of cores by default).
    pub threads: usize,
}

/// The default `--threads`: every core this process may run on.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// A planned run: the input groups, and the observers every run has (the summary,
/// the log of the first rejected records, the progress line).
pub struct Ingest {
    /// The inputs, grouped by arrival hour.
    pub groups: Vec<Group>,
    /// Entries under the input folders skipped while planning (dangling links,
    /// link loops).
    pub skipped_paths: u64,
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
    /// Inputs that could not be read, or failed while they were read (skipped,
    /// unless `--strict`; records read before a failure are kept).
    pub unreadable: u64,
    /// Inputs read to the end without a single record (empty, or not a log).
    pub empty: u64,
}

impl Ingest {
    /// Plans the inputs and sets up the common observers; the clock of the run
    /// (its summary's elapsed time) starts now.
    pub fn plan(opts: &InputOptions) -> Result<Ingest> {
        let started = Instant::now();
        let plan = plan(&opts.paths).context("cannot plan the run; check the paths")?;
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
            groups: plan.groups,
            skipped_paths: plan.skipped.len() as u64,
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
            arrival: ArrivalMode::Paced,
        }
    }

    /// Reads every input into `pipeline`, moving the watermark after each group (and
    /// inside a long input), and finishes the pipeline (its sink is flushed when this
    /// returns).
    pub fn feed(groups: &[Group], pipeline: &mut Pipeline, opts: &InputOptions) -> Result<Fed> {
        let mut fed = Fed::default();
        let settings = ReadSettings {
            format: opts.format,
            limits: opts.config.limits(),
            threads: opts.threads.max(1),
        };
        let mut origin = Origin::Stdin;
        let mut records = 0usize;
        let mut group = 0usize;
        for_each_step(groups, settings, &mut |step| {
            let done: Result<()> = match step {
                Step::Input(o) => {
                    origin = o;
                    records = 0;
                    // Storage-layout hours arrive in order, as a live hub's records
                    // do: the arrival rules read them on arrival. Loose inputs
                    // (exports, standard input) are in no order: on release.
                    pipeline.set_arrival(if groups.get(group).is_none_or(|g| g.hour.is_some()) {
                        ArrivalMode::Paced
                    } else {
                        ArrivalMode::WithRelease
                    });
                    Ok(())
                }
                Step::Records(chunk) => {
                    records += chunk.records.len();
                    pipeline
                        .ingest_decoded(&origin, chunk)
                        .and_then(|()| pipeline.advance_within_input())
                        .map_err(Into::into)
                }
                Step::InputEnd(Ok(())) => {
                    fed.inputs += 1;
                    if records == 0 {
                        fed.empty += 1;
                        tracing::warn!(
                            "{origin}: no record found (empty, or not a Key Vault log in a known format)"
                        );
                    }
                    Ok(())
                }
                Step::InputEnd(Err(e)) if opts.strict => Err(e.into()),
                Step::InputEnd(Err(e)) => {
                    fed.unreadable += 1;
                    tracing::error!("{e}; skipping the rest of this input");
                    Ok(())
                }
                Step::GroupEnd => {
                    group += 1;
                    pipeline.advance_by_lateness().map_err(Into::into)
                }
            };
            match done {
                Ok(()) => ControlFlow::Continue(()),
                Err(e) => ControlFlow::Break(e),
            }
        })?;
        pipeline.finish()?;
        Ok(fed)
    }

    /// The run's summary: the observers' counts plus the inputs and the wall-clock
    /// time; warns when rejected records were left out of the log.
    pub fn summary(&self, fed: Fed) -> Summary {
        let mut summary = self.summary.lock().map(|s| s.clone()).unwrap_or_default();
        summary.settle();
        summary.inputs = fed.inputs;
        summary.unreadable_inputs = fed.unreadable;
        summary.empty_inputs = fed.empty;
        summary.skipped_paths = self.skipped_paths;
        summary.elapsed_seconds = self.started.elapsed().as_secs_f64();
        summary.records_per_second = summary.records as f64 / summary.elapsed_seconds.max(1e-9);
        let hidden = self.hidden.lock().map(|h| *h).unwrap_or(0);
        if hidden > 0 {
            tracing::warn!("{hidden} more rejected records not shown");
        }
        summary
    }
}
