//! `kvwatch route`: validates the config into [`RouteOptions`] and re-publishes records
//! keyed by principal until SIGTERM or Ctrl-C.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::Args;
use tokio_util::sync::CancellationToken;

use crate::app::route::{RouteEnd, RouteOptions, Router};
use crate::config::Config;
use crate::pipeline::clock::SystemClock;

/// `kvwatch route`.
#[derive(Debug, Args)]
pub struct RawRouteArgs {
    /// The configuration file (TOML): `[[eventhubs.hubs]]` to read, `[route.target]` to
    /// publish to.
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// Serve /metrics, /healthz and /readyz on ADDR or, with no value, on the config's
    /// [metrics] listen address.
    #[arg(long, value_name = "ADDR", num_args = 0..=1, default_missing_value = "")]
    pub metrics_listen: Option<String>,
}

/// Turns raw arguments into options, or says what to fix.
pub fn validate(raw: RawRouteArgs) -> Result<RouteOptions> {
    let config = Config::load(&raw.config)?;
    if config.route.target.is_none() {
        anyhow::bail!(
            "{}: add a [route.target] (namespace, hub) to publish to",
            raw.config.display()
        );
    }
    if config.eventhubs.hubs.is_empty() {
        anyhow::bail!(
            "{}: add at least one [[eventhubs.hubs]] to read from",
            raw.config.display()
        );
    }
    let metrics =
        super::replay::metrics_options(raw.metrics_listen.as_deref(), None, None, &config)?;
    Ok(RouteOptions {
        config,
        credential: None,
        clock: Arc::new(SystemClock),
        metrics,
    })
}

/// Runs `kvwatch route` until a signal; 0 after a clean stop, 3 when every source
/// partition was taken over by another reader, 1 on errors.
pub fn run(raw: RawRouteArgs) -> Result<ExitCode> {
    let opts = validate(raw)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("kvwatch-route")
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    rt.block_on(async {
        let router = Router::start(opts).await?;
        let stop = CancellationToken::new();
        tokio::spawn(super::run::on_signal(stop.clone()));
        let mut status = router.status();
        tokio::select! {
            () = stop.cancelled() => router.shutdown(),
            () = async { while status.changed().await.is_ok() {} } => {}
        }
        let (end, status) = router.wait().await?;
        eprintln!(
            "kvwatch: route stopped: {} bodies, {} records re-published in {} events",
            status.bodies, status.records, status.sent
        );
        Ok(match end {
            RouteEnd::AllLost => ExitCode::from(3),
            RouteEnd::Stopped => ExitCode::SUCCESS,
        })
    })
}
