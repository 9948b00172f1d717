//! `kvwatch run`: validates the arguments and the config into [`LiveOptions`], runs the
//! live pipeline until SIGTERM or Ctrl-C, and maps the outcome to an exit status. With
//! `--embedded`, [`super::embedded`] runs it on an embedded Event Hubs instead.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::Args;
use tokio_util::sync::CancellationToken;

use super::replay::metrics_options;
use crate::app::live::{Live, LiveOptions};
use crate::app::live_balanced::Balanced;
use crate::app::live_pipeline::LoopEnd;
use crate::config::{Config, CoordinationMode};
use crate::pipeline::clock::SystemClock;

/// `kvwatch run`.
#[derive(Debug, Args)]
pub struct RawRunArgs {
    /// The configuration file (TOML) with `[[eventhubs.hubs]]`, `[state]` and `[[sinks]]`
    /// (with --embedded: optional, and without `[[eventhubs.hubs]]`).
    #[arg(long, value_name = "FILE", required_unless_present = "embedded")]
    pub config: Option<PathBuf>,
    /// Also append alerts to this file as JSON Lines (without it and without
    /// `[[sinks]]`, alerts go to standard output).
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Serve /metrics, /healthz and /readyz on ADDR or, with no value, on the config's
    /// [metrics] listen address.
    #[arg(long, value_name = "ADDR", num_args = 0..=1, default_missing_value = "")]
    pub metrics_listen: Option<String>,
    /// The embedded run's options.
    #[command(flatten)]
    pub embedded: super::embedded::RawEmbeddedArgs,
}

/// Turns raw arguments into options, or says what to fix.
pub fn validate(raw: RawRunArgs) -> Result<LiveOptions> {
    let Some(path) = &raw.config else {
        anyhow::bail!("--config FILE is required (or --embedded, to try kvwatch without Azure)");
    };
    let config = Config::load(path)?;
    if config.eventhubs.hubs.is_empty() {
        anyhow::bail!(
            "{}: add at least one [[eventhubs.hubs]] (namespace, hub, consumer_group)",
            path.display()
        );
    }
    for hub in &config.eventhubs.hubs {
        if hub.consumer_group.eq_ignore_ascii_case("$Default") {
            tracing::warn!(
                "{}/{}: reading through the $Default consumer group, which other readers of the hub share; \
                 create a consumer group for kvwatch and set consumer_group",
                hub.namespace,
                hub.hub
            );
        }
    }
    let metrics = metrics_options(raw.metrics_listen.as_deref(), None, None, &config)?;
    Ok(LiveOptions {
        config,
        output: raw.output,
        metrics,
        credential: None,
        clock: Arc::new(SystemClock),
        part: None,
    })
}

/// Runs `kvwatch run` to the end: 0 after a clean shutdown, 3 when every partition
/// was taken over by another reader, 1 on errors.
pub fn run(raw: RawRunArgs) -> Result<ExitCode> {
    if raw.embedded.embedded {
        return super::embedded::run(raw);
    }
    let opts = validate(raw)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("kvwatch-live")
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    let balanced = opts
        .config
        .coordination
        .as_ref()
        .is_some_and(|c| c.mode == CoordinationMode::Balanced);
    if balanced {
        return rt.block_on(run_balanced(opts));
    }
    rt.block_on(async {
        let live = Live::start(opts).await?;
        let stop = CancellationToken::new();
        tokio::spawn(on_signal(stop.clone()));
        let status = live.status();
        let watch_stop = stop.clone();
        let live_ref = &live;
        tokio::select! {
            () = watch_stop.cancelled() => live_ref.shutdown(),
            () = ended(status) => {}
        }
        let outcome = live.wait().await?;
        let s = &outcome.status;
        eprintln!(
            "kvwatch: stopped: {} bodies, {} records ({} refused), {} alerts, {} checkpoints",
            s.bodies, s.records, s.refused, s.alerts, s.checkpoints
        );
        Ok(match outcome.end {
            LoopEnd::AllLost
            | LoopEnd::OwnershipLost
            | LoopEnd::HandedOver
            | LoopEnd::Rebalanced => ExitCode::from(3),
            LoopEnd::Drained => ExitCode::SUCCESS,
        })
    })
}

/// A balanced instance runs until SIGTERM or Ctrl-C: losing or giving up a
/// partition is part of its work, not an end. 0 after a clean shutdown.
async fn run_balanced(opts: LiveOptions) -> Result<ExitCode> {
    let balanced = Balanced::start(opts).await?;
    let stop = CancellationToken::new();
    tokio::spawn(on_signal(stop.clone()));
    stop.cancelled().await;
    balanced.shutdown();
    let outcome = balanced.wait().await?;
    let s = &outcome.totals;
    eprintln!(
        "kvwatch: stopped: {} bodies, {} records ({} refused), {} alerts, {} checkpoints over every partition held",
        s.bodies, s.records, s.refused, s.alerts, s.checkpoints
    );
    Ok(ExitCode::SUCCESS)
}

/// Resolves when the run's status channel closes (the run ended by itself).
async fn ended(mut status: tokio::sync::watch::Receiver<crate::app::live_pipeline::LiveStatus>) {
    while status.changed().await.is_ok() {}
}

/// Cancels `stop` on SIGTERM or Ctrl-C.
pub(crate) async fn on_signal(stop: CancellationToken) {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!("cannot watch SIGTERM: {e}");
                    let _ = tokio::signal::ctrl_c().await;
                    stop.cancel();
                    return;
                }
            };
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
    eprintln!("kvwatch: stopping: draining the queue and writing a checkpoint");
    stop.cancel();
}
