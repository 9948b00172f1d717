//! `kvwatch route`: re-publishes every record of the diagnostic-setting hub to a
//! second hub, keyed by principal, so several `kvwatch run` processes can each own
//! some partitions of the keyed hub and still see all of a principal's events.
//!
//! Diagnostic settings spread records over partitions with no key, so one principal's
//! records land everywhere; per-principal detector state needs them in one place.
//! This is the Kafka-Streams repartition step, on Event Hubs itself: records are
//! grouped by principal key (`ip:<address>` for anonymous callers), each group is sent
//! as `{"records":[…]}` bodies with the key as the partition key
//! ([`super::route_publish`]), and a source position is checkpointed only after the
//! keyed hub accepted everything up to it. Nothing is dropped: a record that does not
//! decode goes on under the key `unparsed`, a body that is not an envelope goes on
//! whole. A crash between sending and checkpointing sends some records again;
//! `kvwatch run` drops exact duplicates.
//!
//! Route reads as `run` does (each hub listed on its own, partitions added while it
//! runs, gaps counted) with the same Event Hubs metrics, is ready once the keyed hub
//! accepts a producer and every source partition is read, and ends (exit 3) once
//! another reader with a higher owner level took every partition it read.
//!
//! This file is route's face (options, status, start and stop); its loop is
//! [`super::route_serve`], its publishing [`super::route_publish`].

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use azure_core::credentials::TokenCredential;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::metrics::{MetricsOptions, RunMetrics};
pub use super::route_publish::{group_by_key, UNPARSED_KEY};
use super::route_serve::serve;
use crate::config::Config;
use crate::pipeline::clock::Clock;
use crate::source::eventhubs::{Auth, Connector};
use crate::state::{PartitionPosition, StateStore};
/// The readiness check of the keyed hub's producer.
pub const TARGET_CONNECTED: &str = "target_connected";

/// Everything `kvwatch route` needs.
#[derive(Clone)]
pub struct RouteOptions {
    /// The configuration: `[[eventhubs.hubs]]` to read, `[route]` to write.
    pub config: Config,
    /// Use this credential for every hub instead of the configured ones (tests).
    pub credential: Option<Arc<dyn TokenCredential>>,
    /// The wall clock.
    pub clock: Arc<dyn Clock>,
    /// The metrics endpoint and snapshot.
    pub metrics: MetricsOptions,
}

/// What a running route has done.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RouteStatus {
    /// Bodies read.
    pub bodies: u64,
    /// Records re-published.
    pub records: u64,
    /// Events (keyed bodies) sent.
    pub sent: u64,
    /// Checkpoints committed.
    pub checkpoints: u64,
    /// Source partitions read.
    pub owned: usize,
    /// Source partitions taken over by another reader.
    pub lost: usize,
    /// Gaps found in the source partitions.
    pub gaps: u64,
    /// Positions of the last checkpoint.
    pub positions: BTreeMap<String, PartitionPosition>,
}

/// How route ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteEnd {
    /// Asked to stop.
    Stopped,
    /// Another reader took every source partition (exit 3).
    AllLost,
}

/// A running `kvwatch route`.
pub struct Router {
    cancel: CancellationToken,
    status: watch::Receiver<RouteStatus>,
    task: JoinHandle<Result<(RouteEnd, RouteStatus)>>,
}

impl Router {
    /// Connects and starts routing in the background.
    pub async fn start(opts: RouteOptions) -> Result<Router> {
        let config = &opts.config;
        let Some(target) = &config.route.target else {
            bail!("the config has no [route.target]: nowhere to publish")
        };
        if config.eventhubs.hubs.is_empty() {
            bail!("the config has no [[eventhubs.hubs]]: nothing to read");
        }
        let eh = &config.eventhubs;
        let backoff = (eh.reconnect_initial.as_std(), eh.reconnect_max.as_std());
        let auth = |c, key: &str| match &opts.credential {
            Some(t) => Ok(Auth::Token(t.clone())),
            None => Auth::from_config(c, key),
        };
        let target = Connector::for_target(
            target,
            auth(&target.credential, "route.target.credential")?,
            eh.operation_timeout.as_std(),
            backoff,
        );
        let mut sources = Vec::new();
        for (i, hub) in eh.hubs.iter().enumerate() {
            let a = auth(&hub.credential, &format!("eventhubs.hubs[{i}].credential"))?;
            sources.push(Connector::for_hub(
                hub,
                a,
                eh.operation_timeout.as_std(),
                backoff,
            ));
        }
        let path = config.route.resolved_state_path();
        let store = StateStore::open(&path)
            .context("cannot open route's checkpoint store ([route] state_path)")?;
        let metrics = RunMetrics::start(&opts.metrics, config)?;
        let cancel = CancellationToken::new();
        let (tx, status) = watch::channel(RouteStatus::default());
        let task = tokio::spawn(serve(
            opts,
            target,
            sources,
            store,
            metrics,
            tx,
            cancel.clone(),
        ));
        Ok(Router {
            cancel,
            status,
            task,
        })
    }

    /// Asks route to stop after the bodies it holds are sent and checkpointed.
    pub fn shutdown(&self) {
        self.cancel.cancel();
    }

    /// Route's progress.
    pub fn status(&self) -> watch::Receiver<RouteStatus> {
        self.status.clone()
    }

    /// Waits for route to end: why, and what it did.
    pub async fn wait(self) -> Result<(RouteEnd, RouteStatus)> {
        self.task.await.context("route panicked")?
    }
}
