//! One stored event: the body and properties a producer sent, and the broker fields
//! Event Hubs stamps on it, as an AMQP message for the receivers.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fe2o3_amqp::types::messaging::{
    ApplicationProperties, Batch, Body, Data, Message, MessageAnnotations, Properties,
};
use fe2o3_amqp::types::primitives::{Timestamp, Value};

use crate::embedded_hub::filter::StartFilter;

/// Message annotation names that Event Hubs uses for its broker fields.
pub(crate) const SEQUENCE_NUMBER_ANNOTATION: &str = "x-opt-sequence-number";
pub(crate) const OFFSET_ANNOTATION: &str = "x-opt-offset";
pub(crate) const ENQUEUED_TIME_ANNOTATION: &str = "x-opt-enqueued-time";
pub(crate) const PARTITION_KEY_ANNOTATION: &str = "x-opt-partition-key";

/// An event as the hub stored it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    /// `x-opt-sequence-number`: counted from the partition's first sequence number.
    pub sequence_number: i64,
    /// `x-opt-offset`: the byte position of the event, as a decimal string (so offsets
    /// differ from sequence numbers, as on the service).
    pub offset: String,
    /// `x-opt-enqueued-time`, with millisecond precision; never goes backwards within
    /// a partition.
    pub enqueued_time: SystemTime,
    /// `x-opt-partition-key`, when the sender set one.
    pub partition_key: Option<String>,
    /// The event body; it is delivered as one Data section.
    pub body: Vec<u8>,
    /// The message properties the sender set (message id, content type, ...).
    pub properties: Option<Properties>,
    /// The application properties the sender set.
    pub application_properties: Option<ApplicationProperties>,
}

impl StoredEvent {
    /// Whether a receiver that started with `filter` gets this event.
    /// (`Latest` is a position, not a property of events: it selects all.)
    pub(crate) fn is_selected_by(&self, filter: StartFilter) -> bool {
        let after = |value: i64, bound: i64, inclusive: bool| {
            value > bound || (inclusive && value == bound)
        };
        match filter {
            StartFilter::Latest => true,
            StartFilter::Offset { offset, inclusive } => {
                let own = self.offset.parse::<i64>().unwrap_or(i64::MAX);
                after(own, offset, inclusive)
            }
            StartFilter::SequenceNumber {
                sequence_number,
                inclusive,
            } => after(self.sequence_number, sequence_number, inclusive),
            StartFilter::EnqueuedTime { millis, inclusive } => {
                after(millis_since_epoch(self.enqueued_time), millis, inclusive)
            }
        }
    }

    /// Builds the AMQP message that a receiver gets for this event.
    pub(crate) fn to_message(&self) -> Message<Body<Value>> {
        let mut annotations = MessageAnnotations::builder()
            .insert(
                SEQUENCE_NUMBER_ANNOTATION,
                Value::Long(self.sequence_number),
            )
            .insert(OFFSET_ANNOTATION, Value::String(self.offset.clone()))
            .insert(
                ENQUEUED_TIME_ANNOTATION,
                Value::Timestamp(Timestamp::from_milliseconds(millis_since_epoch(
                    self.enqueued_time,
                ))),
            );
        if let Some(key) = &self.partition_key {
            annotations = annotations.insert(PARTITION_KEY_ANNOTATION, Value::String(key.clone()));
        }
        Message {
            header: None,
            delivery_annotations: None,
            message_annotations: Some(annotations.build()),
            properties: self.properties.clone(),
            application_properties: self.application_properties.clone(),
            body: Body::Data(Batch::new(vec![Data::from(self.body.clone())])),
            footer: None,
        }
    }
}

/// An event on its way into a partition, before the broker fields are set.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct NewEvent {
    pub(crate) body: Vec<u8>,
    pub(crate) partition_key: Option<String>,
    pub(crate) properties: Option<Properties>,
    pub(crate) application_properties: Option<ApplicationProperties>,
}

/// Milliseconds since the Unix epoch, saturating on clocks before 1970.
pub(crate) fn millis_since_epoch(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The time `millis` after the Unix epoch (before it: the epoch).
pub(crate) fn from_millis(millis: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(u64::try_from(millis).unwrap_or(0))
}
