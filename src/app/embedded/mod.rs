//! `kvwatch run --embedded`: the whole live path on one machine, without Azure.
//!
//! It starts an embedded Event Hubs namespace ([`crate::embedded_hub`]) with the hubs a
//! diagnostic setting would write to, publishes the given logs into it in event-time
//! order ([`publisher`]), and runs the normal `kvwatch run` ([`super::live`]) on it:
//! through the real SDK, authenticating with the namespace's connection string, with
//! the configured sinks, metrics and readiness. The hub also takes outside producers:
//! the connection string it prints works with any Azure SDK producer and with
//! `kvwatch route`.
//!
//! The run either finishes when everything it published is consumed, or keeps running
//! until it is stopped; either way it then releases what the watermark holds back, as
//! a replay does at the end of its inputs, so it raises the alerts replay raises for
//! the same logs.
//! The namespace lives in memory, so the run's checkpoint and outbox live in a
//! temporary folder and go with it.

pub mod inputs;
pub mod publisher;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::live::{Live, LiveOptions, LiveOutcome};
use super::live_pipeline::LiveStatus;
use super::metrics::MetricsOptions;
use crate::config::eventhubs::{CredentialConfig, HubConfig, StartConfig};
use crate::config::{Config, ConfigDuration, EventHubsConfig, SecretRef};
use crate::embedded_hub::{EmbeddedHub, EmbeddedHubConfig};
use crate::pipeline::clock::SystemClock;
use inputs::{Feed, ACTIVITY_HUB, AUDIT_HUB};
use publisher::{publish, Published, Speed};

/// The consumer group the embedded run reads through.
pub const CONSUMER_GROUP: &str = "kvwatch";

/// When an embedded run ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Until {
    /// When everything published is consumed (or on a signal).
    Consumed,
    /// On a signal only: the hub keeps taking outside producers.
    Stopped,
}

/// Everything `kvwatch run --embedded` needs, validated.
#[derive(Debug, Clone)]
pub struct EmbeddedOptions {
    /// The configuration, without `[[eventhubs.hubs]]` (the run adds its own).
    pub config: Config,
    /// Logs to publish (files and folders).
    pub inputs: Vec<PathBuf>,
    /// How fast to publish them.
    pub speed: Speed,
    /// Where the embedded hub listens.
    pub listen: SocketAddr,
    /// Partitions per hub.
    pub partitions: usize,
    /// When to stop.
    pub until: Until,
    /// Also write alerts here as JSON Lines (else, without sinks, standard output).
    pub output: Option<PathBuf>,
    /// The metrics endpoint and snapshot.
    pub metrics: MetricsOptions,
}

/// How an embedded run went.
#[derive(Debug)]
pub struct EmbeddedOutcome {
    /// What was published.
    pub published: Published,
    /// How many inputs were read.
    pub inputs: usize,
    /// The live run's outcome.
    pub live: LiveOutcome,
}

/// What a caller may watch while it runs.
#[derive(Debug, Clone)]
pub struct EmbeddedProgress {
    /// The publisher's progress.
    pub published: watch::Receiver<Published>,
    /// The live run's status.
    pub status: watch::Receiver<LiveStatus>,
    /// Records the inputs hold.
    pub total_records: u64,
}

/// Runs the embedded live path until it is done (see [`Until`]) or `stop` fires.
/// `started` is called once the hub serves and the run started, with its connection
/// details and the progress to watch (the CLI prints them).
pub async fn run_embedded(
    opts: EmbeddedOptions,
    stop: CancellationToken,
    started: impl FnOnce(&Started, EmbeddedProgress),
) -> Result<EmbeddedOutcome> {
    let inputs = opts.inputs.clone();
    let config = opts.config.clone();
    let feed = tokio::task::spawn_blocking(move || Feed::load(&inputs, &config))
        .await
        .context("reading the inputs panicked")?
        .context("cannot read the inputs to publish")?;
    let feed = Arc::new(feed);
    let mut hubs = vec![AUDIT_HUB.to_owned(), ACTIVITY_HUB.to_owned()];
    hubs.extend(
        feed.hubs
            .iter()
            .filter(|h| !hubs.contains(h))
            .cloned()
            .collect::<Vec<_>>(),
    );
    let mut hub_config = EmbeddedHubConfig::new();
    hub_config.listen = opts.listen;
    for name in &hubs {
        hub_config = hub_config.with_hub(name.clone(), opts.partitions);
    }
    let hub = Arc::new(
        EmbeddedHub::start(hub_config)
            .await
            .context("cannot start the embedded Event Hubs")?,
    );
    let dir = tempfile::Builder::new()
        .prefix("kvwatch-embedded-")
        .tempdir()
        .context("cannot create the run's temporary folder")?;
    let config = live_config(&opts.config, &hub, &hubs, dir.path())?;
    let live = Live::start(LiveOptions {
        config,
        output: opts.output.clone(),
        metrics: opts.metrics.clone(),
        credential: None,
        clock: Arc::new(SystemClock),
        part: None,
    })
    .await?;

    let (progress_tx, published) = watch::channel(Published::default());
    let cancel_publisher = CancellationToken::new();
    let publisher = tokio::spawn(publish(
        Arc::clone(&feed),
        Arc::clone(&hub),
        opts.speed,
        progress_tx,
        cancel_publisher.clone(),
    ));
    let info = Started {
        endpoint: hub.endpoint(),
        connection_string: hub.connection_string(None),
        namespace: hub.namespace().to_owned(),
        hubs,
        partitions: opts.partitions,
    };
    started(
        &info,
        EmbeddedProgress {
            published: published.clone(),
            status: live.status(),
            total_records: feed.records.len() as u64,
        },
    );
    let consumed = wait_consumed(published.clone(), live.status(), opts.until);
    // Either way the run finishes as a replay does: nothing held back is kept for a
    // next start, since the hub and the checkpoint go with this process.
    tokio::select! {
        () = stop.cancelled() => live.finish(),
        ended = consumed => if ended { live.finish() },
    }
    cancel_publisher.cancel();
    let outcome = live.wait().await?;
    let published = match publisher.await {
        Ok(Ok(published)) => published,
        Ok(Err(e)) => return Err(e).context("publishing into the embedded hub failed"),
        Err(e) => return Err(e).context("the publisher panicked"),
    };
    drop(hub);
    drop(dir);
    Ok(EmbeddedOutcome {
        published,
        inputs: feed.inputs,
        live: outcome,
    })
}

/// The embedded hub's details, for outside producers.
#[derive(Debug, Clone)]
pub struct Started {
    /// `amqp://ADDR`, the custom endpoint SDK clients need.
    pub endpoint: String,
    /// The namespace's connection string.
    pub connection_string: String,
    /// The namespace name kvwatch uses.
    pub namespace: String,
    /// The hubs served.
    pub hubs: Vec<String>,
    /// Partitions per hub.
    pub partitions: usize,
}

/// Resolves `true` once everything is published and consumed, when the run ends
/// then; never resolves for [`Until::Stopped`] (nor if the run ends first, when it
/// resolves `false`).
async fn wait_consumed(
    mut published: watch::Receiver<Published>,
    mut status: watch::Receiver<LiveStatus>,
    until: Until,
) -> bool {
    if until == Until::Stopped {
        return std::future::pending().await;
    }
    let Ok(done) = published.wait_for(|p| p.done).await.map(|p| *p) else {
        return false;
    };
    status.wait_for(|s| s.bodies >= done.bodies).await.is_ok()
}

/// The run's configuration: the user's, with one `[[eventhubs.hubs]]` per embedded
/// hub (the connection string in a file only this user can read), and the checkpoint
/// and outbox in `dir`.
fn live_config(base: &Config, hub: &EmbeddedHub, hubs: &[String], dir: &Path) -> Result<Config> {
    let secret = dir.join("eventhubs.connection-string");
    write_private(&secret, &hub.connection_string(None))?;
    let mut config = base.clone();
    config.eventhubs.hubs = hubs
        .iter()
        .map(|name| HubConfig {
            namespace: hub.namespace().to_owned(),
            hub: name.clone(),
            consumer_group: CONSUMER_GROUP.to_owned(),
            credential: CredentialConfig::ConnectionString {
                connection_string: SecretRef::File(secret.clone()),
            },
            start: StartConfig::Earliest,
            prefetch: 300,
            owner_level: None,
            partitions: Vec::new(),
            endpoint: Some(hub.endpoint()),
        })
        .collect();
    // A partition of the embedded hub that has nothing to say (the Activity Log's, for
    // logs without it) stops holding the watermark back after seconds, not the minute
    // a service waits, unless the config chose another value.
    if config.eventhubs.idle_after == EventHubsConfig::default().idle_after {
        config.eventhubs.idle_after = ConfigDuration::seconds(5);
    }
    // Quick reconnects: the hub is local.
    config.eventhubs.reconnect_initial = ConfigDuration::seconds(1);
    config.eventhubs.reconnect_max = ConfigDuration::seconds(5);
    config.state.path = Some(dir.join("state.redb"));
    config.outbox.path = Some(dir.join("outbox.redb"));
    Ok(config)
}

/// Writes a secret to a new file that only the current user can read.
fn write_private(path: &Path, text: &str) -> Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(text.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))
}
