//! Decides what an incoming attach is, before the stand-in answers it.
//!
//! A receiver is admitted to its partition (and its start position fixed)
//! *before* the attach is answered, so by the time the client's attach
//! completes the stand-in lists the receiver, and every event stored from
//! then on reaches it. A link that cannot be served is still attached (fe2o3
//! offers no way to answer with a null terminus) and then detached at once
//! with an error, which clients see on their first use of the link.

use super::{
    address::Address,
    filter::StartFilter,
    management::Node,
    registry::{Admission, Eviction, ReceiverInfo, ReceiverKey, Registration},
    store::{Hub, Partition},
    Shared,
};
use fe2o3_amqp::types::{
    definitions::{AmqpError, ErrorCondition, LinkError, Role},
    messaging::TargetArchetype,
    performatives::Attach,
    primitives::Value,
};
use std::sync::Arc;
use tokio::sync::oneshot;

/// The link property carrying a receiver's owner level.
const EPOCH_PROPERTY: &str = "com.microsoft:epoch";

/// A receiver that may read its partition.
#[derive(Debug)]
pub(super) struct AdmittedReceiver {
    pub(super) partition: Arc<Partition>,
    pub(super) cursor: usize,
    pub(super) filter: StartFilter,
    pub(super) evicted: oneshot::Receiver<Eviction>,
    pub(super) registration: Registration,
}

/// Why a link is detached as soon as it is attached.
#[derive(Debug)]
pub(super) struct Refusal {
    pub(super) condition: ErrorCondition,
    pub(super) reason: String,
}

/// What to do with an attached link.
#[derive(Debug)]
pub(super) enum LinkPlan {
    /// Detach it at once with this error.
    Refuse(Refusal),
    /// Send it events of its partition.
    Consumer(AdmittedReceiver),
    /// Store the events sent on it.
    Producer {
        hub: Arc<Hub>,
        partition: Option<Arc<Partition>>,
    },
    /// Answer the management requests sent on it.
    Requests(Node),
    /// Send the node's responses for this reply address on it.
    Replies { node: Node, address: String },
}

impl Refusal {
    fn new(condition: impl Into<ErrorCondition>, reason: String) -> Self {
        Self {
            condition: condition.into(),
            reason,
        }
    }
}

impl LinkPlan {
    fn refuse(condition: impl Into<ErrorCondition>, reason: String) -> Self {
        Self::Refuse(Refusal::new(condition, reason))
    }
}

/// Plans the link that `attach` asks for.
pub(super) fn plan_link(attach: &Attach, shared: &Shared) -> LinkPlan {
    match attach.role {
        // The client receives, so the stand-in sends: read the source.
        Role::Receiver => {
            let source = attach.source.as_ref().and_then(|s| s.address.clone());
            plan_sending_link(attach, Address::parse(&source.unwrap_or_default()), shared)
        }
        // The client sends, so the stand-in receives: read the target.
        Role::Sender => plan_receiving_link(Address::parse(&target_address(attach)), shared),
    }
}

fn plan_sending_link(attach: &Attach, address: Address, shared: &Shared) -> LinkPlan {
    match address {
        Address::ConsumerPartition {
            hub,
            consumer_group,
            partition,
        } => plan_consumer(attach, &hub, &consumer_group, &partition, shared),
        Address::Cbs => LinkPlan::Replies {
            node: Node::Cbs,
            address: target_address(attach),
        },
        Address::Management => LinkPlan::Replies {
            node: Node::Management,
            address: target_address(attach),
        },
        other => LinkPlan::refuse(
            AmqpError::NotFound,
            format!("cannot receive from {other:?}"),
        ),
    }
}

fn plan_receiving_link(address: Address, shared: &Shared) -> LinkPlan {
    match address {
        Address::Cbs => LinkPlan::Requests(Node::Cbs),
        Address::Management => LinkPlan::Requests(Node::Management),
        Address::Hub { hub, partition } => match lookup(shared, &hub, partition.as_deref()) {
            Ok((hub, partition)) => LinkPlan::Producer { hub, partition },
            Err(refusal) => LinkPlan::Refuse(refusal),
        },
        other => LinkPlan::refuse(AmqpError::NotFound, format!("cannot send to {other:?}")),
    }
}

fn plan_consumer(
    attach: &Attach,
    hub: &str,
    consumer_group: &str,
    partition_id: &str,
    shared: &Shared,
) -> LinkPlan {
    let partition = match lookup(shared, hub, Some(partition_id)) {
        Ok((_, Some(partition))) => partition,
        Ok((_, None)) => return LinkPlan::refuse(AmqpError::NotFound, hub.to_string()),
        Err(refusal) => return LinkPlan::Refuse(refusal),
    };
    let filter = match StartFilter::from_source(attach.source.as_deref()) {
        Ok(filter) => filter,
        Err(error) => return LinkPlan::refuse(AmqpError::InvalidField, error.to_string()),
    };
    // Fix the start before admitting, so nothing stored after the admission
    // can fall before a "latest" start.
    let cursor = partition.start_index(filter);
    let info = ReceiverInfo {
        link_name: attach.name.clone(),
        owner_level: owner_level(attach),
    };
    let key = ReceiverKey::new(hub, consumer_group, partition_id);
    match shared.registry.admit(key, info) {
        Admission::Admitted {
            registration,
            evicted,
        } => LinkPlan::Consumer(AdmittedReceiver {
            partition,
            cursor,
            filter,
            evicted,
            registration,
        }),
        Admission::Refused(reason) => LinkPlan::refuse(LinkError::Stolen, reason),
    }
}

/// Finds a hub and, when named, one of its partitions.
fn lookup(
    shared: &Shared,
    hub: &str,
    partition: Option<&str>,
) -> Result<(Arc<Hub>, Option<Arc<Partition>>), Refusal> {
    let Some(found) = shared.hub(hub) else {
        let reason = format!("The messaging entity '{hub}' could not be found.");
        return Err(Refusal::new(AmqpError::NotFound, reason));
    };
    match partition {
        None => Ok((Arc::clone(found), None)),
        Some(id) => match found.partition(id) {
            Some(partition) => Ok((Arc::clone(found), Some(Arc::clone(partition)))),
            None => Err(Refusal::new(
                AmqpError::NotFound,
                format!("Partition '{id}' of '{hub}' could not be found."),
            )),
        },
    }
}

fn target_address(attach: &Attach) -> String {
    match attach.target.as_deref() {
        Some(TargetArchetype::Target(target)) => target.address.clone().unwrap_or_default(),
        _ => String::new(),
    }
}

/// Reads `com.microsoft:epoch` from the link properties.
fn owner_level(attach: &Attach) -> Option<i64> {
    let properties = attach.properties.as_ref()?;
    let (_, value) = properties
        .iter()
        .find(|(key, _)| key.as_str() == EPOCH_PROPERTY)?;
    match value {
        Value::Long(level) => Some(*level),
        Value::Int(level) => Some(i64::from(*level)),
        Value::Short(level) => Some(i64::from(*level)),
        _ => None,
    }
}
