//! The `$cbs` and `$management` nodes.
//!
//! Both speak the AMQP management request/response pattern: the client
//! attaches a sender to the node and a receiver whose target is its own
//! reply address, sends a request carrying `reply-to`, and waits first for
//! the disposition of the request and then for a response whose
//! `status-code` application property says how it went.
//!
//! * `$cbs` takes `put-token` with a SAS token signed by a key of the namespace (see
//!   [`super::sas`]) and answers 202, recording the token's path and expiry for the
//!   connection ([`super::authorizations`]); a token that does not verify gets 401.
//! * `$management` takes `READ` of `com.microsoft:eventhub` (hub properties)
//!   and `com.microsoft:partition` (partition properties) and answers 200.
//!
//! A client attaches each node's two links in one session, so replies are
//! routed within the session by reply address. Requests are settled after
//! the configured settle delay (see [`super::links::pause_before_settling`]).

use super::{
    address::normalized_path,
    authorizations::Authorizations,
    links::{answer_sender, hold_cbs_detach_answer, pause_before_settling, RemoteEnd},
    sas::{self, covers, TokenError},
    store::{millis_since_epoch, Hub, Partition},
    Shared,
};
use fe2o3_amqp::{
    link::delivery::Sendable,
    types::{
        messaging::{AmqpValue, ApplicationProperties, Body, Message, Properties},
        primitives::{Array, OrderedMap, SimpleValue, Timestamp, Value},
    },
    Receiver, Sender,
};
use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::SystemTime,
};
use tokio::sync::mpsc;
use tracing::debug;

/// The AMQP timestamp that Event Hubs sends for "never" (year 1 CE); the SDK
/// reads it as `None`.
const NEVER_MILLIS: i64 = -62_135_596_800_000;

type Reply = Message<Body<Value>>;

/// Which node a request link was attached to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Node {
    Cbs,
    Management,
}

/// Reply links of one session, by the reply address the client listens on.
#[derive(Debug, Clone, Default)]
pub(crate) struct ReplyRoutes(Arc<Mutex<HashMap<String, mpsc::UnboundedSender<Reply>>>>);

impl ReplyRoutes {
    /// Registers a reply link and returns the queue of replies to send on it.
    pub(crate) fn register(&self, address: String) -> mpsc::UnboundedReceiver<Reply> {
        let (tx, rx) = mpsc::unbounded_channel();
        super::store::lock(&self.0).insert(address, tx);
        rx
    }

    fn send(&self, address: &str, reply: Reply) -> bool {
        let routes = super::store::lock(&self.0);
        routes.get(address).is_some_and(|tx| tx.send(reply).is_ok())
    }
}

/// Serves a client's request link: accepts each request and queues the
/// response on the reply link of the same session.
pub(crate) async fn serve_requests(
    mut receiver: Receiver,
    node: Node,
    shared: Arc<Shared>,
    routes: ReplyRoutes,
    authorizations: Arc<Authorizations>,
) {
    loop {
        let delivery = match receiver.recv::<Body<Value>>().await {
            Ok(delivery) => delivery,
            Err(error) => {
                // A detach was already answered by fe2o3 inside `recv`.
                debug!(%error, ?node, "request link ended");
                return;
            }
        };
        pause_before_settling(shared.settle_delay).await;
        if let Err(error) = receiver.accept(&delivery).await {
            debug!(%error, ?node, "could not accept a request");
            return;
        }
        let request = delivery.into_message();
        let reply_to = request
            .properties
            .as_ref()
            .and_then(|p| p.reply_to.clone())
            .unwrap_or_default();
        let reply = respond(node, &request, &shared, &authorizations);
        if !routes.send(&reply_to, reply) {
            debug!(%reply_to, ?node, "no reply link for a request");
        }
        if node == Node::Cbs {
            // `recv` answers a detach as soon as it reads one; not reading
            // for a while is how the answer is held back.
            hold_cbs_detach_answer().await;
        }
    }
}

/// Serves a client's reply link of `node`: sends the queued responses,
/// pre-settled.
pub(crate) async fn serve_replies(
    mut sender: Sender,
    node: Node,
    mut replies: mpsc::UnboundedReceiver<Reply>,
) {
    loop {
        let next = tokio::select! {
            reply = replies.recv() => Ok(reply),
            detach = sender.on_detach() => Err(RemoteEnd::from_detach_error(&detach)),
        };
        match next {
            Ok(Some(reply)) => {
                let sendable = Sendable::builder().message(reply).settled(true).build();
                if let Err(error) = sender.send(sendable).await {
                    debug!(%error, "reply link ended while sending");
                    return;
                }
            }
            Ok(None) => return,
            Err(end) => {
                if node == Node::Cbs {
                    hold_cbs_detach_answer().await;
                }
                return answer_sender(sender, end).await;
            }
        }
    }
}

/// Builds the response to one request.
fn respond(
    node: Node,
    request: &Message<Body<Value>>,
    shared: &Shared,
    authorizations: &Authorizations,
) -> Reply {
    let outcome = match node {
        Node::Cbs => put_token(request, shared, authorizations),
        Node::Management => read(request, shared),
    };
    let correlation_id = request
        .properties
        .as_ref()
        .and_then(|p| p.message_id.clone());
    outcome.into_message(correlation_id)
}

/// A response status, description and body.
struct Outcome {
    status: i32,
    description: String,
    body: Value,
}

impl Outcome {
    fn ok(status: i32, body: Value) -> Self {
        Self {
            status,
            description: "OK".to_string(),
            body,
        }
    }

    fn error(status: i32, description: String) -> Self {
        Self {
            status,
            description,
            body: Value::Null,
        }
    }

    fn into_message(
        self,
        correlation_id: Option<fe2o3_amqp::types::messaging::MessageId>,
    ) -> Reply {
        Message {
            header: None,
            delivery_annotations: None,
            message_annotations: None,
            properties: Some(Properties {
                correlation_id,
                ..Default::default()
            }),
            application_properties: Some(
                ApplicationProperties::builder()
                    .insert("status-code", SimpleValue::Int(self.status))
                    .insert("status-description", SimpleValue::String(self.description))
                    .build(),
            ),
            body: Body::Value(AmqpValue(self.body)),
            footer: None,
        }
    }
}

/// Reads a string application property of a request.
fn property<'a>(request: &'a Message<Body<Value>>, name: &str) -> Option<&'a str> {
    match request.application_properties.as_ref()?.get(name)? {
        SimpleValue::String(value) => Some(value.as_str()),
        SimpleValue::Symbol(value) => Some(value.as_str()),
        _ => None,
    }
}

/// Checks a token and records what it authorizes on the connection.
fn put_token(
    request: &Message<Body<Value>>,
    shared: &Shared,
    authorizations: &Authorizations,
) -> Outcome {
    if property(request, "operation") != Some("put-token") {
        let other = property(request, "operation");
        return Outcome::error(400, format!("unsupported $cbs operation {other:?}"));
    }
    let Body::Value(AmqpValue(Value::String(token))) = &request.body else {
        return Outcome::error(400, "the token must be a string body".to_string());
    };
    let asked = normalized_path(property(request, "name").unwrap_or_default());
    let now = SystemTime::now();
    let grant = sas::verify(token, &shared.keys, now).and_then(|grant| {
        if covers(&grant.path, &asked) {
            Ok(grant)
        } else {
            Err(TokenError::WrongAudience {
                granted: grant.path,
                asked: asked.clone(),
            })
        }
    });
    match grant {
        Ok(grant) => {
            let expires = match shared.max_token_lifetime {
                Some(max) => grant.expires.min(now + max),
                None => grant.expires,
            };
            let renewed = authorizations.put(asked, expires);
            shared.counters.token_put(renewed);
            Outcome::ok(202, Value::Null)
        }
        Err(error) => {
            shared.counters.token_refused();
            Outcome::error(401, error.to_string())
        }
    }
}

fn read(request: &Message<Body<Value>>, shared: &Shared) -> Outcome {
    if property(request, "operation") != Some("READ") {
        return Outcome::error(400, "only READ is supported".to_string());
    }
    let name = property(request, "name").unwrap_or_default();
    let Some(hub) = shared.hub(name) else {
        return Outcome::error(
            404,
            format!("The messaging entity '{name}' could not be found."),
        );
    };
    match property(request, "type") {
        Some("com.microsoft:eventhub") => Outcome::ok(200, hub_properties(hub)),
        Some("com.microsoft:partition") => {
            let id = property(request, "partition").unwrap_or_default();
            match hub.partition(id) {
                Some(partition) => Outcome::ok(200, partition_properties(hub, &partition)),
                None => Outcome::error(404, format!("Partition '{id}' of '{name}' not found.")),
            }
        }
        other => Outcome::error(400, format!("unsupported entity type {other:?}")),
    }
}

fn map(entries: Vec<(&str, Value)>) -> Value {
    let mut map = OrderedMap::new();
    for (key, value) in entries {
        map.insert(Value::String(key.to_string()), value);
    }
    Value::Map(map)
}

fn hub_properties(hub: &Hub) -> Value {
    let ids = hub.partition_ids();
    map(vec![
        ("type", Value::String("com.microsoft:eventhub".to_string())),
        ("name", Value::String(hub.name.clone())),
        ("created_at", timestamp(millis_since_epoch(hub.created_at))),
        (
            "partition_count",
            Value::Int(i32::try_from(ids.len()).unwrap_or(i32::MAX)),
        ),
        (
            "partition_ids",
            Value::Array(Array::from(
                ids.into_iter().map(Value::String).collect::<Vec<_>>(),
            )),
        ),
    ])
}

fn partition_properties(hub: &Hub, partition: &Partition) -> Value {
    let figures = partition.properties();
    map(vec![
        ("type", Value::String("com.microsoft:partition".to_string())),
        ("name", Value::String(hub.name.clone())),
        ("partition", Value::String(partition.id.clone())),
        (
            "begin_sequence_number",
            Value::Long(figures.begin_sequence_number),
        ),
        (
            "last_enqueued_sequence_number",
            Value::Long(figures.last_sequence_number),
        ),
        // Required to be present by the SDK, which does not read it.
        ("last_enqueued_sequence_number_epoch", Value::Long(0)),
        ("last_enqueued_offset", Value::String(figures.last_offset)),
        (
            "last_enqueued_time_utc",
            timestamp(figures.last_enqueued_millis.unwrap_or(NEVER_MILLIS)),
        ),
        ("is_partition_empty", Value::Bool(figures.is_empty)),
    ])
}

fn timestamp(millis: i64) -> Value {
    Value::Timestamp(Timestamp::from_milliseconds(millis))
}
