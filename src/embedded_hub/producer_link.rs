//! Links on which clients send events: targets `<hub>` and
//! `<hub>/Partitions/<n>`.
//!
//! A transfer is either one event, or (message format `0x80013700`) a batch
//! envelope whose Data sections each hold one encoded AMQP message. A batch
//! lands in one partition, as on the service: the partition the link names,
//! else the one the partition key maps to, else the next in round-robin order.
//! Every transfer is settled with `accepted` once its events are stored, or
//! `rejected` when it cannot be read, after the configured settle delay. The hub ends
//! the link (its token expired, an injected fault) through its stop channel.

use super::{
    link_table::{LinkGuard, LinkStop},
    links::{detach_receiver_with_error, pause_before_settling},
    store::{Hub, NewEvent, Partition, PARTITION_KEY_ANNOTATION},
};
use fe2o3_amqp::{
    link::RecvError,
    types::{
        definitions::{self, AmqpError},
        messaging::{annotations::OwnedKey, message::DecodeIntoMessage, AmqpValue, Body, Message},
        primitives::Value,
    },
    Receiver,
};
use std::{sync::Arc, time::Duration};
use tracing::debug;

/// The message format of an Event Hubs batch envelope.
pub(crate) const BATCH_MESSAGE_FORMAT: u32 = 0x8001_3700;

/// Why a transfer could not be stored.
#[derive(Debug, thiserror::Error)]
pub(crate) enum IngestError {
    #[error("a batch envelope must carry Data sections")]
    BatchWithoutData,
    #[error("a batched message could not be decoded: {0}")]
    BatchedMessage(String),
    #[error("event bodies must be Data sections or a binary or string amqp-value")]
    UnsupportedBody,
    #[error("the hub has no partitions")]
    NoPartition,
}

/// A client's sending link, resolved to its hub and optional partition.
pub(crate) struct ProducerLink {
    pub(crate) receiver: Receiver,
    pub(crate) hub: Arc<Hub>,
    pub(crate) partition: Option<Arc<Partition>>,
    /// See [`pause_before_settling`].
    pub(crate) settle_delay: Duration,
    /// Where the hub says the link must end.
    pub(crate) stop: LinkStop,
    /// Keeps the link listed in the hub's link table while it runs.
    pub(crate) guard: LinkGuard,
}

/// Stores what the client sends until it detaches.
pub(crate) async fn serve(link: ProducerLink) {
    let ProducerLink {
        mut receiver,
        hub,
        partition,
        settle_delay,
        mut stop,
        guard: _guard,
    } = link;
    loop {
        let received = tokio::select! {
            biased;
            end = stop.recv() => match end {
                Some(end) => {
                    return detach_receiver_with_error(receiver, end.condition, end.description)
                        .await
                }
                None => return,
            },
            received = receiver.recv::<Body<Value>>() => received,
        };
        let delivery = match received {
            Ok(delivery) => delivery,
            Err(RecvError::MessageDecode(error)) => {
                let description = format!("could not decode a transfer: {error}");
                return detach_receiver_with_error(receiver, AmqpError::DecodeError, description)
                    .await;
            }
            Err(error) => {
                // Covers client detaches, which fe2o3 answers inside `recv`.
                debug!(%error, hub = %hub.name, "sending link ended");
                return;
            }
        };
        let format = delivery.message_format().unwrap_or(0);
        let stored = ingest(&hub, partition.as_ref(), format, delivery.message());
        pause_before_settling(settle_delay).await;
        let settled = match stored {
            Ok(()) => receiver.accept(&delivery).await,
            Err(error) => {
                let error =
                    definitions::Error::new(AmqpError::DecodeError, error.to_string(), None);
                receiver.reject(&delivery, error).await
            }
        };
        if let Err(error) = settled {
            debug!(%error, hub = %hub.name, "could not settle a transfer");
            return;
        }
    }
}

/// Stores the events of one transfer in one partition.
fn ingest(
    hub: &Hub,
    fixed: Option<&Arc<Partition>>,
    format: u32,
    message: &Message<Body<Value>>,
) -> Result<(), IngestError> {
    let events = if format == BATCH_MESSAGE_FORMAT {
        unpack_batch(message)?
    } else {
        vec![new_event(message)?]
    };
    let key = partition_key(message).or_else(|| events.first()?.partition_key.clone());
    let partition = match (fixed, key) {
        (Some(partition), _) => Some(Arc::clone(partition)),
        (None, Some(key)) => hub.partition_for_key(&key),
        (None, None) => hub.next_round_robin(),
    }
    .ok_or(IngestError::NoPartition)?;
    partition.append(events);
    Ok(())
}

/// Decodes the messages packed in a batch envelope.
fn unpack_batch(envelope: &Message<Body<Value>>) -> Result<Vec<NewEvent>, IngestError> {
    let Body::Data(sections) = &envelope.body else {
        return Err(IngestError::BatchWithoutData);
    };
    sections
        .iter()
        .map(|section| {
            let reader = serde_amqp::read::SliceReader::new(&section.0);
            let message = <Body<Value> as DecodeIntoMessage>::decode_message_from_reader(reader)
                .map_err(|e| IngestError::BatchedMessage(e.to_string()))?;
            new_event(&message)
        })
        .collect()
}

/// Turns one message into an event to store.
fn new_event(message: &Message<Body<Value>>) -> Result<NewEvent, IngestError> {
    Ok(NewEvent {
        body: body_bytes(&message.body)?,
        partition_key: partition_key(message),
        properties: message.properties.clone(),
        application_properties: message.application_properties.clone(),
    })
}

/// Flattens a body into bytes; the hub delivers them as one Data section.
fn body_bytes(body: &Body<Value>) -> Result<Vec<u8>, IngestError> {
    match body {
        Body::Data(sections) => Ok(sections
            .iter()
            .flat_map(|section| section.0.iter().copied())
            .collect()),
        Body::Value(AmqpValue(Value::Binary(bytes))) => Ok(bytes.to_vec()),
        Body::Value(AmqpValue(Value::String(text))) => Ok(text.as_bytes().to_vec()),
        Body::Empty => Ok(Vec::new()),
        _ => Err(IngestError::UnsupportedBody),
    }
}

/// Reads the `x-opt-partition-key` message annotation.
fn partition_key(message: &Message<Body<Value>>) -> Option<String> {
    let annotations = message.message_annotations.as_ref()?;
    annotations
        .iter()
        .find_map(|(key, value)| match (key, value) {
            (OwnedKey::Symbol(symbol), Value::String(key))
                if symbol.as_str() == PARTITION_KEY_ANNOTATION =>
            {
                Some(key.clone())
            }
            _ => None,
        })
}
