//! Every receiving and sending link the hub serves, so that the hub can end them on
//! its own: a token that expired, an owner level that took the partition, or a fault
//! a test injects ([`super::Faults`]).
//!
//! A link registers when it is admitted and gets a stop channel; whoever ends it sends
//! a [`LinkEnd`] (the first one counts) and the link detaches with that error. The
//! registration goes when the link's task does.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use fe2o3_amqp::types::definitions::ErrorCondition;
use tokio::sync::mpsc;

use super::store::lock;

/// Why the hub ends a link: the AMQP error it detaches with.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LinkEnd {
    pub(crate) condition: ErrorCondition,
    pub(crate) description: String,
}

impl LinkEnd {
    pub(crate) fn new(
        condition: impl Into<ErrorCondition>,
        description: impl Into<String>,
    ) -> Self {
        LinkEnd {
            condition: condition.into(),
            description: description.into(),
        }
    }
}

/// What a link carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LinkKind {
    /// The hub sends events to a client (a consumer's receiver).
    Consumer,
    /// A client sends events to the hub (a producer's sender).
    Producer,
}

/// Sends a [`LinkEnd`] to one link.
pub(crate) type LinkStopper = mpsc::UnboundedSender<LinkEnd>;
/// Where a link learns that it must end.
pub(crate) type LinkStop = mpsc::UnboundedReceiver<LinkEnd>;

/// One served link.
#[derive(Debug, Clone)]
pub(crate) struct LinkEntry {
    /// The connection it runs on.
    pub(crate) connection: u64,
    pub(crate) kind: LinkKind,
    /// The hub, lowercase.
    pub(crate) hub: String,
    /// The partition, when the link names one.
    pub(crate) partition: Option<String>,
    /// The normalized address, which a token must cover.
    pub(crate) path: String,
    stopper: LinkStopper,
    /// An end was sent already (the link is detaching).
    ending: bool,
}

/// The links being served.
#[derive(Debug, Default)]
pub(crate) struct LinkTable {
    state: Mutex<(u64, HashMap<u64, LinkEntry>)>,
}

impl LinkTable {
    /// Registers a link; it stays listed while the guard lives.
    pub(crate) fn register(
        self: &Arc<Self>,
        connection: u64,
        kind: LinkKind,
        hub: &str,
        partition: Option<&str>,
        path: String,
    ) -> (LinkGuard, LinkStop, LinkStopper) {
        let (stopper, stop) = mpsc::unbounded_channel();
        let entry = LinkEntry {
            connection,
            kind,
            hub: hub.to_lowercase(),
            partition: partition.map(str::to_owned),
            path,
            stopper: stopper.clone(),
            ending: false,
        };
        let mut state = lock(&self.state);
        let id = state.0;
        state.0 += 1;
        state.1.insert(id, entry);
        drop(state);
        let guard = LinkGuard {
            table: Arc::clone(self),
            id,
        };
        (guard, stop, stopper)
    }

    /// Ends every link `select` picks (and that is not ending already) with the end
    /// `end` gives it; returns how many.
    pub(crate) fn stop_where(
        &self,
        select: impl Fn(&LinkEntry) -> bool,
        end: impl Fn(&LinkEntry) -> LinkEnd,
    ) -> usize {
        let mut state = lock(&self.state);
        let mut stopped = 0;
        for entry in state.1.values_mut() {
            if !entry.ending && select(entry) && entry.stopper.send(end(entry)).is_ok() {
                entry.ending = true;
                stopped += 1;
            }
        }
        stopped
    }

    /// The links listed now.
    pub(crate) fn entries(&self) -> Vec<LinkEntry> {
        lock(&self.state).1.values().cloned().collect()
    }
}

/// Keeps a link listed; dropping it (the link ended, its task was aborted) unlists it.
#[derive(Debug)]
pub(crate) struct LinkGuard {
    table: Arc<LinkTable>,
    id: u64,
}

impl Drop for LinkGuard {
    fn drop(&mut self) {
        lock(&self.table.state).1.remove(&self.id);
    }
}
