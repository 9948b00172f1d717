//! Decides what an incoming attach is, before the hub answers it.
//!
//! A link to a hub attaches only under an address the connection holds a valid token
//! for (see [`super::authorizations`]); `$cbs` and `$management` need none. A receiver
//! is admitted to its partition (and its start position fixed) *before* the attach is
//! answered, so by the time the client's attach completes the hub lists the receiver,
//! and every event stored from then on reaches it. A link that cannot be served is
//! still attached (fe2o3 offers no way to answer with a null terminus) and then
//! detached at once with an error, which clients see on their first use of the link.

use super::{
    address::{normalized_path, Address},
    connection::ConnectionCtx,
    filter::StartFilter,
    link_table::{LinkGuard, LinkKind, LinkStop},
    management::Node,
    registry::{Admission, ReceiverInfo, ReceiverKey, Registration},
    store::{Hub, Partition},
    Shared,
};
use fe2o3_amqp::types::{
    definitions::{AmqpError, ErrorCondition, LinkError, Role},
    messaging::TargetArchetype,
    performatives::Attach,
    primitives::Value,
};
use std::{sync::Arc, time::SystemTime};

/// The link property carrying a receiver's owner level.
const EPOCH_PROPERTY: &str = "com.microsoft:epoch";

/// A receiver that may read its partition.
#[derive(Debug)]
pub(crate) struct AdmittedReceiver {
    pub(crate) partition: Arc<Partition>,
    pub(crate) cursor: i64,
    pub(crate) filter: StartFilter,
    pub(crate) stop: LinkStop,
    pub(crate) registration: Registration,
    pub(crate) guard: LinkGuard,
}

/// A sender that may store events in its hub.
#[derive(Debug)]
pub(crate) struct AdmittedSender {
    pub(crate) hub: Arc<Hub>,
    pub(crate) partition: Option<Arc<Partition>>,
    pub(crate) stop: LinkStop,
    pub(crate) guard: LinkGuard,
}

/// Why a link is detached as soon as it is attached.
#[derive(Debug)]
pub(crate) struct Refusal {
    pub(crate) condition: ErrorCondition,
    pub(crate) reason: String,
}

/// What to do with an attached link.
#[derive(Debug)]
pub(crate) enum LinkPlan {
    /// Detach it at once with this error.
    Refuse(Refusal),
    /// Send it events of its partition.
    Consumer(AdmittedReceiver),
    /// Store the events sent on it.
    Producer(AdmittedSender),
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

/// Plans the link that `attach` asks for on connection `ctx`.
pub(crate) fn plan_link(attach: &Attach, shared: &Shared, ctx: &ConnectionCtx) -> LinkPlan {
    match attach.role {
        // The client receives, so the hub sends: read the source.
        Role::Receiver => {
            let source = attach
                .source
                .as_ref()
                .and_then(|s| s.address.clone())
                .unwrap_or_default();
            plan_sending_link(attach, &source, shared, ctx)
        }
        // The client sends, so the hub receives: read the target.
        Role::Sender => plan_receiving_link(&target_address(attach), shared, ctx),
    }
}

fn plan_sending_link(attach: &Attach, raw: &str, shared: &Shared, ctx: &ConnectionCtx) -> LinkPlan {
    match Address::parse(raw) {
        Address::ConsumerPartition {
            hub,
            consumer_group,
            partition,
        } => match authorized(raw, ctx, "Listen") {
            Ok(path) => plan_consumer(
                attach,
                (&hub, &consumer_group, &partition),
                path,
                shared,
                ctx,
            ),
            Err(refusal) => LinkPlan::Refuse(refusal),
        },
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

fn plan_receiving_link(raw: &str, shared: &Shared, ctx: &ConnectionCtx) -> LinkPlan {
    match Address::parse(raw) {
        Address::Cbs => LinkPlan::Requests(Node::Cbs),
        Address::Management => LinkPlan::Requests(Node::Management),
        Address::Hub { hub, partition } => {
            let path = match authorized(raw, ctx, "Send") {
                Ok(path) => path,
                Err(refusal) => return LinkPlan::Refuse(refusal),
            };
            match lookup(shared, &hub, partition.as_deref()) {
                Ok((found, partition)) => {
                    let (guard, stop, _) = shared.links.register(
                        ctx.id,
                        LinkKind::Producer,
                        &hub,
                        partition.as_ref().map(|p| p.id.as_str()),
                        path,
                    );
                    shared.counters.link_attached();
                    LinkPlan::Producer(AdmittedSender {
                        hub: found,
                        partition,
                        stop,
                        guard,
                    })
                }
                Err(refusal) => LinkPlan::Refuse(refusal),
            }
        }
        other => LinkPlan::refuse(AmqpError::NotFound, format!("cannot send to {other:?}")),
    }
}

/// The link's normalized path when the connection holds a valid token for it.
fn authorized(raw: &str, ctx: &ConnectionCtx, claim: &str) -> Result<String, Refusal> {
    let path = normalized_path(raw);
    if ctx.authorizations.covers(&path, SystemTime::now()) {
        Ok(path)
    } else {
        Err(Refusal::new(
            AmqpError::UnauthorizedAccess,
            format!("Unauthorized access. '{claim}' claim(s) are required to perform this operation on '{path}': put a valid token on $cbs first."),
        ))
    }
}

fn plan_consumer(
    attach: &Attach,
    (hub, consumer_group, partition_id): (&str, &str, &str),
    path: String,
    shared: &Shared,
    ctx: &ConnectionCtx,
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
    // Fix the start before admitting, so nothing stored after the admission can fall
    // before a "latest" start.
    let cursor = partition.start_sequence(filter);
    let info = ReceiverInfo {
        link_name: attach.name.clone(),
        owner_level: owner_level(attach),
    };
    let (guard, stop, stopper) =
        shared
            .links
            .register(ctx.id, LinkKind::Consumer, hub, Some(partition_id), path);
    let key = ReceiverKey::new(hub, consumer_group, partition_id);
    match shared.registry.admit(key, info, stopper) {
        Admission::Admitted { registration } => {
            shared.counters.link_attached();
            LinkPlan::Consumer(AdmittedReceiver {
                partition,
                cursor,
                filter,
                stop,
                registration,
                guard,
            })
        }
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
            Some(partition) => Ok((Arc::clone(found), Some(partition))),
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
