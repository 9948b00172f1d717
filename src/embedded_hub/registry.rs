//! Partition ownership: which receivers read a partition, and their epochs.
//!
//! Event Hubs lets a receiver claim a partition within a consumer group by
//! sending an owner level (`com.microsoft:epoch`). The rules it follows, and
//! that this registry follows, are:
//!
//! * A receiver with epoch `e2` disconnects every receiver of epoch `e1 <= e2`
//!   and every receiver without an epoch (`amqp:link:stolen`).
//! * A receiver with an epoch lower than an active one is refused.
//! * A receiver without an epoch is refused while one with an epoch is active.
//!
//! Refusals and displacements both use `amqp:link:stolen`, which the SDK
//! reports as `ErrorKind::ConsumerDisconnected`.

use super::link_table::{LinkEnd, LinkStopper};
use super::store::lock;
use fe2o3_amqp::types::definitions::LinkError;
use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};
use tokio::sync::watch;

/// Names the partition of a hub as read through one consumer group.
/// Hub and consumer group names are case-insensitive, as on the service.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct ReceiverKey {
    hub: String,
    consumer_group: String,
    partition: String,
}

impl ReceiverKey {
    pub(crate) fn new(hub: &str, consumer_group: &str, partition: &str) -> Self {
        Self {
            hub: hub.to_ascii_lowercase(),
            consumer_group: consumer_group.to_ascii_lowercase(),
            partition: partition.to_string(),
        }
    }
}

/// An active receiver link on a partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiverInfo {
    /// The AMQP link name the client chose.
    pub link_name: String,
    /// The owner level (epoch) the receiver sent, if any.
    pub owner_level: Option<i64>,
}

/// The outcome of asking for a place on a partition.
#[derive(Debug)]
pub(crate) enum Admission {
    /// The receiver may read; a newer owner ends it through its stopper.
    Admitted { registration: Registration },
    /// The receiver must be detached at once with this description.
    Refused(String),
}

#[derive(Debug)]
struct Active {
    id: u64,
    info: ReceiverInfo,
    stopper: LinkStopper,
}

#[derive(Debug, Default)]
struct State {
    next_id: u64,
    partitions: HashMap<ReceiverKey, Vec<Active>>,
}

/// All receivers of all partitions, with a version that changes on every
/// admission and departure so that tests can wait for a state.
#[derive(Debug)]
pub(crate) struct Registry {
    state: Mutex<State>,
    version: watch::Sender<u64>,
}

impl Registry {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::new(State::default()),
            version: watch::channel(0).0,
        })
    }

    /// Admits or refuses a receiver, displacing the receivers it outranks.
    pub(crate) fn admit(
        self: &Arc<Self>,
        key: ReceiverKey,
        info: ReceiverInfo,
        stopper: LinkStopper,
    ) -> Admission {
        let mut state = lock(&self.state);
        let active = state.partitions.entry(key.clone()).or_default();
        if let Some(reason) = refusal(active, &info) {
            return Admission::Refused(reason);
        }
        let (kept, displaced): (Vec<Active>, Vec<Active>) = std::mem::take(active)
            .into_iter()
            .partition(|old| !outranks(&info, &old.info));
        *active = kept;
        for old in displaced {
            let description = displacement(&info, &old.info);
            // A receiver that is already gone has nothing left to detach.
            let _ = old
                .stopper
                .send(LinkEnd::new(LinkError::Stolen, description));
        }
        let id = state.next_id;
        state.next_id += 1;
        state
            .partitions
            .entry(key.clone())
            .or_default()
            .push(Active { id, info, stopper });
        drop(state);
        self.bump();
        Admission::Admitted {
            registration: Registration {
                registry: Arc::clone(self),
                key,
                id,
            },
        }
    }

    /// Returns the active receivers of a partition, oldest first.
    pub(crate) fn receivers(&self, key: &ReceiverKey) -> Vec<ReceiverInfo> {
        lock(&self.state)
            .partitions
            .get(key)
            .map(|active| active.iter().map(|a| a.info.clone()).collect())
            .unwrap_or_default()
    }

    /// Waits until the receivers of a partition satisfy `done`.
    pub(crate) async fn wait_for(&self, key: &ReceiverKey, done: impl Fn(&[ReceiverInfo]) -> bool) {
        let mut changes = self.version.subscribe();
        while !done(&self.receivers(key)) {
            if changes.changed().await.is_err() {
                return;
            }
        }
    }

    /// Forgets every receiver; used when the hub stops serving.
    pub(crate) fn clear(&self) {
        lock(&self.state).partitions.clear();
        self.bump();
    }

    fn remove(&self, key: &ReceiverKey, id: u64) {
        let mut state = lock(&self.state);
        if let Some(active) = state.partitions.get_mut(key) {
            active.retain(|a| a.id != id);
            if active.is_empty() {
                state.partitions.remove(key);
            }
        }
        drop(state);
        self.bump();
    }

    fn bump(&self) {
        self.version.send_modify(|v| *v = v.wrapping_add(1));
    }
}

/// Keeps a receiver registered; dropping it (link ended, task aborted)
/// removes the receiver from its partition.
#[derive(Debug)]
pub(crate) struct Registration {
    registry: Arc<Registry>,
    key: ReceiverKey,
    id: u64,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.registry.remove(&self.key, self.id);
    }
}

/// Whether `new` takes the partition away from `old`.
fn outranks(new: &ReceiverInfo, old: &ReceiverInfo) -> bool {
    match (new.owner_level, old.owner_level) {
        (Some(new_level), Some(old_level)) => new_level >= old_level,
        (Some(_), None) => true,
        (None, _) => false,
    }
}

/// Returns why `info` may not join the `active` receivers, if it may not.
fn refusal(active: &[Active], info: &ReceiverInfo) -> Option<String> {
    let highest = active.iter().filter_map(|a| a.info.owner_level).max()?;
    match info.owner_level {
        Some(level) if level >= highest => None,
        Some(level) => Some(format!(
            "Receiver '{}' with epoch '{level}' cannot be created as a receiver with a \
             higher epoch '{highest}' already exists.",
            info.link_name
        )),
        None => Some(format!(
            "Receiver '{}' without an epoch cannot be created as a receiver with epoch \
             '{highest}' already exists.",
            info.link_name
        )),
    }
}

/// The description Event Hubs gives a displaced receiver.
fn displacement(new: &ReceiverInfo, old: &ReceiverInfo) -> String {
    let level = |l: Option<i64>| l.map_or_else(|| "none".to_string(), |l| l.to_string());
    format!(
        "New receiver '{}' with higher epoch of '{}' is created hence current receiver '{}' \
         with epoch '{}' is getting disconnected.",
        new.link_name,
        level(new.owner_level),
        old.link_name,
        level(old.owner_level)
    )
}
