//! The background part of `kvwatch run`: get hold of the state (the local checkpoint,
//! or the coordination group, standing by first if another instance holds it),
//! restore the pipeline from it, read every hub, and stop cleanly.
//!
//! The end depends on why the pipeline stopped: after a shutdown (or once every
//! partition was taken over) the last checkpoint is written and the outbox drains;
//! once the coordination ownership is lost nothing more is written or delivered (a
//! newer owner acts now) and the run ends at once. Where the state comes from is
//! `live_resume`'s.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::delivery::DrainReport;
use super::live::{DeadLetters, LiveOptions, LiveOutcome};
use super::live_coordination::{self, Held};
use super::live_pipeline::{LiveLoop, LiveStatus, LoopEnd};
use super::live_resume::{carry_on, coordinated, local, Resumed};
use super::metrics::RunMetrics;
use crate::config::CoordinationConfig;
use crate::metrics::checks;
use crate::pipeline::Pipeline;
use crate::sink::delivery::Delivery;
use crate::sink::gate::Permit;
use crate::source::eventhubs::{
    read_hubs, ticks, Activity, Connector, Discovery, Progress, ReaderSettings, WatchedHub,
    WatermarkRule,
};
use crate::state::{Checkpoint, StateStore};

/// Where a run's state comes from.
pub(super) enum Start {
    /// A single instance: the local checkpoint, loaded.
    Local {
        store: StateStore,
        checkpoint: Option<Checkpoint>,
        path: PathBuf,
    },
    /// Instances sharing the state through a Blob Storage container.
    Coordinated(CoordinationConfig),
}

/// The background part of a run.
pub(super) struct Serve {
    pub finishing: Arc<AtomicBool>,
    pub opts: LiveOptions,
    pub connectors: Vec<Connector>,
    pub start: Start,
    pub pipeline: Pipeline,
    pub delivery: Option<Delivery>,
    pub alerts: Arc<AtomicU64>,
    pub status: watch::Sender<LiveStatus>,
    pub dead: Arc<DeadLetters>,
}

impl Serve {
    pub(super) async fn run(
        self,
        cancel: CancellationToken,
        run_metrics: Option<RunMetrics>,
    ) -> Result<LiveOutcome> {
        let Serve {
            finishing,
            opts,
            connectors,
            start,
            mut pipeline,
            delivery,
            alerts,
            status,
            dead,
        } = self;
        let config = &opts.config;
        let eh = &config.eventhubs;
        let backoff = (eh.reconnect_initial.as_std(), eh.reconnect_max.as_std());
        let metrics = run_metrics.as_ref().map(|m| m.metrics().clone());
        let final_status = status.subscribe();

        let resumed = match start {
            Start::Local {
                store,
                checkpoint,
                path,
            } => local(store, checkpoint, path),
            Start::Coordinated(c) => {
                status.send_modify(|s| s.standby = true);
                let wanted: Vec<Vec<String>> =
                    eh.hubs.iter().map(|h| h.partitions.clone()).collect();
                let Some(listed) = live_coordination::list_hubs(
                    &connectors,
                    &wanted,
                    backoff,
                    eh.idle_after.as_std(),
                    &cancel,
                )
                .await?
                else {
                    return finish_early(status, delivery, run_metrics).await;
                };
                let taken = live_coordination::take_group(
                    &opts,
                    &c,
                    &connectors,
                    &listed,
                    metrics.as_ref(),
                    &cancel,
                )
                .await?;
                let Some(held) = taken else {
                    return finish_early(status, delivery, run_metrics).await;
                };
                coordinated(held, listed, &c, delivery.as_ref())?
            }
        };
        let Resumed {
            store,
            meta,
            saved,
            positions,
            carried,
            source,
            listed,
            held,
        } = resumed;
        // Taken by value: the saved bytes are dropped once restored, not kept for
        // the whole run.
        if let (Some(saved), Some(meta)) = (saved, &meta) {
            pipeline
                .restore_state(saved, meta.released_up_to)
                .with_context(|| format!("cannot restore the detector state from {source}"))?;
            tracing::info!(watermark = ?meta.watermark, "restored the checkpoint of {source}");
        }
        if let Some(m) = &metrics {
            m.readiness().check(checks::STATE_LOADED).ready();
        }
        if let Some(d) = &delivery {
            carry_on(d, config, carried, &opts)?;
        }
        let owner_level = held
            .as_ref()
            .map(|h| i64::try_from(h.epoch).unwrap_or(i64::MAX));
        if let Some(h) = &held {
            if let Some(d) = &delivery {
                d.gate()
                    .follow(Arc::new(h.fence.clone()) as Arc<dyn Permit>);
            }
            status.send_modify(|s| {
                s.standby = false;
                s.epoch = Some(h.epoch);
            });
        }

        let live_metrics = metrics.as_ref().map(|m| m.live().clone());
        let watched: Vec<WatchedHub> = eh
            .hubs
            .iter()
            .zip(&connectors)
            .enumerate()
            .map(|(i, (hub, connector))| WatchedHub {
                hub: i,
                template: ReaderSettings {
                    slot: 0,
                    partition: String::new(),
                    connector: connector.clone(),
                    start: hub.start,
                    resume_after: None,
                    prefetch: hub.prefetch,
                    owner_level: owner_level.or(hub.owner_level),
                    backoff,
                    lag_interval: eh.lag_interval.as_std(),
                    activity: Arc::new(Activity::new(opts.clock.now())),
                    clock: opts.clock.clone(),
                    metrics: live_metrics.clone(),
                },
                wanted: hub.partitions.clone(),
                known: listed.as_ref().and_then(|l| l.get(i).cloned().flatten()),
            })
            .collect();
        let mut progress = Progress::new(WatermarkRule {
            lateness: config.pipeline.lateness.as_chrono(),
            idle_after: eh.idle_after.as_chrono(),
            hub_lag_limit: eh.hub_lag_limit.as_chrono(),
        });
        progress.restore_watermark(meta.and_then(|m| m.watermark));
        for w in watched.iter().filter(|w| w.known.is_none()) {
            progress.hold(w.hub, Arc::new(Activity::new(opts.clock.now())));
        }
        let (tx, rx) = mpsc::channel(eh.queue_bodies);
        let live_loop = LiveLoop {
            pipeline,
            progress,
            slots: Vec::new(),
            hubs: eh.hubs.len(),
            store,
            clock: opts.clock.clone(),
            interval: config.state.checkpoint_interval.as_chrono(),
            metrics: live_metrics,
            connected: metrics
                .as_ref()
                .map(|m| m.readiness().check(checks::SOURCES_CONNECTED)),
            hand_over_after: held
                .as_ref()
                .and(config.coordination.as_ref())
                .map(|c| c.hand_over_after.as_chrono()),
            cut_loose: Vec::new(),
            leave: opts
                .part
                .as_ref()
                .map(|p| (p.share.clone(), p.group.clone())),
            alerts,
            status,
            finishing,
        };
        let pipeline_thread = tokio::task::spawn_blocking(move || live_loop.run(rx));
        let admit = held
            .as_ref()
            .map(|h| live_coordination::admit(h.active.clone(), cancel.clone()));
        let discovery = Discovery::new(
            eh.relist_interval.as_std(),
            positions,
            admit,
            tx.clone(),
            cancel.clone(),
        );
        let readers = tokio::spawn(read_hubs(watched, discovery));
        let tick = (eh
            .idle_after
            .as_std()
            .min(config.state.checkpoint_interval.as_std())
            / 4)
        .clamp(Duration::from_millis(20), Duration::from_secs(1));
        let ticker = tokio::spawn(ticks(tx, tick, cancel.clone()));
        if let Some(h) = &held {
            // A lost ownership stops the readers at once (the loop notices at its
            // next tick and writes nothing more).
            let mut fence = h.fence.clone();
            let cancel = cancel.clone();
            tokio::spawn(async move {
                let reason = fence.lost().await;
                tracing::error!("stopping: {reason}");
                cancel.cancel();
            });
        }
        let ended = pipeline_thread
            .await
            .context("the pipeline thread panicked");
        // Whatever ended the pipeline (shutdown, every partition lost, a failure),
        // the readers stop now; each one's close is bounded by the operation timeout.
        cancel.cancel();
        let bound = eh.operation_timeout.as_std() * 2 + Duration::from_secs(1);
        if tokio::time::timeout(bound, readers).await.is_err() {
            tracing::warn!("some partition readers did not close in time");
        }
        ticker.abort();
        let end = ended??;
        let drained = match delivery {
            Some(d) if end == LoopEnd::OwnershipLost => {
                // A newer owner delivers now: nothing more goes out from here.
                d.gate().close("ownership lost");
                d.stop().await.context("cannot sync the outbox")?;
                None
            }
            Some(d) => Some(drain(d, config, &dead).await?),
            None => None,
        };
        if let Some(h) = held {
            release(h, end).await;
        }
        if let Some(m) = &run_metrics {
            m.write_snapshot()?;
        }
        let status = final_status.borrow().clone();
        Ok(LiveOutcome {
            end,
            status,
            delivery: drained,
            metrics: run_metrics,
        })
    }
}

async fn drain(
    d: Delivery,
    config: &crate::config::Config,
    dead: &DeadLetters,
) -> Result<DrainReport> {
    let limit = config.outbox.drain_timeout.as_std();
    let waiting = d.drain(limit).await.context("cannot read the outbox")?;
    d.stop().await.context("cannot sync the outbox")?;
    if waiting > 0 {
        tracing::warn!(
            "{waiting} alert deliveries still waiting; they stay in the outbox for the next run"
        );
    }
    Ok(DrainReport {
        waiting,
        dead_lettered: dead.0.load(std::sync::atomic::Ordering::Relaxed),
    })
}

/// Gives the group back after a clean stop, so a standby takes over at its next
/// poll instead of after the expiry; after a loss there is nothing to give back.
async fn release(held: Held, end: LoopEnd) {
    let Held { active, .. } = held;
    let Ok(active) = Arc::try_unwrap(active) else {
        tracing::warn!("the group is still in use; it will expire instead of being released");
        return;
    };
    let active = active.into_inner();
    if end == LoopEnd::OwnershipLost {
        drop(active);
        return;
    }
    if let Err(e) = active.release().await {
        tracing::warn!("releasing the group: {e}; it will expire instead");
    }
}

/// A run stopped before it read anything (while listing or standing by): its
/// outbox, if any, was never its to deliver.
async fn finish_early(
    status: watch::Sender<LiveStatus>,
    delivery: Option<Delivery>,
    run_metrics: Option<RunMetrics>,
) -> Result<LiveOutcome> {
    if let Some(d) = delivery {
        d.stop().await.context("cannot sync the outbox")?;
    }
    if let Some(m) = &run_metrics {
        m.write_snapshot()?;
    }
    let status = status.borrow().clone();
    Ok(LiveOutcome {
        end: LoopEnd::Drained,
        status,
        delivery: None,
        metrics: run_metrics,
    })
}
