//! `kvwatch run --embedded`: validates the embedded run's arguments into
//! [`EmbeddedOptions`], prints how to reach the embedded hub, shows a progress line on a
//! terminal, and maps the outcome to an exit status.

use std::io::IsTerminal as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::Args;
use tokio_util::sync::CancellationToken;

use super::replay::metrics_options;
use super::run::RawRunArgs;
use crate::app::embedded::{run_embedded, EmbeddedOptions, EmbeddedProgress, Started, Until};
use crate::app::live_pipeline::LoopEnd;
use crate::config::Config;

/// The embedded hub's metrics address when none is given: a free port on loopback.
const DEFAULT_METRICS: &str = "127.0.0.1:0";

/// `kvwatch run --embedded`'s own arguments.
#[derive(Debug, Args)]
pub struct RawEmbeddedArgs {
    /// Run on an embedded Event Hubs on this machine instead of Azure (no TLS: for trying
    /// kvwatch and for tests): publish PATHs into it and consume them live.
    #[arg(long)]
    pub embedded: bool,
    /// With --embedded: logs to publish in event-time order (files or folders, as for
    /// replay: Storage archives, JSON Lines, Event Hubs bodies). None: only outside
    /// producers publish.
    #[arg(value_name = "PATH", requires = "embedded")]
    pub paths: Vec<PathBuf>,
    /// With --embedded: how fast to publish: `max`, or a multiple of real time (60: a
    /// minute of logs a second).
    #[arg(long, default_value = "max", requires = "embedded")]
    pub speed: String,
    /// With --embedded: where the embedded hub listens (port 0 picks a free one).
    #[arg(
        long,
        value_name = "ADDR",
        default_value = "127.0.0.1:0",
        requires = "embedded"
    )]
    pub hub_listen: String,
    /// With --embedded: partitions per hub.
    #[arg(long, value_name = "N", default_value_t = 4, requires = "embedded")]
    pub hub_partitions: usize,
    /// With --embedded: keep running (and taking outside producers) after the PATHs are
    /// consumed, until Ctrl-C. The default is to stop once they are consumed.
    #[arg(long, requires = "embedded")]
    pub keep_running: bool,
    /// With --embedded: a MaxMind-format database for caller geolocation (overrides
    /// the config).
    #[arg(long, value_name = "FILE", requires = "embedded")]
    pub geoip: Option<PathBuf>,
}

/// Turns raw arguments into options, or says what to fix.
pub fn validate(raw: RawRunArgs) -> Result<EmbeddedOptions> {
    let e = raw.embedded;
    let mut config = match &raw.config {
        Some(path) => {
            let config = Config::load(path)?;
            if !config.eventhubs.hubs.is_empty() {
                bail!(
                    "{}: --embedded provides the hubs; leave [[eventhubs.hubs]] out of this config",
                    path.display()
                );
            }
            config
        }
        None => Config::default(),
    };
    if let Some(db) = e.geoip {
        config.geoip.database = Some(db);
    }
    let speed = e.speed.parse().map_err(anyhow::Error::msg)?;
    let listen: SocketAddr = e.hub_listen.parse().with_context(|| {
        format!(
            "--hub-listen {:?}: write an address and port, such as 127.0.0.1:5672",
            e.hub_listen
        )
    })?;
    if !listen.ip().is_loopback() {
        tracing::warn!(
            "the embedded hub listens on {listen} without TLS, and its connection string \
             is printed: anyone who can reach it and read it can publish"
        );
    }
    if !(1..=32).contains(&e.hub_partitions) {
        bail!("--hub-partitions {}: give 1 to 32", e.hub_partitions);
    }
    let metrics = metrics_options(
        Some(raw.metrics_listen.as_deref().unwrap_or(DEFAULT_METRICS)),
        None,
        None,
        &config,
    )?;
    let until = if e.keep_running || e.paths.is_empty() {
        Until::Stopped
    } else {
        Until::Consumed
    };
    Ok(EmbeddedOptions {
        config,
        inputs: e.paths,
        speed,
        listen,
        partitions: e.hub_partitions,
        until,
        output: raw.output,
        metrics,
    })
}

/// Runs `kvwatch run --embedded` to the end: 0 when it stopped cleanly, 1 on errors.
pub fn run(raw: RawRunArgs) -> Result<ExitCode> {
    let opts = validate(raw)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("kvwatch-embedded")
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    rt.block_on(async {
        let stop = CancellationToken::new();
        tokio::spawn(super::run::on_signal(stop.clone()));
        let until = opts.until;
        let progress_line = std::io::stderr().is_terminal();
        let outcome = run_embedded(opts, stop, |started, progress| {
            print_started(started, until);
            if progress_line {
                tokio::spawn(show_progress(progress));
            }
        })
        .await?;
        let s = &outcome.live.status;
        let p = &outcome.published;
        eprintln!(
            "kvwatch: embedded run stopped: published {} records from {} inputs in {} bodies; \
             consumed {} bodies, {} records ({} refused); {} alerts",
            p.records, outcome.inputs, p.bodies, s.bodies, s.records, s.refused, s.alerts
        );
        Ok(match outcome.live.end {
            LoopEnd::AllLost
            | LoopEnd::OwnershipLost
            | LoopEnd::HandedOver
            | LoopEnd::Rebalanced => ExitCode::from(3),
            LoopEnd::Drained => ExitCode::SUCCESS,
        })
    })
}

fn print_started(started: &Started, until: Until) {
    eprintln!(
        "kvwatch: embedded Event Hubs on {} (no TLS): hubs {}, {} partitions each",
        started.endpoint,
        started.hubs.join(", "),
        started.partitions
    );
    eprintln!(
        "kvwatch: connection string for outside producers: {}",
        started.connection_string
    );
    eprintln!(
        "kvwatch:   (Azure SDKs for Rust: also give it custom endpoint {}; kvwatch route: \
         endpoint = {:?} and this connection string)",
        started.endpoint, started.endpoint
    );
    if until == Until::Stopped {
        eprintln!("kvwatch: running until Ctrl-C");
    }
}

/// A progress line on standard error, updated a few times a second until the run ends.
async fn show_progress(mut progress: EmbeddedProgress) {
    let bar = indicatif::ProgressBar::new_spinner();
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            changed = progress.status.changed() => if changed.is_err() { break },
        }
        let p = *progress.published.borrow();
        let s = progress.status.borrow().clone();
        let event_time = p.event_time.map_or_else(
            || "-".to_owned(),
            |t| t.format("%Y-%m-%d %H:%M").to_string(),
        );
        bar.set_message(format!(
            "published {}/{} records (event time {event_time}); consumed {} records; {} alerts",
            p.records, progress.total_records, s.records, s.alerts
        ));
        bar.tick();
    }
    bar.finish_and_clear();
}
