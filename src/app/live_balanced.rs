//! `kvwatch run` in balanced mode (`[coordination] mode = "balanced"`): the
//! partitions of the keyed hub spread over the instances, each partition with its
//! own state, which follows it from instance to instance.
//!
//! Why a run per partition: on the hub `kvwatch route` keys by principal, a
//! partition holds whole principals, so its detector state stands alone. Each
//! partition is therefore a coordination group of its own (`{group}.p{id}`: its
//! ownership, manifest, snapshots and outbox), run by the same [`Live`] the
//! active/standby mode runs for a whole hub, with one partition in its config. This
//! module only keeps one such run per partition going, standing by while another
//! instance holds it, and shares what the instance has once: the metrics endpoint,
//! the alert lines, the owner id and the fair share (`coordinate::balance`).
//!
//! A run ends when its partition is released for balance, lost, or handed over;
//! it is started again at once and stands by. A partition added to the hub gets a
//! run at the next re-list.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::live::{connectors, LiveOptions};
use super::live_balanced_parts::{report_readiness, run_partition};
use super::live_coordination::list_hubs;
use super::live_pipeline::LiveStatus;
use super::metrics::RunMetrics;
use crate::config::{CoordinationConfig, CoordinationMode};
use crate::coordinate::{self, GroupLayout, Membership, Share};
use crate::detect::engine::enricher_from_config;
use crate::detect::enrichment::Enricher;
use crate::metrics::{checks, Metrics};
use crate::sink::json_lines::SharedLines;
use crate::source::eventhubs::{ask_partitions, select_wanted};

/// A running balanced instance.
pub struct Balanced {
    cancel: CancellationToken,
    task: tokio::task::JoinHandle<Result<BalancedOutcome>>,
}

/// How a balanced instance ended.
#[derive(Debug)]
pub struct BalancedOutcome {
    /// What its partitions' runs did, added up.
    pub totals: LiveStatus,
    /// The instance's metrics, when asked for.
    pub metrics: Option<RunMetrics>,
}

/// What every partition's runner shares.
pub(super) struct Instance {
    pub(super) opts: LiveOptions,
    pub(super) coordination: CoordinationConfig,
    pub(super) base: GroupLayout,
    pub(super) owner_id: String,
    pub(super) share: Share,
    pub(super) metrics: Option<Arc<Metrics>>,
    pub(super) lines: Option<SharedLines>,
    pub(super) enricher: Enricher,
    /// Each partition's view of the registry (its readiness checks), kept across
    /// its runs.
    pub(super) parts: Mutex<BTreeMap<String, Arc<Metrics>>>,
    pub(super) totals: Mutex<LiveStatus>,
}

impl Balanced {
    /// Lists the hub, joins the group and starts a run per partition. Must be
    /// called inside a tokio runtime.
    pub async fn start(opts: LiveOptions) -> Result<Balanced> {
        let config = &opts.config;
        let Some(coordination) = config.coordination.clone() else {
            bail!("balanced mode needs [coordination]");
        };
        if coordination.mode != CoordinationMode::Balanced || config.eventhubs.hubs.len() != 1 {
            bail!("balanced mode reads exactly one hub with [coordination] mode = \"balanced\"");
        }
        let run_metrics = RunMetrics::start(&opts.metrics, config)?;
        let metrics = run_metrics.as_ref().map(|m| m.metrics().clone());
        let settings = coordinate::settings_from_config(&coordination, &config.eventhubs)?;
        let lines = match (&opts.output, config.sinks.iter().any(|s| s.enabled)) {
            (Some(path), _) => {
                let file = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .with_context(|| format!("cannot open {}", path.display()))?;
                Some(SharedLines::new(Box::new(file)))
            }
            (None, false) => Some(SharedLines::new(Box::new(std::io::stdout()))),
            (None, true) => None,
        };
        let cancel = CancellationToken::new();
        let instance = Arc::new(Instance {
            coordination,
            base: settings.layout.clone(),
            owner_id: settings.owner_id.clone(),
            share: Share::new(0),
            metrics,
            lines,
            enricher: enricher_from_config(config).context("cannot load the detectors")?,
            parts: Mutex::new(BTreeMap::new()),
            totals: Mutex::new(LiveStatus::default()),
            opts,
        });
        let task = tokio::spawn(serve(instance, run_metrics, cancel.clone()));
        Ok(Balanced { cancel, task })
    }

    /// Stops every partition's run (each writes its last checkpoint and releases
    /// its partition), then leaves the group.
    pub fn shutdown(&self) {
        self.cancel.cancel();
    }

    /// Waits for the instance to end (after [`Balanced::shutdown`], or on a fault
    /// waiting cannot fix).
    pub async fn wait(self) -> Result<BalancedOutcome> {
        self.task.await.context("the balanced instance panicked")?
    }
}

async fn serve(
    instance: Arc<Instance>,
    run_metrics: Option<RunMetrics>,
    cancel: CancellationToken,
) -> Result<BalancedOutcome> {
    let config = &instance.opts.config;
    let eh = &config.eventhubs;
    let connector = connectors(config, instance.opts.credential.as_ref())?
        .into_iter()
        .next()
        .context("no hub to read")?;
    let check = instance
        .metrics
        .as_ref()
        .map(|m| m.readiness().check(checks::COORDINATION));
    if let Some(c) = &check {
        c.not_ready(format!("starting: listing {}", connector.name()));
    }
    let backoff = (eh.reconnect_initial.as_std(), eh.reconnect_max.as_std());
    let wanted = [eh.hubs[0].partitions.clone()];
    let listed = list_hubs(
        std::slice::from_ref(&connector),
        &wanted,
        backoff,
        eh.idle_after.as_std(),
        &cancel,
    )
    .await?;
    // One hub: listed means it answered.
    let Some(partitions) = listed.and_then(|mut l| l.pop().flatten()) else {
        return finish(&instance, run_metrics).await;
    };
    instance.share.set_partitions(partitions.len());

    let clock = instance.opts.clock.clone();
    let client = coordinate::client_from_config(&instance.coordination, clock)?;
    let membership = Membership::new(
        client,
        instance.base.clone(),
        instance.owner_id.clone(),
        instance.coordination.ownership_expiry.as_std(),
    );
    // Count the members before claiming anything: an instance starting beside
    // others must not take the whole hub first and give most of it back.
    let members = loop {
        match membership.beat().await {
            Ok(n) => break n,
            Err(e) if e.is_transient() => {
                tracing::warn!("joining group {}: {e}; trying again", instance.base.group());
                tokio::select! {
                    () = cancel.cancelled() => return finish(&instance, run_metrics).await,
                    () = tokio::time::sleep(instance.coordination.standby_poll.as_std()) => {}
                }
            }
            Err(e) => return Err(e).context("joining the balanced group"),
        }
    };
    instance.share.set_members(members);
    tracing::info!(
        "group {}: {} joins as one of {members} members; {} partitions, fair share {}",
        instance.base.group(),
        instance.owner_id,
        partitions.len(),
        instance.share.view().fair
    );
    let coordination_metrics = instance.metrics.as_ref().map(|m| m.coordination().clone());
    let beats = CancellationToken::new();
    let heartbeat = tokio::spawn(membership.run(
        instance.share.clone(),
        instance.coordination.renew_interval.as_std(),
        coordination_metrics,
        beats.clone(),
    ));

    let mut runners = JoinSet::new();
    let mut known = Vec::new();
    for p in partitions {
        runners.spawn(run_partition(instance.clone(), p.clone(), cancel.clone()));
        known.push(p);
    }
    let mut relist = tokio::time::interval(eh.relist_interval.as_std());
    relist.reset();
    let mut report = tokio::time::interval(Duration::from_millis(500));
    loop {
        tokio::select! {
            () = cancel.cancelled() => break,
            _ = report.tick() => report_readiness(&instance, check.as_ref()),
            _ = relist.tick() => {
                let listed = match ask_partitions(&connector).await {
                    Ok(ids) => select_wanted(&connector, ids, &eh.hubs[0].partitions),
                    Err(e) => Err(e),
                };
                let ids = match listed {
                    Ok(ids) => ids,
                    Err(e) => {
                        tracing::warn!("re-listing the partitions of {}: {e}; trying again later", connector.name());
                        continue;
                    }
                };
                let added: Vec<String> = ids.into_iter().filter(|p| !known.contains(p)).collect();
                for p in added {
                    tracing::info!("{}: partition {p} added: standing by for it", connector.name());
                    runners.spawn(run_partition(instance.clone(), p.clone(), cancel.clone()));
                    known.push(p);
                }
                instance.share.set_partitions(known.len());
            }
        }
    }
    while let Some(ended) = runners.join_next().await {
        if let Err(e) = ended {
            tracing::error!("a partition's runner failed: {e}");
        }
    }
    beats.cancel();
    let _ = heartbeat.await;
    finish(&instance, run_metrics).await
}

async fn finish(instance: &Instance, run_metrics: Option<RunMetrics>) -> Result<BalancedOutcome> {
    if let Some(m) = &run_metrics {
        m.write_snapshot()?;
    }
    let totals = instance
        .totals
        .lock()
        .map(|t| t.clone())
        .unwrap_or_default();
    Ok(BalancedOutcome {
        totals,
        metrics: run_metrics,
    })
}
