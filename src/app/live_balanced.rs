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

use super::live::{connectors, Live, LiveOptions, PartOptions};
use super::live_pipeline::LiveStatus;
use super::metrics::RunMetrics;
use crate::config::{CoordinationConfig, CoordinationMode};
use crate::coordinate::{self, GroupLayout, Membership, Share};
use crate::metrics::{checks, Metrics};
use crate::sink::json_lines::SharedLines;
use crate::source::eventhubs::{ask_partitions, select_wanted, Connector};

/// A running balanced instance.
pub struct Balanced {
    cancel: CancellationToken,
    metrics: Option<Arc<Metrics>>,
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
struct Instance {
    opts: LiveOptions,
    coordination: CoordinationConfig,
    base: GroupLayout,
    owner_id: String,
    share: Share,
    metrics: Option<Arc<Metrics>>,
    lines: Option<SharedLines>,
    /// Each partition's view of the registry (its readiness checks), kept across
    /// its runs.
    parts: Mutex<BTreeMap<String, Arc<Metrics>>>,
    totals: Mutex<LiveStatus>,
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
            metrics: metrics.clone(),
            lines,
            parts: Mutex::new(BTreeMap::new()),
            totals: Mutex::new(LiveStatus::default()),
            opts,
        });
        let task = tokio::spawn(serve(instance, run_metrics, cancel.clone()));
        Ok(Balanced {
            cancel,
            metrics,
            task,
        })
    }

    /// Stops every partition's run (each writes its last checkpoint and releases
    /// its partition), then leaves the group.
    pub fn shutdown(&self) {
        self.cancel.cancel();
    }

    /// The instance's metrics registry, when metrics were asked for.
    pub fn metrics(&self) -> Option<&Arc<Metrics>> {
        self.metrics.as_ref()
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
    let Some(partitions) = list(&connector, &eh.hubs[0].partitions, &instance, &cancel).await?
    else {
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
                let Ok(ids) = ask_partitions(&connector).await else { continue };
                let Ok(ids) = select_wanted(&connector, ids, &eh.hubs[0].partitions) else { continue };
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

/// The hub's partitions (the configured subset), retrying until it answers;
/// `None` when cancelled first.
async fn list(
    connector: &Connector,
    wanted: &[String],
    instance: &Instance,
    cancel: &CancellationToken,
) -> Result<Option<Vec<String>>> {
    let eh = &instance.opts.config.eventhubs;
    let mut delay = eh.reconnect_initial.as_std();
    loop {
        match ask_partitions(connector).await {
            Ok(ids) => return Ok(Some(select_wanted(connector, ids, wanted)?)),
            Err(e) => tracing::error!(
                "cannot list the partitions of {}: {e}; retrying in {}",
                connector.name(),
                humantime::format_duration(delay)
            ),
        }
        tokio::select! {
            () = cancel.cancelled() => return Ok(None),
            () = tokio::time::sleep(delay) => {}
        }
        delay = (delay * 2).min(eh.reconnect_max.as_std());
    }
}

/// Keeps one run of `partition` going (active or standing by) until cancelled.
async fn run_partition(instance: Arc<Instance>, partition: String, cancel: CancellationToken) {
    let mut delay = Duration::from_millis(500);
    while !cancel.is_cancelled() {
        let (opts, group) = match part_options(&instance, &partition) {
            Ok(found) => found,
            Err(e) => {
                tracing::error!("partition {partition}: {e:#}; it is not read by this instance");
                return;
            }
        };
        let outcome = match Live::start(opts).await {
            Ok(live) => {
                let mut status = live.status();
                tokio::select! {
                    () = cancel.cancelled() => live.shutdown(),
                    () = async { while status.changed().await.is_ok() {} } => {}
                }
                live.wait().await
            }
            Err(e) => Err(e),
        };
        instance.share.release(&group);
        match outcome {
            Ok(o) => {
                add(&instance, &o.status);
                tracing::info!("partition {partition}: the run ended ({:?})", o.end);
                delay = Duration::from_millis(500);
            }
            Err(e) => {
                tracing::error!("partition {partition}: {e:#}; starting again in {delay:?}");
                delay = (delay * 2).min(Duration::from_secs(30));
            }
        }
        tokio::select! {
            () = cancel.cancelled() => {}
            () = tokio::time::sleep(delay) => {}
        }
    }
}

/// One partition's options: its hub entry narrowed to it, its own group and
/// outbox, the instance's share, owner id, metrics and lines.
fn part_options(instance: &Instance, partition: &str) -> Result<(LiveOptions, String)> {
    let layout = instance
        .base
        .partition_group(partition)
        .map_err(|m| anyhow::anyhow!("coordination.group: {m}"))?;
    let group = layout.group().to_owned();
    let mut opts = instance.opts.clone();
    let config = &mut opts.config;
    config.eventhubs.hubs[0].partitions = vec![partition.to_owned()];
    if let Some(c) = config.coordination.as_mut() {
        c.group = Some(group.clone());
    }
    config.outbox.path = Some(outbox_of(&config.outbox.resolved_path(), partition));
    let metrics = match &instance.metrics {
        Some(m) => {
            let mut parts = instance
                .parts
                .lock()
                .map_err(|_| anyhow::anyhow!("poisoned"))?;
            if !parts.contains_key(partition) {
                parts.insert(partition.to_owned(), m.for_partition()?);
            }
            parts.get(partition).cloned()
        }
        None => None,
    };
    opts.part = Some(PartOptions {
        share: instance.share.clone(),
        group: group.clone(),
        owner_id: instance.owner_id.clone(),
        metrics,
        lines: instance.lines.clone(),
    });
    Ok((opts, group))
}

/// `outbox.redb` becomes `outbox.p3.redb`: each partition's alerts wait apart.
fn outbox_of(path: &std::path::Path, partition: &str) -> std::path::PathBuf {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "outbox".to_owned());
    let name = match path.extension() {
        Some(ext) => format!("{stem}.p{partition}.{}", ext.to_string_lossy()),
        None => format!("{stem}.p{partition}"),
    };
    path.with_file_name(name)
}

fn add(instance: &Instance, s: &LiveStatus) {
    if let Ok(mut t) = instance.totals.lock() {
        t.bodies += s.bodies;
        t.records += s.records;
        t.refused += s.refused;
        t.skipped += s.skipped;
        t.alerts += s.alerts;
        t.checkpoints += s.checkpoints;
        t.deferred += s.deferred;
        t.gaps += s.gaps;
        t.gap_events += s.gap_events;
    }
}

/// `/readyz`: the `coordination` check says what the instance holds; it is not
/// ready while a partition it holds has a check that is not (named in the note).
fn report_readiness(instance: &Instance, check: Option<&crate::metrics::ReadinessCheck>) {
    let Some(check) = check else { return };
    let view = instance.share.view();
    let prefix = format!("{}.p", instance.base.group());
    let held: Vec<&str> = view
        .held
        .iter()
        .map(|g| g.strip_prefix(&prefix).unwrap_or(g))
        .collect();
    let mut failing = Vec::new();
    if let Ok(parts) = instance.parts.lock() {
        for p in &held {
            let Some(m) = parts.get(*p) else { continue };
            for (name, state) in m.readiness().report().checks {
                if let crate::metrics::CheckState::NotReady(why) = state {
                    failing.push(format!("partition {p}: {name}: {why}"));
                }
            }
        }
    }
    let summary = format!(
        "balanced: holding [{}] of {} partitions, fair share {} of {} members",
        held.join(", "),
        view.partitions,
        view.fair,
        view.members
    );
    if failing.is_empty() {
        check.ready_as(summary);
    } else {
        check.not_ready(format!("{summary}; {}", failing.join("; ")));
    }
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

#[cfg(test)]
mod tests {
    use super::outbox_of;
    use std::path::Path;

    #[test]
    fn each_partition_has_an_outbox_file_of_its_own() {
        let table = [
            (
                "/var/lib/kvwatch/outbox.redb",
                "3",
                "/var/lib/kvwatch/outbox.p3.redb",
            ),
            ("state/alerts", "12", "state/alerts.p12"),
        ];
        for (path, partition, want) in table {
            assert_eq!(outbox_of(Path::new(path), partition), Path::new(want));
        }
    }
}
