//! Faults a test injects into a running hub, and the counters that show what the hub
//! did: the service-side events a reader of Event Hubs must survive.
//!
//! * a link detached by the service (`amqp:link:detach-forced`, as during a service
//!   update) and a connection closed by it (`amqp:connection:forced`), or dropped
//!   without a word;
//! * every token expiring at once (the links it covered are detached with
//!   `amqp:unauthorized-access`);
//! * retention removing events (partitions then begin past where a reader was);
//! * partitions added to a hub while it serves.
//!
//! Every call acts at once and returns how much it touched, so a test can assert that
//! the fault really happened before it checks that the reader survived it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use fe2o3_amqp::types::definitions::{self, ConnectionError, LinkError};

use super::config::{HubError, Result};
use super::link_table::{LinkEnd, LinkKind};
use super::Shared;

/// What the hub has done since it started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HubStats {
    /// Connections accepted.
    pub connections: u64,
    /// Tokens accepted on `$cbs`, first puts and renewals.
    pub tokens_put: u64,
    /// Of those, renewals of a token the connection already held for the same address
    /// (the SDK's refresh).
    pub tokens_renewed: u64,
    /// Tokens refused (bad signature, unknown key, expired, wrong audience).
    pub tokens_refused: u64,
    /// Receiving and sending links admitted.
    pub links_attached: u64,
    /// Links the hub detached because their token expired.
    pub links_cut_by_token_expiry: u64,
}

/// The counters behind [`HubStats`].
#[derive(Debug, Default)]
pub(crate) struct Counters {
    connections: AtomicU64,
    tokens_put: AtomicU64,
    tokens_renewed: AtomicU64,
    tokens_refused: AtomicU64,
    links_attached: AtomicU64,
    links_cut_by_token_expiry: AtomicU64,
}

impl Counters {
    pub(crate) fn connection_opened(&self) {
        self.connections.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn token_put(&self, renewed: bool) {
        self.tokens_put.fetch_add(1, Ordering::Relaxed);
        if renewed {
            self.tokens_renewed.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn token_refused(&self) {
        self.tokens_refused.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn link_attached(&self) {
        self.links_attached.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn cut_by_token_expiry(&self, links: usize) {
        self.links_cut_by_token_expiry
            .fetch_add(links as u64, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> HubStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        HubStats {
            connections: get(&self.connections),
            tokens_put: get(&self.tokens_put),
            tokens_renewed: get(&self.tokens_renewed),
            tokens_refused: get(&self.tokens_refused),
            links_attached: get(&self.links_attached),
            links_cut_by_token_expiry: get(&self.links_cut_by_token_expiry),
        }
    }
}

/// Injects faults into a running hub (see the module documentation).
#[derive(Debug, Clone)]
pub struct Faults {
    pub(super) shared: Arc<Shared>,
}

impl Faults {
    /// Detaches every receiver of `hub` (of one partition when given) with
    /// `amqp:link:detach-forced`; returns how many.
    pub fn detach_receivers(&self, hub: &str, partition: Option<&str>) -> usize {
        self.detach(LinkKind::Consumer, hub, partition)
    }

    /// Detaches every sender to `hub` with `amqp:link:detach-forced`; returns how many.
    pub fn detach_senders(&self, hub: &str) -> usize {
        self.detach(LinkKind::Producer, hub, None)
    }

    fn detach(&self, kind: LinkKind, hub: &str, partition: Option<&str>) -> usize {
        let hub = hub.to_lowercase();
        self.shared.links.stop_where(
            |link| {
                link.kind == kind
                    && link.hub == hub
                    && partition.is_none_or(|p| link.partition.as_deref() == Some(p))
            },
            |_| {
                LinkEnd::new(
                    LinkError::DetachForced,
                    "The link was detached by the service (an injected fault).",
                )
            },
        )
    }

    /// Closes every connection with `amqp:connection:forced`; returns how many.
    pub fn close_connections(&self) -> usize {
        let error = definitions::Error::new(
            ConnectionError::ConnectionForced,
            "The connection was closed by the service (an injected fault).".to_string(),
            None,
        );
        self.shared.connections.close_all(&error)
    }

    /// Drops every connection's socket without an AMQP close; returns how many.
    pub fn drop_connections(&self) -> usize {
        self.shared.connections.cut_all()
    }

    /// Makes every token held by every connection expire now: the links they covered
    /// are detached with `amqp:unauthorized-access`. Returns how many tokens.
    pub fn expire_tokens(&self) -> usize {
        self.shared.connections.expire_tokens()
    }

    /// Removes the events of a partition up to and including sequence number
    /// `through`, as retention would; returns how many.
    pub fn expire_events(&self, hub: &str, partition: &str, through: i64) -> Result<usize> {
        let found = self
            .shared
            .hub(hub)
            .ok_or_else(|| HubError::UnknownHub(hub.into()))?;
        let partition = found
            .partition(partition)
            .ok_or_else(|| HubError::UnknownPartition {
                hub: hub.into(),
                partition: partition.into(),
            })?;
        Ok(partition.expire_through(through))
    }

    /// Grows `hub` to `count` partitions; returns the new partitions' ids.
    pub fn add_partitions(&self, hub: &str, count: usize) -> Result<Vec<String>> {
        let found = self
            .shared
            .hub(hub)
            .ok_or_else(|| HubError::UnknownHub(hub.into()))?;
        Ok(found.grow(count))
    }
}
