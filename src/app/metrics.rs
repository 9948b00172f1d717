//! Metrics for one command run: the registry, the optional HTTP endpoint, the final
//! snapshot file, and serving a little longer after the work is done.
//!
//! Kept out of `replay.rs` so the commands share it (replay now, live later) and
//! their own code only asks for an observer and reports readiness.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};

use crate::config::Config;
use crate::metrics::http::{MetricsServer, ServeLimits};
use crate::metrics::{Metrics, MetricsObserver};
use crate::pipeline::clock::SystemClock;

/// What the command line asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MetricsOptions {
    /// Serve `/metrics`, `/healthz`, `/readyz` here while running.
    pub listen: Option<SocketAddr>,
    /// Keep serving this long after the run (for a last scrape).
    pub linger: Duration,
    /// Write the final metrics (text format) here.
    pub out: Option<PathBuf>,
}

/// The metrics of a run that asked for them.
pub struct RunMetrics {
    metrics: Arc<Metrics>,
    server: Option<MetricsServer>,
    options: MetricsOptions,
}

impl std::fmt::Debug for RunMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunMetrics")
            .field(
                "listen",
                &self.server.as_ref().map(MetricsServer::local_addr),
            )
            .field("options", &self.options)
            .finish()
    }
}

impl RunMetrics {
    /// Sets up metrics when `options` asks for an endpoint or a snapshot (else
    /// `None`, and the run pays nothing), and starts the endpoint.
    pub fn start(options: &MetricsOptions, config: &Config) -> Result<Option<RunMetrics>> {
        if options.listen.is_none() && options.out.is_none() {
            return Ok(None);
        }
        let metrics = Metrics::new(&config.metrics, Arc::new(SystemClock))?;
        metrics
            .pipeline()
            .set_lateness(config.pipeline.lateness.as_chrono());
        let server = match options.listen {
            Some(addr) => {
                let limits = ServeLimits {
                    max_connections: super::descriptors::metrics_connections(
                        config.metrics.max_connections,
                        super::descriptors::soft_limit(),
                    ),
                    request_timeout: config.metrics.request_timeout.as_std(),
                };
                let server = MetricsServer::start_with(addr, metrics.clone(), limits)
                    .with_context(|| {
                        format!("--metrics-listen {addr}: pick another address or port")
                    })?;
                let local = server.local_addr();
                if !local.ip().is_loopback() {
                    tracing::warn!(
                        "the metrics endpoint listens on {local}, reachable from other hosts"
                    );
                }
                eprintln!(
                    "kvwatch: serving metrics on http://{local}/metrics (and /healthz, /readyz)"
                );
                Some(server)
            }
            None => None,
        };
        Ok(Some(RunMetrics {
            metrics,
            server,
            options: options.clone(),
        }))
    }

    /// The registry.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// A pipeline observer feeding the registry.
    pub fn observer(&self) -> MetricsObserver {
        self.metrics.observer()
    }

    /// Marks a readiness check as passed (see [`crate::metrics::checks`]).
    pub fn ready(&self, check: &'static str) {
        self.metrics.readiness().check(check).ready();
    }

    /// Writes the snapshot file, when one was asked for.
    pub fn write_snapshot(&self) -> Result<()> {
        if let Some(path) = &self.options.out {
            self.metrics.write_snapshot(path)?;
        }
        Ok(())
    }

    /// Keeps the endpoint up for the asked-for linger time, then stops it: the exit
    /// is never later than the linger time (the last second of it is the grace a
    /// scrape in flight gets), whatever clients hold connections open.
    pub fn linger(mut self) {
        if let Some(server) = self.server.take() {
            let linger = self.options.linger;
            if !linger.is_zero() {
                eprintln!(
                    "kvwatch: still serving metrics on http://{}/metrics for {} (Ctrl-C stops)",
                    server.local_addr(),
                    humantime::format_duration(linger)
                );
            }
            let grace = linger.min(Duration::from_secs(1));
            std::thread::sleep(linger - grace);
            if let Err(e) = server.stop_within(grace) {
                tracing::warn!("{e}");
            }
        }
    }
}
