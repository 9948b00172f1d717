//! One partition's runs inside a balanced instance (see [`super::live_balanced`]):
//! the options a partition's `Live` gets (its group, outbox, the instance's share,
//! owner id, metrics view and lines), the loop that keeps one run going per
//! partition, and the instance's readiness summed up from its partitions' checks.
//! Split from `live_balanced`, which joins the group and starts these.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use tokio_util::sync::CancellationToken;

use super::live::{Live, LiveOptions, PartOptions};
use super::live_balanced::Instance;
use super::live_pipeline::{LiveStatus, LoopEnd};

/// Keeps one run of `partition` going (active or standing by) until cancelled.
pub(super) async fn run_partition(
    instance: Arc<Instance>,
    partition: String,
    cancel: CancellationToken,
) {
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
                delay = if o.end == LoopEnd::HandedOver {
                    // Cut off from Event Hubs: stand back for two expiries, so the
                    // partition is overdue for the others, who claim it over their
                    // share, instead of this instance claiming it straight back.
                    instance.coordination.ownership_expiry.as_std() * 2
                } else {
                    Duration::from_millis(500)
                };
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
        enricher: instance.enricher.clone(),
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
/// Also sums the held partitions' own gauges up into the instance's
/// ([`crate::metrics::Metrics::sum_up`]).
pub(super) fn report_readiness(
    instance: &Instance,
    check: Option<&crate::metrics::ReadinessCheck>,
) {
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
        let views: Vec<&crate::metrics::Metrics> = held
            .iter()
            .filter_map(|p| parts.get(*p).map(|m| &**m))
            .collect();
        if let Some(shared) = &instance.metrics {
            shared.sum_up(&views);
        }
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
