//! How `kvwatch run` resumes: from the local checkpoint (one instance), or from the
//! coordination group's snapshot and positions (the instance that claimed the
//! group), with the alerts the previous owner had not delivered queued again.
//! Split from `live_serve`, which runs what this resumes.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, Result};

use super::live::LiveOptions;
use super::live_coordination::{self, BlobCheckpoints, Held};
use super::live_snapshot::Unpacked;
use crate::alert::Alert;
use crate::config::CoordinationConfig;
use crate::pipeline::SavedState;
use crate::sink::delivery::Delivery;
use crate::sink::outbox::Route;
use crate::source::eventhubs::KnownPosition;
use crate::state::{Checkpoint, CheckpointMeta, CheckpointStore, StateStore};

/// Everything the run needs once it may read.
pub(super) struct Resumed {
    pub(super) store: Box<dyn CheckpointStore>,
    pub(super) meta: Option<CheckpointMeta>,
    pub(super) saved: Option<SavedState>,
    pub(super) positions: BTreeMap<String, KnownPosition>,
    pub(super) carried: Vec<(Alert, Vec<Route>)>,
    pub(super) source: String,
    /// Hub partitions listed already (coordination lists before claiming).
    pub(super) listed: Option<Vec<Option<Vec<String>>>>,
    pub(super) held: Option<Held>,
}

pub(super) fn local(store: StateStore, checkpoint: Option<Checkpoint>, path: PathBuf) -> Resumed {
    let positions = checkpoint
        .iter()
        .flat_map(|c| c.partitions.iter())
        .map(|(key, position)| {
            let known = KnownPosition {
                position: position.clone(),
                offset: None,
            };
            (key.clone(), known)
        })
        .collect();
    let meta = checkpoint.as_ref().map(|c| c.meta);
    // Moved, not copied: the detector state is the largest thing a start holds.
    let saved = checkpoint.map(|c| SavedState {
        detectors: c.detectors,
        dedup: c.dedup,
    });
    Resumed {
        store: Box::new(store),
        meta,
        saved,
        positions,
        carried: Vec::new(),
        source: path.display().to_string(),
        listed: None,
        held: None,
    }
}

pub(super) fn coordinated(
    mut held: Held,
    listed: Vec<Option<Vec<String>>>,
    config: &CoordinationConfig,
    delivery: Option<&Delivery>,
) -> Result<Resumed> {
    let (unpacked, positions) = live_coordination::resume_positions(held.resume.take())?;
    let store = BlobCheckpoints {
        active: held.active.clone(),
        fence: held.fence.clone(),
        runtime: tokio::runtime::Handle::current(),
        outbox: delivery.map(|d| d.outbox().clone()),
        outbox_budget: usize::try_from(config.max_snapshot_bytes / 4).unwrap_or(usize::MAX),
    };
    let (meta, saved, carried) = match unpacked {
        Some(mut u) => {
            let saved = u.take_saved();
            let Unpacked {
                checkpoint,
                carried,
                ..
            } = u;
            (Some(checkpoint.meta), Some(saved), carried)
        }
        None => (None, None, Vec::new()),
    };
    Ok(Resumed {
        store: Box::new(store),
        meta,
        saved,
        positions,
        carried,
        source: "the coordination container".to_owned(),
        listed: Some(listed),
        held: Some(held),
    })
}

/// Queues the alerts the previous owner had not delivered (to the sinks this
/// config still has); the outbox keeps an id only once while it waits.
pub(super) fn carry_on(
    delivery: &Delivery,
    config: &crate::config::Config,
    carried: Vec<(Alert, Vec<Route>)>,
    opts: &LiveOptions,
) -> Result<()> {
    if carried.is_empty() {
        return Ok(());
    }
    let sinks: Vec<&str> = config
        .sinks
        .iter()
        .filter(|s| s.enabled)
        .map(|s| s.name.as_str())
        .collect();
    let batch: Vec<(Alert, Vec<Route>)> = carried
        .into_iter()
        .map(|(alert, routes)| {
            let routes = routes
                .into_iter()
                .filter(|r| sinks.contains(&r.sink.as_str()))
                .collect();
            (alert, routes)
        })
        .collect();
    let queued = delivery
        .outbox()
        .enqueue(&batch, opts.clock.now())
        .context("cannot queue the alerts the previous owner had not delivered")?;
    tracing::info!(
        "{} alerts the previous owner had not delivered are queued again ({} deliveries)",
        batch.len(),
        queued.len()
    );
    delivery.wake();
    Ok(())
}
