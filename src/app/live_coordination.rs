//! `kvwatch run` with `[coordination]`: several instances with one config, one
//! active and the others hot standbys, through a Blob Storage container.
//!
//! Before it reads anything an instance lists the hubs (each on its own; a hub that
//! does not answer within `[eventhubs] idle_after` of the first one is claimed when
//! it does), then asks the coordinator for the group: active at once, or standing by
//! (ready, saying so on `/readyz`) until the active one's ownership expires or is
//! released. Active, it resumes from the group's last snapshot (or the standard
//! checkpoints another tool left), reads with the epoch as owner level, delivers
//! only while the fence is open, commits through [`BlobCheckpoints`], and claims
//! partitions the group gains (the `admit` hook) before reading them.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use futures::stream::{FuturesUnordered, StreamExt};
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

use super::live::LiveOptions;
use super::live_snapshot;
use crate::config::CoordinationConfig;
use crate::coordinate::{
    self, Active, CoordinateError, Coordinator, Fence, FenceState, MirrorPosition, PartitionRef,
    Resume, Started,
};
use crate::metrics::{checks, Metrics, ReadinessCheck};
use crate::sink::outbox::Outbox;
use crate::source::eventhubs::{
    ask_partitions, select_wanted, Admit, Connector, KnownPosition, PartitionSlot,
};
use crate::state::{Checkpoint, CheckpointStore, CommitOutcome, StateError};

/// The group, held.
pub struct Held {
    /// The active owner (shared with the commits and the `admit` hook).
    pub active: Arc<Mutex<Active>>,
    /// Its fence.
    pub fence: Fence,
    /// Its epoch: the owner level of every receiver.
    pub epoch: u64,
    /// Where it resumes from.
    pub resume: Option<Resume>,
}

/// Lists every hub for the first claim, each on its own, retrying with `backoff`:
/// waits for all of them or, once one answered, `wait_rest` for the others (`None`
/// for those). `Ok(None)` when cancelled first; an error when a configured
/// partition id does not exist.
pub async fn list_hubs(
    connectors: &[Connector],
    wanted: &[Vec<String>],
    (initial, max): (Duration, Duration),
    wait_rest: Duration,
    cancel: &CancellationToken,
) -> Result<Option<Vec<Option<Vec<String>>>>> {
    let mut pending: FuturesUnordered<_> = connectors
        .iter()
        .zip(wanted)
        .enumerate()
        .map(|(i, (connector, wanted))| async move {
            let mut delay = initial;
            loop {
                match ask_partitions(connector).await {
                    Ok(ids) => return (i, select_wanted(connector, ids, wanted)),
                    Err(e) => {
                        tracing::error!(
                            "cannot list the partitions of {}: {e}; retrying in {}",
                            connector.name(),
                            humantime::format_duration(delay)
                        );
                        tokio::time::sleep(delay).await;
                        delay = (delay * 2).min(max);
                    }
                }
            }
        })
        .collect();
    let mut listed: Vec<Option<Vec<String>>> = vec![None; connectors.len()];
    let mut give_up: Option<tokio::time::Instant> = None;
    while !pending.is_empty() {
        let deadline = async {
            match give_up {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = cancel.cancelled() => return Ok(None),
            () = deadline => break,
            Some((i, result)) = pending.next() => {
                listed[i] = Some(result?);
                give_up.get_or_insert(tokio::time::Instant::now() + wait_rest);
            }
        }
    }
    for (i, l) in listed.iter().enumerate() {
        if l.is_none() {
            tracing::warn!(
                "{} is not listed yet: the group is taken without it, and its partitions are claimed when it answers",
                connectors[i].name()
            );
        }
    }
    Ok(Some(listed))
}

/// The partition refs of listed partitions.
fn refs(connectors: &[Connector], listed: &[Option<Vec<String>>]) -> Vec<PartitionRef> {
    connectors
        .iter()
        .zip(listed)
        .flat_map(|(c, ids)| {
            ids.iter()
                .flatten()
                .map(|id| PartitionRef::new(&c.namespace, &c.hub, &c.consumer_group, id))
        })
        .collect()
}

/// Takes the group, standing by as long as another instance holds it. `Ok(None)`
/// when cancelled while standing by.
pub async fn take_group(
    opts: &LiveOptions,
    coordination: &CoordinationConfig,
    connectors: &[Connector],
    listed: &[Option<Vec<String>>],
    metrics: Option<&Arc<Metrics>>,
    cancel: &CancellationToken,
) -> Result<Option<Held>> {
    let config = &opts.config;
    let clock = opts.clock.clone();
    let balanced = opts.part.as_ref().map(|p| (&p.share, p.owner_id.as_str()));
    let client = coordinate::client_from_config(coordination, clock.clone())?;
    let mut settings = coordinate::settings_from_config(coordination, &config.eventhubs)?;
    if let Some((_, owner)) = balanced {
        // One owner id per balanced instance, on all of its partitions.
        owner.clone_into(&mut settings.owner_id);
    }
    let group = settings.layout.group().to_owned();
    let owner = settings.owner_id.clone();
    let check = metrics.map(|m| m.readiness().check(checks::COORDINATION));
    if let Some(c) = &check {
        c.not_ready(format!("starting: looking at group {group}"));
    }
    let mut coordinator = Coordinator::new(
        client,
        settings,
        &refs(connectors, listed),
        metrics.map(|m| m.coordination().clone()),
        clock,
    )?;
    if let Some((share, _)) = balanced {
        coordinator = coordinator.with_share(share.clone());
    }
    let mut active = match coordinator.start().await.context("coordination")? {
        Started::Active(a) => *a,
        Started::Standby(standby) => {
            let owners = standby.owners().join(", ");
            tracing::info!("group {group}: {owner} stands by (held by {owners})");
            if let Some(c) = &check {
                c.ready_as(format!("standby: group {group} held by {owners}"));
            }
            match standby
                .wait_for_takeover(cancel)
                .await
                .context("coordination")?
            {
                Some(a) => a,
                None => return Ok(None),
            }
        }
    };
    let epoch = active.epoch();
    tracing::info!("group {group}: {owner} is active under epoch {epoch}");
    let fence = active.fence();
    if let Some(c) = check {
        tokio::spawn(report_fence(fence.clone(), c, epoch));
    }
    let resume = active.take_resume();
    Ok(Some(Held {
        active: Arc::new(Mutex::new(active)),
        fence,
        epoch,
        resume,
    }))
}

/// Keeps the coordination readiness check on the fence: ready while open, not
/// ready (saying why) while paused or once lost.
async fn report_fence(fence: Fence, check: ReadinessCheck, epoch: u64) {
    let mut changes = fence.subscribe();
    loop {
        let state = fence.state();
        match &state {
            FenceState::Open => check.ready_as(format!("active under epoch {epoch}")),
            FenceState::Paused { reason } => check.not_ready(format!(
                "paused: an ownership renewal failed ({reason}); alerts wait in the outbox"
            )),
            FenceState::Lost(reason) => {
                check.not_ready(format!("ownership lost: {reason}"));
                return;
            }
        }
        tokio::select! {
            changed = changes.changed() => if changed.is_err() {
                check.not_ready("ownership released".to_owned());
                return;
            },
            // The deadline passes without a word from the renewal task.
            () = tokio::time::sleep(Duration::from_millis(500)) => {}
        }
    }
}

/// The positions to resume from: the snapshot's (with its state) or the standard
/// checkpoints another tool wrote (positions only).
pub fn resume_positions(
    resume: Option<Resume>,
) -> Result<(
    Option<live_snapshot::Unpacked>,
    BTreeMap<String, KnownPosition>,
)> {
    match resume {
        Some(Resume::Snapshot(mut restored)) => {
            let sections = std::mem::take(&mut restored.sections);
            let unpacked = live_snapshot::unpack(sections).with_context(|| {
                format!(
                    "snapshot {}: its sections cannot be read by this kvwatch",
                    restored.snapshot
                )
            })?;
            let positions = unpacked
                .checkpoint
                .partitions
                .iter()
                .map(|(key, position)| {
                    let offset = unpacked.offsets.get(key).cloned().or_else(|| {
                        restored
                            .positions
                            .get(key)
                            .filter(|m| Some(m.sequence_number) == position.resume_after)
                            .map(|m| m.offset.clone())
                    });
                    let known = KnownPosition {
                        position: position.clone(),
                        offset,
                    };
                    (key.clone(), known)
                })
                .collect();
            tracing::info!(
                "resuming from snapshot {} (commit {}, written by {})",
                restored.snapshot,
                restored.commit,
                restored.committed_by
            );
            Ok((Some(unpacked), positions))
        }
        Some(Resume::Checkpoints(found)) => {
            if !found.is_empty() {
                tracing::info!(
                    "no kvwatch state in the container yet: resuming {} partitions from their standard checkpoints",
                    found.len()
                );
            }
            let positions = found
                .into_iter()
                .map(|(p, m)| {
                    let known = KnownPosition {
                        position: crate::state::PartitionPosition {
                            resume_after: Some(m.sequence_number),
                            replay: Vec::new(),
                        },
                        offset: Some(m.offset),
                    };
                    (p.key(), known)
                })
                .collect();
            Ok((None, positions))
        }
        None => Ok((None, BTreeMap::new())),
    }
}

/// Claims partitions before they are read, retrying transient storage faults
/// until `cancel` fires.
pub fn admit(active: Arc<Mutex<Active>>, cancel: CancellationToken) -> Admit {
    Arc::new(move |slots: Vec<PartitionSlot>| {
        let active = active.clone();
        let cancel = cancel.clone();
        Box::pin(async move {
            let refs: Vec<PartitionRef> = slots
                .iter()
                .map(|s| {
                    PartitionRef::new(&s.namespace, &s.hub_name, &s.consumer_group, &s.partition)
                })
                .collect();
            let mut delay = Duration::from_millis(500);
            loop {
                let result = active.lock().await.extend(&refs).await;
                match result {
                    Ok(()) => return Ok(()),
                    Err(e) if e.is_transient() => {
                        tracing::warn!("claiming added partitions: {e}; trying again");
                        tokio::select! {
                            () = cancel.cancelled() => return Err("shutting down".to_owned()),
                            () = tokio::time::sleep(delay) => {}
                        }
                        delay = (delay * 2).min(Duration::from_secs(10));
                    }
                    Err(e) => return Err(e.to_string()),
                }
            }
        })
    })
}

/// Commits to the group's container (see `coordinate::store`): the snapshot, then
/// the manifest, then the standard checkpoint blobs. Runs on the pipeline thread,
/// waiting for the storage service there.
pub struct BlobCheckpoints {
    /// The active owner.
    pub active: Arc<Mutex<Active>>,
    /// Its fence (read without the lock).
    pub fence: Fence,
    /// The runtime the storage calls run on.
    pub runtime: tokio::runtime::Handle,
    /// The outbox whose waiting alerts are carried, when sinks are configured.
    pub outbox: Option<Arc<Outbox>>,
    /// The most bytes of carried alerts in one snapshot.
    pub outbox_budget: usize,
}

impl CheckpointStore for BlobCheckpoints {
    fn commit(
        &mut self,
        checkpoint: &Checkpoint,
        offsets: &BTreeMap<String, String>,
    ) -> Result<CommitOutcome, StateError> {
        if let FenceState::Lost(reason) = self.fence.state() {
            return Err(StateError::Lost(reason.to_string()));
        }
        let waiting = match &self.outbox {
            Some(outbox) => live_snapshot::waiting(outbox)
                .map_err(|e| StateError::Storage(format!("reading the outbox: {e}")))?,
            None => Vec::new(),
        };
        let (sections, left_out) =
            live_snapshot::pack(checkpoint, offsets, &waiting, self.outbox_budget)
                .map_err(|e| StateError::Storage(format!("encoding the snapshot: {e}")))?;
        if left_out > 0 {
            tracing::warn!(
                "{left_out} undelivered alerts do not fit the snapshot's outbox budget ({} bytes): they wait in this instance's outbox only, and would be raised again only if their events are read again",
                self.outbox_budget
            );
        }
        let active = self.active.clone();
        let result = self.runtime.block_on(async move {
            let mut active = active.lock().await;
            let mirror: BTreeMap<PartitionRef, MirrorPosition> = active
                .partitions()
                .iter()
                .filter_map(|p| {
                    let key = p.key();
                    let position = checkpoint.partitions.get(&key)?;
                    let mirror = MirrorPosition {
                        sequence_number: position.resume_after?,
                        offset: offsets.get(&key)?.clone(),
                    };
                    Some((p.clone(), mirror))
                })
                .collect();
            active.commit(sections, &mirror).await
        });
        match result {
            Ok(_) => Ok(CommitOutcome::Committed),
            Err(CoordinateError::Lost(reason)) => Err(StateError::Lost(reason.to_string())),
            Err(e) if e.is_transient() => Ok(CommitOutcome::Deferred(e.to_string())),
            Err(e) => Err(StateError::Storage(e.to_string())),
        }
    }

    fn lost(&self) -> Option<String> {
        match self.fence.state() {
            FenceState::Lost(reason) => Some(reason.to_string()),
            _ => None,
        }
    }
}
